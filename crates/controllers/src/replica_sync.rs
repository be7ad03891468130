//! The pure decisions of the ReplicaSet/ReplicationController sync: how many pods to create or
//! which to delete (upstream's delete preference), the slow-start batches creations go out in,
//! and the status counts.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use crate::pod_state;

/// Most pods created or deleted in one sync (upstream's BurstReplicas).
pub const BURST: usize = 500;

/// What one sync does to the pods.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// Create this many pods.
    Create(usize),
    /// Delete the pods at these indices of the active pods.
    Delete(Vec<usize>),
    /// Nothing.
    None,
}

/// Given the wanted replicas and the owner's active pods, what to do.
pub fn change(replicas: i32, active: &[&Pod], now: Timestamp) -> Change {
    let want = replicas.max(0) as usize;
    match active.len().cmp(&want) {
        Ordering::Less => Change::Create((want - active.len()).min(BURST)),
        Ordering::Greater => Change::Delete(
            delete_order(active, now)
                .into_iter()
                .take((active.len() - want).min(BURST))
                .collect(),
        ),
        Ordering::Equal => Change::None,
    }
}

/// Upstream's slow start: batches of 1, 2, 4, ... summing to `count`.
pub fn slow_start_batches(count: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let (mut left, mut size) = (count, 1);
    while left > 0 {
        let n = size.min(left);
        out.push(n);
        left -= n;
        size *= 2;
    }
    out
}

/// Indices of `pods` in deletion preference, first to delete first (upstream ActivePodsWithRanks,
/// the rank being how many of these pods share the node).
pub fn delete_order(pods: &[&Pod], now: Timestamp) -> Vec<usize> {
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for p in pods {
        *per_node.entry(node(p)).or_default() += 1;
    }
    let rank = |p: &Pod| per_node.get(node(p)).copied().unwrap_or(0);
    let mut idx: Vec<usize> = (0..pods.len()).collect();
    idx.sort_by(|&a, &b| {
        let (x, y) = (pods[a], pods[b]);
        (!node(x).is_empty())
            .cmp(&!node(y).is_empty())
            .then(phase_rank(x).cmp(&phase_rank(y)))
            .then(pod_state::is_ready(x).cmp(&pod_state::is_ready(y)))
            .then(rank(y).cmp(&rank(x)))
            .then(log_age(ready_time(x), now).cmp(&log_age(ready_time(y), now)))
            .then(pod_state::restarts(y).cmp(&pod_state::restarts(x)))
            .then(log_age(created(x), now).cmp(&log_age(created(y), now)))
    });
    idx
}

fn node(p: &Pod) -> &str {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

fn phase_rank(p: &Pod) -> u8 {
    match pod_state::phase(p) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    }
}

fn ready_time(p: &Pod) -> Option<Timestamp> {
    pod_state::ready_since(p).flatten()
}

fn created(p: &Pod) -> Option<Timestamp> {
    p.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// Upstream's logarithmic comparison: younger buckets sort first; unknown times sort last.
fn log_age(t: Option<Timestamp>, now: Timestamp) -> u32 {
    match t {
        None => u32::MAX,
        Some(t) => {
            let secs = (now.as_second() - t.as_second()).max(0) as u64;
            u64::BITS - secs.leading_zeros()
        }
    }
}

/// The status counts of a replica owner.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub replicas: i32,
    pub fully_labeled: i32,
    pub ready: i32,
    pub available: i32,
}

/// Counts over the active pods; `template_labels` decide "fully labeled".
pub fn counts(
    active: &[&Pod],
    template_labels: &BTreeMap<String, String>,
    min_ready: i32,
    now: Timestamp,
) -> Counts {
    let mut c = Counts {
        replicas: active.len() as i32,
        ..Default::default()
    };
    for p in active {
        let labels = p.metadata.labels.as_ref();
        if template_labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            c.fully_labeled += 1;
        }
        if pod_state::is_ready(p) {
            c.ready += 1;
        }
        if pod_state::is_available(p, min_ready, now) {
            c.available += 1;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or_default()
    }

    fn pod(name: &str, node: &str, phase: &str, ready: bool, created: i64) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.creation_timestamp = Some(Time(ts(created)));
        p.spec = Some(PodSpec {
            node_name: (!node.is_empty()).then(|| node.into()),
            ..Default::default()
        });
        let conditions = vec![PodCondition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            last_transition_time: Some(Time(ts(created))),
            ..Default::default()
        }];
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            conditions: Some(conditions),
            ..Default::default()
        });
        p
    }

    fn names(pods: &[Pod], order: Vec<usize>) -> Vec<String> {
        order
            .into_iter()
            .map(|i| pods[i].metadata.name.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn delete_preference_table() {
        let cases: Vec<(Vec<Pod>, Vec<&str>)> = vec![
            (
                vec![
                    pod("assigned", "n1", "Pending", false, 0),
                    pod("unassigned", "", "Pending", false, 0),
                ],
                vec!["unassigned", "assigned"],
            ),
            (
                vec![
                    pod("running", "n1", "Running", false, 0),
                    pod("pending", "n2", "Pending", false, 0),
                ],
                vec!["pending", "running"],
            ),
            (
                vec![
                    pod("ready", "n1", "Running", true, 0),
                    pod("notready", "n2", "Running", false, 0),
                ],
                vec!["notready", "ready"],
            ),
            (
                vec![
                    pod("alone", "n1", "Running", true, 0),
                    pod("double1", "n2", "Running", true, 0),
                    pod("double2", "n2", "Running", true, 0),
                ],
                vec!["double1", "double2", "alone"],
            ),
            (
                vec![
                    pod("old", "n1", "Running", true, 0),
                    pod("new", "n2", "Running", true, 990),
                ],
                vec!["new", "old"],
            ),
        ];
        for (pods, want) in cases {
            let refs: Vec<&Pod> = pods.iter().collect();
            assert_eq!(names(&pods, delete_order(&refs, ts(1000))), want);
        }
    }

    #[test]
    fn change_table() {
        let pods: Vec<Pod> = (0..3)
            .map(|i| pod(&format!("p{i}"), "", "Running", false, i * 4))
            .collect();
        let refs: Vec<&Pod> = pods.iter().collect();
        assert_eq!(change(5, &refs, ts(10)), Change::Create(2));
        assert_eq!(change(3, &refs, ts(10)), Change::None);
        assert_eq!(change(2, &refs, ts(10)), Change::Delete(vec![2]));
        assert!(change(0, &refs, ts(10)).ne(&Change::None));
        assert_eq!(change(1000, &[], ts(10)), Change::Create(BURST));
    }

    #[test]
    fn slow_start_table() {
        let cases = [
            (0, vec![]),
            (1, vec![1]),
            (3, vec![1, 2]),
            (10, vec![1, 2, 4, 3]),
            (16, vec![1, 2, 4, 8, 1]),
        ];
        for (n, want) in cases {
            assert_eq!(slow_start_batches(n), want, "{n}");
        }
    }

    #[test]
    fn counts_table() {
        let pods = [
            pod("a", "n", "Running", true, 0),
            pod("b", "n", "Running", false, 0),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let c = counts(&refs, &BTreeMap::new(), 0, ts(100));
        assert_eq!(
            c,
            Counts {
                replicas: 2,
                fully_labeled: 2,
                ready: 1,
                available: 1
            }
        );
        let labels = [("x".to_string(), "y".to_string())].into();
        assert_eq!(counts(&refs, &labels, 200, ts(100)).fully_labeled, 0);
        assert_eq!(counts(&refs, &labels, 200, ts(100)).available, 0);
    }
}
