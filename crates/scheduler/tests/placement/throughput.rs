//! Decision throughput over a snapshot of 1,000 nodes, printed (no timing assertion): plain
//! pods, and pods with a topology spread constraint (which count pods per domain).

use std::time::Instant;

use gantry_scheduler::cache::Cache;
use gantry_scheduler::placement::{self, TieBreaker};
use gantry_scheduler::pod::PodInfo;
use serde_json::json;

use crate::fixtures::{node, pod};

const NODES: usize = 1_000;

fn cluster() -> Cache {
    let mut cache = Cache::new();
    for i in 0..NODES {
        let n = node(
            &format!("node-{i:04}"),
            json!({
                "metadata": {"labels": {"topology.kubernetes.io/zone": format!("zone-{}", i % 10)}},
                "status": {"allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"}}
            }),
        );
        cache.apply_node(&n);
    }
    cache
}

/// Decides and assumes `count` pods built by `make`; returns decisions per second.
fn measure(cache: &mut Cache, count: usize, make: impl Fn(usize) -> PodInfo) -> f64 {
    let pods: Vec<PodInfo> = (0..count).map(make).collect();
    let mut ties = TieBreaker::new(42);
    let started = Instant::now();
    for p in pods {
        let node = placement::schedule(&p, cache, &mut ties).expect("1,000 nodes have room");
        cache.assume(p, &node);
    }
    count as f64 / started.elapsed().as_secs_f64()
}

#[test]
fn decisions_per_second_over_1000_nodes() {
    let mut cache = cluster();
    let plain = measure(&mut cache, 5_000, |i| {
        PodInfo::from_pod(&pod(
            &format!("plain-{i}"),
            "100m",
            "128Mi",
            json!({"metadata": {"labels": {"app": "plain"}}}),
        ))
    });
    let spread = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}
    ]}});
    let spread = measure(&mut cache, 500, |i| {
        PodInfo::from_pod(&pod(&format!("web-{i}"), "100m", "128Mi", spread.clone()))
    });
    let per_pod_us = 1e6 / plain;
    println!(
        "placement over {NODES} nodes: {plain:.0} decisions/s ({per_pod_us:.0} us each) plain; {spread:.0} decisions/s with a spread constraint over 5,500 placed pods"
    );
    let placed = cache.nodes().iter().map(|n| n.pods.len()).sum::<usize>();
    assert_eq!(placed, 5_500);
    let busiest = cache
        .nodes()
        .iter()
        .map(|n| n.pods.len())
        .max()
        .unwrap_or(0);
    assert!(
        busiest <= 12,
        "least allocated spreads plain pods evenly, busiest node has {busiest}"
    );
}
