//! The queue of pods waiting for a node: an active heap (higher priority first, then first
//! come), a backoff heap for pods that failed recently (1 s doubling to 10 s), and a parking
//! lot of unschedulable pods that return when the cluster changes or after a minute.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::pod::PodInfo;

pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long an unschedulable pod waits without any cluster change before it is retried.
pub const UNSCHEDULABLE_FLUSH: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Active,
    Backoff(Instant),
    /// Parked since the instant; returns after a cluster change (or the flush interval).
    Unschedulable(Instant),
}

#[derive(Debug)]
struct Entry {
    pod: PodInfo,
    attempts: u32,
    stage: Stage,
    /// Matches the heap entry that is current; older heap entries are skipped.
    stamp: u64,
}

/// Pods waiting to be scheduled, by `namespace/name`.
#[derive(Debug, Default)]
pub struct Queue {
    entries: HashMap<String, Entry>,
    active: BinaryHeap<(i32, Reverse<u64>, String)>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    /// Keys of parked (unschedulable) pods, so a cluster change touches only them.
    parked: HashSet<String>,
    stamp: u64,
}

/// The backoff after `attempts` failures.
pub fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(10);
    (INITIAL_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

impl Queue {
    pub fn new() -> Queue {
        Queue::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keys of every waiting pod.
    pub fn keys(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    fn set_stage(&mut self, key: &str, stage: Stage) {
        self.stamp += 1;
        let stamp = self.stamp;
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        e.stage = stage;
        e.stamp = stamp;
        if matches!(stage, Stage::Unschedulable(_)) {
            self.parked.insert(key.to_owned());
        } else {
            self.parked.remove(key);
        }
        match stage {
            Stage::Active => self
                .active
                .push((e.pod.priority, Reverse(stamp), key.to_owned())),
            Stage::Backoff(until) => self.backoff.push(Reverse((until, stamp, key.to_owned()))),
            Stage::Unschedulable(_) => {}
        }
    }

    /// Adds a pending pod, or refreshes the copy of one already waiting (keeping its stage).
    pub fn add(&mut self, pod: PodInfo) {
        let key = pod.key();
        if let Some(e) = self.entries.get_mut(&key) {
            e.pod = pod;
            return;
        }
        self.entries.insert(
            key.clone(),
            Entry {
                pod,
                attempts: 0,
                stage: Stage::Active,
                stamp: 0,
            },
        );
        self.set_stage(&key, Stage::Active);
    }

    pub fn remove(&mut self, key: &str) {
        self.entries.remove(key);
        self.parked.remove(key);
    }

    /// Takes the next pod to decide on, moving pods whose backoff expired to the active heap.
    pub fn pop(&mut self, now: Instant) -> Option<(PodInfo, u32)> {
        while let Some(Reverse((until, stamp, key))) = self.backoff.peek().cloned() {
            if until > now {
                break;
            }
            self.backoff.pop();
            if self.entries.get(&key).is_some_and(|e| e.stamp == stamp) {
                self.set_stage(&key, Stage::Active);
            }
        }
        while let Some((_, Reverse(stamp), key)) = self.active.pop() {
            if self.entries.get(&key).is_some_and(|e| e.stamp == stamp) {
                self.parked.remove(&key);
                return self.entries.remove(&key).map(|e| (e.pod, e.attempts));
            }
        }
        None
    }

    /// Parks a pod that fits nowhere after its `attempts`-th failure.
    pub fn unschedulable(&mut self, pod: PodInfo, attempts: u32, now: Instant) {
        let key = pod.key();
        self.entries.insert(
            key.clone(),
            Entry {
                pod,
                attempts,
                stage: Stage::Active,
                stamp: 0,
            },
        );
        self.set_stage(&key, Stage::Unschedulable(now));
    }

    /// Puts a pod back after an error (e.g. a failed binding), behind its backoff.
    pub fn retry(&mut self, pod: PodInfo, attempts: u32, now: Instant) {
        let key = pod.key();
        self.entries.insert(
            key.clone(),
            Entry {
                pod,
                attempts,
                stage: Stage::Active,
                stamp: 0,
            },
        );
        self.set_stage(&key, Stage::Backoff(now + backoff(attempts)));
    }

    /// The cluster changed: parked pods go back, each behind its own backoff.
    pub fn cluster_changed(&mut self) {
        let parked: Vec<(String, Instant)> = self
            .parked
            .iter()
            .filter_map(
                |k| match self.entries.get(k).map(|e| (e.stage, e.attempts)) {
                    Some((Stage::Unschedulable(since), attempts)) => {
                        Some((k.clone(), since + backoff(attempts)))
                    }
                    _ => None,
                },
            )
            .collect();
        for (key, until) in parked {
            self.set_stage(&key, Stage::Backoff(until));
        }
    }

    /// Returns pods parked for longer than [`UNSCHEDULABLE_FLUSH`] to the active heap.
    pub fn flush(&mut self, now: Instant) {
        let stale: Vec<String> = self
            .parked
            .iter()
            .filter(|k| self.entries.get(*k).is_some_and(|e| matches!(e.stage, Stage::Unschedulable(s) if now.duration_since(s) >= UNSCHEDULABLE_FLUSH)))
            .cloned()
            .collect();
        for key in stale {
            self.set_stage(&key, Stage::Active);
        }
    }

    /// Whether a pod can be popped now.
    /// (May be true for a heap entry that turns out stale; `pop` then returns `None`.)
    pub fn has_ready(&self, now: Instant) -> bool {
        !self.active.is_empty() || self.next_backoff().is_some_and(|t| t <= now)
    }

    /// When the earliest backoff ends.
    pub fn next_backoff(&self) -> Option<Instant> {
        self.backoff.peek().map(|Reverse((t, _, _))| *t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, priority: i32) -> PodInfo {
        PodInfo {
            namespace: "default".into(),
            name: name.into(),
            priority,
            ..PodInfo::default()
        }
    }

    #[test]
    fn priority_then_fifo_and_backoff() {
        let now = Instant::now();
        let mut q = Queue::new();
        q.add(pod("a", 0));
        q.add(pod("b", 10));
        q.add(pod("c", 0));
        let order: Vec<String> = std::iter::from_fn(|| q.pop(now))
            .map(|(p, _)| p.name)
            .collect();
        assert_eq!(order, ["b", "a", "c"]);
        q.unschedulable(pod("a", 0), 1, now);
        assert!(q.pop(now).is_none(), "parked pods wait for a change");
        q.cluster_changed();
        assert!(q.pop(now).is_none(), "still backing off");
        assert_eq!(
            q.pop(now + backoff(1)).map(|(p, n)| (p.name, n)),
            Some(("a".to_owned(), 1))
        );
        assert_eq!(
            [backoff(1), backoff(2), backoff(3), backoff(9)],
            [
                INITIAL_BACKOFF,
                INITIAL_BACKOFF * 2,
                INITIAL_BACKOFF * 4,
                MAX_BACKOFF
            ]
        );
    }

    #[test]
    fn removed_and_flushed() {
        let now = Instant::now();
        let mut q = Queue::new();
        q.add(pod("a", 0));
        q.remove("default/a");
        assert!(q.pop(now).is_none());
        q.unschedulable(pod("b", 0), 3, now);
        q.flush(now + UNSCHEDULABLE_FLUSH);
        assert_eq!(q.pop(now).map(|(p, _)| p.name), Some("b".to_owned()));
    }
}
