//! `kubectl patch --type strategic` on a Deployment's containers, env and volumes, one step
//! per directive: merge by key, `$patch: delete`, `$patch: replace`, `$setElementOrder`,
//! `$deleteFromPrimitiveList` and `$retainKeys`.

use serde_json::{Value, json};

use crate::harness::{Kubectl, Server};

crate::per_kubectl! {
    strategic_merge_patch => strategic;
}

const DEPLOYMENT: &str = r#"{
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "team": "a"},
               "finalizers": ["example.com/a", "example.com/b", "example.com/c"]},
  "spec": {
    "replicas": 1,
    "selector": {"matchLabels": {"app": "web"}},
    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
    "template": {
      "metadata": {"labels": {"app": "web"}},
      "spec": {
        "containers": [
          {"name": "app", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
           "ports": [{"containerPort": 80}]},
          {"name": "sidecar", "image": "busybox:1.36"}
        ],
        "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cache", "emptyDir": {}}]
      }
    }
  }
}"#;

/// Applies `patch` as a strategic merge patch; returns the Deployment afterwards.
fn patch(k: &Kubectl, patch: Value) -> Value {
    let out = k.ok(&[
        "patch",
        "deployment",
        "web",
        "--type",
        "strategic",
        "-p",
        &patch.to_string(),
    ]);
    assert_eq!(out.trim(), "deployment.apps/web patched", "patch {patch}");
    k.json(&["get", "deployment", "web"])
}

fn pod_spec(patch: Value) -> Value {
    json!({"spec": {"template": {"spec": patch}}})
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default())
        .collect()
}

fn containers(d: &Value) -> &Value {
    &d["spec"]["template"]["spec"]["containers"]
}

fn strategic(minor: u32) {
    let server = Server::start();
    let k = Kubectl::new(&server, minor);
    k.ok_stdin(&["create", "-f", "-"], DEPLOYMENT);

    // Containers merge by name: changing one container's image keeps the other container.
    let d = patch(
        &k,
        pod_spec(json!({"containers": [{"name": "sidecar", "image": "busybox:1.37"}]})),
    );
    assert_eq!(names(containers(&d)), ["app", "sidecar"]);
    assert_eq!(containers(&d)[1]["image"], "busybox:1.37");
    assert_eq!(containers(&d)[0]["image"], "nginx:1.27");

    // env merges by name inside the container it names. Upstream's order: the patch's items in
    // patch order, the server-only items merged in by their live position (B after A).
    let d = patch(
        &k,
        pod_spec(
            json!({"containers": [{"name": "app", "env": [{"name": "C", "value": "3"}, {"name": "A", "value": "10"}]}]}),
        ),
    );
    assert_eq!(
        containers(&d)[0]["env"],
        json!([{"name": "C", "value": "3"}, {"name": "A", "value": "10"}, {"name": "B", "value": "2"}]),
        "env merged by name: {d}"
    );

    // `$patch: delete` removes one list item by key: an env var, then a whole container.
    let d = patch(
        &k,
        pod_spec(
            json!({"containers": [{"name": "app", "env": [{"name": "B", "$patch": "delete"}]}]}),
        ),
    );
    assert_eq!(names(&containers(&d)[0]["env"]), ["C", "A"]);
    let d = patch(
        &k,
        pod_spec(json!({"containers": [{"name": "sidecar", "$patch": "delete"}]})),
    );
    assert_eq!(names(containers(&d)), ["app"]);

    // volumes merge by name (a new item goes first, as upstream orders it), and
    // `$patch: delete` removes one.
    let d = patch(
        &k,
        pod_spec(json!({"volumes": [{"name": "config", "configMap": {"name": "cfg"}}]})),
    );
    assert_eq!(
        names(&d["spec"]["template"]["spec"]["volumes"]),
        ["config", "data", "cache"]
    );
    let d = patch(
        &k,
        pod_spec(json!({"volumes": [{"name": "cache", "$patch": "delete"}]})),
    );
    assert_eq!(
        names(&d["spec"]["template"]["spec"]["volumes"]),
        ["config", "data"]
    );

    // `$patch: replace` as a list item replaces the whole list.
    let d = patch(
        &k,
        pod_spec(json!({"volumes": [{"name": "only", "emptyDir": {}}, {"$patch": "replace"}]})),
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "only", "emptyDir": {}}]),
        "{d}"
    );

    // `$patch: replace` in a map replaces the map.
    let d = patch(
        &k,
        json!({"metadata": {"labels": {"$patch": "replace", "app": "web", "tier": "front"}}}),
    );
    assert_eq!(
        d["metadata"]["labels"],
        json!({"app": "web", "tier": "front"}),
        "labels replaced: {d}"
    );

    // `$setElementOrder/containers` orders the merged list, new items included.
    let d = patch(
        &k,
        pod_spec(json!({
            "$setElementOrder/containers": [{"name": "first"}, {"name": "app"}],
            "containers": [{"name": "first", "image": "busybox:1.36"}]
        })),
    );
    assert_eq!(
        names(containers(&d)),
        ["first", "app"],
        "ordered by $setElementOrder: {d}"
    );
    assert_eq!(
        containers(&d)[1]["env"].as_array().map(Vec::len),
        Some(2),
        "app kept its env"
    );

    // `$setElementOrder` on env reorders the existing items.
    let d = patch(
        &k,
        pod_spec(
            json!({"containers": [{"name": "app", "$setElementOrder/env": [{"name": "A"}, {"name": "C"}]}]}),
        ),
    );
    let app = containers(&d)
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "app"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(names(&app["env"]), ["A", "C"], "env reordered: {d}");

    // `$deleteFromPrimitiveList/finalizers` removes values from a list of strings.
    let d = patch(
        &k,
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/b"]}}),
    );
    assert_eq!(
        d["metadata"]["finalizers"],
        json!(["example.com/a", "example.com/c"]),
        "{d}"
    );
    // finalizers merge (patchStrategy merge): a new value is added, not replacing.
    let d = patch(&k, json!({"metadata": {"finalizers": ["example.com/d"]}}));
    let finalizers = d["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(finalizers.len(), 3, "finalizers merged: {d}");

    // `$retainKeys` drops the keys of a map it does not list: the rolling update parameters.
    let d = patch(
        &k,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    );
    assert_eq!(
        d["spec"]["strategy"],
        json!({"type": "Recreate"}),
        "rollingUpdate dropped by $retainKeys: {d}"
    );

    // `$retainKeys` on a volume switches its source.
    let d = patch(
        &k,
        pod_spec(
            json!({"volumes": [{"name": "only", "$retainKeys": ["name", "configMap"], "configMap": {"name": "cfg"}}]}),
        ),
    );
    let volume = &d["spec"]["template"]["spec"]["volumes"][0];
    assert!(
        volume.get("emptyDir").is_none(),
        "emptyDir dropped by $retainKeys: {volume}"
    );
    assert_eq!(volume["configMap"]["name"], "cfg");

    // A directive the server does not know is a 400-class error, and changes nothing.
    let before = k.json(&["get", "deployment", "web"]);
    let bad = k.fails(
        &[
            "patch",
            "deployment",
            "web",
            "--type",
            "strategic",
            "-p",
            r#"{"metadata":{"labels":{"$patch":"bogus"}}}"#,
        ],
        None,
    );
    assert!(
        bad.contains("bogus"),
        "the error names the directive:\n{bad}"
    );
    // The deployment controller writes status meanwhile: compare spec and metadata it keeps.
    let after = k.json(&["get", "deployment", "web"]);
    for field in [
        "/spec",
        "/metadata/labels",
        "/metadata/finalizers",
        "/metadata/generation",
    ] {
        assert_eq!(
            after.pointer(field),
            before.pointer(field),
            "a rejected patch changes nothing: {field}"
        );
    }

    // Clear the finalizers so nothing is left holding the object.
    k.ok(&[
        "patch",
        "deployment",
        "web",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    let out = k.ok(&["delete", "deployment", "web", "--wait=false"]);
    assert_eq!(out.trim(), r#"deployment.apps "web" deleted"#);
}
