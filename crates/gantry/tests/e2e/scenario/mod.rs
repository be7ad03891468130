//! The scenario of the issue, run once per kubectl version against its own server: discovery,
//! creating and applying objects, every `get` flavour, watches, changes, conflicts and
//! deletion, with a server restart in the middle that later steps depend on.

mod changes;
mod discovery;
mod objects;

use serde_json::Value;

use crate::harness::{Kubectl, Server};

/// The namespace every scenario step works in.
pub const NS: &str = "e2e";

/// The multi-document manifest applied by the scenario; `mode` varies between applies.
pub fn manifest(mode: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: {NS}
  labels: {{app: api, tier: backend}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: api}}
  template:
    metadata:
      labels: {{app: api}}
    spec:
      containers:
      - name: api
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: {NS}
  labels: {{app: api}}
spec:
  selector: {{app: api}}
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: api-config
  namespace: {NS}
  labels: {{app: api}}
data:
  mode: {mode}
---
apiVersion: v1
kind: Secret
metadata:
  name: api-secret
  namespace: {NS}
  labels: {{app: api}}
stringData:
  token: s3cr3t
"#
    )
}

/// `metadata.name` of every item of a list.
pub fn names(list: &Value) -> Vec<String> {
    let items = list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"));
    items
        .iter()
        .map(|i| {
            i["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Identity of an object across a restart: uid and resourceVersion.
fn identity(k: &Kubectl, args: &[&str]) -> (String, String) {
    let obj = k.json(args);
    (
        obj["metadata"]["uid"].as_str().unwrap_or_default().into(),
        obj["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .into(),
    )
}

fn run(minor: u32) {
    let mut server = Server::start();
    let k = Kubectl::new(&server, minor);

    discovery::version(&k);
    discovery::api_resources(&k);
    discovery::explain(&k);

    objects::create_imperatively(&k);
    objects::apply_and_reapply(&k);
    objects::diff_and_dry_run(&k);
    objects::get_flavours(&k);
    objects::watch_sees_changes(&k);
    changes::label_and_annotate(&k);

    let tracked: [&[&str]; 3] = [
        &["-n", NS, "get", "configmap", "settings"],
        &["-n", NS, "get", "deployment", "api"],
        &["-n", NS, "get", "secret", "api-secret"],
    ];
    let before: Vec<_> = tracked.iter().map(|args| identity(&k, args)).collect();
    server.restart();
    let after: Vec<_> = tracked.iter().map(|args| identity(&k, args)).collect();
    assert_eq!(before, after, "objects changed across a restart");

    changes::labels_survived_restart(&k);
    changes::patch_json_and_merge(&k);
    changes::replace_and_stale_conflict(&k);
    changes::delete_one(&k);
    changes::delete_namespace_removes_content(&k);
    assert!(
        !server.log().contains("ERROR"),
        "the server logged errors:\n{}",
        server.log()
    );
}

#[test]
fn scenario_with_kubectl_1_32() {
    run(32);
}

#[test]
fn scenario_with_kubectl_1_27() {
    run(27);
}
