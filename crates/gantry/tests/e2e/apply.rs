//! Client-side `kubectl apply` (create, unchanged re-apply, a changed manifest whose removed
//! fields disappear through last-applied-configuration), `kubectl diff` exit codes, and
//! server-side apply with two field managers, a conflict and `--force-conflicts`.

use serde_json::{Value, json};

use crate::harness::{Kubectl, Server};

crate::per_kubectl! {
    client_side_apply => client_side;
    server_side_apply => server_side;
}

/// A Deployment manifest; `full` adds the env var `B` and the port 443 that a later apply drops.
fn deployment(full: bool) -> String {
    let (extra_env, extra_port) = if full {
        (
            "\n        - {name: B, value: \"2\"}",
            "\n        - {containerPort: 443, name: https}",
        )
    } else {
        ("", "")
    };
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {{app: web}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        env:
        - {{name: A, value: "1"}}{extra_env}
        ports:
        - {{containerPort: 80, name: http}}{extra_port}
"#
    )
}

fn web(k: &Kubectl) -> Value {
    k.json(&["get", "deployment", "web"])
}

fn client_side(minor: u32) {
    let server = Server::start();
    let k = Kubectl::new(&server, minor);

    let created = k.ok_stdin(&["apply", "-f", "-"], &deployment(true));
    assert_eq!(created.trim(), "deployment.apps/web created");
    let first = web(&k);
    assert_eq!(first["metadata"]["generation"], 1);
    let last = first["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap_or_default();
    let last: Value = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("last-applied-configuration is JSON ({e}): {first}"));
    assert_eq!(
        last["spec"]["template"]["spec"]["containers"][0]["env"][1]["name"], "B",
        "{last}"
    );

    let again = k.ok_stdin(&["apply", "-f", "-"], &deployment(true));
    assert_eq!(again.trim(), "deployment.apps/web unchanged");
    let second = web(&k);
    assert_eq!(
        second["metadata"]["generation"], 1,
        "an unchanged apply makes no new generation"
    );
    // The deployment controller writes status meanwhile: compare what apply owns.
    assert_eq!(
        second["spec"], first["spec"],
        "an unchanged apply changes nothing"
    );
    assert_eq!(
        second["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        first["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
    );

    let none = k.run_with(&["diff", "-f", "-"], Some(&deployment(true)));
    assert_eq!(
        none.code,
        Some(0),
        "diff of the applied manifest finds nothing: {none:?}"
    );
    assert_eq!(
        none.stdout, "",
        "diff of the applied manifest prints nothing"
    );

    let diff = k.run_with(&["diff", "-f", "-"], Some(&deployment(false)));
    assert_eq!(
        diff.code,
        Some(1),
        "diff exits 1 when something changes: {diff:?}"
    );
    let removed: Vec<&str> = diff
        .stdout
        .lines()
        .filter(|l| l.starts_with('-') && !l.starts_with("---"))
        .collect();
    assert!(
        removed.iter().any(|l| l.contains("name: B")),
        "diff shows env B removed:\n{}",
        diff.stdout
    );
    assert!(
        removed.iter().any(|l| l.contains("containerPort: 443")),
        "diff shows port 443 removed:\n{}",
        diff.stdout
    );
    assert!(
        !diff
            .stdout
            .lines()
            .any(|l| l.starts_with('+') && l.contains("resourceVersion")),
        "{}",
        diff.stdout
    );
    let unchanged = web(&k);
    assert_eq!(
        (&unchanged["spec"], &unchanged["metadata"]["generation"]),
        (&first["spec"], &first["metadata"]["generation"]),
        "diff changed the object"
    );

    let changed = k.ok_stdin(&["apply", "-f", "-"], &deployment(false));
    assert_eq!(changed.trim(), "deployment.apps/web configured");
    let third = web(&k);
    let container = &third["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["env"],
        json!([{"name": "A", "value": "1"}]),
        "env B is removed: {third}"
    );
    assert_eq!(
        container["ports"],
        json!([{"containerPort": 80, "name": "http", "protocol": "TCP"}]),
        "port 443 is removed"
    );
    assert_eq!(
        third["metadata"]["generation"], 2,
        "a spec change makes a new generation"
    );

    let after = k.run_with(&["diff", "-f", "-"], Some(&deployment(false)));
    assert_eq!(
        (after.code, after.stdout.as_str()),
        (Some(0), ""),
        "nothing left to diff: {after:?}"
    );
}

fn config_map(data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: default\ndata:\n{data}"
    )
}

/// The managers of `managedFields` with their operation, in order.
fn managers(obj: &Value) -> Vec<(String, String)> {
    let fields = obj["metadata"]["managedFields"]
        .as_array()
        .unwrap_or_else(|| panic!("no managedFields: {obj}"));
    fields
        .iter()
        .map(|f| {
            (
                f["manager"].as_str().unwrap_or_default().into(),
                f["operation"].as_str().unwrap_or_default().into(),
            )
        })
        .collect()
}

/// The `fieldsV1` of `manager`'s Apply entry.
fn owned<'a>(obj: &'a Value, manager: &str) -> &'a Value {
    let fields = obj["metadata"]["managedFields"]
        .as_array()
        .unwrap_or_else(|| panic!("no managedFields: {obj}"));
    let entry = fields
        .iter()
        .find(|f| f["manager"] == manager && f["operation"] == "Apply");
    &entry.unwrap_or_else(|| panic!("no Apply entry of {manager}: {obj}"))["fieldsV1"]
}

fn server_side(minor: u32) {
    let server = Server::start();
    let k = Kubectl::new(&server, minor);
    // kubectl hides managedFields unless asked.
    let shared = || k.json(&["get", "configmap", "shared", "--show-managed-fields"]);
    let web = |k: &Kubectl| k.json(&["get", "deployment", "web", "--show-managed-fields"]);

    let out = k.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        &config_map("  a: \"1\"\n  b: \"2\"\n"),
    );
    assert_eq!(out.trim(), "configmap/shared serverside-applied");
    let first = shared();
    assert_eq!(
        managers(&first),
        [("kubectl".to_string(), "Apply".to_string())]
    );
    assert_eq!(
        owned(&first, "kubectl")["f:data"],
        json!({"f:a": {}, "f:b": {}}),
        "{first}"
    );

    let same = k.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        &config_map("  a: \"1\"\n  b: \"2\"\n"),
    );
    assert_eq!(same.trim(), "configmap/shared serverside-applied");
    assert_eq!(
        shared()["metadata"]["resourceVersion"],
        first["metadata"]["resourceVersion"],
        "a no-op apply writes nothing"
    );

    // A second manager taking a field another one owns is a conflict naming the owner.
    let other = ["apply", "--server-side", "--field-manager=other", "-f", "-"];
    let conflict = k.fails(&other, Some(&config_map("  a: \"changed\"\n  c: \"3\"\n")));
    assert!(conflict.contains("conflict"), "{conflict}");
    assert!(
        conflict.contains(r#"conflict with "kubectl""#) && conflict.contains(".data.a"),
        "the conflict names the manager and field:\n{conflict}"
    );
    assert_eq!(
        shared()["data"],
        json!({"a": "1", "b": "2"}),
        "a conflicting apply changes nothing"
    );

    let forced: Vec<&str> = other.iter().copied().chain(["--force-conflicts"]).collect();
    let out = k.ok_stdin(&forced, &config_map("  a: \"changed\"\n  c: \"3\"\n"));
    assert_eq!(out.trim(), "configmap/shared serverside-applied");
    let both = shared();
    assert_eq!(both["data"], json!({"a": "changed", "b": "2", "c": "3"}));
    let mut names: Vec<String> = managers(&both).into_iter().map(|(m, _)| m).collect();
    names.sort();
    assert_eq!(names, ["kubectl", "other"], "{both}");
    assert_eq!(
        owned(&both, "other")["f:data"],
        json!({"f:a": {}, "f:c": {}}),
        "other owns what it forced"
    );
    assert_eq!(
        owned(&both, "kubectl")["f:data"],
        json!({"f:b": {}}),
        "kubectl lost .data.a"
    );

    // A manager that no longer applies a field it alone owns removes it.
    k.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        &config_map("  {}\n"),
    );
    let last = shared();
    assert_eq!(
        last["data"],
        json!({"a": "changed", "c": "3"}),
        "b was dropped by its only manager: {last}"
    );

    // Server-side apply of a Deployment: list items are owned by key.
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], &deployment(true));
    let deploy = web(&k);
    let containers = &owned(&deploy, "kubectl")["f:spec"]["f:template"]["f:spec"]["f:containers"];
    assert!(
        containers.get(r#"k:{"name":"web"}"#).is_some(),
        "containers are owned by name: {containers}"
    );
    let env = &containers[r#"k:{"name":"web"}"#]["f:env"];
    assert!(
        env.get(r#"k:{"name":"B"}"#).is_some(),
        "env is owned by name: {env}"
    );
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], &deployment(false));
    let smaller = web(&k);
    let container = &smaller["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["env"],
        json!([{"name": "A", "value": "1"}]),
        "env B dropped with the manifest: {smaller}"
    );
    assert_eq!(
        container["ports"].as_array().map(Vec::len),
        Some(1),
        "port 443 dropped: {smaller}"
    );

    // Migration from client-side apply: the first server-side apply takes over the fields of
    // kubectl-client-side-apply, so a key dropped from the manifest is removed.
    let migrating = |data: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: migrated\n  namespace: default\ndata:\n{data}"
        )
    };
    k.ok_stdin(
        &["apply", "-f", "-"],
        &migrating("  a: \"1\"\n  b: \"2\"\n"),
    );
    let csa = k.json(&["get", "configmap", "migrated", "--show-managed-fields"]);
    assert!(
        managers(&csa).contains(&("kubectl-client-side-apply".into(), "Update".into())),
        "{csa}"
    );
    let out = k.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        &migrating("  a: \"1\"\n"),
    );
    assert_eq!(out.trim(), "configmap/migrated serverside-applied");
    let migrated = k.json(&["get", "configmap", "migrated", "--show-managed-fields"]);
    assert_eq!(
        migrated["data"],
        json!({"a": "1"}),
        "b, applied client-side before, is removed: {migrated}"
    );
    assert!(
        !managers(&migrated)
            .iter()
            .any(|(m, _)| m == "kubectl-client-side-apply"),
        "ownership migrated: {migrated}"
    );
}
