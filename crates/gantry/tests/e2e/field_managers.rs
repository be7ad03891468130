//! Writes are recorded under the component that made them, as upstream names them: a pod of a
//! Deployment shows `kube-controller-manager` (it created the pod) and the node's agent (here
//! `gantry-sim`, for the status subresource) in its managedFields, its ReplicaSet shows
//! `kube-controller-manager`, and nothing is recorded as `unknown`.

use serde_json::Value;

use crate::harness::{DEADLINE, sim_cluster, wait_for_ready_pods};

/// (manager, operation, subresource) of each managedFields entry.
fn managers(obj: &Value) -> Vec<(String, String, String)> {
    let entries = obj["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    entries
        .iter()
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (field("manager"), field("operation"), field("subresource"))
        })
        .collect()
}

fn has(list: &[(String, String, String)], manager: &str, subresource: &str) -> bool {
    list.iter()
        .any(|(m, op, sub)| m == manager && op == "Update" && sub == subresource)
}

#[test]
fn writes_are_recorded_under_their_component() {
    let (_server, k, _nodes) = sim_cluster("fm-", 1, 33);
    k.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=1",
    ]);
    let pods = wait_for_ready_pods(&k, "app=web", 1, DEADLINE);
    let name = pods[0]["metadata"]["name"].as_str().expect("a pod name");

    let pod = k.json(&["get", "pod", name, "--show-managed-fields"]);
    let pod_managers = managers(&pod);
    assert!(
        has(&pod_managers, "kube-controller-manager", ""),
        "{pod_managers:?}"
    );
    assert!(
        has(&pod_managers, "gantry-sim", "status"),
        "{pod_managers:?}"
    );

    let sets = k.json(&[
        "get",
        "replicasets",
        "-l",
        "app=web",
        "--show-managed-fields",
    ]);
    let set_managers = managers(&sets["items"][0]);
    assert!(
        has(&set_managers, "kube-controller-manager", ""),
        "{set_managers:?}"
    );

    let deployment = k.json(&["get", "deployment", "web", "--show-managed-fields"]);
    for list in [pod_managers, set_managers, managers(&deployment)] {
        assert!(
            list.iter().all(|(m, _, _)| m != "unknown" && !m.is_empty()),
            "{list:?}"
        );
    }
}
