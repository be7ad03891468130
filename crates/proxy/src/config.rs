//! The proxy's configuration and its validation (CIDRs and the table name end up in nft text).

use std::net::{IpAddr, Ipv4Addr};

use crate::ProxyError;

/// What the proxy needs to know about the node it programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// This node's name: endpoints with this `nodeName` are local.
    pub node_name: String,
    /// The node's addresses NodePorts answer on (IPv4 ones are used; the table is `ip` family).
    pub node_ips: Vec<IpAddr>,
    /// Name of the nftables table the proxy owns, e.g. `gantry`.
    pub table: String,
    /// The pod network, e.g. `10.42.0.0/16`: traffic from outside it is masqueraded.
    pub cluster_cidr: String,
    /// The Service ClusterIP range, e.g. `10.43.0.0/16`: unallocated IPs in it are dropped.
    pub service_cidr: String,
}

/// An IPv4 prefix, parsed so that only well-formed text reaches nft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl Ipv4Cidr {
    /// Parses `a.b.c.d/len` (or a bare address, as /32).
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, len) = match text.split_once('/') {
            Some((addr, len)) => (addr, len.parse::<u8>().ok()?),
            None => (text, 32),
        };
        let addr: Ipv4Addr = addr.trim().parse().ok()?;
        (len <= 32).then_some(Ipv4Cidr { addr, len })
    }
}

impl std::fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl ProxyConfig {
    /// The cluster CIDR, when it is a valid IPv4 prefix.
    pub fn cluster_cidr(&self) -> Option<Ipv4Cidr> {
        Ipv4Cidr::parse(&self.cluster_cidr)
    }

    /// The service CIDR, when it is a valid IPv4 prefix.
    pub fn service_cidr(&self) -> Option<Ipv4Cidr> {
        Ipv4Cidr::parse(&self.service_cidr)
    }

    /// The node's IPv4 addresses, sorted and de-duplicated.
    pub fn node_ipv4s(&self) -> Vec<Ipv4Addr> {
        let mut ips: Vec<Ipv4Addr> = self
            .node_ips
            .iter()
            .filter_map(|ip| match ip {
                IpAddr::V4(v4) => Some(*v4),
                IpAddr::V6(_) => None,
            })
            .collect();
        ips.sort();
        ips.dedup();
        ips
    }

    /// Checks every field that is written into nft text.
    pub fn validate(&self) -> Result<(), ProxyError> {
        if !valid_table_name(&self.table) {
            return Err(ProxyError::Config(format!(
                "table name {:?} must be letters, digits, '_' or '-', starting with a letter",
                self.table
            )));
        }
        if self.cluster_cidr().is_none() {
            return Err(ProxyError::Config(format!(
                "cluster CIDR {:?} is not an IPv4 prefix",
                self.cluster_cidr
            )));
        }
        if self.service_cidr().is_none() {
            return Err(ProxyError::Config(format!(
                "service CIDR {:?} is not an IPv4 prefix",
                self.service_cidr
            )));
        }
        Ok(())
    }
}

/// Whether `name` is safe to use unquoted as an nft table name.
pub fn valid_table_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.len() <= 64
}
