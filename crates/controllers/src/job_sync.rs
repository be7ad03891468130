//! The pure decisions of the Job controller: accounting of finished pods through
//! `uncountedTerminatedPods` and the `batch.kubernetes.io/job-tracking` finalizer (so a pod is
//! counted exactly once even if the controller crashes), how many pods should run, and when the
//! Job is complete or failed (backoffLimit, activeDeadlineSeconds).

use std::collections::BTreeSet;

/// The finalizer that keeps a Job's pod until the Job has counted it.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";

/// A pod of the Job, as the decisions see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodView {
    pub uid: String,
    pub name: String,
    /// "Pending", "Running", "Succeeded", "Failed", ...
    pub phase: String,
    pub has_finalizer: bool,
    pub deleting: bool,
}

impl PodView {
    fn finished(&self) -> Option<bool> {
        match self.phase.as_str() {
            "Succeeded" => Some(true),
            "Failed" => Some(false),
            // A pod deleted before it finished counts as failed (upstream, with finalizers).
            _ if self.deleting => Some(false),
            _ => None,
        }
    }
}

/// The accounting state: counted totals plus the uids in `uncountedTerminatedPods`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounting {
    pub succeeded: i32,
    pub failed: i32,
    pub uncounted_succeeded: BTreeSet<String>,
    pub uncounted_failed: BTreeSet<String>,
}

/// One accounting step (upstream trackJobStatusAndRemoveFinalizers): uncounted pods whose
/// finalizer is gone move into the totals; finished pods still holding the finalizer become
/// uncounted. Returns the new state and the pods whose finalizer may now be removed (those
/// already recorded as uncounted in `before`).
pub fn account(before: &Accounting, pods: &[PodView]) -> (Accounting, Vec<String>) {
    let mut next = before.clone();
    let holding: BTreeSet<&str> = pods
        .iter()
        .filter(|p| p.has_finalizer)
        .map(|p| p.uid.as_str())
        .collect();
    let moved_s: Vec<String> = next
        .uncounted_succeeded
        .iter()
        .filter(|u| !holding.contains(u.as_str()))
        .cloned()
        .collect();
    let moved_f: Vec<String> = next
        .uncounted_failed
        .iter()
        .filter(|u| !holding.contains(u.as_str()))
        .cloned()
        .collect();
    next.succeeded += moved_s.len() as i32;
    next.failed += moved_f.len() as i32;
    for u in moved_s {
        next.uncounted_succeeded.remove(&u);
    }
    for u in moved_f {
        next.uncounted_failed.remove(&u);
    }
    let mut release = Vec::new();
    for p in pods.iter().filter(|p| p.has_finalizer) {
        let Some(ok) = p.finished() else { continue };
        let recorded =
            before.uncounted_succeeded.contains(&p.uid) || before.uncounted_failed.contains(&p.uid);
        if recorded {
            release.push(p.name.clone());
        } else if ok {
            next.uncounted_succeeded.insert(p.uid.clone());
        } else {
            next.uncounted_failed.insert(p.uid.clone());
        }
    }
    (next, release)
}

/// What the Job spec asks for.
#[derive(Debug, Clone, Default)]
pub struct JobSpecView {
    pub completions: Option<i32>,
    pub parallelism: i32,
    pub backoff_limit: i32,
    pub active_deadline_seconds: Option<i64>,
    pub suspend: bool,
}

/// How the Job ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Still running.
    Running,
    /// Succeeded: all completions reached.
    Complete,
    /// Failed with this reason and message.
    Failed(&'static str, &'static str),
}

/// Whether the Job is done, given counts including uncounted pods, and the seconds it has been
/// active (since startTime).
pub fn outcome(
    spec: &JobSpecView,
    succeeded: i32,
    failed: i32,
    active: i32,
    active_for: Option<i64>,
) -> Outcome {
    if failed > spec.backoff_limit {
        return Outcome::Failed(
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        );
    }
    if let (Some(limit), Some(t)) = (spec.active_deadline_seconds, active_for)
        && t >= limit
    {
        return Outcome::Failed(
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
        );
    }
    let done = match spec.completions {
        Some(c) => succeeded >= c,
        None => succeeded > 0 && active == 0,
    };
    if done {
        Outcome::Complete
    } else {
        Outcome::Running
    }
}

/// How many pods should be active now (upstream manageJob's wantActive).
pub fn want_active(spec: &JobSpecView, succeeded: i32) -> i32 {
    if spec.suspend {
        return 0;
    }
    match spec.completions {
        None if succeeded > 0 => 0,
        None => spec.parallelism,
        Some(c) => spec.parallelism.min(c - succeeded).max(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(uid: &str, phase: &str, fin: bool) -> PodView {
        PodView {
            uid: uid.into(),
            name: format!("p-{uid}"),
            phase: phase.into(),
            has_finalizer: fin,
            deleting: false,
        }
    }

    #[test]
    fn accounting_steps() {
        let start = Accounting::default();
        let pods = vec![
            pod("a", "Succeeded", true),
            pod("b", "Failed", true),
            pod("c", "Running", true),
        ];
        // Step 1: finished pods become uncounted; no finalizer released yet.
        let (s1, release) = account(&start, &pods);
        assert_eq!(s1.uncounted_succeeded.len(), 1);
        assert_eq!(s1.uncounted_failed.len(), 1);
        assert!(release.is_empty());
        // Step 2 (status written): their finalizers may go.
        let (s2, release) = account(&s1, &pods);
        assert_eq!(release, vec!["p-a".to_string(), "p-b".to_string()]);
        assert_eq!(s2, s1);
        // Step 3: finalizers gone (or pods deleted): counted exactly once.
        let pods = vec![pod("a", "Succeeded", false), pod("c", "Running", true)];
        let (s3, release) = account(&s2, &pods);
        assert_eq!((s3.succeeded, s3.failed), (1, 1));
        assert!(
            s3.uncounted_succeeded.is_empty()
                && s3.uncounted_failed.is_empty()
                && release.is_empty()
        );
        let (s4, _) = account(&s3, &pods);
        assert_eq!(s4, s3, "idempotent");
    }

    #[test]
    fn outcome_table() {
        let spec = JobSpecView {
            completions: Some(3),
            parallelism: 2,
            backoff_limit: 1,
            active_deadline_seconds: Some(60),
            suspend: false,
        };
        let cases = [
            (0, 0, 2, Some(1), Outcome::Running),
            (3, 0, 0, Some(1), Outcome::Complete),
            (
                1,
                2,
                1,
                Some(1),
                Outcome::Failed(
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                ),
            ),
            (
                1,
                1,
                1,
                Some(60),
                Outcome::Failed(
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                ),
            ),
        ];
        for (s, f, a, t, want) in cases {
            assert_eq!(outcome(&spec, s, f, a, t), want, "{s} {f} {a}");
        }
        let queue = JobSpecView {
            completions: None,
            parallelism: 2,
            backoff_limit: 6,
            ..Default::default()
        };
        assert_eq!(outcome(&queue, 1, 0, 1, None), Outcome::Running);
        assert_eq!(outcome(&queue, 1, 0, 0, None), Outcome::Complete);
    }

    #[test]
    fn want_active_table() {
        let mut spec = JobSpecView {
            completions: Some(5),
            parallelism: 2,
            backoff_limit: 6,
            ..Default::default()
        };
        assert_eq!(want_active(&spec, 0), 2);
        assert_eq!(want_active(&spec, 4), 1);
        assert_eq!(want_active(&spec, 5), 0);
        spec.completions = None;
        assert_eq!(want_active(&spec, 0), 2);
        assert_eq!(want_active(&spec, 1), 0);
        spec.suspend = true;
        assert_eq!(want_active(&spec, 0), 0);
    }
}
