//! The node-level filters (readiness, cordon, resources, node selector and affinity, taints,
//! host ports), as tables of (nodes, placed pods, pod) -> the nodes that pass.

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

use crate::fixtures::{feasible, names, node, placed, pod};

pub struct Case {
    pub name: &'static str,
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    pub pod: Pod,
    pub want: &'static [&'static str],
}

pub fn check(cases: Vec<Case>) {
    for c in cases {
        assert_eq!(
            feasible(&c.nodes, &c.pods, &c.pod),
            names(c.want),
            "case {:?}",
            c.name
        );
    }
}

pub fn plain(name: &'static str) -> Node {
    node(name, json!({}))
}

fn affinity_pod(overlay: Value) -> Pod {
    pod(
        "p",
        "100m",
        "",
        json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": overlay}}}}}),
    )
}

#[test]
fn readiness_and_unschedulable() {
    let not_ready = node(
        "b",
        json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
    );
    let no_conditions = node("c", json!({"status": {"conditions": []}}));
    let cordoned = node("b", json!({"spec": {"unschedulable": true}}));
    let tolerates = json!({"spec": {"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}});
    check(vec![
        Case {
            name: "not ready",
            nodes: vec![plain("a"), not_ready, no_conditions],
            pods: vec![],
            pod: pod("p", "", "", json!({})),
            want: &["a"],
        },
        Case {
            name: "cordoned",
            nodes: vec![plain("a"), cordoned.clone()],
            pods: vec![],
            pod: pod("p", "", "", json!({})),
            want: &["a"],
        },
        Case {
            name: "cordoned tolerated",
            nodes: vec![plain("a"), cordoned],
            pods: vec![],
            pod: pod("p", "", "", tolerates),
            want: &["a", "b"],
        },
    ]);
}

#[test]
fn resources() {
    let nodes = || vec![plain("a"), plain("b")];
    let busy = || vec![placed("x", "a", "3500m", "7Gi", json!({}))];
    let init = |cpus: &[&str], overlay: Value| {
        let containers: Vec<Value> = cpus.iter().enumerate().map(|(i, c)| json!({"name": format!("i{i}"), "image": "x", "resources": {"requests": {"cpu": c}}})).collect();
        let mut p = json!({"spec": {"initContainers": containers}});
        crate::fixtures::merge(&mut p, overlay);
        p
    };
    let sidecar = json!({"spec": {"initContainers": [{"name": "i0", "image": "x", "restartPolicy": "Always", "resources": {"requests": {"cpu": "1"}}}]}});
    let one_pod_node = node("c", json!({"status": {"allocatable": {"pods": "1"}}}));
    let gpu_node = node(
        "g",
        json!({"status": {"allocatable": {"example.com/gpu": "1"}}}),
    );
    let gpu_pod = pod(
        "p",
        "",
        "",
        json!({"spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"example.com/gpu": "1"}}}]}}),
    );
    let storage_pod = pod(
        "p",
        "",
        "",
        json!({"spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"ephemeral-storage": "150Gi"}}}]}}),
    );
    check(vec![
        Case {
            name: "cpu",
            nodes: nodes(),
            pods: busy(),
            pod: pod("p", "1", "", json!({})),
            want: &["b"],
        },
        Case {
            name: "memory",
            nodes: nodes(),
            pods: busy(),
            pod: pod("p", "", "2Gi", json!({})),
            want: &["b"],
        },
        Case {
            name: "memory over allocatable",
            nodes: nodes(),
            pods: vec![],
            pod: pod("p", "", "9Gi", json!({})),
            want: &[],
        },
        Case {
            name: "fits exactly",
            nodes: nodes(),
            pods: busy(),
            pod: pod("p", "500m", "1Gi", json!({})),
            want: &["a", "b"],
        },
        Case {
            name: "no requests fit a full node",
            nodes: nodes(),
            pods: vec![placed("x", "a", "4", "8Gi", json!({}))],
            pod: pod("p", "", "", json!({})),
            want: &["a", "b"],
        },
        Case {
            name: "pods count",
            nodes: vec![one_pod_node.clone()],
            pods: vec![placed("x", "c", "", "", json!({}))],
            pod: pod("p", "", "", json!({})),
            want: &[],
        },
        Case {
            name: "pods count free",
            nodes: vec![one_pod_node],
            pods: vec![],
            pod: pod("p", "", "", json!({})),
            want: &["c"],
        },
        Case {
            name: "ephemeral storage",
            nodes: nodes(),
            pods: vec![],
            pod: storage_pod,
            want: &[],
        },
        Case {
            name: "extended resource",
            nodes: vec![plain("a"), gpu_node],
            pods: vec![],
            pod: gpu_pod,
            want: &["g"],
        },
        Case {
            name: "init max over containers",
            nodes: nodes(),
            pods: vec![placed("x", "a", "1500m", "", json!({}))],
            pod: pod("p", "1", "", init(&["3"], json!({}))),
            want: &["b"],
        },
        Case {
            name: "init containers: max, not sum",
            nodes: nodes(),
            pods: vec![],
            pod: pod("p", "1", "", init(&["3", "3"], json!({}))),
            want: &["a", "b"],
        },
        Case {
            name: "sidecar adds to the containers",
            nodes: nodes(),
            pods: vec![],
            pod: pod("p", "3500m", "", sidecar),
            want: &[],
        },
        Case {
            name: "terminal pods hold nothing",
            nodes: nodes(),
            pods: vec![placed(
                "x",
                "a",
                "4",
                "",
                json!({"status": {"phase": "Succeeded"}}),
            )],
            pod: pod("p", "1", "", json!({})),
            want: &["a", "b"],
        },
    ]);
}

#[test]
fn node_selector_and_affinity() {
    let labelled =
        |name: &'static str, labels: Value| node(name, json!({"metadata": {"labels": labels}}));
    let nodes = || {
        vec![
            labelled("a", json!({"disk": "ssd", "cores": "8"})),
            labelled("b", json!({"disk": "hdd", "cores": "2"})),
            plain("c"),
        ]
    };
    let expr = |key: &str, op: &str, values: Value| json!([{"matchExpressions": [{"key": key, "operator": op, "values": values}]}]);
    check(vec![
        Case {
            name: "nodeSelector",
            nodes: nodes(),
            pods: vec![],
            pod: pod(
                "p",
                "",
                "",
                json!({"spec": {"nodeSelector": {"disk": "ssd"}}}),
            ),
            want: &["a"],
        },
        Case {
            name: "In",
            nodes: nodes(),
            pods: vec![],
            pod: affinity_pod(expr("disk", "In", json!(["ssd", "hdd"]))),
            want: &["a", "b"],
        },
        Case {
            name: "NotIn (absent label passes)",
            nodes: nodes(),
            pods: vec![],
            pod: affinity_pod(expr("disk", "NotIn", json!(["ssd"]))),
            want: &["b", "c"],
        },
        Case {
            name: "Exists",
            nodes: nodes(),
            pods: vec![],
            pod: affinity_pod(
                json!([{"matchExpressions": [{"key": "disk", "operator": "Exists"}]}]),
            ),
            want: &["a", "b"],
        },
        Case {
            name: "DoesNotExist",
            nodes: nodes(),
            pods: vec![],
            pod: affinity_pod(
                json!([{"matchExpressions": [{"key": "disk", "operator": "DoesNotExist"}]}]),
            ),
            want: &["c"],
        },
        Case {
            name: "Gt",
            nodes: nodes(),
            pods: vec![],
            pod: affinity_pod(expr("cores", "Gt", json!(["4"]))),
            want: &["a"],
        },
        Case {
            name: "Lt",
            nodes: nodes(),
            pods: vec![],
            pod: affinity_pod(expr("cores", "Lt", json!(["4"]))),
            want: &["b"],
        },
        Case {
            name: "Gt with a non-number",
            nodes: nodes(),
            pods: vec![],
            pod: affinity_pod(expr("disk", "Gt", json!(["4"]))),
            want: &[],
        },
        Case {
            name: "matchFields metadata.name",
            nodes: nodes(),
            pods: vec![],
            pod: affinity_pod(
                json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["c"]}]}]),
            ),
            want: &["c"],
        },
        Case {
            name: "terms are ORed, expressions ANDed",
            nodes: nodes(),
            pods: vec![],
            pod: affinity_pod(json!([
                {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}, {"key": "cores", "operator": "Lt", "values": ["4"]}]},
                {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["a", "b"]}]}
            ])),
            want: &["c"],
        },
        Case {
            name: "an empty term matches nothing",
            nodes: nodes(),
            pods: vec![],
            pod: affinity_pod(json!([{}])),
            want: &[],
        },
        Case {
            name: "selector and affinity both apply",
            nodes: nodes(),
            pods: vec![],
            pod: pod(
                "p",
                "",
                "",
                json!({"spec": {"nodeSelector": {"disk": "hdd"}, "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": expr("disk", "In", json!(["ssd"]))}}}}}),
            ),
            want: &[],
        },
    ]);
}

#[test]
fn taints_and_tolerations() {
    let tainted = |effect: &str| {
        vec![
            plain("a"),
            node(
                "b",
                json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": effect}]}}),
            ),
        ]
    };
    let tolerating =
        |toleration: Value| pod("p", "", "", json!({"spec": {"tolerations": [toleration]}}));
    check(vec![
        Case {
            name: "NoSchedule",
            nodes: tainted("NoSchedule"),
            pods: vec![],
            pod: pod("p", "", "", json!({})),
            want: &["a"],
        },
        Case {
            name: "NoExecute",
            nodes: tainted("NoExecute"),
            pods: vec![],
            pod: pod("p", "", "", json!({})),
            want: &["a"],
        },
        Case {
            name: "PreferNoSchedule only scores",
            nodes: tainted("PreferNoSchedule"),
            pods: vec![],
            pod: pod("p", "", "", json!({})),
            want: &["a", "b"],
        },
        Case {
            name: "Equal",
            nodes: tainted("NoSchedule"),
            pods: vec![],
            pod: tolerating(
                json!({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}),
            ),
            want: &["a", "b"],
        },
        Case {
            name: "Equal by default",
            nodes: tainted("NoSchedule"),
            pods: vec![],
            pod: tolerating(json!({"key": "dedicated", "value": "gpu"})),
            want: &["a", "b"],
        },
        Case {
            name: "Equal, other value",
            nodes: tainted("NoSchedule"),
            pods: vec![],
            pod: tolerating(json!({"key": "dedicated", "value": "cpu"})),
            want: &["a"],
        },
        Case {
            name: "Exists",
            nodes: tainted("NoExecute"),
            pods: vec![],
            pod: tolerating(json!({"key": "dedicated", "operator": "Exists"})),
            want: &["a", "b"],
        },
        Case {
            name: "empty key with Exists",
            nodes: tainted("NoSchedule"),
            pods: vec![],
            pod: tolerating(json!({"operator": "Exists"})),
            want: &["a", "b"],
        },
        Case {
            name: "other effect",
            nodes: tainted("NoSchedule"),
            pods: vec![],
            pod: tolerating(
                json!({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}),
            ),
            want: &["a"],
        },
    ]);
}

#[test]
fn host_ports() {
    let port = |port: i32, protocol: &str, ip: &str| json!({"spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 8080, "hostPort": port, "protocol": protocol, "hostIP": ip}]}]}});
    let nodes = || vec![plain("a"), plain("b")];
    let used = || vec![placed("x", "a", "", "", port(80, "TCP", "10.0.0.1"))];
    check(vec![
        Case {
            name: "same port",
            nodes: nodes(),
            pods: used(),
            pod: pod("p", "", "", port(80, "TCP", "")),
            want: &["b"],
        },
        Case {
            name: "same port and ip",
            nodes: nodes(),
            pods: used(),
            pod: pod("p", "", "", port(80, "TCP", "10.0.0.1")),
            want: &["b"],
        },
        Case {
            name: "other ip",
            nodes: nodes(),
            pods: used(),
            pod: pod("p", "", "", port(80, "TCP", "10.0.0.2")),
            want: &["a", "b"],
        },
        Case {
            name: "other protocol",
            nodes: nodes(),
            pods: used(),
            pod: pod("p", "", "", port(80, "UDP", "")),
            want: &["a", "b"],
        },
        Case {
            name: "other port",
            nodes: nodes(),
            pods: used(),
            pod: pod("p", "", "", port(81, "TCP", "")),
            want: &["a", "b"],
        },
    ]);
}
