//! Every score: tables of snapshots and the node the whole decision picks, plus the resource
//! scores' arithmetic and the tie-breaking.

use std::collections::HashSet;

use gantry_scheduler::cache::NodeInfo;
use gantry_scheduler::pod::PodInfo;
use gantry_scheduler::quantity::Resources;
use gantry_scheduler::scores;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

use crate::fixtures::{node, placed, pod, schedule};

/// Node cpu (m), node memory, requested cpu, requested memory, pod cpu, pod memory, then the
/// least allocated and balanced allocation scores.
type ResourceCase = (i64, i64, i64, i64, i64, i64, i64, i64);

/// Name, nodes, placed pods, overlay of the pod to place, expected node.
type PickCase = (&'static str, Vec<Node>, Vec<Pod>, Value, &'static str);

#[test]
fn resource_arithmetic() {
    // (node cpu m, node memory, requested cpu m, requested memory, pod cpu m, pod memory, least, balanced)
    let cases: &[ResourceCase] = &[
        (4000, 8000, 0, 0, 1000, 2000, 75, 100),
        (4000, 8000, 2000, 0, 0, 0, 75, 75),
        (4000, 8000, 4000, 8000, 1000, 1000, 0, 100),
        (1000, 1000, 500, 0, 500, 0, 50, 50),
    ];
    for &(cpu, memory, used_cpu, used_memory, pod_cpu, pod_memory, least, balanced) in cases {
        let resources = |milli_cpu, memory| Resources {
            milli_cpu,
            memory,
            ..Resources::default()
        };
        let node = NodeInfo {
            allocatable: resources(cpu, memory),
            requested: resources(used_cpu, used_memory),
            nonzero_milli_cpu: used_cpu,
            nonzero_memory: used_memory,
            ..NodeInfo::default()
        };
        let pod = PodInfo {
            requests: resources(pod_cpu, pod_memory),
            nonzero_milli_cpu: pod_cpu,
            nonzero_memory: pod_memory,
            ..PodInfo::default()
        };
        assert_eq!(
            (
                scores::least_allocated(&pod, &node),
                scores::balanced(&pod, &node)
            ),
            (least, balanced),
            "case {cpu} {memory} {used_cpu} {used_memory} {pod_cpu} {pod_memory}"
        );
    }
}

fn zoned(name: &str, zone: &str, extra: Value) -> Node {
    let mut overlay = json!({"metadata": {"labels": {"zone": zone}}});
    crate::fixtures::merge(&mut overlay, extra);
    node(name, overlay)
}

#[test]
fn picks() {
    let web = |name: &str, node: &str| {
        placed(
            name,
            node,
            "",
            "",
            json!({"metadata": {"labels": {"app": "web"}}}),
        )
    };
    let preferred_node = json!({"spec": {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z2"]}]}}
    ]}}}});
    let preferred_pod = |kind: &str| {
        json!({"spec": {"affinity": {kind: {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 50, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}}
        ]}}}})
    };
    let soft_spread = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "web"}}}
    ]}});
    let prefer_no = json!({"spec": {"taints": [{"key": "k", "effect": "PreferNoSchedule"}]}});
    let two = || vec![zoned("a", "z1", json!({})), zoned("b", "z2", json!({}))];
    let cases: Vec<PickCase> = vec![
        (
            "least allocated",
            two(),
            vec![placed("x", "a", "2", "2Gi", json!({}))],
            json!({}),
            "b",
        ),
        (
            "balanced allocation",
            two(),
            vec![
                placed("x", "a", "2", "4Gi", json!({})),
                placed("y", "b", "3", "", json!({})),
            ],
            json!({}),
            "a",
        ),
        (
            "preferred node affinity",
            two(),
            vec![placed("x", "b", "1", "1Gi", json!({}))],
            preferred_node,
            "b",
        ),
        (
            "PreferNoSchedule taint",
            vec![zoned("a", "z1", prefer_no), zoned("b", "z2", json!({}))],
            vec![placed("x", "b", "1", "1Gi", json!({}))],
            json!({}),
            "b",
        ),
        (
            "preferred pod affinity",
            two(),
            vec![web("w", "b")],
            preferred_pod("podAffinity"),
            "b",
        ),
        (
            "preferred pod anti-affinity",
            two(),
            vec![web("w", "a")],
            preferred_pod("podAntiAffinity"),
            "b",
        ),
        (
            "spread ScheduleAnyway",
            two(),
            vec![web("w1", "a"), web("w2", "a")],
            soft_spread,
            "b",
        ),
    ];
    for (name, nodes, pods, overlay, want) in cases {
        let p = pod("p", "100m", "100Mi", overlay);
        assert_eq!(
            schedule(&nodes, &pods, &p).ok().as_deref(),
            Some(want),
            "case {name:?}"
        );
    }
}

#[test]
fn ties_are_broken_at_random_and_reproducibly() {
    let nodes: Vec<_> = (0..8).map(|i| node(&format!("n{i}"), json!({}))).collect();
    let cache = crate::fixtures::cache(&nodes, &[]);
    let info = PodInfo::from_pod(&pod("p", "", "", json!({})));
    let pick = |seed| {
        gantry_scheduler::placement::schedule(
            &info,
            &cache,
            &mut gantry_scheduler::placement::TieBreaker::new(seed),
        )
        .ok()
    };
    assert_eq!(pick(1), pick(1), "same seed, same node");
    let chosen: HashSet<_> = (0..64).filter_map(pick).collect();
    assert!(
        chosen.len() > 4,
        "equal nodes are all chosen sometimes: {chosen:?}"
    );
}
