//! The state the rules are computed from: NetworkPolicies, Pods and Namespaces, reduced to
//! what enforcement needs (addresses, labels, container ports) and built from API objects.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;

/// Labels of a pod or namespace.
pub type Labels = BTreeMap<String, String>;

/// The label every namespace carries with its own name (set by the API server upstream; added
/// here too so selectors on it work even when the object lacks it).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A transport protocol a NetworkPolicy port can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// Parses the API spelling (`TCP`, `UDP`, `SCTP`); `None` for anything else.
    pub fn parse(text: &str) -> Option<Protocol> {
        match text {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The nftables spelling (`tcp`, `udp`, `sctp`).
    pub fn nft(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// A named container port of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPort {
    pub name: String,
    pub protocol: Protocol,
    pub port: u16,
}

/// A pod as policies see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    /// `spec.nodeName`; `None` while unscheduled.
    pub node: Option<String>,
    /// The pod's IPv4 address, once it has one.
    pub ip: Option<Ipv4Addr>,
    pub labels: Labels,
    /// The container ports that have a name.
    pub ports: Vec<NamedPort>,
}

/// Everything [`crate::compile`] needs.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Namespace name → labels (always including [`NAMESPACE_NAME_LABEL`]).
    pub namespaces: BTreeMap<String, Labels>,
    /// Pods with an address that policies can select: running on the pod network (not
    /// hostNetwork) and not finished.
    pub pods: Vec<PodInfo>,
    pub policies: Vec<NetworkPolicy>,
}

impl Snapshot {
    /// Builds a snapshot from API objects, dropping pods policies cannot apply to.
    pub fn build<'a>(
        policies: impl IntoIterator<Item = &'a NetworkPolicy>,
        pods: impl IntoIterator<Item = &'a Pod>,
        namespaces: impl IntoIterator<Item = &'a Namespace>,
    ) -> Snapshot {
        let mut snapshot = Snapshot {
            policies: policies.into_iter().cloned().collect(),
            pods: pods.into_iter().filter_map(pod_info).collect(),
            ..Snapshot::default()
        };
        for ns in namespaces {
            if let Some(name) = ns.metadata.name.clone() {
                let labels = ns.metadata.labels.clone().unwrap_or_default();
                snapshot.add_namespace(&name, labels);
            }
        }
        snapshot
            .policies
            .sort_by(|a, b| policy_key(a).cmp(&policy_key(b)));
        snapshot
            .pods
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        snapshot
    }

    /// Records a namespace, adding [`NAMESPACE_NAME_LABEL`].
    pub fn add_namespace(&mut self, name: &str, mut labels: Labels) {
        labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.to_string());
        self.namespaces.insert(name.to_string(), labels);
    }

    /// The labels of namespace `name`; a namespace not (yet) seen has only its name label.
    pub fn namespace_labels(&self, name: &str) -> Labels {
        self.namespaces
            .get(name)
            .cloned()
            .unwrap_or_else(|| Labels::from([(NAMESPACE_NAME_LABEL.to_string(), name.to_string())]))
    }
}

fn policy_key(policy: &NetworkPolicy) -> (Option<&str>, Option<&str>) {
    (
        policy.metadata.namespace.as_deref(),
        policy.metadata.name.as_deref(),
    )
}

/// The policy view of a pod, or `None` for pods policies never apply to (hostNetwork,
/// finished, or without a namespace or name).
fn pod_info(pod: &Pod) -> Option<PodInfo> {
    let spec = pod.spec.as_ref()?;
    if spec.host_network == Some(true) {
        return None;
    }
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded") | Some("Failed")) {
        return None;
    }
    let ip = status.and_then(|s| {
        let listed = s.pod_ips.iter().flatten().map(|p| p.ip.as_str());
        s.pod_ip
            .as_deref()
            .into_iter()
            .chain(listed)
            .find_map(|text| text.parse::<Ipv4Addr>().ok())
    });
    let ports = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            Some(NamedPort {
                name: p.name.clone()?,
                protocol: Protocol::parse(p.protocol.as_deref().unwrap_or("TCP"))?,
                port: u16::try_from(p.container_port).ok()?,
            })
        })
        .collect();
    Some(PodInfo {
        namespace: pod.metadata.namespace.clone()?,
        name: pod.metadata.name.clone()?,
        node: spec.node_name.clone(),
        ip,
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        ports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).expect("test pod")
    }

    #[test]
    fn build_keeps_only_pods_policies_apply_to() {
        let running = pod(serde_json::json!({
            "metadata": {"namespace": "default", "name": "web", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [
                {"name": "http", "containerPort": 8080},
                {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                {"containerPort": 9000}]}]},
            "status": {"phase": "Running", "podIPs": [{"ip": "fd00::1"}, {"ip": "10.42.0.5"}]},
        }));
        let host = pod(serde_json::json!({
            "metadata": {"namespace": "default", "name": "host"},
            "spec": {"hostNetwork": true, "containers": [{"name": "c"}]},
            "status": {"podIP": "192.168.1.1"},
        }));
        let done = pod(serde_json::json!({
            "metadata": {"namespace": "default", "name": "done"},
            "spec": {"containers": [{"name": "c"}]},
            "status": {"phase": "Succeeded", "podIP": "10.42.0.6"},
        }));
        let namespace: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "default", "labels": {"team": "a"}},
        }))
        .expect("test namespace");
        let snapshot = Snapshot::build([], [&running, &host, &done], [&namespace]);
        assert_eq!(snapshot.pods.len(), 1);
        let web = &snapshot.pods[0];
        assert_eq!(web.ip, Some(Ipv4Addr::new(10, 42, 0, 5)));
        assert_eq!(web.node.as_deref(), Some("n1"));
        let ports: Vec<(&str, Protocol, u16)> = web
            .ports
            .iter()
            .map(|p| (p.name.as_str(), p.protocol, p.port))
            .collect();
        assert_eq!(
            ports,
            vec![("http", Protocol::Tcp, 8080), ("dns", Protocol::Udp, 53)]
        );
        let labels = snapshot.namespace_labels("default");
        assert_eq!(labels.get("team").map(String::as_str), Some("a"));
        assert_eq!(
            labels.get(NAMESPACE_NAME_LABEL).map(String::as_str),
            Some("default")
        );
        assert_eq!(snapshot.namespace_labels("new").len(), 1);
    }
}
