//! What the proxy reads per request: the route table and one endpoint pool per backend, built
//! from the reflectors' stores and swapped whole on every change.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

use crate::class;
use crate::endpoints::{Pool, pools};
use crate::routes::route;
use crate::table::{self, Backend, RouteTable};

/// The outcome of routing one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// No rule and no default backend: 404.
    NoRoute,
    /// A backend without ready endpoints: 503.
    NoEndpoints(Backend),
    Endpoint(Backend, SocketAddr),
}

#[derive(Debug, Default)]
pub struct Snapshot {
    pub table: RouteTable,
    pub pools: HashMap<Backend, Pool>,
}

impl Snapshot {
    pub fn target(&self, host: &str, path: &str) -> Target {
        let Some(backend) = route(&self.table, host, path) else {
            return Target::NoRoute;
        };
        match self.pools.get(&backend).and_then(Pool::pick) {
            Some(address) => Target::Endpoint(backend, address),
            None => Target::NoEndpoints(backend),
        }
    }
}

/// The Ingresses the controller of `class_name` serves, given every Ingress and class.
pub fn served<'a>(
    ingresses: &'a [Arc<Ingress>],
    classes: &[Arc<IngressClass>],
    class_name: &str,
) -> Vec<&'a Ingress> {
    let ours = classes
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(class_name));
    let default = class::is_default(ours.map(|c| c.as_ref()));
    ingresses
        .iter()
        .map(|i| i.as_ref())
        .filter(|i| i.metadata.deletion_timestamp.is_none())
        .filter(|i| table::serves(i, class_name, default))
        .collect()
}

/// Builds the snapshot from the served Ingresses and the current Services and slices.
pub fn build(
    served: &[&Ingress],
    services: &[Arc<Service>],
    slices: &[Arc<EndpointSlice>],
) -> Snapshot {
    let table = table::build(served);
    let pools = pools(table.backends(), services, slices);
    Snapshot { table, pools }
}

/// The current snapshot, shared by every connection.
#[derive(Debug, Default)]
pub struct Shared {
    current: RwLock<Arc<Snapshot>>,
}

impl Shared {
    pub fn get(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn replace(&self, snapshot: Snapshot) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
    }
}
