//! Builders for nodes and pods from JSON overlays, and `check`-style helpers that run the
//! filters or the whole placement over a cache built from them.

use gantry_scheduler::cache::Cache;
use gantry_scheduler::filters;
use gantry_scheduler::placement::{self, FitError, TieBreaker};
use gantry_scheduler::pod::PodInfo;
use gantry_scheduler::prefilter::State;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

/// Merges `overlay` into `base` (objects recursively, everything else replaced).
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o,
    }
}

/// A Ready node with 4 CPUs, 8Gi memory, 110 pods, 100Gi ephemeral storage, plus `overlay`.
pub fn node(name: &str, overlay: Value) -> Node {
    let mut n = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    });
    merge(&mut n, overlay);
    serde_json::from_value(n).expect("a valid node")
}

/// A pod with one container requesting `cpu` and `memory` (empty: no request), plus `overlay`.
pub fn pod(name: &str, cpu: &str, memory: &str, overlay: Value) -> Pod {
    let mut requests = serde_json::Map::new();
    if !cpu.is_empty() {
        requests.insert("cpu".into(), json!(cpu));
    }
    if !memory.is_empty() {
        requests.insert("memory".into(), json!(memory));
    }
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
        "spec": {"containers": [{"name": "c", "image": "pause", "resources": {"requests": requests}}]}
    });
    merge(&mut p, overlay);
    serde_json::from_value(p).expect("a valid pod")
}

/// A pod already bound to `node`.
pub fn placed(name: &str, node: &str, cpu: &str, memory: &str, overlay: Value) -> Pod {
    let mut p = pod(name, cpu, memory, overlay);
    if let Some(spec) = p.spec.as_mut() {
        spec.node_name = Some(node.to_owned());
    }
    p
}

pub fn cache(nodes: &[Node], pods: &[Pod]) -> Cache {
    let mut cache = Cache::new();
    for n in nodes {
        cache.apply_node(n);
    }
    for p in pods {
        cache.apply_pod(PodInfo::from_pod(p));
    }
    cache
}

/// The names of the nodes that pass every filter, sorted.
pub fn feasible(nodes: &[Node], pods: &[Pod], pod: &Pod) -> Vec<String> {
    let cache = cache(nodes, pods);
    let info = PodInfo::from_pod(pod);
    let state = State::compute(&info, &cache);
    let mut names: Vec<String> = cache
        .nodes()
        .iter()
        .filter(|n| n.present && filters::check(&info, &state, n).is_ok())
        .map(|n| n.name.clone())
        .collect();
    names.sort();
    names
}

/// The whole decision with a fixed tie-breaker seed.
pub fn schedule(nodes: &[Node], pods: &[Pod], pod: &Pod) -> Result<String, FitError> {
    placement::schedule(
        &PodInfo::from_pod(pod),
        &cache(nodes, pods),
        &mut TieBreaker::new(7),
    )
}

/// `["a", "b"]` as owned strings, for comparisons.
pub fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}
