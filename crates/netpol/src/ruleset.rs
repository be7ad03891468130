//! The compiled form of the policies on one node: which local pods are isolated in which
//! direction and what each may exchange. Plain data, produced by [`crate::compile`] and turned
//! into nftables text by [`crate::render`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::selector::IpBlock;
use crate::snapshot::Protocol;

/// Everything our table holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ruleset {
    /// Named sets of pod addresses, one per distinct peer selector: name → addresses.
    pub peer_sets: BTreeMap<String, BTreeSet<Ipv4Addr>>,
    /// Named sets of `address . protocol . port` that egress rules with named ports allow
    /// (the port name resolved against each destination pod).
    pub port_sets: BTreeMap<String, BTreeSet<(Ipv4Addr, Protocol, u16)>>,
    /// The local pods isolated in at least one direction, sorted by address.
    pub pods: Vec<PodRules>,
}

/// The rules of one local pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRules {
    pub namespace: String,
    pub name: String,
    pub ip: Ipv4Addr,
    /// `Some` when isolated for ingress: what may reach the pod (empty = nothing).
    pub ingress: Option<Vec<Rule>>,
    /// `Some` when isolated for egress: what the pod may reach (empty = nothing).
    pub egress: Option<Vec<Rule>>,
}

/// One allow rule; a connection is allowed when any rule of its direction matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// The remote end is any of `peers` (`None` = anyone) and the destination port any of
    /// `ports` (`None` = any port and protocol).
    Allow {
        peers: Option<Vec<Peer>>,
        ports: Option<Vec<PortRange>>,
    },
    /// The destination `address . protocol . port` is in the named port set.
    AllowSet { set: String },
}

/// The remote end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Any address in the named peer set.
    Set(String),
    /// Any address in the block.
    Block(IpBlock),
}

/// A destination port range of one protocol (`None` = all ports of the protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortRange {
    pub protocol: Protocol,
    pub ports: Option<(u16, u16)>,
}

impl Ruleset {
    /// The rules of the local pod with address `ip`, if it is isolated.
    pub fn pod(&self, ip: Ipv4Addr) -> Option<&PodRules> {
        self.pods.iter().find(|p| p.ip == ip)
    }

    /// Whether a new connection from `src` to `dst:port/protocol` passes the rules (the
    /// decision the rendered table makes in the forward hook). For tests and diagnostics.
    pub fn allows(&self, src: Ipv4Addr, dst: Ipv4Addr, protocol: Protocol, port: u16) -> bool {
        if src == dst {
            return true;
        }
        let egress = self.pod(src).and_then(|p| p.egress.as_ref());
        let ingress = self.pod(dst).and_then(|p| p.ingress.as_ref());
        let egress_ok = egress.is_none_or(|rules| {
            rules
                .iter()
                .any(|r| self.rule_matches(r, dst, dst, protocol, port))
        });
        let ingress_ok = ingress.is_none_or(|rules| {
            rules
                .iter()
                .any(|r| self.rule_matches(r, src, dst, protocol, port))
        });
        egress_ok && ingress_ok
    }

    fn rule_matches(
        &self,
        rule: &Rule,
        remote: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: Protocol,
        port: u16,
    ) -> bool {
        match rule {
            Rule::Allow { peers, ports } => {
                let peer_ok = peers.as_ref().is_none_or(|peers| {
                    peers.iter().any(|peer| match peer {
                        Peer::Set(name) => self
                            .peer_sets
                            .get(name)
                            .is_some_and(|set| set.contains(&remote)),
                        Peer::Block(block) => block.contains(remote),
                    })
                });
                let port_ok = ports.as_ref().is_none_or(|ports| {
                    ports.iter().any(|range| {
                        range.protocol == protocol
                            && range.ports.is_none_or(|(lo, hi)| lo <= port && port <= hi)
                    })
                });
                peer_ok && port_ok
            }
            Rule::AllowSet { set } => self
                .port_sets
                .get(set)
                .is_some_and(|set| set.contains(&(dst, protocol, port))),
        }
    }
}
