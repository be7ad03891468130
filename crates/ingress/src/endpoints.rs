//! Backends to addresses: a Service port (by number or name) resolved through the Service's
//! ports to the ready endpoints of its EndpointSlices, and the round-robin pick among them.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::table::{Backend, BackendPort};

/// Label tying an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The ready addresses of one backend, handed out in turn.
#[derive(Debug, Default)]
pub struct Pool {
    addresses: Vec<SocketAddr>,
    next: AtomicUsize,
}

impl Pool {
    pub fn new(addresses: Vec<SocketAddr>) -> Pool {
        Pool {
            addresses,
            next: AtomicUsize::new(0),
        }
    }

    /// The next address round-robin; `None` when the backend has no ready endpoint.
    pub fn pick(&self) -> Option<SocketAddr> {
        if self.addresses.is_empty() {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.addresses.get(n % self.addresses.len()).copied()
    }

    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }
}

/// The name of the Service port the backend refers to (`""` for an unnamed port), or `None`
/// when the Service has no such port.
fn service_port_name(service: &Service, port: &BackendPort) -> Option<String> {
    let ports = service.spec.as_ref()?.ports.as_ref()?;
    let found = ports.iter().find(|p| match port {
        BackendPort::Number(n) => p.port == *n,
        BackendPort::Name(name) => p.name.as_deref() == Some(name.as_str()),
    })?;
    Some(found.name.clone().unwrap_or_default())
}

/// Ready endpoint addresses of `backend`, sorted and de-duplicated. Empty when the Service,
/// its port or ready endpoints are missing. An endpoint without `ready` counts as ready.
pub fn resolve(
    backend: &Backend,
    service: Option<&Service>,
    slices: &[&EndpointSlice],
) -> Vec<SocketAddr> {
    let Some(port_name) = service.and_then(|s| service_port_name(s, &backend.port)) else {
        return Vec::new();
    };
    let mut addresses = Vec::new();
    for slice in slices {
        let Some(port) = slice
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.clone().unwrap_or_default() == port_name)
            .and_then(|p| p.port)
            .and_then(|p| u16::try_from(p).ok())
        else {
            continue;
        };
        for endpoint in &slice.endpoints {
            let ready = endpoint
                .conditions
                .as_ref()
                .and_then(|c| c.ready)
                .unwrap_or(true);
            if !ready {
                continue;
            }
            addresses.extend(
                endpoint
                    .addresses
                    .iter()
                    .filter_map(|a| a.parse::<IpAddr>().ok())
                    .map(|ip| SocketAddr::new(ip, port)),
            );
        }
    }
    addresses.sort();
    addresses.dedup();
    addresses
}

/// One pool per backend of the table, from the current Services and EndpointSlices.
pub fn pools<'a>(
    backends: impl Iterator<Item = &'a Backend>,
    services: &[std::sync::Arc<Service>],
    slices: &[std::sync::Arc<EndpointSlice>],
) -> HashMap<Backend, Pool> {
    let mut by_service: HashMap<(String, String), Vec<&EndpointSlice>> = HashMap::new();
    for slice in slices {
        let namespace = slice.metadata.namespace.clone().unwrap_or_default();
        if let Some(name) = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SERVICE_NAME_LABEL))
        {
            by_service
                .entry((namespace, name.clone()))
                .or_default()
                .push(slice);
        }
    }
    let mut pools = HashMap::new();
    for backend in backends {
        if pools.contains_key(backend) {
            continue;
        }
        let service = services.iter().map(|s| s.as_ref()).find(|s| {
            s.metadata.namespace.as_deref() == Some(backend.namespace.as_str())
                && s.metadata.name.as_deref() == Some(backend.service.as_str())
        });
        let key = (backend.namespace.clone(), backend.service.clone());
        let slices = by_service.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        pools.insert(
            backend.clone(),
            Pool::new(resolve(backend, service, slices)),
        );
    }
    pools
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service() -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"ports": [
                {"name": "http", "port": 80, "targetPort": 8080},
                {"name": "admin", "port": 9000, "targetPort": "admin"}
            ]}
        }))
        .unwrap()
    }

    fn slice() -> EndpointSlice {
        serde_json::from_value(json!({
            "metadata": {"name": "web-abc", "namespace": "default",
                         "labels": {SERVICE_NAME_LABEL: "web"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080}, {"name": "admin", "port": 9999}],
            "endpoints": [
                {"addresses": ["10.42.0.5"], "conditions": {"ready": true}},
                {"addresses": ["10.42.0.6"], "conditions": {"ready": false}},
                {"addresses": ["10.42.0.7"]}
            ]
        }))
        .unwrap()
    }

    fn backend(port: BackendPort) -> Backend {
        Backend {
            namespace: "default".into(),
            service: "web".into(),
            port,
        }
    }

    #[test]
    fn resolution_table() {
        let (svc, sl) = (service(), slice());
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        let cases: Vec<(BackendPort, Option<&Service>, Vec<SocketAddr>)> = vec![
            (
                BackendPort::Number(80),
                Some(&svc),
                vec![addr("10.42.0.5:8080"), addr("10.42.0.7:8080")],
            ),
            (
                BackendPort::Name("http".into()),
                Some(&svc),
                vec![addr("10.42.0.5:8080"), addr("10.42.0.7:8080")],
            ),
            (
                BackendPort::Name("admin".into()),
                Some(&svc),
                vec![addr("10.42.0.5:9999"), addr("10.42.0.7:9999")],
            ),
            (BackendPort::Number(81), Some(&svc), vec![]),
            (BackendPort::Number(80), None, vec![]),
        ];
        for (port, service, expected) in cases {
            let b = backend(port.clone());
            assert_eq!(resolve(&b, service, &[&sl]), expected, "{port:?}");
        }
    }

    #[test]
    fn round_robin() {
        let pool = Pool::new(vec![
            "10.0.0.1:80".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        ]);
        let picks: Vec<_> = (0..4)
            .filter_map(|_| pool.pick())
            .map(|a| a.to_string())
            .collect();
        assert_eq!(
            picks,
            ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.1:80", "10.0.0.2:80"]
        );
        assert_eq!(Pool::new(vec![]).pick(), None);
    }
}
