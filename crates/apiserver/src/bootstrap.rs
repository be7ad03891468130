//! Objects every cluster has from its first start: the `kubernetes` Service in `default`
//! (cluster IP .1 of the service CIDR) and its Endpoints and EndpointSlice pointing at this API
//! server (the service proxy reads slices).

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::query::Query;
use crate::storage::Storage;

fn kubernetes_service(cluster_ip: &str, port: u16) -> Value {
    json!({
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {
            "clusterIP": cluster_ip,
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            "sessionAffinity": "None",
            "type": "ClusterIP",
        },
    })
}

fn kubernetes_endpoints(address: SocketAddr) -> Value {
    json!({
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": address.ip().to_string()}], "ports": [{"name": "https", "port": address.port(), "protocol": "TCP"}]}],
    })
}

fn kubernetes_slice(address: SocketAddr) -> Value {
    json!({
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "gantry-apiserver"}},
        "addressType": if address.is_ipv4() { "IPv4" } else { "IPv6" },
        "endpoints": [{"addresses": [address.ip().to_string()], "conditions": {"ready": true, "serving": true, "terminating": false}}],
        "ports": [{"name": "https", "port": address.port(), "protocol": "TCP"}],
    })
}

/// Creates `value` in `default`, or refreshes `fields` of the existing object.
async fn ensure(
    storage: &Storage,
    resource: (&str, &str, &str),
    value: Value,
    fields: &[&str],
) -> Result<(), ApiError> {
    let q = Query::default();
    let Some(def) = storage.registry.get(resource.0, resource.1, resource.2) else {
        return Ok(());
    };
    match storage
        .create(def, Some("default"), value.clone(), &q)
        .await
    {
        Ok(_) => Ok(()),
        Err(ApiError::AlreadyExists(_)) => storage
            .guaranteed_update(def, Some("default"), "kubernetes", None, &q, |old| {
                let mut new = old.clone();
                for f in fields {
                    new[*f] = value[*f].clone();
                }
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove("resourceVersion");
                }
                Ok(new)
            })
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    }
}

/// Creates or refreshes the `kubernetes` Service, Endpoints and EndpointSlice for the API
/// server at `address`.
pub async fn ensure_kubernetes_service(
    storage: &Storage,
    address: SocketAddr,
) -> Result<(), ApiError> {
    let (base, _) = storage.pools.service_cidr;
    let first = std::net::Ipv4Addr::from(u32::from(base) + 1).to_string();
    let q = Query::default();
    if let Some(def) = storage.registry.get("", "v1", "services") {
        match storage
            .create(
                def,
                Some("default"),
                kubernetes_service(&first, address.port()),
                &q,
            )
            .await
        {
            Ok(_) | Err(ApiError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    ensure(
        storage,
        ("", "v1", "endpoints"),
        kubernetes_endpoints(address),
        &["subsets"],
    )
    .await?;
    ensure(
        storage,
        ("discovery.k8s.io", "v1", "endpointslices"),
        kubernetes_slice(address),
        &["endpoints", "ports"],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_service_points_at_the_api_port() {
        let svc = kubernetes_service("10.43.0.1", 6443);
        assert_eq!(svc["spec"]["clusterIP"], "10.43.0.1");
        assert_eq!(svc["spec"]["ports"][0]["port"], 443);
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], 6443);
        let ep = kubernetes_endpoints("127.0.0.1:6443".parse().unwrap());
        assert_eq!(ep["subsets"][0]["addresses"][0]["ip"], "127.0.0.1");
    }
}
