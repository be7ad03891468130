//! PodDisruptionBudget arithmetic, as upstream's disruption controller does it: expected pods
//! (the scale of the selected pods' controllers, or the number of selected pods), desired and
//! current healthy pods, allowed disruptions, the disrupted-pods map and the DisruptionAllowed
//! condition. Pure functions over a snapshot.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use crate::ownership;
use crate::pod_state::is_ready;

/// How long an evicted pod may take to disappear before it counts again (upstream's
/// DeletionTimeout).
pub const DELETION_TIMEOUT_SECONDS: i64 = 120;

/// The scale of one controller: its uid (to count it once) and its desired replicas.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub uid: String,
    pub replicas: i32,
}

impl Scale {
    pub fn new(uid: String, replicas: i32) -> Scale {
        Scale { uid, replicas }
    }
}

/// The budget selects the pod (policy/v1: an empty selector selects every pod, none selects none).
pub fn selects(pdb: &PodDisruptionBudget, pod: &Pod) -> bool {
    let Some(selector) = pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
        return false;
    };
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    ownership::selects(selector, &labels)
}

/// Upstream's GetScaledValueFromIntOrPercent rounding up: an int as is, `"N%"` of `total`.
pub fn scaled(value: &IntOrString, total: i32) -> Result<i32, String> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let percent = s
                .strip_suffix('%')
                .and_then(|n| n.parse::<i64>().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid value {s:?}"))?;
            let v = (percent * i64::from(total) + 99).div_euclid(100);
            Ok(i32::try_from(v).unwrap_or(i32::MAX))
        }
    }
}

/// Sum of the scales of the pods' controllers, each counted once; a pod whose controller has
/// no known scale (or that has no controller) counts as one pod.
pub fn expected_scale(pods: &[&Pod], scale: impl Fn(&OwnerReference) -> Option<Scale>) -> i32 {
    let mut controllers: HashMap<String, i32> = HashMap::new();
    let mut lone = 0;
    for pod in pods {
        let owner = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true));
        match owner.and_then(&scale) {
            Some(s) => {
                controllers.insert(s.uid, s.replicas);
            }
            None => lone += 1,
        }
    }
    controllers.values().sum::<i32>() + lone
}

/// `(expectedPods, desiredHealthy)` for the budget's spec.
pub fn expected_and_desired(
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
    scale: impl Fn(&OwnerReference) -> Option<Scale>,
) -> Result<(i32, i32), String> {
    let spec = pdb.spec.clone().unwrap_or_default();
    if let Some(max) = &spec.max_unavailable {
        let expected = expected_scale(pods, scale);
        let unavailable = scaled(max, expected)?;
        return Ok((expected, (expected - unavailable).max(0)));
    }
    match &spec.min_available {
        Some(IntOrString::Int(n)) => Ok((pods.len() as i32, *n)),
        Some(min @ IntOrString::String(_)) => {
            let expected = expected_scale(pods, scale);
            Ok((expected, scaled(min, expected)?))
        }
        None => Ok((0, 0)),
    }
}

/// Evicted pods still expected to go: recorded in the status, not yet terminating, and
/// evicted less than [`DELETION_TIMEOUT_SECONDS`] ago. Also the earliest expiry, in seconds.
pub fn disrupted_pods(
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
    now: Timestamp,
) -> (BTreeMap<String, Time>, Option<u64>) {
    let recorded = pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref());
    let mut out = BTreeMap::new();
    let mut recheck: Option<i64> = None;
    let Some(recorded) = recorded else {
        return (out, None);
    };
    for pod in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let Some(name) = pod.metadata.name.as_deref() else {
            continue;
        };
        let Some(at) = recorded.get(name) else {
            continue;
        };
        let left = at.0.as_second() + DELETION_TIMEOUT_SECONDS - now.as_second();
        if left > 0 {
            recheck = Some(recheck.map_or(left, |r| r.min(left)));
            out.insert(name.to_string(), at.clone());
        }
    }
    (out, recheck.map(|r| r as u64))
}

/// Ready pods that are neither terminating nor recently evicted.
pub fn current_healthy(pods: &[&Pod], disrupted: &BTreeMap<String, Time>) -> i32 {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.metadata
                .name
                .as_deref()
                .is_none_or(|n| !disrupted.contains_key(n))
        })
        .filter(|p| is_ready(p))
        .count() as i32
}

/// Upstream's SetStatusCondition: replaces the condition of the same type, keeping its
/// transition time when the status did not change.
fn set_condition(conditions: &mut Vec<Condition>, mut next: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == next.type_) {
        Some(cur) => {
            if cur.status == next.status {
                next.last_transition_time = cur.last_transition_time.clone();
            }
            *cur = next;
        }
        None => conditions.push(next),
    }
}

fn condition(
    status: &str,
    reason: &str,
    message: String,
    generation: i64,
    now: Timestamp,
) -> Condition {
    Condition {
        type_: "DisruptionAllowed".into(),
        status: status.into(),
        reason: reason.into(),
        message,
        observed_generation: Some(generation),
        last_transition_time: Time(now),
    }
}

/// The outcome of a sync: the status to write (none when the current one is up to date) and
/// when to look again (an evicted pod's deadline).
#[derive(Debug, Default)]
pub struct Computed {
    pub status: Option<PodDisruptionBudgetStatus>,
    pub recheck_after: Option<u64>,
}

/// The budget's status from its pods (already filtered by namespace and selector).
pub fn compute(
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
    scale: impl Fn(&OwnerReference) -> Option<Scale>,
    now: Timestamp,
) -> Computed {
    let current = pdb.status.clone().unwrap_or_default();
    let generation = pdb.metadata.generation.unwrap_or(0);
    let mut conditions = current.conditions.clone().unwrap_or_default();
    let (expected, desired) = match expected_and_desired(pdb, pods, scale) {
        Ok(v) => v,
        Err(message) => {
            // Upstream's failSafe: no disruptions until the budget can be computed.
            let mut next = current.clone();
            next.disruptions_allowed = 0;
            let observed = next.observed_generation.unwrap_or(0);
            set_condition(
                &mut conditions,
                condition("False", "SyncFailed", message, observed, now),
            );
            next.conditions = Some(conditions);
            return Computed {
                status: (next != current).then_some(next),
                recheck_after: None,
            };
        }
    };
    let (disrupted, recheck_after) = disrupted_pods(pdb, pods, now);
    let healthy = current_healthy(pods, &disrupted);
    // No disruptions while nothing is expected: the first pods may come before this sync.
    let allowed = if expected <= 0 {
        0
    } else {
        (healthy - desired).max(0)
    };
    let (status, reason) = if allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    set_condition(
        &mut conditions,
        condition(status, reason, String::new(), generation, now),
    );
    let next = PodDisruptionBudgetStatus {
        conditions: Some(conditions),
        current_healthy: healthy,
        desired_healthy: desired,
        disrupted_pods: Some(disrupted).filter(|d| !d.is_empty()),
        disruptions_allowed: allowed,
        expected_pods: expected,
        observed_generation: Some(generation),
    };
    let mut before = current;
    before.disrupted_pods = before.disrupted_pods.filter(|d| !d.is_empty());
    let unchanged = before == next;
    Computed {
        status: (!unchanged).then_some(next),
        recheck_after,
    }
}

#[cfg(test)]
mod tests;
