//! The filters: whether a pod may run on a node, and if not, why (upstream's reason strings,
//! which the FailedScheduling message counts). They run in upstream's plugin order and a node
//! reports the reasons of the first filter that rejects it.

use crate::cache::NodeInfo;
use crate::pod::PodInfo;
use crate::prefilter::State;
use crate::selector;

/// Why a node cannot take a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    NotReady,
    Unschedulable,
    Taint { key: String, value: String },
    NodeAffinity,
    HostPorts,
    TooManyPods,
    Insufficient(String),
    SpreadMissingLabel,
    Spread,
    PodAffinity,
    PodAntiAffinity,
    ExistingAntiAffinity,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::NotReady => f.write_str("node(s) were not ready"),
            Reason::Unschedulable => f.write_str("node(s) were unschedulable"),
            Reason::Taint { key, value } => {
                write!(f, "node(s) had untolerated taint {{{key}: {value}}}")
            }
            Reason::NodeAffinity => {
                f.write_str("node(s) didn't match Pod's node affinity/selector")
            }
            Reason::HostPorts => {
                f.write_str("node(s) didn't have free ports for the requested pod ports")
            }
            Reason::TooManyPods => f.write_str("Too many pods"),
            Reason::Insufficient(resource) => write!(f, "Insufficient {resource}"),
            Reason::SpreadMissingLabel => f.write_str(
                "node(s) didn't match pod topology spread constraints (missing required label)",
            ),
            Reason::Spread => f.write_str("node(s) didn't match pod topology spread constraints"),
            Reason::PodAffinity => f.write_str("node(s) didn't match pod affinity rules"),
            Reason::PodAntiAffinity => f.write_str("node(s) didn't match pod anti-affinity rules"),
            Reason::ExistingAntiAffinity => {
                f.write_str("node(s) didn't satisfy existing pods anti-affinity rules")
            }
        }
    }
}

/// Runs every filter; `Err` carries the reasons of the first that rejects the node.
pub fn check(pod: &PodInfo, state: &State, node: &NodeInfo) -> Result<(), Vec<Reason>> {
    let one = |ok: bool, reason: Reason| if ok { Ok(()) } else { Err(vec![reason]) };
    one(node.ready, Reason::NotReady)?;
    one(schedulable(pod, node), Reason::Unschedulable)?;
    taints(pod, node)?;
    one(
        selector::node_matches(pod, &node.name, &node.labels),
        Reason::NodeAffinity,
    )?;
    one(
        pod.host_ports
            .iter()
            .all(|p| !node.host_ports.iter().any(|used| used.conflicts(p))),
        Reason::HostPorts,
    )?;
    fit(pod, node)?;
    spread(state, node)?;
    affinity(pod, state, node)
}

/// `spec.unschedulable` rejects pods that do not tolerate the `unschedulable` taint.
fn schedulable(pod: &PodInfo, node: &NodeInfo) -> bool {
    if !node.unschedulable {
        return true;
    }
    let taint = k8s_openapi::api::core::v1::Taint {
        key: "node.kubernetes.io/unschedulable".to_owned(),
        effect: "NoSchedule".to_owned(),
        ..Default::default()
    };
    pod.tolerations
        .iter()
        .any(|t| selector::tolerates(t, &taint))
}

fn taints(pod: &PodInfo, node: &NodeInfo) -> Result<(), Vec<Reason>> {
    match selector::untolerated(&node.taints, &pod.tolerations, &["NoSchedule", "NoExecute"]) {
        Some(t) => Err(vec![Reason::Taint {
            key: t.key.clone(),
            value: t.value.clone().unwrap_or_default(),
        }]),
        None => Ok(()),
    }
}

/// Requests against allocatable minus what is bound or assumed; every short resource counts.
pub fn fit(pod: &PodInfo, node: &NodeInfo) -> Result<(), Vec<Reason>> {
    let mut reasons = Vec::new();
    if node.pods.len() as i64 + 1 > node.allowed_pods {
        reasons.push(Reason::TooManyPods);
    }
    let want = &pod.requests;
    let (have, used) = (&node.allocatable, &node.requested);
    if want.milli_cpu > 0 && have.milli_cpu < want.milli_cpu + used.milli_cpu {
        reasons.push(Reason::Insufficient("cpu".to_owned()));
    }
    if want.memory > 0 && have.memory < want.memory + used.memory {
        reasons.push(Reason::Insufficient("memory".to_owned()));
    }
    if want.ephemeral_storage > 0
        && have.ephemeral_storage < want.ephemeral_storage + used.ephemeral_storage
    {
        reasons.push(Reason::Insufficient("ephemeral-storage".to_owned()));
    }
    for (name, amount) in want.scalars.iter().filter(|(_, v)| **v > 0) {
        let available = have.scalars.get(name).copied().unwrap_or(0)
            - used.scalars.get(name).copied().unwrap_or(0);
        if available < *amount {
            reasons.push(Reason::Insufficient(name.clone()));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

/// `DoNotSchedule` constraints: the node needs the topology key, and placing the pod there must
/// keep `count - min <= maxSkew`.
fn spread(state: &State, node: &NodeInfo) -> Result<(), Vec<Reason>> {
    for c in &state.spread {
        let Some(value) = node.labels.get(&c.topology_key) else {
            return Err(vec![Reason::SpreadMissingLabel]);
        };
        let count = c.counts.get(value).copied().unwrap_or(0);
        if count + i64::from(c.self_match) - c.min > c.max_skew {
            return Err(vec![Reason::Spread]);
        }
    }
    Ok(())
}

/// Required pod affinity and anti-affinity, and placed pods' anti-affinity toward this pod.
fn affinity(pod: &PodInfo, state: &State, node: &NodeInfo) -> Result<(), Vec<Reason>> {
    let a = &state.affinity;
    if a.existing_anti_affinity
        .iter()
        .any(|(key, value)| node.labels.get(key) == Some(value))
    {
        return Err(vec![Reason::ExistingAntiAffinity]);
    }
    for (term, domains) in pod.anti_affinity.iter().zip(&a.anti_affinity) {
        if node
            .labels
            .get(&term.topology_key)
            .is_some_and(|v| domains.contains(v))
        {
            return Err(vec![Reason::PodAntiAffinity]);
        }
    }
    let satisfied = pod.affinity.iter().zip(&a.affinity).all(|(term, domains)| {
        node.labels
            .get(&term.topology_key)
            .is_some_and(|v| domains.contains(v))
    });
    let first_of_group = !a.any_affinity_match
        && a.self_match
        && pod
            .affinity
            .iter()
            .all(|t| node.labels.contains_key(&t.topology_key));
    if satisfied || first_of_group {
        Ok(())
    } else {
        Err(vec![Reason::PodAffinity])
    }
}
