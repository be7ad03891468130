//! The service proxy: watches Services, EndpointSlices and Nodes through the API and programs
//! one nftables table of its own (ClusterIP, externalIPs, NodePort, LoadBalancer, session
//! affinity, traffic policies, masquerade and rejects for Services without endpoints).
//!
//! The rules are a pure function ([`ruleset`]) of a [`Snapshot`]; [`run`] rebuilds and
//! re-applies them atomically (`nft -f -`, one transaction that replaces only our table).

mod config;
mod error;
pub mod lb;
pub mod nft;
mod rules;
mod service_chains;
mod snapshot;
pub mod update;
mod watch;

pub use config::{Ipv4Cidr, ProxyConfig};
pub use error::ProxyError;
pub use lb::lb_status;
pub use rules::{MASQUERADE_MARK, ruleset};
pub use snapshot::{
    DEFAULT_AFFINITY_SECONDS, Endpoint, PortInfo, Protocol, SERVICE_NAME_LABEL, ServiceInfo,
    Snapshot,
};
pub use watch::run;

/// Deletes the proxy's table `ip <table>` from this network namespace (nothing else).
pub async fn cleanup(table: &str) -> Result<(), ProxyError> {
    if !config::valid_table_name(table) {
        return Err(ProxyError::Config(format!("invalid table name {table:?}")));
    }
    nft::Nft::host().delete_table(table).await
}
