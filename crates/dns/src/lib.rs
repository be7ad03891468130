//! Cluster DNS: answers `<svc>.<ns>.svc.<domain>` and friends from watched Services and
//! EndpointSlices, per the Kubernetes DNS-Based Service Discovery specification, and forwards
//! every other name to the host's resolvers.
//!
//! `snapshot` flattens API objects, `records` is the pure rule set (`answer`), `server` is the
//! hickory front end, `forward` + `cache` talk to upstreams, `watch` keeps the snapshot fresh.

mod cache;
mod error;
mod forward;
pub mod publish;
mod records;
mod resolv_conf;
mod server;
mod snapshot;
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::Name;
use tokio::sync::watch as channel;

pub use cache::{Cached, cache_ttl};
pub use error::{DnsError, ForwardError};
pub use records::{Answer, TTL, answer, soa};
pub use resolv_conf::upstreams_from_resolv_conf;
pub use snapshot::{EndpointEntry, PortEntry, ServiceEntry, ServiceKind, Snapshot};

/// What [`serve`] listens on and how it answers.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// UDP and TCP are served on each address (port 0: UDP picks, TCP follows).
    pub listen: Vec<SocketAddr>,
    /// `cluster.local`, with or without the trailing dot.
    pub cluster_domain: String,
    /// Resolvers for non-cluster names; empty = REFUSED for them.
    pub upstreams: Vec<SocketAddr>,
    /// TTL of the SOA sent with NXDOMAIN and NODATA answers for cluster names.
    pub negative_ttl: Duration,
}

/// Serves cluster DNS until the listeners fail. Binding errors are returned at once.
pub async fn serve(client: kube::Client, cfg: DnsConfig) -> Result<(), DnsError> {
    let (sender, receiver) = channel::channel(Arc::new(Snapshot::default()));
    let handler = handler(&cfg, receiver)?;
    let (mut server, bound) = server::bind(handler, &cfg.listen).await?;
    tracing::info!(?bound, domain = %cfg.cluster_domain, "cluster dns serving");
    tokio::select! {
        () = watch::run(client, sender) => Ok(()),
        served = server.block_until_done() => served.map_err(DnsError::Serve),
    }
}

/// The request handler for `cfg`, reading snapshots from `snapshot`.
fn handler(
    cfg: &DnsConfig,
    snapshot: channel::Receiver<Arc<Snapshot>>,
) -> Result<server::Handler, DnsError> {
    let domain = cluster_domain(&cfg.cluster_domain)?;
    let forwarder = (!cfg.upstreams.is_empty())
        .then(|| Arc::new(forward::Forwarder::new(cfg.upstreams.clone())));
    Ok(server::Handler {
        snapshot,
        domain,
        negative_ttl: u32::try_from(cfg.negative_ttl.as_secs()).unwrap_or(u32::MAX),
        forwarder,
    })
}

/// `cluster.local` -> the fully qualified, lowercase `cluster.local.`.
pub fn cluster_domain(text: &str) -> Result<Name, DnsError> {
    let fqdn = format!("{}.", text.trim_end_matches('.'));
    Name::from_ascii(&fqdn)
        .map(|name| name.to_lowercase())
        .map_err(|source| DnsError::ClusterDomain {
            domain: text.to_string(),
            source,
        })
}
