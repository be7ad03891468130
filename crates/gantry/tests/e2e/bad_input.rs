//! Bad input is refused with upstream's status codes and reasons, and leaves the stored data
//! exactly as it was: invalid names and specs (422), unknown fields under strict validation,
//! objects in missing namespaces (404), oversized bodies (413), unknown resources (404).

use serde_json::{Value, json};

use crate::harness::{Kubectl, Server};

const NS: &str = "bad-input";

/// Runs a `--raw` request with `-v=6` and returns the HTTP status kubectl logged and stderr.
fn raw_status(k: &Kubectl, args: &[&str], stdin: Option<&str>) -> (u16, String) {
    let mut all = args.to_vec();
    all.push("-v=6");
    let out = k.run_with(&all, stdin);
    let path = args
        .iter()
        .find(|a| a.starts_with('/'))
        .expect("a --raw path");
    // kubectl 1.32 logs "<VERB> https://host:port<path> <code> <text> in N milliseconds".
    let code = out
        .stderr
        .lines()
        .filter(|l| l.contains("round_trippers") && l.contains(path))
        .find_map(|l| {
            l.split(path)
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no response status for {args:?} in:\n{}", out.stderr));
    (code, out.stderr)
}

/// Everything in the test namespace, by name, with resource versions.
/// What clients wrote: every object without its status and the metadata that controllers
/// change when they write status (the controller manager runs in the server and keeps
/// updating the Deployment's status while the test runs).
fn snapshot(k: &Kubectl) -> Vec<(String, Value)> {
    let list = k.json(&["-n", NS, "get", "configmaps,secrets,deployments,services"]);
    let written = |i: &Value| {
        let mut i = i.clone();
        if let Some(o) = i.as_object_mut() {
            o.remove("status");
        }
        if let Some(m) = i["metadata"].as_object_mut() {
            m.remove("resourceVersion");
            m.remove("managedFields");
        }
        // The deployment controller records the revision on the Deployment, as upstream.
        if let Some(a) = i["metadata"]["annotations"].as_object_mut() {
            a.remove("deployment.kubernetes.io/revision");
        }
        // ... possibly after the first snapshot: no annotations, an empty map and the null
        // that indexing above leaves behind are all the same.
        if let Some(m) = i["metadata"].as_object_mut()
            && m.get("annotations").is_some_and(|a| {
                a.is_null() || a.as_object().is_some_and(serde_json::Map::is_empty)
            })
        {
            m.remove("annotations");
        }
        i
    };
    let mut items: Vec<(String, Value)> = list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                // Published by the root CA publisher whenever it gets to the namespace.
                .filter(|i| i["metadata"]["name"] != "kube-root-ca.crt")
                .map(|i| {
                    (
                        format!(
                            "{}/{}",
                            i["kind"].as_str().unwrap_or_default(),
                            i["metadata"]["name"].as_str().unwrap_or_default()
                        ),
                        written(i),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items
}

fn configmap(name: &str, ns: &str, extra: Value) -> String {
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"k": "v"}});
    if let (Some(obj), Some(more)) = (cm.as_object_mut(), extra.as_object()) {
        obj.extend(more.clone());
    }
    cm.to_string()
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let server = Server::start();
    let k = Kubectl::new(&server, 32);
    k.ok(&["create", "namespace", NS]);
    k.ok(&[
        "-n",
        NS,
        "create",
        "configmap",
        "keep",
        "--from-literal=a=1",
    ]);
    k.ok(&["-n", NS, "create", "deployment", "keep", "--image=nginx"]);
    let before = snapshot(&k);
    assert_eq!(before.len(), 2, "{before:?}");
    let collection = format!("/api/v1/namespaces/{NS}/configmaps");

    // An invalid name: 422 Invalid naming metadata.name.
    let bad_name = configmap("Bad_Name", NS, json!({}));
    let err = k.fails(&["create", "-f", "-"], Some(&bad_name));
    assert!(
        err.contains("is invalid") && err.contains("metadata.name") && err.contains("Bad_Name"),
        "{err}"
    );
    let (code, stderr) = raw_status(
        &k,
        &["create", "--raw", &collection, "-f", "-"],
        Some(&bad_name),
    );
    assert_eq!(code, 422, "{stderr}");

    // An invalid spec: every broken field is named.
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "broken", "namespace": NS},
        "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": []}}}});
    let err = k.fails(&["create", "-f", "-"], Some(&deployment.to_string()));
    assert!(
        err.contains("spec.template.spec.containers") && err.contains("Required value"),
        "{err}"
    );
    assert!(err.contains("spec.template.metadata.labels"), "{err}");

    // Unknown fields under strict validation (kubectl's default), top level and nested.
    let err = k.fails(
        &["create", "-f", "-"],
        Some(&configmap("extra", NS, json!({"bogusField": 1}))),
    );
    assert!(
        err.contains("BadRequest") && err.contains(r#"unknown field "bogusField""#),
        "{err}"
    );
    let err = k.fails(
        &["create", "-f", "-"],
        Some(&configmap(
            "extra",
            NS,
            json!({"metadata": {"name": "extra", "namespace": NS, "labelz": {}}}),
        )),
    );
    assert!(err.contains(r#"unknown field "metadata.labelz""#), "{err}");

    // A namespace that does not exist.
    let err = k.fails(
        &["create", "-f", "-"],
        Some(&configmap("lost", "no-such-ns", json!({}))),
    );
    assert!(
        err.contains("NotFound") && err.contains(r#"namespaces "no-such-ns" not found"#),
        "{err}"
    );

    // A body over 3 MiB, through kubectl create and as a raw request.
    let big = configmap(
        "big",
        NS,
        json!({"data": {"k": "x".repeat(3 * 1024 * 1024 + 16)}}),
    );
    let err = k.fails(&["create", "-f", "-"], Some(&big));
    assert!(
        err.contains("RequestEntityTooLarge"),
        "{}",
        &err[..err.len().min(500)]
    );
    let (code, stderr) = raw_status(&k, &["create", "--raw", &collection, "-f", "-"], Some(&big));
    assert_eq!(code, 413, "{}", &stderr[..stderr.len().min(500)]);

    // A body that is not JSON at all.
    let (code, _) = raw_status(
        &k,
        &["create", "--raw", &collection, "-f", "-"],
        Some("not json"),
    );
    assert_eq!(code, 400);

    // Unknown resources.
    let err = k.fails(&["get", "widgets"], None);
    assert!(
        err.contains(r#"the server doesn't have a resource type "widgets""#),
        "{err}"
    );
    let (code, _) = raw_status(
        &k,
        &["get", "--raw", &format!("/api/v1/namespaces/{NS}/widgets")],
        None,
    );
    assert_eq!(code, 404);
    let (code, _) = raw_status(
        &k,
        &["get", "--raw", "/apis/widgets.example.com/v1/widgets"],
        None,
    );
    assert_eq!(code, 404);

    // A name that does not exist, and an update of one.
    let err = k.fails(&["-n", NS, "get", "configmap", "ghost"], None);
    assert!(err.contains(r#"configmaps "ghost" not found"#), "{err}");
    let err = k.fails(
        &["replace", "-f", "-"],
        Some(&configmap("ghost", NS, json!({}))),
    );
    assert!(err.contains("NotFound"), "{err}");

    assert_eq!(snapshot(&k), before, "bad input changed the stored data");
    let cm = k.json(&["-n", NS, "get", "configmap", "keep"]);
    assert_eq!(cm["data"], json!({"a": "1"}));
}
