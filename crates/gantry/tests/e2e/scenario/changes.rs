//! Scenario steps that change and remove objects: label, annotate, patch (JSON and merge),
//! replace, a stale replace that must conflict, delete, and deleting a whole namespace.

use serde_json::{Value, json};

use super::{NS, names};
use crate::harness::{DEADLINE, Kubectl, wait_until};

pub fn label_and_annotate(k: &Kubectl) {
    assert!(
        k.ok(&[
            "-n",
            NS,
            "label",
            "configmap",
            "settings",
            "tier=front",
            "team=core"
        ])
        .contains("configmap/settings labeled")
    );
    let refused = k.fails(
        &["-n", NS, "label", "configmap", "settings", "tier=back"],
        None,
    );
    assert!(
        refused.contains("already has a value") || refused.contains("--overwrite"),
        "{refused}"
    );
    k.ok(&[
        "-n",
        NS,
        "label",
        "configmap",
        "settings",
        "tier=back",
        "--overwrite",
    ]);
    k.ok(&["-n", NS, "label", "configmap", "settings", "team-"]);
    assert!(
        k.ok(&[
            "-n",
            NS,
            "annotate",
            "configmap",
            "settings",
            "owner=alice",
            "note=first"
        ])
        .contains("configmap/settings annotate"),
        "kubectl 1.27 prints \"annotate\", later ones \"annotated\""
    );
    k.ok(&[
        "-n",
        NS,
        "annotate",
        "deployment",
        "web",
        "kubernetes.io/change-cause=e2e",
    ]);

    let cm = k.json(&["-n", NS, "get", "configmap", "settings"]);
    assert_eq!(cm["metadata"]["labels"], json!({"tier": "back"}));
    assert_eq!(
        cm["metadata"]["annotations"],
        json!({"owner": "alice", "note": "first"})
    );
    assert_eq!(
        names(&k.json(&["-n", NS, "get", "configmaps", "-l", "tier=back"])),
        ["settings"]
    );
}

pub fn labels_survived_restart(k: &Kubectl) {
    let cm = k.json(&["-n", NS, "get", "configmap", "settings"]);
    assert_eq!(cm["metadata"]["labels"]["tier"], "back");
    assert_eq!(cm["metadata"]["annotations"]["owner"], "alice");
    let web = k.json(&["-n", NS, "get", "deployment", "web"]);
    assert_eq!(
        web["metadata"]["annotations"]["kubernetes.io/change-cause"],
        "e2e"
    );
    let mut all = names(&k.json(&["-n", NS, "get", "deployments,services,configmaps,secrets"]));
    // Every namespace also holds the cluster CA, published by the controller manager.
    all.retain(|n| n != "kube-root-ca.crt");
    all.sort();
    assert_eq!(
        all,
        [
            "api",
            "api",
            "api-config",
            "api-secret",
            "creds",
            "settings",
            "web"
        ]
    );
}

pub fn patch_json_and_merge(k: &Kubectl) {
    let json_patch = r#"[{"op":"add","path":"/data/shape","value":"round"},{"op":"replace","path":"/data/color","value":"blue"},{"op":"remove","path":"/data/size"}]"#;
    assert!(
        k.ok(&[
            "-n",
            NS,
            "patch",
            "configmap",
            "settings",
            "--type",
            "json",
            "-p",
            json_patch
        ])
        .contains("configmap/settings patched")
    );
    k.ok(&[
        "-n",
        NS,
        "patch",
        "configmap",
        "settings",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"weight":"3"},"metadata":{"annotations":{"note":null}}}"#,
    ]);
    let cm = k.json(&["-n", NS, "get", "configmap", "settings"]);
    assert_eq!(
        cm["data"],
        json!({"color": "blue", "shape": "round", "weight": "3"})
    );
    assert_eq!(
        cm["metadata"]["annotations"],
        json!({"owner": "alice"}),
        "merge patch null deletes a key"
    );

    let failed_test = k.fails(
        &[
            "-n",
            NS,
            "patch",
            "configmap",
            "settings",
            "--type",
            "json",
            "-p",
            r#"[{"op":"test","path":"/data/color","value":"green"}]"#,
        ],
        None,
    );
    assert!(
        !failed_test.is_empty(),
        "a failing JSON patch test op reports an error"
    );
    assert_eq!(
        k.json(&["-n", NS, "get", "configmap", "settings"])["data"]["color"],
        "blue"
    );

    k.ok(&[
        "-n",
        NS,
        "patch",
        "deployment",
        "web",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"replicas":4}}"#,
    ]);
    k.ok(&[
        "-n",
        NS,
        "patch",
        "deployment",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}}}"#,
    ]);
    let web = k.json(&["-n", NS, "get", "deployment", "web"]);
    assert_eq!(web["spec"]["replicas"], 4);
    let containers = web["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        containers.len(),
        1,
        "strategic merge patch merges containers by name: {containers:?}"
    );
    assert_eq!(containers[0]["image"], "nginx:1.27");
    assert_eq!(
        web["metadata"]["generation"], 3,
        "each spec change bumps the generation"
    );
}

pub fn replace_and_stale_conflict(k: &Kubectl) {
    let original = k.json(&["-n", NS, "get", "configmap", "settings"]);
    let mut fresh = original.clone();
    fresh["data"]["color"] = json!("purple");
    let out = k.ok_stdin(&["replace", "-f", "-"], &fresh.to_string());
    assert!(out.contains("configmap/settings replaced"), "{out}");
    let replaced = k.json(&["-n", NS, "get", "configmap", "settings"]);
    assert_eq!(replaced["data"]["color"], "purple");
    assert_ne!(
        replaced["metadata"]["resourceVersion"],
        original["metadata"]["resourceVersion"]
    );

    // `original` still carries the resourceVersion from before the first replace.
    let mut stale = original.clone();
    stale["data"]["color"] = json!("orange");
    let err = k.fails(&["replace", "-f", "-"], Some(&stale.to_string()));
    assert!(err.contains("Conflict"), "{err}");
    assert!(err.contains("the object has been modified"), "{err}");
    let now = k.json(&["-n", NS, "get", "configmap", "settings"]);
    assert_eq!(
        now["data"]["color"], "purple",
        "a conflicting replace changes nothing"
    );
    assert_eq!(
        now["metadata"]["resourceVersion"],
        replaced["metadata"]["resourceVersion"]
    );
}

pub fn delete_one(k: &Kubectl) {
    let out = k.ok(&["-n", NS, "delete", "secret", "creds"]);
    assert!(out.contains("secret \"creds\" deleted"), "{out}");
    let err = k.fails(&["-n", NS, "get", "secret", "creds"], None);
    assert!(
        err.contains("NotFound") && err.contains("\"creds\" not found"),
        "{err}"
    );
    let again = k.fails(&["-n", NS, "delete", "secret", "creds"], None);
    assert!(again.contains("NotFound"), "{again}");
    let secrets = names(&k.json(&["-n", NS, "get", "secrets"]));
    assert_eq!(secrets, ["api-secret"]);
}

fn count(k: &Kubectl, resources: &str) -> usize {
    let list: Value = k.json(&["-n", NS, "get", resources]);
    list["items"].as_array().map_or(0, Vec::len)
}

pub fn delete_namespace_removes_content(k: &Kubectl) {
    assert!(
        count(k, "deployments,services,configmaps,secrets") > 0,
        "the namespace has content before deletion"
    );
    let out = k.ok(&["delete", "namespace", NS, "--wait=false"]);
    assert!(
        out.contains(&format!("namespace \"{NS}\" deleted")),
        "{out}"
    );
    wait_until("the namespace's objects are gone", DEADLINE, || {
        count(k, "deployments,services,configmaps,secrets") == 0
    });
    wait_until("the namespace itself is gone", DEADLINE, || {
        let out = k.run(&["get", "namespace", NS]);
        !out.success && out.stderr.contains("NotFound")
    });
    let left = names(&k.json(&["get", "namespaces"]));
    assert!(!left.iter().any(|n| n == NS), "{left:?}");
    assert!(
        left.iter().any(|n| n == "default"),
        "system namespaces stay: {left:?}"
    );
}
