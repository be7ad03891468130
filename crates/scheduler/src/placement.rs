//! Placement: a pure function from a pod and a snapshot (the cache) to a node, or to a
//! [`FitError`] that says, in upstream's words, why no node fits.

use std::collections::BTreeMap;

use crate::cache::Cache;
use crate::filters::{self, Reason};
use crate::pod::PodInfo;
use crate::prefilter::State;
use crate::scores;

/// Why a pod fits nowhere: how many nodes exist and how many gave each reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError {
    pub nodes: usize,
    pub reasons: BTreeMap<String, usize>,
}

impl FitError {
    pub fn from_reasons(nodes: usize, per_node: impl IntoIterator<Item = Reason>) -> FitError {
        let mut reasons = BTreeMap::new();
        for r in per_node {
            *reasons.entry(r.to_string()).or_default() += 1;
        }
        FitError { nodes, reasons }
    }
}

/// Upstream's wording, e.g. `0/3 nodes are available: 1 node(s) didn't match Pod's node
/// affinity/selector, 2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption
/// is not helpful for scheduling.` (this scheduler does not preempt).
impl std::fmt::Display for FitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.nodes == 0 {
            return f.write_str("no nodes available to schedule pods");
        }
        let mut histogram: Vec<String> = self
            .reasons
            .iter()
            .map(|(reason, count)| format!("{count} {reason}"))
            .collect();
        histogram.sort();
        write!(f, "0/{} nodes are available:", self.nodes)?;
        if !histogram.is_empty() {
            write!(f, " {}.", histogram.join(", "))?;
        }
        write!(
            f,
            " preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling.",
            n = self.nodes
        )
    }
}

impl std::error::Error for FitError {}

#[cfg(test)]
mod search_tests {
    use super::nodes_to_find;

    #[test]
    fn adaptive_share_of_nodes() {
        for (nodes, want) in [
            (0, 0),
            (3, 3),
            (99, 99),
            (100, 100),
            (250, 120),
            (1000, 420),
            (5000, 500),
            (6000, 300),
            (20000, 1000),
        ] {
            assert_eq!(nodes_to_find(nodes), want, "{nodes} nodes");
        }
    }
}

/// A small deterministic generator for tie-breaking (splitmix64), and where the next search
/// over the nodes starts (searches rotate, so every node gets considered in turn).
#[derive(Debug, Clone)]
pub struct TieBreaker(u64, usize);

impl TieBreaker {
    pub fn new(seed: u64) -> TieBreaker {
        TieBreaker(seed, 0)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// How many feasible nodes a search looks for before scoring, as upstream's adaptive
/// percentageOfNodesToScore: every node below 100; otherwise (50 - nodes/125)% of them, at
/// least 5% and at least 100 nodes.
pub fn nodes_to_find(nodes: usize) -> usize {
    if nodes < 100 {
        return nodes;
    }
    let percent = 50usize.saturating_sub(nodes / 125).max(5);
    (nodes * percent / 100).max(100)
}

/// Filters nodes (starting where the last search stopped) until enough are feasible, scores
/// those and picks the best; ties are broken uniformly at random by `ties` (reservoir
/// sampling, as upstream).
pub fn schedule(pod: &PodInfo, cache: &Cache, ties: &mut TieBreaker) -> Result<String, FitError> {
    let state = State::compute(pod, cache);
    let nodes = cache.nodes();
    let wanted = nodes_to_find(nodes.iter().filter(|n| n.present).count());
    let mut feasible = Vec::new();
    let mut raws = Vec::new();
    let mut rejected = Vec::new();
    let start = if nodes.is_empty() {
        0
    } else {
        ties.1 % nodes.len()
    };
    let mut looked = 0;
    for k in 0..nodes.len() {
        if feasible.len() >= wanted.max(1) {
            break;
        }
        looked = k + 1;
        let i = (start + k) % nodes.len();
        let node = &nodes[i];
        if !node.present {
            continue;
        }
        match filters::check(pod, &state, node) {
            Ok(()) => {
                feasible.push(i);
                raws.push(scores::raw(pod, &state, node));
            }
            Err(reasons) => rejected.extend(reasons),
        }
    }
    ties.1 = start + looked;
    if feasible.is_empty() {
        return Err(FitError::from_reasons(cache.node_count(), rejected));
    }
    let totals = scores::totals(&raws);
    let (mut best, mut best_score, mut seen) = (feasible[0], i64::MIN, 0u64);
    for (i, score) in feasible.iter().zip(totals) {
        if score > best_score {
            (best, best_score, seen) = (*i, score, 1);
        } else if score == best_score {
            seen += 1;
            if ties.next().is_multiple_of(seen) {
                best = *i;
            }
        }
    }
    Ok(cache.nodes()[best].name.clone())
}
