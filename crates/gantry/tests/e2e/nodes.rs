//! Workloads following the nodes, with real kubectl 1.32 against `gantry server` and
//! `gantry sim` node groups: a DaemonSet covers every node, including one whose sim process
//! starts later, and a node whose sim process dies turns NotReady, gets the unreachable taint,
//! and its pods are evicted after their tolerationSeconds and replaced on the nodes left.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    DEADLINE, Kubectl, Server, SimNodes, live_pods, pod_ready, ready_nodes, wait_for_ready_pods,
    wait_until,
};

const CONVERGE: Duration = Duration::from_secs(60);

fn node_of(pod: &Value) -> String {
    pod["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn nodes_of(pods: &[Value]) -> BTreeSet<String> {
    pods.iter().map(node_of).collect()
}

fn daemonset() -> String {
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "agent", "image": "busybox"}]}}}})
    .to_string()
}

#[test]
fn daemonset_covers_every_node_including_a_later_one() {
    let server = Server::start();
    let k = Kubectl::new(&server, 32);
    let _nodes = SimNodes::start(&server, "ds-", 2);
    wait_until("2 nodes are Ready", DEADLINE, || ready_nodes(&k).len() == 2);
    assert_eq!(
        k.ok_stdin(&["apply", "-f", "-"], &daemonset()).trim(),
        "daemonset.apps/agent created"
    );
    let out = k.ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let pods = wait_for_ready_pods(&k, "app=agent", 2, CONVERGE);
    assert_eq!(
        nodes_of(&pods),
        BTreeSet::from(["ds-0".to_string(), "ds-1".to_string()]),
        "{pods:?}"
    );
    for pod in &pods {
        // Each daemon pod is pinned to its node and tolerates the node going away, as upstream.
        let term = &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"][0];
        assert_eq!(term["matchFields"][0]["key"], "metadata.name", "{pod}");
        assert_eq!(
            term["matchFields"][0]["values"][0],
            node_of(pod).as_str(),
            "{pod}"
        );
        let tolerations = pod["spec"]["tolerations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            tolerations
                .iter()
                .any(|t| t["key"] == "node.kubernetes.io/unreachable" && t["operator"] == "Exists"),
            "{pod}"
        );
        assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "DaemonSet");
    }

    // A node group started later gets its daemon pod too.
    let _extra = SimNodes::start(&server, "extra-", 1);
    wait_until("3 nodes are Ready", DEADLINE, || ready_nodes(&k).len() == 3);
    let pods = wait_for_ready_pods(&k, "app=agent", 3, CONVERGE);
    let all: BTreeSet<String> = ["ds-0", "ds-1", "extra-0"]
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(nodes_of(&pods), all, "{pods:?}");
    wait_until("the DaemonSet status counts 3 nodes", DEADLINE, || {
        let ds = k.json(&["get", "daemonset", "agent"]);
        let s = &ds["status"];
        s["desiredNumberScheduled"] == 3
            && s["currentNumberScheduled"] == 3
            && s["numberReady"] == 3
            && s["numberMisscheduled"] == 0
    });
    let table = k.ok(&["get", "daemonset", "agent"]);
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row.get(..6),
        Some(&["agent", "3", "3", "3", "3", "3"][..]),
        "{table}"
    );
}

fn mover() -> String {
    let tolerate = |key: &str| json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2});
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "mover", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "mover"}},
            "template": {"metadata": {"labels": {"app": "mover"}},
                "spec": {"tolerations": [tolerate("node.kubernetes.io/unreachable"), tolerate("node.kubernetes.io/not-ready")],
                    "containers": [{"name": "app", "image": "nginx:1.27"}]}}}})
    .to_string()
}

fn node_condition(node: &Value, kind: &str) -> Option<String> {
    let conditions = node["status"]["conditions"].as_array()?;
    conditions.iter().find(|c| c["type"] == kind)?["status"]
        .as_str()
        .map(str::to_string)
}

fn has_taint(node: &Value, key: &str, effect: &str) -> bool {
    node["spec"]["taints"]
        .as_array()
        .is_some_and(|ts| ts.iter().any(|t| t["key"] == key && t["effect"] == effect))
}

#[test]
fn pods_leave_a_stopped_node_after_their_toleration() {
    let server = Server::start_with_args(&["--node-monitor-grace-period", "4s"]);
    let k = Kubectl::new(&server, 32);
    // The doomed node comes first, so both replicas land on it.
    let mut doomed = SimNodes::start(&server, "doomed-", 1);
    wait_until("doomed-0 is Ready", DEADLINE, || {
        ready_nodes(&k) == ["doomed-0"]
    });
    k.ok_stdin(&["apply", "-f", "-"], &mover());
    let before = wait_for_ready_pods(&k, "app=mover", 2, CONVERGE);
    assert_eq!(
        nodes_of(&before),
        BTreeSet::from(["doomed-0".to_string()]),
        "{before:?}"
    );
    let _live = SimNodes::start(&server, "live-", 2);
    wait_until("3 nodes are Ready", DEADLINE, || ready_nodes(&k).len() == 3);

    doomed.kill();
    wait_until(
        "doomed-0 turns Ready=Unknown with the unreachable taints",
        CONVERGE,
        || {
            let node = k.json(&["get", "node", "doomed-0"]);
            node_condition(&node, "Ready").as_deref() == Some("Unknown")
                && has_taint(&node, "node.kubernetes.io/unreachable", "NoExecute")
                && has_taint(&node, "node.kubernetes.io/unreachable", "NoSchedule")
        },
    );
    let node = k.json(&["get", "node", "doomed-0"]);
    let ready = node["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready").cloned());
    assert_eq!(
        ready.as_ref().map(|c| &c["reason"]),
        Some(&json!("NodeStatusUnknown")),
        "{node}"
    );
    let table = k.ok(&["get", "node", "doomed-0"]);
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("NotReady")),
        "{table}"
    );
    let others = k.json(&["get", "nodes", "-l", "gantry.dev/simulated=true"]);
    for n in others["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| node_of_name(n).starts_with("live-"))
    {
        assert_eq!(node_condition(n, "Ready").as_deref(), Some("True"), "{n}");
        assert!(
            n["spec"]["taints"].as_array().is_none_or(Vec::is_empty),
            "{n}"
        );
    }

    // After tolerationSeconds the pods are evicted and replaced on the live nodes.
    let mut moved = Vec::new();
    wait_until("2 Ready mover pods run on the live nodes", CONVERGE, || {
        moved = live_pods(&k, "app=mover");
        moved.len() == 2
            && moved
                .iter()
                .all(|p| pod_ready(p) && node_of(p).starts_with("live-"))
    });
    let old: BTreeSet<&str> = before
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str())
        .collect();
    assert!(
        moved.iter().all(|p| p["metadata"]["name"]
            .as_str()
            .is_some_and(|n| !old.contains(n))),
        "{moved:?}"
    );
    // The evicted pods are being deleted (the dead node cannot confirm it) or gone.
    let all = k.json(&["get", "pods", "-l", "app=mover"]);
    for pod in all["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| node_of(p) == "doomed-0")
    {
        assert!(
            pod["metadata"]["deletionTimestamp"].is_string(),
            "a pod on the dead node is not evicted: {pod}"
        );
    }
    let d = k.json(&["get", "deployment", "mover"]);
    assert_eq!(d["status"]["availableReplicas"], 2, "{d}");
}

fn node_of_name(node: &Value) -> &str {
    node["metadata"]["name"].as_str().unwrap_or_default()
}
