//! The scheduler's cache, fed by the node and pod watchers: per-node aggregates (requested
//! resources, pod count, host ports, the pods themselves) kept up to date incrementally, plus
//! pods assumed on a node between a binding and the watch event that confirms it.
//!
//! A placement decision reads this cache as its snapshot; nothing here scans every pod.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Taint};

use crate::pod::{HostPort, PodInfo};
use crate::quantity::{self, Resources};

/// One node and what is bound or assumed on it.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    pub name: String,
    /// False for a node known only from pods bound to it (not a candidate).
    pub present: bool,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub ready: bool,
    pub allocatable: Resources,
    pub allowed_pods: i64,
    pub requested: Resources,
    pub nonzero_milli_cpu: i64,
    pub nonzero_memory: i64,
    pub host_ports: Vec<HostPort>,
    pub pods: Vec<Arc<PodInfo>>,
}

impl NodeInfo {
    /// A node as its object describes it, with nothing on it yet.
    pub fn from_node(node: &Node) -> NodeInfo {
        let spec = node.spec.as_ref();
        let status = node.status.as_ref();
        let allocatable = status.and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()));
        NodeInfo {
            name: node.metadata.name.clone().unwrap_or_default(),
            present: true,
            labels: node.metadata.labels.clone().unwrap_or_default(),
            taints: spec.and_then(|s| s.taints.clone()).unwrap_or_default(),
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            ready: status
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
            allocatable: Resources::from_list(allocatable),
            allowed_pods: allocatable
                .and_then(|a| a.get("pods"))
                .map(quantity::value)
                .unwrap_or(0),
            ..NodeInfo::default()
        }
    }

    /// Whether the scheduling-relevant parts of two node descriptions are equal.
    fn same_node(&self, other: &NodeInfo) -> bool {
        self.present == other.present
            && self.labels == other.labels
            && self.taints == other.taints
            && self.unschedulable == other.unschedulable
            && self.ready == other.ready
            && self.allocatable == other.allocatable
            && self.allowed_pods == other.allowed_pods
    }

    fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.nonzero_milli_cpu += pod.nonzero_milli_cpu;
        self.nonzero_memory += pod.nonzero_memory;
        self.host_ports.extend(pod.host_ports.iter().cloned());
        self.pods.push(pod);
    }

    fn remove_pod(&mut self, key_namespace: &str, key_name: &str) {
        let Some(i) = self
            .pods
            .iter()
            .position(|p| p.namespace == key_namespace && p.name == key_name)
        else {
            return;
        };
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests);
        self.nonzero_milli_cpu -= pod.nonzero_milli_cpu;
        self.nonzero_memory -= pod.nonzero_memory;
        for port in &pod.host_ports {
            if let Some(j) = self.host_ports.iter().position(|p| p == port) {
                self.host_ports.swap_remove(j);
            }
        }
    }
}

/// Nodes and the pods that occupy them.
#[derive(Debug, Default)]
pub struct Cache {
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// Every pod that occupies a node (bound or assumed), by `namespace/name`.
    placed: HashMap<String, (Arc<PodInfo>, usize)>,
    assumed: HashSet<String>,
    /// Placed pods with required anti-affinity terms, which every decision must respect.
    anti_affinity: HashSet<String>,
}

impl Cache {
    pub fn new() -> Cache {
        Cache::default()
    }

    /// Every node entry, including absent ones (check [`NodeInfo::present`]).
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|i| &self.nodes[*i])
    }

    /// How many nodes exist (the `N` of "0/N nodes are available").
    pub fn node_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.present).count()
    }

    /// Placed pods with required anti-affinity, with their node.
    pub fn anti_affinity_pods(&self) -> impl Iterator<Item = (&PodInfo, &NodeInfo)> {
        self.anti_affinity
            .iter()
            .filter_map(|k| self.placed.get(k))
            .map(|(p, n)| (p.as_ref(), &self.nodes[*n]))
    }

    fn slot(&mut self, name: &str) -> usize {
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        self.nodes.push(NodeInfo {
            name: name.to_owned(),
            ..NodeInfo::default()
        });
        self.index.insert(name.to_owned(), self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    /// Adds or updates a node; returns whether anything a decision looks at changed.
    pub fn apply_node(&mut self, node: &Node) -> bool {
        let fresh = NodeInfo::from_node(node);
        let i = self.slot(&fresh.name);
        let entry = &mut self.nodes[i];
        if entry.same_node(&fresh) {
            return false;
        }
        let NodeInfo {
            requested,
            nonzero_milli_cpu,
            nonzero_memory,
            host_ports,
            pods,
            ..
        } = std::mem::take(entry);
        *entry = NodeInfo {
            requested,
            nonzero_milli_cpu,
            nonzero_memory,
            host_ports,
            pods,
            ..fresh
        };
        true
    }

    /// Marks a node deleted (its pods stay accounted until their own events arrive).
    pub fn delete_node(&mut self, name: &str) {
        if let Some(i) = self.index.get(name) {
            self.nodes[*i].present = false;
        }
    }

    /// Keeps only the nodes in `names` (after a relist).
    pub fn retain_nodes(&mut self, names: &HashSet<String>) {
        for n in &mut self.nodes {
            n.present = n.present && names.contains(&n.name);
        }
    }

    /// Records a pod as the watch reports it; returns whether a node's aggregates changed.
    pub fn apply_pod(&mut self, pod: PodInfo) -> bool {
        let key = pod.key();
        if self.assumed.contains(&key) {
            if pod.node_name.is_none() && !pod.terminal {
                return false; // an event from before our binding: keep the assumption
            }
            self.assumed.remove(&key);
        }
        if let Some((old, node)) = self.placed.get(&key)
            && pod.occupies_node()
            && pod.node_name.as_deref() == Some(self.nodes[*node].name.as_str())
            && old.labels == pod.labels
            && old.requests == pod.requests
        {
            return false;
        }
        let removed = self.remove(&key);
        if !pod.occupies_node() {
            return removed;
        }
        let node = pod.node_name.clone().unwrap_or_default();
        self.place(key, pod, &node);
        true
    }

    /// Forgets a deleted pod; returns whether a node's aggregates changed.
    pub fn delete_pod(&mut self, key: &str) -> bool {
        self.assumed.remove(key);
        self.remove(key)
    }

    /// Keys of every placed pod (to reconcile after a relist).
    pub fn placed_keys(&self) -> Vec<String> {
        self.placed.keys().cloned().collect()
    }

    /// Accounts a pod on `node` before the watch confirms the binding.
    pub fn assume(&mut self, mut pod: PodInfo, node: &str) {
        let key = pod.key();
        self.remove(&key);
        pod.node_name = Some(node.to_owned());
        self.place(key.clone(), pod, node);
        self.assumed.insert(key);
    }

    /// Drops an assumption after a failed binding.
    pub fn forget(&mut self, key: &str) {
        if self.assumed.remove(key) {
            self.remove(key);
        }
    }

    pub fn is_assumed(&self, key: &str) -> bool {
        self.assumed.contains(key)
    }

    fn place(&mut self, key: String, pod: PodInfo, node: &str) {
        let i = self.slot(node);
        if !pod.anti_affinity.is_empty() {
            self.anti_affinity.insert(key.clone());
        }
        let pod = Arc::new(pod);
        self.nodes[i].add_pod(pod.clone());
        self.placed.insert(key, (pod, i));
    }

    fn remove(&mut self, key: &str) -> bool {
        let Some((pod, i)) = self.placed.remove(key) else {
            return false;
        };
        self.anti_affinity.remove(key);
        self.nodes[i].remove_pod(&pod.namespace, &pod.name);
        true
    }
}
