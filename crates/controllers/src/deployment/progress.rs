//! A Deployment's status from its ReplicaSets: the counts `kubectl rollout status` reads and the
//! Available and Progressing conditions (upstream sync.go calculateStatus / progress.go). Pure.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// What happened to the new ReplicaSet in this sync, for the Progressing condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewRs {
    Created,
    Found,
}

/// The status to write: counts over `all` (the new set included), `new` being the current
/// template's set, `max_unavailable` from the fenceposts.
pub fn status(
    d: &Deployment,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    max_unavailable: i32,
    event: Option<NewRs>,
    now: Timestamp,
) -> DeploymentStatus {
    let spec = d.spec.clone().unwrap_or_default();
    let st = |rs: &ReplicaSet| rs.status.clone().unwrap_or_default();
    let replicas = spec.replicas.unwrap_or(1);
    let available: i32 = all
        .iter()
        .map(|r| st(r).available_replicas.unwrap_or(0))
        .sum();
    let old = d.status.clone().unwrap_or_default();
    let mut s = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(all.iter().map(|r| st(r).replicas).sum()),
        updated_replicas: Some(new.map(|r| st(r).replicas).unwrap_or(0)),
        ready_replicas: Some(all.iter().map(|r| st(r).ready_replicas.unwrap_or(0)).sum()),
        available_replicas: Some(available),
        unavailable_replicas: Some((replicas - available).max(0)),
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
        ..Default::default()
    };
    let t = Time(now);
    if available >= replicas - max_unavailable {
        set(
            &mut s,
            cond(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                &t,
            ),
        );
    } else {
        set(
            &mut s,
            cond(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                &t,
            ),
        );
    }
    let Some(deadline) = spec.progress_deadline_seconds.or(Some(600)) else {
        return s;
    };
    let rs_name = new
        .and_then(|r| r.metadata.name.clone())
        .unwrap_or_default();
    let progressing = find(&s, "Progressing").cloned();
    if spec.paused == Some(true) {
        if progressing.as_ref().and_then(|c| c.reason.as_deref()) != Some("DeploymentPaused") {
            set(
                &mut s,
                cond(
                    "Progressing",
                    "Unknown",
                    "DeploymentPaused",
                    "Deployment is paused",
                    &t,
                ),
            );
        }
        return s;
    }
    if progressing.as_ref().and_then(|c| c.reason.as_deref()) == Some("DeploymentPaused") {
        set(
            &mut s,
            cond(
                "Progressing",
                "Unknown",
                "DeploymentResumed",
                "Deployment is resumed",
                &t,
            ),
        );
    }
    match event {
        Some(NewRs::Created) => set(
            &mut s,
            cond(
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                &format!("Created new replica set \"{rs_name}\""),
                &t,
            ),
        ),
        Some(NewRs::Found) if progressing.is_none() => set(
            &mut s,
            cond(
                "Progressing",
                "True",
                "FoundNewReplicaSet",
                &format!("Found new replica set \"{rs_name}\""),
                &t,
            ),
        ),
        _ => {}
    }
    if complete(replicas, &s) {
        set(
            &mut s,
            cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                &format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
                &t,
            ),
        );
    } else if advanced(&old, &s) {
        set(
            &mut s,
            cond(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                &format!("ReplicaSet \"{rs_name}\" is progressing."),
                &t,
            ),
        );
    } else if timed_out(&s, deadline, now) {
        set(
            &mut s,
            cond(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                &format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
                &t,
            ),
        );
    }
    s
}

/// Upstream DeploymentComplete: every replica updated and available, no old ones left.
pub fn complete(replicas: i32, s: &DeploymentStatus) -> bool {
    s.updated_replicas == Some(replicas)
        && s.replicas == Some(replicas)
        && s.available_replicas == Some(replicas)
}

/// Upstream DeploymentProgressing: the rollout moved since the last status.
fn advanced(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    let olds = |s: &DeploymentStatus| s.replicas.unwrap_or(0) - s.updated_replicas.unwrap_or(0);
    new.updated_replicas.unwrap_or(0) > old.updated_replicas.unwrap_or(0)
        || olds(new) < olds(old)
        || new.ready_replicas.unwrap_or(0) > old.ready_replicas.unwrap_or(0)
        || new.available_replicas.unwrap_or(0) > old.available_replicas.unwrap_or(0)
}

/// Seconds left before the progress deadline, when a rollout is under way.
pub fn deadline_left(s: &DeploymentStatus, deadline: i32, now: Timestamp) -> Option<i64> {
    let c = find(s, "Progressing")?;
    if c.status != "True" || c.reason.as_deref() == Some("NewReplicaSetAvailable") {
        return None;
    }
    let from = c.last_update_time.as_ref()?.0.as_second();
    Some(from + i64::from(deadline) - now.as_second())
}

fn timed_out(s: &DeploymentStatus, deadline: i32, now: Timestamp) -> bool {
    match find(s, "Progressing") {
        Some(c) if c.reason.as_deref() == Some("ProgressDeadlineExceeded") => true,
        Some(_) => deadline_left(s, deadline, now).is_some_and(|left| left < 0),
        None => false,
    }
}

fn find<'a>(s: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    s.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

fn cond(type_: &str, status: &str, reason: &str, message: &str, now: &Time) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_update_time: Some(now.clone()),
        last_transition_time: Some(now.clone()),
    }
}

/// Upstream SetDeploymentCondition: same status and reason changes nothing; same status keeps
/// the transition time.
fn set(s: &mut DeploymentStatus, mut c: DeploymentCondition) {
    let conditions = s.conditions.get_or_insert_with(Vec::new);
    if let Some(cur) = conditions.iter_mut().find(|x| x.type_ == c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time.clone();
        }
        *cur = c;
    } else {
        conditions.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSetStatus;

    fn rs(name: &str, replicas: i32, available: i32) -> ReplicaSet {
        let mut r = ReplicaSet::default();
        r.metadata.name = Some(name.into());
        r.status = Some(ReplicaSetStatus {
            replicas,
            ready_replicas: Some(available),
            available_replicas: Some(available),
            ..Default::default()
        });
        r
    }

    fn deployment(replicas: i32) -> Deployment {
        let mut d = Deployment::default();
        d.spec.get_or_insert_with(Default::default).replicas = Some(replicas);
        d.metadata.generation = Some(2);
        d
    }

    fn reason(s: &DeploymentStatus, t: &str) -> String {
        find(s, t)
            .and_then(|c| c.reason.clone())
            .unwrap_or_default()
    }

    #[test]
    fn conditions_table() {
        let now = Timestamp::from_second(1_000_000).unwrap_or_default();
        let (new_done, old_gone) = (rs("new", 3, 3), rs("old", 0, 0));
        let d = deployment(3);
        let s = status(
            &d,
            &[&new_done, &old_gone],
            Some(&new_done),
            0,
            Some(NewRs::Found),
            now,
        );
        assert_eq!(reason(&s, "Progressing"), "NewReplicaSetAvailable");
        assert_eq!(reason(&s, "Available"), "MinimumReplicasAvailable");
        assert_eq!(
            (
                s.replicas,
                s.updated_replicas,
                s.unavailable_replicas,
                s.observed_generation
            ),
            (Some(3), Some(3), Some(0), Some(2))
        );

        let (new_half, old_half) = (rs("new", 1, 0), rs("old", 2, 2));
        let s = status(
            &d,
            &[&new_half, &old_half],
            Some(&new_half),
            0,
            Some(NewRs::Created),
            now,
        );
        assert_eq!(reason(&s, "Progressing"), "ReplicaSetUpdated");
        assert_eq!(reason(&s, "Available"), "MinimumReplicasUnavailable");

        // No movement past the deadline: timed out.
        let mut stuck = deployment(3);
        stuck
            .spec
            .get_or_insert_with(Default::default)
            .progress_deadline_seconds = Some(10);
        stuck.status = Some(s.clone());
        let later = Timestamp::from_second(1_000_100).unwrap_or_default();
        let s2 = status(
            &stuck,
            &[&new_half, &old_half],
            Some(&new_half),
            1,
            None,
            later,
        );
        assert_eq!(reason(&s2, "Progressing"), "ProgressDeadlineExceeded");
        assert_eq!(reason(&s2, "Available"), "MinimumReplicasAvailable");

        let mut paused = deployment(3);
        paused.spec.get_or_insert_with(Default::default).paused = Some(true);
        let s3 = status(&paused, &[&new_half], Some(&new_half), 0, None, now);
        assert_eq!(reason(&s3, "Progressing"), "DeploymentPaused");
    }
}
