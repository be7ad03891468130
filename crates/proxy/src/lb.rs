//! LoadBalancer status, k3s-ServiceLB style: every LoadBalancer Service without a
//! `loadBalancerClass` gets the InternalIPs of all Ready nodes as its ingress. The decision is
//! pure ([`lb_status`], [`ready_node_ips`]); the loop patches only what differs, so every
//! proxy can run it at once.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus, Node, Service};
use kube::api::{Api, Patch, PatchParams};

use crate::ProxyError;

/// The InternalIP addresses of every Ready node, sorted, without duplicates.
pub fn ready_node_ips<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = nodes
        .into_iter()
        .filter(|node| node.metadata.deletion_timestamp.is_none() && node_ready(node))
        .flat_map(node_internal_ips)
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// Whether the node's `Ready` condition is `True`.
pub fn node_ready(node: &Node) -> bool {
    let conditions = node.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The node's InternalIP addresses.
pub fn node_internal_ips(node: &Node) -> Vec<IpAddr> {
    let addresses = node.status.as_ref().and_then(|s| s.addresses.as_ref());
    addresses
        .into_iter()
        .flatten()
        .filter(|a| a.type_ == "InternalIP")
        .filter_map(|a| a.address.parse().ok())
        .collect()
}

/// The status `service` should get, or `None` when it is not ours to set (not a LoadBalancer,
/// another load-balancer class, being deleted) or already right.
pub fn lb_status(service: &Service, node_ips: &[IpAddr]) -> Option<LoadBalancerStatus> {
    let spec = service.spec.as_ref()?;
    if spec.type_.as_deref() != Some("LoadBalancer")
        || spec.load_balancer_class.is_some()
        || service.metadata.deletion_timestamp.is_some()
    {
        return None;
    }
    let families: Vec<&str> = match &spec.ip_families {
        Some(f) if !f.is_empty() => f.iter().map(String::as_str).collect(),
        _ => vec!["IPv4"],
    };
    let mut ips: Vec<IpAddr> = node_ips
        .iter()
        .copied()
        .filter(|ip| match ip {
            IpAddr::V4(_) => families.contains(&"IPv4"),
            IpAddr::V6(_) => families.contains(&"IPv6"),
        })
        .collect();
    ips.sort();
    ips.dedup();
    let ingress: Vec<LoadBalancerIngress> = ips
        .iter()
        .map(|ip| LoadBalancerIngress {
            ip: Some(ip.to_string()),
            ip_mode: Some("VIP".to_string()),
            ..Default::default()
        })
        .collect();
    let current = service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.clone())
        .unwrap_or_default();
    if current == ingress {
        return None;
    }
    Some(LoadBalancerStatus {
        ingress: Some(ingress),
    })
}

/// Patches `services/status` of every Service whose [`lb_status`] differs; returns the first
/// error after trying them all.
pub async fn sync_lb_statuses<'a>(
    client: &kube::Client,
    services: impl IntoIterator<Item = &'a Service>,
    node_ips: &[IpAddr],
) -> Result<(), ProxyError> {
    let mut first_error = None;
    for service in services {
        let Some(status) = lb_status(service, node_ips) else {
            continue;
        };
        let namespace = service.metadata.namespace.clone().unwrap_or_default();
        let name = service.metadata.name.clone().unwrap_or_default();
        let api: Api<Service> = Api::namespaced(client.clone(), &namespace);
        let patch = serde_json::json!({ "status": { "loadBalancer": status } });
        let result = api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await;
        match result {
            Ok(_) => tracing::info!(%namespace, %name, "set load balancer ingress"),
            Err(source) => {
                let error = ProxyError::PatchStatus {
                    namespace,
                    name,
                    source,
                };
                tracing::warn!(%error, "load balancer status");
                first_error.get_or_insert(error);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}
