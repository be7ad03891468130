//! The cluster as DNS sees it: Services and their serving endpoints, flattened from API objects.
//!
//! Built afresh from the reflector stores after every change; `records::answer` reads it. Pure:
//! no I/O, no clock, so the record tables can build snapshots from literal objects.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};

/// The label an EndpointSlice carries naming the Service it belongs to.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Everything the record rules need, keyed by (namespace, service name).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// False until both watches have listed once: cluster names then answer SERVFAIL.
    pub synced: bool,
    /// Bumped on every rebuild; the SOA serial.
    pub generation: u32,
    services: BTreeMap<(String, String), ServiceEntry>,
    /// Address -> names relative to the cluster domain (`svc.ns.svc`, `host.svc.ns.svc`).
    reverse: HashMap<IpAddr, Vec<String>>,
}

/// How a Service's own name resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceKind {
    /// ClusterIP, NodePort, LoadBalancer: the cluster IPs (empty while unallocated).
    ClusterIp(Vec<IpAddr>),
    /// `clusterIP: None`: the serving endpoint addresses.
    Headless,
    /// A CNAME to this name (without the trailing dot).
    ExternalName(String),
}

/// A named or unnamed port, of the Service (ClusterIP) or of an EndpointSlice (headless).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortEntry {
    pub name: String,
    /// Lowercase: `tcp`, `udp`, `sctp`.
    pub protocol: String,
    pub port: u16,
}

/// One endpoint that DNS publishes (ready, or not ready with publishNotReadyAddresses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointEntry {
    pub addresses: Vec<IpAddr>,
    pub hostname: Option<String>,
    /// The ports of the EndpointSlice this endpoint came from.
    pub ports: Vec<PortEntry>,
}

impl EndpointEntry {
    /// The first label of this endpoint's own name: its hostname, else the dashed address.
    pub fn label_for(&self, address: IpAddr) -> String {
        match &self.hostname {
            Some(hostname) => hostname.to_ascii_lowercase(),
            None => dashed(address),
        }
    }
}

/// A Service with what DNS needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    pub kind: ServiceKind,
    pub ports: Vec<PortEntry>,
    pub endpoints: Vec<EndpointEntry>,
}

/// `10.1.2.3` -> `10-1-2-3`; `fd00::1` -> `fd00--1`, as the DNS spec names endpoints.
pub fn dashed(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string().replace('.', "-"),
        IpAddr::V6(v6) => v6.to_string().replace(':', "-"),
    }
}

/// The inverse of [`dashed`]; `None` when the label is no dashed address.
pub fn undashed(label: &str) -> Option<IpAddr> {
    if label.contains(':') || label.contains('.') {
        return None;
    }
    let dotted = label.replace('-', ".");
    if let Ok(v4) = dotted.parse::<std::net::Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    label
        .replace('-', ":")
        .parse::<std::net::Ipv6Addr>()
        .ok()
        .map(IpAddr::V6)
}

impl Snapshot {
    /// Flattens Services and EndpointSlices. Slices of unknown Services, FQDN slices and
    /// unparsable addresses are skipped: the snapshot holds only what can be answered.
    pub fn build<'a>(
        services: impl IntoIterator<Item = &'a Service>,
        slices: impl IntoIterator<Item = &'a EndpointSlice>,
    ) -> Snapshot {
        let mut entries = BTreeMap::new();
        let mut publish_not_ready = HashMap::new();
        for service in services {
            let (Some(namespace), Some(name)) = (
                service.metadata.namespace.as_deref(),
                service.metadata.name.as_deref(),
            ) else {
                continue;
            };
            let Some(spec) = &service.spec else { continue };
            let kind = if spec.type_.as_deref() == Some("ExternalName") {
                match spec.external_name.as_deref() {
                    Some(target) if !target.is_empty() => {
                        ServiceKind::ExternalName(target.trim_end_matches('.').to_ascii_lowercase())
                    }
                    _ => continue,
                }
            } else if spec.cluster_ip.as_deref() == Some("None") {
                ServiceKind::Headless
            } else {
                let listed = spec.cluster_ips.clone().unwrap_or_default();
                let ips = if listed.is_empty() {
                    spec.cluster_ip.iter().cloned().collect()
                } else {
                    listed
                };
                ServiceKind::ClusterIp(ips.iter().filter_map(|ip| ip.parse().ok()).collect())
            };
            let ports = spec
                .ports
                .iter()
                .flatten()
                .filter_map(|p| {
                    Some(PortEntry {
                        name: p.name.clone().unwrap_or_default().to_ascii_lowercase(),
                        protocol: protocol(p.protocol.as_deref()),
                        port: u16::try_from(p.port).ok()?,
                    })
                })
                .collect();
            let key = (namespace.to_ascii_lowercase(), name.to_ascii_lowercase());
            publish_not_ready.insert(key.clone(), spec.publish_not_ready_addresses == Some(true));
            entries.insert(
                key,
                ServiceEntry {
                    kind,
                    ports,
                    endpoints: Vec::new(),
                },
            );
        }
        for slice in slices {
            if slice.address_type != "IPv4" && slice.address_type != "IPv6" {
                continue;
            }
            let (Some(namespace), Some(service)) = (
                slice.metadata.namespace.as_deref(),
                slice
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(SERVICE_NAME_LABEL)),
            ) else {
                continue;
            };
            let key = (namespace.to_ascii_lowercase(), service.to_ascii_lowercase());
            let Some(entry) = entries.get_mut(&key) else {
                continue;
            };
            let include_not_ready = publish_not_ready.get(&key).copied().unwrap_or(false);
            let ports: Vec<PortEntry> = slice
                .ports
                .iter()
                .flatten()
                .filter_map(|p| {
                    Some(PortEntry {
                        name: p.name.clone().unwrap_or_default().to_ascii_lowercase(),
                        protocol: protocol(p.protocol.as_deref()),
                        port: u16::try_from(p.port?).ok()?,
                    })
                })
                .collect();
            for endpoint in &slice.endpoints {
                if !include_not_ready && !is_ready(endpoint) {
                    continue;
                }
                let addresses: Vec<IpAddr> = endpoint
                    .addresses
                    .iter()
                    .filter_map(|a| a.parse().ok())
                    .collect();
                if addresses.is_empty() {
                    continue;
                }
                entry.endpoints.push(EndpointEntry {
                    addresses,
                    hostname: endpoint.hostname.clone().filter(|h| !h.is_empty()),
                    ports: ports.clone(),
                });
            }
        }
        let reverse = reverse_index(&entries);
        Snapshot {
            synced: true,
            generation: 0,
            services: entries,
            reverse,
        }
    }

    /// The Service `name` in `namespace` (both lowercase).
    pub fn service(&self, namespace: &str, name: &str) -> Option<&ServiceEntry> {
        self.services
            .get(&(namespace.to_string(), name.to_string()))
    }

    /// Names (relative to the cluster domain) that `address` reverse-resolves to.
    pub fn reverse(&self, address: IpAddr) -> &[String] {
        self.reverse.get(&address).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// A nil ready condition means ready (EndpointConditions' documented default).
fn is_ready(endpoint: &Endpoint) -> bool {
    endpoint
        .conditions
        .as_ref()
        .and_then(|c| c.ready)
        .unwrap_or(true)
}

fn protocol(protocol: Option<&str>) -> String {
    protocol.unwrap_or("TCP").to_ascii_lowercase()
}

fn reverse_index(
    services: &BTreeMap<(String, String), ServiceEntry>,
) -> HashMap<IpAddr, Vec<String>> {
    let mut reverse: HashMap<IpAddr, Vec<String>> = HashMap::new();
    for ((namespace, name), entry) in services {
        match &entry.kind {
            ServiceKind::ClusterIp(ips) => {
                for ip in ips {
                    reverse
                        .entry(*ip)
                        .or_default()
                        .push(format!("{name}.{namespace}.svc"));
                }
            }
            ServiceKind::Headless => {
                for endpoint in &entry.endpoints {
                    for address in &endpoint.addresses {
                        let label = endpoint.label_for(*address);
                        let names = reverse.entry(*address).or_default();
                        let full = format!("{label}.{name}.{namespace}.svc");
                        if !names.contains(&full) {
                            names.push(full);
                        }
                    }
                }
            }
            ServiceKind::ExternalName(_) => {}
        }
    }
    reverse
}
