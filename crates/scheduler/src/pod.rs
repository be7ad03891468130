//! What the scheduler needs of a pod, extracted once per watch event: identity, labels,
//! requests (fit and non-zero for scoring), host ports, node and pod (anti-)affinity,
//! tolerations and topology spread constraints.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, NodeSelector, Pod, PreferredSchedulingTerm, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::quantity::{DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, Resources};

/// A host port a container asks for; an empty or `0.0.0.0` IP means every address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    /// Whether two host ports cannot both be used on one node.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        let wildcard = |ip: &str| ip.is_empty() || ip == "0.0.0.0";
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || wildcard(&self.ip) || wildcard(&other.ip))
    }
}

/// A pod (anti-)affinity term with its namespaces resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct AffinityTerm {
    /// `None` matches no pod (as a null selector upstream).
    pub selector: Option<LabelSelector>,
    pub namespaces: Vec<String>,
    /// An empty `namespaceSelector` selects every namespace.
    pub all_namespaces: bool,
    pub topology_key: String,
    /// Preference weight (1 for required terms).
    pub weight: i64,
}

impl AffinityTerm {
    fn new(
        term: &k8s_openapi::api::core::v1::PodAffinityTerm,
        own_namespace: &str,
        weight: i32,
    ) -> AffinityTerm {
        let listed = term.namespaces.clone().unwrap_or_default();
        let ns_selector = term.namespace_selector.as_ref();
        let all_namespaces = ns_selector.is_some_and(|s| {
            s.match_labels.as_ref().is_none_or(|m| m.is_empty())
                && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
        });
        let namespaces = if listed.is_empty() && ns_selector.is_none() {
            vec![own_namespace.to_owned()]
        } else {
            listed
        };
        AffinityTerm {
            selector: term.label_selector.clone(),
            namespaces,
            all_namespaces,
            topology_key: term.topology_key.clone(),
            weight: i64::from(weight),
        }
    }

    /// Whether `pod` is selected by this term.
    pub fn matches(&self, pod: &PodInfo) -> bool {
        (self.all_namespaces || self.namespaces.contains(&pod.namespace))
            && self
                .selector
                .as_ref()
                .is_some_and(|s| crate::selector::labels_match(s, &pod.labels))
    }
}

/// The scheduler's view of one pod.
#[derive(Debug, Clone, Default)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub labels: BTreeMap<String, String>,
    pub node_name: Option<String>,
    pub scheduler_name: String,
    pub terminating: bool,
    /// Succeeded or Failed: holds no resources.
    pub terminal: bool,
    pub priority: i32,
    pub requests: Resources,
    /// CPU and memory with upstream's defaults for containers that request none (scoring only).
    pub nonzero_milli_cpu: i64,
    pub nonzero_memory: i64,
    pub host_ports: Vec<HostPort>,
    pub node_selector: BTreeMap<String, String>,
    pub required_node_affinity: Option<NodeSelector>,
    pub preferred_node_affinity: Vec<PreferredSchedulingTerm>,
    pub tolerations: Vec<Toleration>,
    pub affinity: Vec<AffinityTerm>,
    pub anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<AffinityTerm>,
    pub preferred_anti_affinity: Vec<AffinityTerm>,
    pub spread: Vec<TopologySpreadConstraint>,
}

impl PodInfo {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    pub fn from_pod(pod: &Pod) -> PodInfo {
        let meta = &pod.metadata;
        let namespace = meta.namespace.clone().unwrap_or_default();
        let mut info = PodInfo {
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            labels: meta.labels.clone().unwrap_or_default(),
            terminating: meta.deletion_timestamp.is_some(),
            terminal: pod
                .status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .is_some_and(|p| p == "Succeeded" || p == "Failed"),
            scheduler_name: "default-scheduler".to_owned(),
            ..PodInfo::default()
        };
        if let Some(spec) = &pod.spec {
            info.node_name = spec.node_name.clone().filter(|n| !n.is_empty());
            if let Some(name) = spec.scheduler_name.as_ref().filter(|n| !n.is_empty()) {
                info.scheduler_name = name.clone();
            }
            info.priority = spec.priority.unwrap_or(0);
            let (requests, cpu, memory) = requests(
                &spec.containers,
                spec.init_containers.as_deref().unwrap_or_default(),
                spec.overhead.as_ref(),
            );
            info.requests = requests;
            info.nonzero_milli_cpu = cpu;
            info.nonzero_memory = memory;
            for port in spec
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
            {
                if let Some(host_port) = port.host_port.filter(|p| *p > 0) {
                    let protocol = port.protocol.clone().unwrap_or_else(|| "TCP".to_owned());
                    info.host_ports.push(HostPort {
                        ip: port.host_ip.clone().unwrap_or_default(),
                        protocol,
                        port: host_port,
                    });
                }
            }
            info.node_selector = spec.node_selector.clone().unwrap_or_default();
            info.tolerations = spec.tolerations.clone().unwrap_or_default();
            info.spread = spec.topology_spread_constraints.clone().unwrap_or_default();
            if let Some(affinity) = &spec.affinity {
                if let Some(na) = &affinity.node_affinity {
                    info.required_node_affinity = na
                        .required_during_scheduling_ignored_during_execution
                        .clone();
                    info.preferred_node_affinity = na
                        .preferred_during_scheduling_ignored_during_execution
                        .clone()
                        .unwrap_or_default();
                }
                if let Some(pa) = &affinity.pod_affinity {
                    info.affinity = pa
                        .required_during_scheduling_ignored_during_execution
                        .iter()
                        .flatten()
                        .map(|t| AffinityTerm::new(t, &namespace, 1))
                        .collect();
                    info.preferred_affinity = pa
                        .preferred_during_scheduling_ignored_during_execution
                        .iter()
                        .flatten()
                        .map(|w| AffinityTerm::new(&w.pod_affinity_term, &namespace, w.weight))
                        .collect();
                }
                if let Some(pa) = &affinity.pod_anti_affinity {
                    info.anti_affinity = pa
                        .required_during_scheduling_ignored_during_execution
                        .iter()
                        .flatten()
                        .map(|t| AffinityTerm::new(t, &namespace, 1))
                        .collect();
                    info.preferred_anti_affinity = pa
                        .preferred_during_scheduling_ignored_during_execution
                        .iter()
                        .flatten()
                        .map(|w| AffinityTerm::new(&w.pod_affinity_term, &namespace, w.weight))
                        .collect();
                }
            }
        }
        info.namespace = namespace;
        info
    }

    /// Whether the pod holds resources on its node (bound, not finished).
    pub fn occupies_node(&self) -> bool {
        self.node_name.is_some() && !self.terminal
    }
}

/// The pod's effective requests as upstream computes them: the sum of the containers plus the
/// restartable (sidecar) init containers, at least the largest regular init container (plus
/// the sidecars started before it), plus the pod overhead. Also returns CPU and memory with
/// defaults for containers that request none.
fn requests(
    containers: &[Container],
    init: &[Container],
    overhead: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> (Resources, i64, i64) {
    let container_requests = |c: &Container| {
        Resources::from_list(c.resources.as_ref().and_then(|r| r.requests.as_ref()))
    };
    let mut sum = Resources::default();
    let (mut cpu, mut memory) = (0, 0);
    for c in containers {
        let r = container_requests(c);
        cpu += if has(c, "cpu") {
            r.milli_cpu
        } else {
            DEFAULT_MILLI_CPU_REQUEST
        };
        memory += if has(c, "memory") {
            r.memory
        } else {
            DEFAULT_MEMORY_REQUEST
        };
        sum.add(&r);
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    let (mut init_cpu, mut init_memory, mut sidecar_cpu, mut sidecar_memory) = (0, 0, 0, 0);
    for c in init {
        let r = container_requests(c);
        let c_cpu = if has(c, "cpu") {
            r.milli_cpu
        } else {
            DEFAULT_MILLI_CPU_REQUEST
        };
        let c_memory = if has(c, "memory") {
            r.memory
        } else {
            DEFAULT_MEMORY_REQUEST
        };
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars.add(&r);
            sidecar_cpu += c_cpu;
            sidecar_memory += c_memory;
            init_max.max_with(&sidecars);
            init_cpu = init_cpu.max(sidecar_cpu);
            init_memory = init_memory.max(sidecar_memory);
        } else {
            let mut with_sidecars = r.clone();
            with_sidecars.add(&sidecars);
            init_max.max_with(&with_sidecars);
            init_cpu = init_cpu.max(c_cpu + sidecar_cpu);
            init_memory = init_memory.max(c_memory + sidecar_memory);
        }
    }
    sum.add(&sidecars);
    sum.max_with(&init_max);
    let mut cpu = (cpu + sidecar_cpu).max(init_cpu);
    let mut memory = (memory + sidecar_memory).max(init_memory);
    let overhead = Resources::from_list(overhead);
    sum.add(&overhead);
    cpu += overhead.milli_cpu;
    memory += overhead.memory;
    (sum, cpu, memory)
}

fn has(c: &Container, resource: &str) -> bool {
    c.resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .is_some_and(|r| r.contains_key(resource))
}
