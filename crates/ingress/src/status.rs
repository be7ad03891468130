//! `status.loadBalancer.ingress` of served Ingresses: the publish addresses, patched only when
//! the current status differs.

use std::net::IpAddr;

use k8s_openapi::api::networking::v1::Ingress;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use crate::error::IngressError;

/// The addresses the status currently lists (IPs, or hostnames), in order.
pub fn current(ingress: &Ingress) -> Vec<String> {
    ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e.ip.clone().or_else(|| e.hostname.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the Ingress's status must be patched to list exactly `ips`.
pub fn needs_update(ingress: &Ingress, ips: &[IpAddr]) -> bool {
    let wanted: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
    current(ingress) != wanted
}

/// Writes `ips` to the Ingress's `status.loadBalancer.ingress` (merge patch on `/status`).
pub async fn publish(
    client: kube::Client,
    ingress: &Ingress,
    ips: &[IpAddr],
) -> Result<(), IngressError> {
    let namespace = ingress.metadata.namespace.as_deref().unwrap_or("default");
    let name = ingress.metadata.name.as_deref().unwrap_or_default();
    let entries: Vec<_> = ips.iter().map(|ip| json!({"ip": ip.to_string()})).collect();
    let patch = json!({"status": {"loadBalancer": {"ingress": entries}}});
    Api::<Ingress>::namespaced(client, namespace)
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| IngressError::Status {
            ingress: format!("{namespace}/{name}"),
            source,
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingress(status: serde_json::Value) -> Ingress {
        serde_json::from_value(json!({"metadata": {"name": "i"}, "status": status})).unwrap()
    }

    #[test]
    fn needs_update_table() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let cases = [
            (json!({}), vec![ip], true),
            (json!({}), vec![], false),
            (
                json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}),
                vec![ip],
                false,
            ),
            (
                json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.9"}]}}),
                vec![ip],
                true,
            ),
            (
                json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}),
                vec![],
                true,
            ),
        ];
        for (status, ips, expected) in cases {
            assert_eq!(
                needs_update(&ingress(status.clone()), &ips),
                expected,
                "{status} {ips:?}"
            );
        }
    }
}
