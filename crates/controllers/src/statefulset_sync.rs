//! The pure decisions of the StatefulSet controller: which ordinals to create or delete in one
//! sync (OrderedReady waits for each predecessor to be Running and Ready and deletes from the
//! highest ordinal; Parallel does not wait), and the rolling update from the highest ordinal
//! down to the partition.

/// One ordinal's pod, as the decisions see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Slot {
    pub exists: bool,
    pub running_ready: bool,
    pub failed: bool,
    pub terminating: bool,
    /// Its controller-revision-hash is the update revision.
    pub updated: bool,
}

/// What to do to one ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Create(usize),
    Delete(usize),
}

/// The spec knobs of the decision.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub replicas: usize,
    pub parallel: bool,
    pub rolling: bool,
    pub partition: usize,
}

/// The steps of one sync, given the pods by ordinal (`slots[i]` for ordinal `i`, possibly longer
/// than `replicas` when scaling down).
pub fn steps(p: Policy, slots: &[Slot]) -> Vec<Step> {
    let mut out = Vec::new();
    let slot = |i: usize| slots.get(i).copied().unwrap_or_default();
    let mut steady = true;
    for i in 0..p.replicas {
        let s = slot(i);
        if !s.exists {
            out.push(Step::Create(i));
            steady = false;
            if !p.parallel {
                return out;
            }
        } else if s.failed && !s.terminating {
            out.push(Step::Delete(i));
            steady = false;
            if !p.parallel {
                return out;
            }
        } else if !s.running_ready || s.terminating {
            steady = false;
            if !p.parallel {
                return out;
            }
        }
    }
    let condemned: Vec<usize> = (p.replicas..slots.len())
        .rev()
        .filter(|&i| slot(i).exists)
        .collect();
    for i in condemned {
        let s = slot(i);
        if s.terminating {
            if !p.parallel {
                return out;
            }
            continue;
        }
        if !p.parallel && !steady {
            return out;
        }
        out.push(Step::Delete(i));
        if !p.parallel {
            return out;
        }
    }
    if !p.rolling || !steady || !out.is_empty() {
        return out;
    }
    // Rolling update: the highest ordinal at or above the partition still on the old revision.
    if let Some(i) = (p.partition..p.replicas).rev().find(|&i| !slot(i).updated) {
        out.push(Step::Delete(i));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(updated: bool) -> Slot {
        Slot {
            exists: true,
            running_ready: true,
            updated,
            ..Default::default()
        }
    }
    fn pending() -> Slot {
        Slot {
            exists: true,
            updated: true,
            ..Default::default()
        }
    }
    fn policy(replicas: usize, parallel: bool, partition: usize) -> Policy {
        Policy {
            replicas,
            parallel,
            rolling: true,
            partition,
        }
    }

    #[test]
    fn steps_table() {
        let none = Slot::default();
        let cases: Vec<(Policy, Vec<Slot>, Vec<Step>)> = vec![
            // Ordered create: one at a time, after the predecessor is ready.
            (policy(3, false, 0), vec![], vec![Step::Create(0)]),
            (policy(3, false, 0), vec![pending()], vec![]),
            (
                policy(3, false, 0),
                vec![ready(true)],
                vec![Step::Create(1)],
            ),
            // Parallel: all at once.
            (
                policy(3, true, 0),
                vec![],
                vec![Step::Create(0), Step::Create(1), Step::Create(2)],
            ),
            // Ordered scale down: highest first, one at a time.
            (
                policy(1, false, 0),
                vec![ready(true), ready(true), ready(true)],
                vec![Step::Delete(2)],
            ),
            (
                policy(1, true, 0),
                vec![ready(true), ready(true), ready(true)],
                vec![Step::Delete(2), Step::Delete(1)],
            ),
            // A hole is filled before anything else.
            (
                policy(3, false, 0),
                vec![ready(true), none, ready(true)],
                vec![Step::Create(1)],
            ),
            // Rolling update from the highest ordinal, respecting the partition.
            (
                policy(3, false, 0),
                vec![ready(false), ready(false), ready(false)],
                vec![Step::Delete(2)],
            ),
            (
                policy(3, false, 0),
                vec![ready(false), ready(false), ready(true)],
                vec![Step::Delete(1)],
            ),
            (
                policy(3, false, 2),
                vec![ready(false), ready(false), ready(true)],
                vec![],
            ),
            // Failed pods are replaced.
            (
                policy(1, false, 0),
                vec![Slot {
                    exists: true,
                    failed: true,
                    ..Default::default()
                }],
                vec![Step::Delete(0)],
            ),
        ];
        for (i, (p, slots, want)) in cases.into_iter().enumerate() {
            assert_eq!(steps(p, &slots), want, "case {i}");
        }
    }
}
