//! gantry-ingress: the built-in ingress controller. Watches Ingresses of its class (and the
//! Services, EndpointSlices and TLS Secrets they refer to) and serves them through an
//! HTTP/HTTPS reverse proxy to the Services' ready endpoints.
//!
//! Decisions are pure: [`table::build`] merges Ingresses into a [`RouteTable`],
//! [`routes::route`] picks a backend for a request, [`endpoints::resolve`] turns a backend into
//! addresses, [`headers`] rewrites headers. `watch` feeds them from the API, `proxy` and
//! `listener` carry requests, `status` publishes the addresses, `tls` picks certificates.

use std::net::{IpAddr, SocketAddr};

pub mod class;
pub mod endpoints;
mod error;
pub mod headers;
mod listener;
mod proxy;
pub mod routes;
mod snapshot;
mod status;
pub mod table;
pub mod tls;
mod watch;

pub use error::IngressError;
pub use routes::route;
pub use table::{Backend, BackendPort, RouteTable};

/// What the ingress controller serves and where.
#[derive(Clone, Debug)]
pub struct IngressConfig {
    /// Plain HTTP listener.
    pub http: SocketAddr,
    /// HTTPS listener (TLS, ALPN h2 and http/1.1).
    pub https: SocketAddr,
    /// The IngressClass served; `gantry` by default.
    pub class: String,
    /// Addresses written to `status.loadBalancer.ingress` of served Ingresses.
    /// Empty: the InternalIPs of every Ready node.
    pub publish_ips: Vec<IpAddr>,
}

/// Runs the controller and both listeners until the future is dropped; returns only on a
/// fatal error (a listener cannot bind, the fallback certificate cannot be made).
pub async fn run(client: kube::Client, cfg: IngressConfig) -> Result<(), IngressError> {
    watch::run(client, cfg).await
}
