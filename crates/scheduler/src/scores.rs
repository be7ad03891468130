//! The scores, each 0..=100 per node after normalisation, summed with upstream's default
//! weights: least allocated and balanced allocation (1 each), taint toleration (3), preferred
//! node affinity (2), preferred pod affinity/anti-affinity (2), spread `ScheduleAnyway` (2).

use crate::cache::NodeInfo;
use crate::pod::PodInfo;
use crate::prefilter::State;
use crate::selector;

pub const MAX: i64 = 100;
pub const WEIGHT_RESOURCES: i64 = 1;
pub const WEIGHT_BALANCED: i64 = 1;
pub const WEIGHT_TAINTS: i64 = 3;
pub const WEIGHT_NODE_AFFINITY: i64 = 2;
pub const WEIGHT_POD_AFFINITY: i64 = 2;
pub const WEIGHT_SPREAD: i64 = 2;

/// Unnormalised scores of one feasible node.
#[derive(Debug, Clone, Copy, Default)]
pub struct Raw {
    pub least_allocated: i64,
    pub balanced: i64,
    pub intolerable_taints: i64,
    pub node_affinity: i64,
    pub pod_affinity: i64,
    /// `None` when the node lacks a `ScheduleAnyway` topology key.
    pub spread: Option<i64>,
}

/// `(allocatable - requested) * 100 / allocatable`, averaged over CPU and memory, counting
/// containers without requests at upstream's defaults.
pub fn least_allocated(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let one = |requested: i64, allocatable: i64| {
        if allocatable <= 0 || requested > allocatable {
            0
        } else {
            (allocatable - requested) * MAX / allocatable
        }
    };
    let cpu = one(
        node.nonzero_milli_cpu + pod.nonzero_milli_cpu,
        node.allocatable.milli_cpu,
    );
    let memory = one(
        node.nonzero_memory + pod.nonzero_memory,
        node.allocatable.memory,
    );
    (cpu + memory) / 2
}

/// `(1 - std deviation of the CPU and memory fractions) * 100`: prefers nodes whose resources
/// stay in proportion.
pub fn balanced(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let fraction = |requested: i64, allocatable: i64| {
        if allocatable <= 0 {
            1.0
        } else {
            (requested as f64 / allocatable as f64).min(1.0)
        }
    };
    let cpu = fraction(
        node.requested.milli_cpu + pod.requests.milli_cpu,
        node.allocatable.milli_cpu,
    );
    let memory = fraction(
        node.requested.memory + pod.requests.memory,
        node.allocatable.memory,
    );
    let std = (cpu - memory).abs() / 2.0;
    ((1.0 - std) * MAX as f64) as i64
}

/// The raw scores of a node the filters accepted.
pub fn raw(pod: &PodInfo, state: &State, node: &NodeInfo) -> Raw {
    let intolerable_taints = node
        .taints
        .iter()
        .filter(|t| {
            t.effect == "PreferNoSchedule"
                && !pod
                    .tolerations
                    .iter()
                    .any(|tol| selector::tolerates(tol, t))
        })
        .count() as i64;
    let node_affinity = pod
        .preferred_node_affinity
        .iter()
        .filter(|p| {
            p.weight != 0 && selector::term_matches(&p.preference, &node.name, &node.labels)
        })
        .map(|p| i64::from(p.weight))
        .sum();
    let mut spread = Some(0);
    for c in &state.soft_spread {
        match (node.labels.get(&c.topology_key), spread.as_mut()) {
            (Some(v), Some(total)) => *total += c.counts.get(v).copied().unwrap_or(0),
            _ => spread = None,
        }
    }
    Raw {
        least_allocated: least_allocated(pod, node),
        balanced: balanced(pod, node),
        intolerable_taints,
        node_affinity,
        pod_affinity: if state.pod_affinity_scores.is_empty() {
            0
        } else {
            pod_affinity(pod, state, node)
        },
        spread,
    }
}

/// Sum over preferred terms of `weight` for each domain with matching pods (anti: minus).
fn pod_affinity(pod: &PodInfo, state: &State, node: &NodeInfo) -> i64 {
    let terms = pod
        .preferred_affinity
        .iter()
        .chain(&pod.preferred_anti_affinity);
    terms
        .zip(&state.pod_affinity_scores)
        .map(|(t, per_domain)| {
            node.labels
                .get(&t.topology_key)
                .and_then(|v| per_domain.get(v))
                .copied()
                .unwrap_or(0)
        })
        .sum()
}

/// Normalises every score over the feasible nodes and returns the weighted totals.
pub fn totals(raws: &[Raw]) -> Vec<i64> {
    let max_taints = raws.iter().map(|r| r.intolerable_taints).max().unwrap_or(0);
    let max_affinity = raws.iter().map(|r| r.node_affinity).max().unwrap_or(0);
    let (min_pod, max_pod) = raws.iter().fold((i64::MAX, i64::MIN), |(lo, hi), r| {
        (lo.min(r.pod_affinity), hi.max(r.pod_affinity))
    });
    let spreads = raws.iter().filter_map(|r| r.spread);
    let (min_spread, max_spread) =
        spreads.fold((i64::MAX, 0), |(lo, hi), s| (lo.min(s), hi.max(s)));
    raws.iter()
        .map(|r| {
            let taints = if max_taints == 0 {
                MAX
            } else {
                MAX - r.intolerable_taints * MAX / max_taints
            };
            let node_affinity = if max_affinity == 0 {
                0
            } else {
                r.node_affinity * MAX / max_affinity
            };
            let pod_affinity = if max_pod > min_pod {
                (r.pod_affinity - min_pod) * MAX / (max_pod - min_pod)
            } else {
                0
            };
            let spread = match r.spread {
                None => 0,
                Some(_) if max_spread == 0 => MAX,
                Some(s) => MAX * (max_spread + min_spread - s) / max_spread,
            };
            WEIGHT_RESOURCES * r.least_allocated
                + WEIGHT_BALANCED * r.balanced
                + WEIGHT_TAINTS * taints
                + WEIGHT_NODE_AFFINITY * node_affinity
                + WEIGHT_POD_AFFINITY * pod_affinity
                + WEIGHT_SPREAD * spread
        })
        .collect()
}
