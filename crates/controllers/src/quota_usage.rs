//! What a ResourceQuota's `status.used` says, from a snapshot of its namespace: object counts
//! (`pods`, `services`, `count/<resource>.<group>`, ...) and the compute resources of
//! non-terminal pods (`requests.cpu`, `limits.memory`, bare `cpu`/`memory` = requests), with
//! exact quantity arithmetic. Pure functions; the controller gathers the snapshot.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;

use crate::quantity::{Quantity, canonical};

/// Object counts of one namespace by quota resource name (`pods`, `services`,
/// `count/deployments.apps`, ...); names absent from the map are not tracked.
pub type Counts = BTreeMap<String, i64>;

/// The counted built-in resources: their quota name and `count/` alias.
pub const COUNTED: &[(&str, &str)] = &[
    ("pods", "count/pods"),
    ("services", "count/services"),
    ("configmaps", "count/configmaps"),
    ("secrets", "count/secrets"),
    ("persistentvolumeclaims", "count/persistentvolumeclaims"),
    ("replicationcontrollers", "count/replicationcontrollers"),
    ("resourcequotas", "count/resourcequotas"),
];

/// A pod that counts against quota: not Succeeded or Failed.
pub fn counts_against_quota(pod: &Pod) -> bool {
    !matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

type Pick = fn(&ResourceRequirements) -> Option<&BTreeMap<String, ApiQuantity>>;

fn parsed(values: Option<&BTreeMap<String, ApiQuantity>>) -> BTreeMap<String, Quantity> {
    values
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Quantity::parse(&v.0).ok().map(|q| (k.clone(), q)))
        .collect()
}

/// One pod's requests or limits, as upstream's PodRequests: the larger of the containers' sum
/// and each init container, plus the pod overhead.
pub fn pod_resources(pod: &Pod, pick: Pick) -> BTreeMap<String, Quantity> {
    let Some(spec) = pod.spec.as_ref() else {
        return BTreeMap::new();
    };
    let mut total: BTreeMap<String, Quantity> = BTreeMap::new();
    for c in &spec.containers {
        for (k, q) in parsed(c.resources.as_ref().and_then(pick)) {
            let cur = total.remove(&k).unwrap_or_default();
            total.insert(k, cur.add(q));
        }
    }
    for c in spec.init_containers.iter().flatten() {
        for (k, q) in parsed(c.resources.as_ref().and_then(pick)) {
            let cur = total.remove(&k).unwrap_or_default();
            total.insert(k, cur.max(q));
        }
    }
    for (k, q) in parsed(spec.overhead.as_ref()) {
        if let Some(cur) = total.remove(&k) {
            total.insert(k, cur.add(q));
        }
    }
    total
}

/// The compute resource a quota name sums, and whether from requests (else limits).
fn compute_resource(name: &str) -> Option<(bool, &str)> {
    if let Some(r) = name.strip_prefix("requests.") {
        return (r != "storage").then_some((true, r));
    }
    if let Some(r) = name.strip_prefix("limits.") {
        return Some((false, r));
    }
    matches!(name, "cpu" | "memory" | "ephemeral-storage").then_some((true, name))
}

/// `status.used` for the quota names in `hard`: counts from `counts`, compute from `pods`
/// (the namespace's pods). Names it cannot evaluate are left out, as upstream does.
pub fn used<'a>(
    hard: &BTreeMap<String, ApiQuantity>,
    pods: impl IntoIterator<Item = &'a Pod>,
    counts: &Counts,
) -> BTreeMap<String, ApiQuantity> {
    let active: Vec<&Pod> = pods
        .into_iter()
        .filter(|p| counts_against_quota(p))
        .collect();
    let requests: Vec<_> = active
        .iter()
        .map(|p| pod_resources(p, |r| r.requests.as_ref()))
        .collect();
    let limits: Vec<_> = active
        .iter()
        .map(|p| pod_resources(p, |r| r.limits.as_ref()))
        .collect();
    let mut out = BTreeMap::new();
    for name in hard.keys() {
        let value = if let Some(n) = counts.get(name) {
            n.to_string()
        } else if let Some((from_requests, resource)) = compute_resource(name) {
            let per_pod = if from_requests { &requests } else { &limits };
            per_pod
                .iter()
                .filter_map(|m| m.get(resource))
                .fold(Quantity::zero(), |acc, q| acc.add(*q))
                .to_string()
        } else {
            continue;
        };
        out.insert(name.clone(), ApiQuantity(value));
    }
    out
}

/// `status.hard`: the spec's limits in canonical form.
pub fn hard(spec: &BTreeMap<String, ApiQuantity>) -> BTreeMap<String, ApiQuantity> {
    spec.iter()
        .map(|(k, v)| (k.clone(), ApiQuantity(canonical(&v.0))))
        .collect()
}

/// The `count/<resource>.<group>` names of `hard` that are not built-in counts:
/// `(plural, group)` pairs the controller must count by listing.
pub fn generic_counts(hard: &BTreeMap<String, ApiQuantity>) -> Vec<(String, String, String)> {
    hard.keys()
        .filter(|k| !COUNTED.iter().any(|(a, b)| k == a || k == b))
        .filter_map(|k| {
            let resource = k.strip_prefix("count/")?;
            let (plural, group) = resource.split_once('.').unwrap_or((resource, ""));
            Some((k.clone(), plural.to_string(), group.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests;
