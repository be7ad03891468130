//! NetworkPolicy enforcement: watches NetworkPolicies, Pods and Namespaces through the API and
//! programs one nftables table of its own (`table inet <table>`) on each node.
//!
//! The decisions are pure functions: [`compile`] turns a [`Snapshot`] into a [`Ruleset`] for
//! the pods of one node, [`render`] turns that into nftables text; [`run`] re-applies it
//! atomically (`nft -f -`, one transaction that replaces only our table) after each burst of
//! changes. Enforcement happens in the forward hook of the node where the pod runs: ingress
//! for packets to a local pod, egress for packets from one; replies of allowed connections
//! and traffic between the node and its own pods always pass.

mod compile;
mod error;
pub mod nft;
mod render;
mod ruleset;
mod selector;
mod snapshot;
mod update;
mod watch;

pub use compile::compile;
pub use error::NetpolError;
pub use render::{FAMILY, render};
pub use ruleset::{Peer, PodRules, PortRange, Rule, Ruleset};
pub use selector::{IpBlock, Ipv4Cidr};
pub use snapshot::{Labels, NAMESPACE_NAME_LABEL, NamedPort, PodInfo, Protocol, Snapshot};
pub use update::set_update;
pub use watch::run;

/// What [`run`] needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetpolConfig {
    /// This node's name: only pods with this `spec.nodeName` get rules.
    pub node_name: String,
    /// The name of our nftables table (family `inet`).
    pub table: String,
    /// The cluster's pod network (IPv4 CIDR), e.g. `10.42.0.0/16`.
    pub cluster_cidr: String,
}

/// Deletes our table `inet <table>` from this network namespace (nothing else). Errors are
/// logged: cleanup runs on shutdown paths that have nothing better to do with them.
pub async fn cleanup(table: &str) {
    if !nft::valid_table_name(table) {
        tracing::warn!(table, "not cleaning up: invalid table name");
        return;
    }
    if let Err(error) = nft::Nft::host().delete_table(table).await {
        tracing::warn!(%error, "removing the network policy table");
    }
}
