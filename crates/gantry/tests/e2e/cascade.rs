//! Self-healing and garbage collection of a Deployment with real kubectl 1.32: a deleted pod
//! is replaced, deleting the Deployment (background and foreground propagation) removes its
//! ReplicaSets and pods, and `kubectl delete --cascade=orphan` keeps them, without
//! ownerReferences.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    DEADLINE, Kubectl, Server, SimNodes, live_pods, wait_for_ready_pods, wait_until,
};

const CONVERGE: Duration = Duration::from_secs(60);

fn deployment(name: &str, replicas: u32) -> String {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}})
    .to_string()
}

fn names(items: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = items
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

fn list(k: &Kubectl, resource: &str, selector: &str) -> Vec<Value> {
    k.json(&["get", resource, "-l", selector])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Applies Deployment `name` and waits until its `replicas` pods are Ready.
fn running_deployment(k: &Kubectl, name: &str, replicas: usize) -> Vec<Value> {
    k.ok_stdin(&["apply", "-f", "-"], &deployment(name, replicas as u32));
    let out = k.ok(&[
        "rollout",
        "status",
        &format!("deployment/{name}"),
        "--timeout=60s",
    ]);
    assert!(out.contains("successfully rolled out"), "{out}");
    wait_for_ready_pods(k, &format!("app={name}"), replicas, CONVERGE)
}

fn gone(k: &Kubectl, resource: &str, selector: &str) -> bool {
    list(k, resource, selector).is_empty()
}

#[test]
fn deleted_pod_is_replaced() {
    let server = Server::start();
    let k = Kubectl::new(&server, 32);
    let _nodes = SimNodes::start(&server, "heal-", 2);
    let before = names(&running_deployment(&k, "heal", 3));
    let victim = &before[0];
    assert_eq!(
        k.ok(&["delete", "pod", victim]).trim(),
        format!("pod \"{victim}\" deleted")
    );
    let after = wait_for_ready_pods(&k, "app=heal", 3, CONVERGE);
    let after = names(&after);
    assert!(
        !after.contains(victim),
        "{victim} is still there: {after:?}"
    );
    assert_eq!(
        after.iter().filter(|n| before.contains(n)).count(),
        2,
        "{before:?} -> {after:?}"
    );
    let d = k.json(&["get", "deployment", "heal"]);
    assert_eq!(d["status"]["availableReplicas"], 3, "{d}");
}

#[test]
fn deleting_a_deployment_cascades_or_orphans() {
    let server = Server::start();
    let k = Kubectl::new(&server, 32);
    let _nodes = SimNodes::start(&server, "gc-", 2);

    // Background (kubectl's default): the Deployment goes at once, then its ReplicaSet and pods.
    running_deployment(&k, "bg", 3);
    assert_eq!(list(&k, "replicasets", "app=bg").len(), 1);
    assert_eq!(
        k.ok(&["delete", "deployment", "bg"]).trim(),
        "deployment.apps \"bg\" deleted"
    );
    wait_until("the ReplicaSets of bg are collected", CONVERGE, || {
        gone(&k, "replicasets", "app=bg")
    });
    wait_until("the pods of bg are collected", CONVERGE, || {
        gone(&k, "pods", "app=bg")
    });

    // Foreground: kubectl waits until the dependents are gone and the owner with them.
    running_deployment(&k, "fg", 2);
    let out = k.ok(&[
        "delete",
        "deployment",
        "fg",
        "--cascade=foreground",
        "--timeout=60s",
    ]);
    assert_eq!(out.trim(), "deployment.apps \"fg\" deleted");
    wait_until("deployment fg is gone", CONVERGE, || {
        !k.run(&["get", "deployment", "fg"]).success
    });
    wait_until("the ReplicaSets and pods of fg are gone", CONVERGE, || {
        gone(&k, "replicasets", "app=fg") && gone(&k, "pods", "app=fg")
    });

    // Orphan: the ReplicaSet and pods stay, the ReplicaSet loses its ownerReference, and the
    // pods keep theirs (to the ReplicaSet) and keep running.
    let pods = names(&running_deployment(&k, "keep", 3));
    let rs = names(&list(&k, "replicasets", "app=keep"));
    assert_eq!(rs.len(), 1, "{rs:?}");
    let out = k.ok(&["delete", "deployment", "keep", "--cascade=orphan"]);
    assert_eq!(out.trim(), "deployment.apps \"keep\" deleted");
    wait_until("deployment keep is gone", DEADLINE, || {
        !k.run(&["get", "deployment", "keep"]).success
    });
    wait_until(
        "the ReplicaSet of keep loses its ownerReferences",
        DEADLINE,
        || {
            let set = k.json(&["get", "replicaset", &rs[0]]);
            set["metadata"]["ownerReferences"]
                .as_array()
                .is_none_or(Vec::is_empty)
        },
    );
    let set = k.json(&["get", "replicaset", &rs[0]]);
    assert_eq!(set["spec"]["replicas"], 3, "{set}");
    assert!(set["metadata"]["deletionTimestamp"].is_null(), "{set}");
    let kept = live_pods(&k, "app=keep");
    assert_eq!(names(&kept), pods, "the orphaned pods changed");
    for pod in &kept {
        let owners = pod["metadata"]["ownerReferences"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(owners.len(), 1, "{pod}");
        assert_eq!(owners[0]["kind"], "ReplicaSet");
        assert_eq!(owners[0]["name"], rs[0].as_str());
    }
    // The orphaned ReplicaSet still heals: it is a controller in its own right.
    k.ok(&["delete", "pod", &pods[0]]);
    let healed = names(&wait_for_ready_pods(&k, "app=keep", 3, CONVERGE));
    assert!(!healed.contains(&pods[0]), "{healed:?}");
    // Deleting the orphaned ReplicaSet now collects the pods.
    k.ok(&["delete", "replicaset", &rs[0]]);
    wait_until(
        "the pods of the orphaned ReplicaSet are collected",
        CONVERGE,
        || gone(&k, "pods", "app=keep"),
    );
}

/// Regression: a grace-0 delete of a pod that a finalizer holds was a no-op (the grace period
/// stayed 30 s), and removing the last finalizer then left the pod Terminating for ever; this
/// is how a foreground deletion of a Deployment hung on its pods.
#[test]
fn finalizer_held_pod_goes_after_grace_zero_delete() {
    let server = Server::start();
    let k = Kubectl::new(&server, 32);
    let _nodes = SimNodes::start(&server, "fin-", 1);
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "held", "namespace": "default", "labels": {"app": "held"}, "finalizers": ["example.com/hold"]},
        "spec": {"nodeName": "fin-0", "containers": [{"name": "app", "image": "nginx:1.27"}]}});
    k.ok_stdin(&["create", "-f", "-"], &pod.to_string());
    wait_for_ready_pods(&k, "app=held", 1, DEADLINE);
    k.ok(&["delete", "pod", "held", "--wait=false"]);
    // The simulated kubelet answers the graceful deletion with its final grace-0 delete.
    wait_until(
        "the grace period of held is shortened to 0",
        DEADLINE,
        || k.json(&["get", "pod", "held"])["metadata"]["deletionGracePeriodSeconds"] == 0,
    );
    k.ok(&[
        "patch",
        "pod",
        "held",
        "--type=json",
        "-p",
        r#"[{"op": "remove", "path": "/metadata/finalizers"}]"#,
    ]);
    let out = k.run(&["get", "pod", "held"]);
    assert!(
        !out.success && out.stderr.contains("NotFound"),
        "held outlived its last finalizer: {}",
        out.stdout
    );
}
