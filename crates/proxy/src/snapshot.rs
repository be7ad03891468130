//! The proxy's view of the cluster: Services and their endpoints reduced to what the rules need,
//! built by a pure function from the API objects the watchers hold.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The label linking an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Upstream's default ClientIP affinity timeout (3 hours).
pub const DEFAULT_AFFINITY_SECONDS: u32 = 10800;

/// Every Service the proxy programs, in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub services: Vec<ServiceInfo>,
}

/// One Service with a ClusterIP (headless and ExternalName Services never appear here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    pub namespace: String,
    pub name: String,
    pub cluster_ips: Vec<Ipv4Addr>,
    /// `spec.externalIPs` plus, for LoadBalancer Services, `status.loadBalancer.ingress[].ip`.
    pub external_ips: Vec<Ipv4Addr>,
    /// Whether node ports are opened (type NodePort or LoadBalancer).
    pub node_ports: bool,
    /// `sessionAffinity: ClientIP` timeout in seconds, if affinity is on.
    pub affinity_seconds: Option<u32>,
    /// `externalTrafficPolicy: Local`.
    pub external_local: bool,
    /// `internalTrafficPolicy: Local`.
    pub internal_local: bool,
    pub ports: Vec<PortInfo>,
}

/// Transport protocol of a Service port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// Parses a Kubernetes protocol name; absent means TCP.
    pub fn parse(name: Option<&str>) -> Option<Self> {
        match name.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The nft keyword (`tcp`, `udp`, `sctp`).
    pub fn nft(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// One port of a Service, with the endpoints serving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// The Service port's name ("" when unnamed), matched against EndpointSlice port names.
    pub name: String,
    pub protocol: Protocol,
    pub port: u16,
    pub node_port: Option<u16>,
    pub endpoints: Vec<Endpoint>,
}

/// One endpoint address with the target port resolved for a Service port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub port: u16,
    pub node_name: Option<String>,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
}

impl Snapshot {
    /// Builds the snapshot from Services and EndpointSlices (any order, any namespaces).
    pub fn build<'a>(
        services: impl IntoIterator<Item = &'a Service>,
        slices: impl IntoIterator<Item = &'a EndpointSlice>,
    ) -> Snapshot {
        let mut by_service: BTreeMap<(String, String), Vec<&EndpointSlice>> = BTreeMap::new();
        for slice in slices {
            if slice.address_type != "IPv4" || slice.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let labels = slice.metadata.labels.as_ref();
            let Some(service) = labels.and_then(|l| l.get(SERVICE_NAME_LABEL)) else {
                continue;
            };
            let namespace = slice.metadata.namespace.clone().unwrap_or_default();
            by_service
                .entry((namespace, service.clone()))
                .or_default()
                .push(slice);
        }
        let mut out: Vec<ServiceInfo> = services
            .into_iter()
            .filter_map(|svc| {
                let key = (
                    svc.metadata.namespace.clone().unwrap_or_default(),
                    svc.metadata.name.clone().unwrap_or_default(),
                );
                let slices = by_service.get(&key).map(Vec::as_slice).unwrap_or(&[]);
                service_info(svc, slices)
            })
            .collect();
        out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Snapshot { services: out }
    }
}

/// Reduces one Service (and its slices) to what the rules need; `None` when it gets no rules.
pub fn service_info(svc: &Service, slices: &[&EndpointSlice]) -> Option<ServiceInfo> {
    let spec = svc.spec.as_ref()?;
    let kind = spec.type_.as_deref().unwrap_or("ClusterIP");
    if kind == "ExternalName" {
        return None;
    }
    let mut cluster_ips: Vec<Ipv4Addr> = match &spec.cluster_ips {
        Some(ips) if !ips.is_empty() => ips.iter().filter_map(|ip| ip.parse().ok()).collect(),
        _ => spec
            .cluster_ip
            .iter()
            .filter_map(|ip| ip.parse().ok())
            .collect(),
    };
    cluster_ips.dedup();
    if cluster_ips.is_empty() {
        // Headless ("None") or not yet allocated.
        return None;
    }
    let mut external_ips: Vec<Ipv4Addr> = spec
        .external_ips
        .iter()
        .flatten()
        .filter_map(|ip| ip.parse().ok())
        .collect();
    let load_balancer = kind == "LoadBalancer";
    if load_balancer {
        let ingress = svc.status.as_ref().and_then(|s| s.load_balancer.as_ref());
        let ingress = ingress.and_then(|lb| lb.ingress.as_ref());
        external_ips.extend(
            ingress
                .into_iter()
                .flatten()
                .filter(|i| i.ip_mode.as_deref() != Some("Proxy"))
                .filter_map(|i| i.ip.as_deref()?.parse::<Ipv4Addr>().ok()),
        );
    }
    external_ips.sort();
    external_ips.dedup();
    let affinity_seconds = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        let config = spec.session_affinity_config.as_ref();
        let client_ip = config.and_then(|c| c.client_ip.as_ref());
        client_ip
            .and_then(|c| c.timeout_seconds)
            .and_then(|t| u32::try_from(t).ok())
            .filter(|t| *t > 0)
            .unwrap_or(DEFAULT_AFFINITY_SECONDS)
    });
    let ports = spec
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            let protocol = Protocol::parse(p.protocol.as_deref())?;
            let name = p.name.clone().unwrap_or_default();
            Some(PortInfo {
                endpoints: endpoints_for(slices, &name, protocol),
                port: u16::try_from(p.port).ok()?,
                node_port: p
                    .node_port
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|n| *n > 0),
                name,
                protocol,
            })
        })
        .collect();
    Some(ServiceInfo {
        namespace: svc.metadata.namespace.clone().unwrap_or_default(),
        name: svc.metadata.name.clone().unwrap_or_default(),
        cluster_ips,
        external_ips,
        node_ports: kind == "NodePort" || load_balancer,
        affinity_seconds,
        external_local: spec.external_traffic_policy.as_deref() == Some("Local"),
        internal_local: spec.internal_traffic_policy.as_deref() == Some("Local"),
        ports,
    })
}

/// The endpoints of `slices` for the Service port called `name`: the slice port with the same
/// name and protocol gives the (already resolved) target port.
fn endpoints_for(slices: &[&EndpointSlice], name: &str, protocol: Protocol) -> Vec<Endpoint> {
    let mut out = Vec::new();
    for slice in slices {
        let port = slice.ports.iter().flatten().find(|p| {
            p.name.as_deref().unwrap_or("") == name
                && Protocol::parse(p.protocol.as_deref()) == Some(protocol)
        });
        let Some(port) = port
            .and_then(|p| p.port)
            .and_then(|p| u16::try_from(p).ok())
        else {
            continue;
        };
        for ep in &slice.endpoints {
            let conditions = ep.conditions.as_ref();
            let ready = conditions.and_then(|c| c.ready).unwrap_or(true);
            let serving = conditions.and_then(|c| c.serving).unwrap_or(ready);
            let terminating = conditions.and_then(|c| c.terminating).unwrap_or(false);
            for address in &ep.addresses {
                let Ok(ip) = address.parse::<Ipv4Addr>() else {
                    continue;
                };
                out.push(Endpoint {
                    ip,
                    port,
                    node_name: ep.node_name.clone(),
                    ready,
                    serving,
                    terminating,
                });
            }
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.ip == b.ip && a.port == b.port);
    out
}

impl PortInfo {
    /// The endpoints traffic may go to: the ready ones; when none is ready, the serving
    /// terminating ones (upstream's fallback). `local_to` keeps only that node's endpoints.
    pub fn usable_endpoints(&self, local_to: Option<&str>) -> Vec<&Endpoint> {
        let candidates: Vec<&Endpoint> = self
            .endpoints
            .iter()
            .filter(|e| local_to.is_none_or(|node| e.node_name.as_deref() == Some(node)))
            .collect();
        let ready: Vec<&Endpoint> = candidates.iter().copied().filter(|e| e.ready).collect();
        if !ready.is_empty() {
            return ready;
        }
        candidates
            .into_iter()
            .filter(|e| e.serving && e.terminating)
            .collect()
    }
}
