//! Per-decision state computed once before the node loop, as upstream's PreFilter does: the
//! topology domains where pods matching the incoming pod's (anti-)affinity terms run, the
//! domains forbidden by placed pods' anti-affinity, and matching-pod counts per domain for
//! topology spread constraints. Pods without such terms skip all of it.

use std::collections::{HashMap, HashSet};

use crate::cache::{Cache, NodeInfo};
use crate::pod::{AffinityTerm, PodInfo};
use crate::selector;

/// Domains (values of a topology key) per term.
type Domains = Vec<HashSet<String>>;

/// What the inter-pod affinity filter checks against.
#[derive(Debug, Default)]
pub struct AffinityState {
    /// Per required affinity term: domains with at least one matching pod.
    pub affinity: Domains,
    /// Whether any pod matches any required affinity term.
    pub any_affinity_match: bool,
    /// Whether the incoming pod matches all its own affinity terms (first of its group).
    pub self_match: bool,
    /// Per required anti-affinity term: domains with a matching pod.
    pub anti_affinity: Domains,
    /// (topology key, value) pairs where a placed pod's anti-affinity rejects the incoming pod.
    pub existing_anti_affinity: HashSet<(String, String)>,
}

impl AffinityState {
    pub fn compute(pod: &PodInfo, cache: &Cache) -> AffinityState {
        let mut state = AffinityState {
            affinity: vec![HashSet::new(); pod.affinity.len()],
            anti_affinity: vec![HashSet::new(); pod.anti_affinity.len()],
            self_match: pod.affinity.iter().all(|t| t.matches(pod)),
            ..AffinityState::default()
        };
        for (existing, node) in cache.anti_affinity_pods() {
            for term in existing.anti_affinity.iter().filter(|t| t.matches(pod)) {
                if let Some(value) = node.labels.get(&term.topology_key) {
                    state
                        .existing_anti_affinity
                        .insert((term.topology_key.clone(), value.clone()));
                }
            }
        }
        if pod.affinity.is_empty() && pod.anti_affinity.is_empty() {
            return state;
        }
        for node in cache.nodes() {
            for other in &node.pods {
                mark(
                    &pod.affinity,
                    &mut state.affinity,
                    other,
                    node,
                    &mut state.any_affinity_match,
                );
                mark(
                    &pod.anti_affinity,
                    &mut state.anti_affinity,
                    other,
                    node,
                    &mut false,
                );
            }
        }
        state
    }
}

fn mark(
    terms: &[AffinityTerm],
    domains: &mut Domains,
    other: &PodInfo,
    node: &NodeInfo,
    any: &mut bool,
) {
    for (term, set) in terms.iter().zip(domains.iter_mut()) {
        if term.matches(other) {
            *any = true;
            if let Some(value) = node.labels.get(&term.topology_key) {
                set.insert(value.clone());
            }
        }
    }
}

/// Matching-pod counts per domain for one topology spread constraint.
#[derive(Debug)]
pub struct SpreadCounts {
    pub topology_key: String,
    pub max_skew: i64,
    pub counts: HashMap<String, i64>,
    /// The smallest count over eligible domains (0 when fewer than `minDomains` exist).
    pub min: i64,
    /// Whether the incoming pod itself matches the selector.
    pub self_match: bool,
}

/// Counts for the pod's constraints with `when_unsatisfiable` (`DoNotSchedule` filters,
/// `ScheduleAnyway` scores). Domains come from nodes that pass the pod's node selector and
/// required affinity (upstream's default `nodeAffinityPolicy: Honor`).
pub fn spread_counts(pod: &PodInfo, cache: &Cache, when_unsatisfiable: &str) -> Vec<SpreadCounts> {
    let mut all = Vec::new();
    for c in pod
        .spread
        .iter()
        .filter(|c| c.when_unsatisfiable == when_unsatisfiable)
    {
        let selector = c.label_selector.as_ref();
        let matches = |p: &PodInfo| {
            p.namespace == pod.namespace
                && !p.terminating
                && selector.is_some_and(|s| selector::labels_match(s, &p.labels))
        };
        let mut counts: HashMap<String, i64> = HashMap::new();
        for node in cache.nodes().iter().filter(|n| n.present) {
            let Some(value) = node.labels.get(&c.topology_key) else {
                continue;
            };
            if !selector::node_matches(pod, &node.name, &node.labels) {
                continue;
            }
            let n = node.pods.iter().filter(|p| matches(p)).count() as i64;
            *counts.entry(value.clone()).or_default() += n;
        }
        let min_domains = c.min_domains.unwrap_or(1).max(1) as usize;
        let min = if counts.len() < min_domains {
            0
        } else {
            counts.values().copied().min().unwrap_or(0)
        };
        all.push(SpreadCounts {
            topology_key: c.topology_key.clone(),
            max_skew: i64::from(c.max_skew.max(1)),
            counts,
            min,
            self_match: matches(pod),
        });
    }
    all
}

/// Everything computed once per decision.
#[derive(Debug, Default)]
pub struct State {
    pub affinity: AffinityState,
    pub spread: Vec<SpreadCounts>,
    pub soft_spread: Vec<SpreadCounts>,
    /// Per preferred affinity then anti-affinity term: signed weight per domain.
    pub pod_affinity_scores: Vec<HashMap<String, i64>>,
}

impl State {
    pub fn compute(pod: &PodInfo, cache: &Cache) -> State {
        State {
            affinity: AffinityState::compute(pod, cache),
            spread: spread_counts(pod, cache, "DoNotSchedule"),
            soft_spread: spread_counts(pod, cache, "ScheduleAnyway"),
            pod_affinity_scores: preferred(pod, cache),
        }
    }
}

/// For each preferred term: every matching placed pod adds the term's weight (anti-affinity:
/// subtracts it) to the domain of its node.
fn preferred(pod: &PodInfo, cache: &Cache) -> Vec<HashMap<String, i64>> {
    let terms: Vec<(&AffinityTerm, i64)> = pod
        .preferred_affinity
        .iter()
        .map(|t| (t, 1))
        .chain(pod.preferred_anti_affinity.iter().map(|t| (t, -1)))
        .collect();
    let mut scores = vec![HashMap::new(); terms.len()];
    if terms.is_empty() {
        return scores;
    }
    for node in cache.nodes() {
        for other in &node.pods {
            for ((term, sign), per_domain) in terms.iter().zip(scores.iter_mut()) {
                if let Some(value) = node.labels.get(&term.topology_key)
                    && term.matches(other)
                {
                    *per_domain.entry(value.clone()).or_default() += sign * term.weight;
                }
            }
        }
    }
    scores
}
