//! One test per bug found by this suite, named after the bug, so that it stays fixed.

use serde_json::json;

use crate::harness::{DEADLINE, Kubectl, Server, wait_until};

fn gone(k: &Kubectl, args: &[&str]) -> bool {
    let out = k.run(args);
    !out.success && out.stderr.contains("NotFound")
}

/// Deleting a namespace used to leave it `Terminating` forever: the lifecycle cleared
/// `spec.finalizers` through a plain update, whose strategy keeps the old spec.
#[test]
fn deleted_namespace_is_removed_after_a_restart_too() {
    let mut server = Server::start();
    let k = Kubectl::new(&server, 32);
    k.ok(&["create", "namespace", "doomed"]);
    k.ok(&[
        "-n",
        "doomed",
        "create",
        "configmap",
        "c",
        "--from-literal=a=1",
    ]);
    k.ok(&["delete", "namespace", "doomed", "--wait=false"]);
    wait_until("namespace doomed is removed", DEADLINE, || {
        gone(&k, &["get", "namespace", "doomed"])
    });
    server.restart();
    assert!(
        gone(&k, &["get", "namespace", "doomed"]),
        "a removed namespace stays removed"
    );
    assert!(
        gone(&k, &["-n", "doomed", "get", "configmap", "c"]),
        "its content stays removed"
    );
}

/// Any update of a `Terminating` namespace (here a label) used to remove it at once, even
/// though `spec.finalizers` still held it and objects were left inside.
#[test]
fn labelling_a_terminating_namespace_keeps_it_until_it_is_empty() {
    let server = Server::start();
    let k = Kubectl::new(&server, 32);
    k.ok(&["create", "namespace", "held"]);
    let held = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "namespace": "held", "finalizers": ["example.com/hold"]}});
    k.ok_stdin(&["create", "-f", "-"], &held.to_string());
    k.ok(&["delete", "namespace", "held", "--wait=false"]);
    wait_until(
        "the held configmap is marked for deletion",
        DEADLINE,
        || {
            k.json(&["-n", "held", "get", "configmap", "held"])["metadata"]["deletionTimestamp"]
                .is_string()
        },
    );

    k.ok(&["label", "namespace", "held", "touched=yes"]);
    let ns = k.json(&["get", "namespace", "held"]);
    assert_eq!(ns["status"]["phase"], "Terminating", "{ns}");
    assert_eq!(ns["metadata"]["labels"]["touched"], "yes");
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));

    k.ok(&[
        "-n",
        "held",
        "patch",
        "configmap",
        "held",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    wait_until(
        "the configmap is removed once its finalizer is gone",
        DEADLINE,
        || gone(&k, &["-n", "held", "get", "configmap", "held"]),
    );
    wait_until("the namespace is removed once empty", DEADLINE, || {
        gone(&k, &["get", "namespace", "held"])
    });
}
