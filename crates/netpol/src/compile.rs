//! The policy decisions as a pure function: which local pods are isolated and what the union
//! of the rules of the policies selecting them allows ([`compile`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::ruleset::{Peer, PodRules, PortRange, Rule, Ruleset};
use crate::selector::{self, IpBlock};
use crate::snapshot::{PodInfo, Protocol, Snapshot};

/// A direction of traffic relative to the selected pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

/// One rule of a policy, either direction: its peers and ports as in the API.
struct ApiRule<'a> {
    peers: Option<&'a [NetworkPolicyPeer]>,
    ports: Option<&'a [NetworkPolicyPort]>,
}

/// Compiles the policies for the pods running on `node_name` (those with an address).
pub fn compile(snapshot: &Snapshot, node_name: &str) -> Ruleset {
    let mut builder = Builder {
        snapshot,
        ruleset: Ruleset::default(),
        peer_set_names: BTreeMap::new(),
    };
    let local = snapshot
        .pods
        .iter()
        .filter(|p| p.node.as_deref() == Some(node_name))
        .filter_map(|p| Some((p.ip?, p)));
    for (ip, pod) in local {
        let ingress = builder.direction(pod, Direction::Ingress);
        let egress = builder.direction(pod, Direction::Egress);
        if ingress.is_some() || egress.is_some() {
            builder.ruleset.pods.push(PodRules {
                namespace: pod.namespace.clone(),
                name: pod.name.clone(),
                ip,
                ingress,
                egress,
            });
        }
    }
    builder.ruleset.pods.sort_by_key(|p| p.ip);
    builder.ruleset.pods.dedup_by_key(|p| p.ip);
    builder.ruleset
}

/// The policy types in effect: as written, or by default Ingress plus Egress when the
/// policy has egress rules.
fn applies(policy: &NetworkPolicy, direction: Direction) -> bool {
    let Some(spec) = policy.spec.as_ref() else {
        return false;
    };
    match &spec.policy_types {
        Some(types) => types.iter().any(|t| match direction {
            Direction::Ingress => t == "Ingress",
            Direction::Egress => t == "Egress",
        }),
        None => match direction {
            Direction::Ingress => true,
            Direction::Egress => spec.egress.as_ref().is_some_and(|e| !e.is_empty()),
        },
    }
}

fn selects(policy: &NetworkPolicy, pod: &PodInfo) -> bool {
    let same_namespace = policy.metadata.namespace.as_deref() == Some(pod.namespace.as_str());
    let selector = policy.spec.as_ref().and_then(|s| s.pod_selector.as_ref());
    same_namespace && selector.is_none_or(|s| selector::matches(s, &pod.labels))
}

fn api_rules(policy: &NetworkPolicy, direction: Direction) -> Vec<ApiRule<'_>> {
    let Some(spec) = policy.spec.as_ref() else {
        return Vec::new();
    };
    match direction {
        Direction::Ingress => spec
            .ingress
            .iter()
            .flatten()
            .map(|r| ApiRule {
                peers: r.from.as_deref(),
                ports: r.ports.as_deref(),
            })
            .collect(),
        Direction::Egress => spec
            .egress
            .iter()
            .flatten()
            .map(|r| ApiRule {
                peers: r.to.as_deref(),
                ports: r.ports.as_deref(),
            })
            .collect(),
    }
}

struct Builder<'a> {
    snapshot: &'a Snapshot,
    ruleset: Ruleset,
    /// Peer selector key → set name, so equal selectors share one set.
    peer_set_names: BTreeMap<String, String>,
}

impl<'a> Builder<'a> {
    /// The rules of `pod` in `direction`, or `None` when no policy isolates it that way.
    fn direction(&mut self, pod: &PodInfo, direction: Direction) -> Option<Vec<Rule>> {
        let policies: Vec<&'a NetworkPolicy> = self
            .snapshot
            .policies
            .iter()
            .filter(|p| applies(p, direction) && selects(p, pod))
            .collect();
        if policies.is_empty() {
            return None;
        }
        let mut rules = Vec::new();
        for policy in policies {
            let namespace = policy.metadata.namespace.as_deref().unwrap_or_default();
            for rule in api_rules(policy, direction) {
                rules.extend(self.rule(namespace, &rule, pod, direction));
            }
        }
        Some(rules)
    }

    /// Compiles one API rule; no output when it can match nothing (all its ports unusable).
    fn rule(
        &mut self,
        namespace: &str,
        rule: &ApiRule<'_>,
        pod: &PodInfo,
        direction: Direction,
    ) -> Vec<Rule> {
        let api_peers = rule.peers.filter(|p| !p.is_empty());
        let peers = api_peers.map(|list| {
            list.iter()
                .filter_map(|peer| self.peer(namespace, peer))
                .collect::<Vec<_>>()
        });
        let Some(api_ports) = rule.ports.filter(|p| !p.is_empty()) else {
            return vec![Rule::Allow { peers, ports: None }];
        };
        let mut ranges = Vec::new();
        let mut named = Vec::new();
        for port in api_ports {
            let protocol = match port.protocol.as_deref() {
                None => Protocol::Tcp,
                Some(text) => match Protocol::parse(text) {
                    Some(p) => p,
                    None => continue,
                },
            };
            match &port.port {
                None => ranges.push(PortRange {
                    protocol,
                    ports: None,
                }),
                Some(IntOrString::Int(n)) => {
                    let Ok(first) = u16::try_from(*n) else {
                        continue;
                    };
                    let last = port
                        .end_port
                        .and_then(|e| u16::try_from(e).ok())
                        .filter(|e| *e >= first)
                        .unwrap_or(first);
                    if first > 0 {
                        ranges.push(PortRange {
                            protocol,
                            ports: Some((first, last)),
                        });
                    }
                }
                Some(IntOrString::String(name)) => match direction {
                    // The destination is the selected pod itself.
                    Direction::Ingress => {
                        if let Some(n) = resolve(pod, name, protocol) {
                            ranges.push(PortRange {
                                protocol,
                                ports: Some((n, n)),
                            });
                        }
                    }
                    Direction::Egress => named.push((name.as_str(), protocol)),
                },
            }
        }
        let mut out = Vec::new();
        if !ranges.is_empty() {
            ranges.sort();
            ranges.dedup();
            out.push(Rule::Allow {
                peers,
                ports: Some(ranges),
            });
        }
        if !named.is_empty() {
            out.push(self.named_port_set(namespace, api_peers, &named));
        }
        out
    }

    /// A set of `address . protocol . port` for egress to named ports: each destination pod
    /// the peers select, with the port the name has on that pod.
    fn named_port_set(
        &mut self,
        namespace: &str,
        peers: Option<&[NetworkPolicyPeer]>,
        named: &[(&str, Protocol)],
    ) -> Rule {
        let mut elements = BTreeSet::new();
        for pod in &self.snapshot.pods {
            let Some(ip) = pod.ip else { continue };
            let selected = peers.is_none_or(|peers| {
                peers
                    .iter()
                    .any(|peer| peer_selects(self.snapshot, namespace, peer, pod, ip))
            });
            if !selected {
                continue;
            }
            for (name, protocol) in named {
                if let Some(port) = resolve(pod, name, *protocol) {
                    elements.insert((ip, *protocol, port));
                }
            }
        }
        let sets = &mut self.ruleset.port_sets;
        // Pods selected by the same policy share one set.
        if let Some((set, _)) = sets.iter().find(|(_, e)| **e == elements) {
            return Rule::AllowSet { set: set.clone() };
        }
        let set = format!("dports-{}", sets.len());
        sets.insert(set.clone(), elements);
        Rule::AllowSet { set }
    }

    /// The compiled peer: a shared set of pod addresses, or an address block. `None` for
    /// peers that can match nothing here (an IPv6 or malformed block, an empty peer).
    fn peer(&mut self, namespace: &str, peer: &NetworkPolicyPeer) -> Option<Peer> {
        if let Some(block) = &peer.ip_block {
            return IpBlock::parse(&block.cidr, block.except.as_deref().unwrap_or_default())
                .map(Peer::Block);
        }
        let key = peer_key(namespace, peer)?;
        if let Some(name) = self.peer_set_names.get(&key) {
            return Some(Peer::Set(name.clone()));
        }
        let members = self
            .snapshot
            .pods
            .iter()
            .filter_map(|pod| {
                let ip = pod.ip?;
                peer_selects(self.snapshot, namespace, peer, pod, ip).then_some(ip)
            })
            .collect();
        let name = format!("peers-{}", self.peer_set_names.len());
        self.peer_set_names.insert(key, name.clone());
        self.ruleset.peer_sets.insert(name.clone(), members);
        Some(Peer::Set(name))
    }
}

/// What identifies a selector peer: its namespace scope and both selectors.
fn peer_key(namespace: &str, peer: &NetworkPolicyPeer) -> Option<String> {
    let canon = |s: &Option<LabelSelector>| s.as_ref().map(selector::canonical);
    match (canon(&peer.namespace_selector), canon(&peer.pod_selector)) {
        (None, None) => None,
        (None, Some(pods)) => Some(format!("in {namespace}: {pods}")),
        (Some(ns), pods) => Some(format!("ns {ns}: {}", pods.unwrap_or_default())),
    }
}

/// Whether `peer` (of a policy in `namespace`) selects `pod`, whose address is `ip`.
fn peer_selects(
    snapshot: &Snapshot,
    namespace: &str,
    peer: &NetworkPolicyPeer,
    pod: &PodInfo,
    ip: Ipv4Addr,
) -> bool {
    if let Some(block) = &peer.ip_block {
        let except = block.except.as_deref().unwrap_or_default();
        return IpBlock::parse(&block.cidr, except).is_some_and(|b| b.contains(ip));
    }
    let pods_ok = || {
        peer.pod_selector
            .as_ref()
            .is_none_or(|s| selector::matches(s, &pod.labels))
    };
    match (&peer.namespace_selector, &peer.pod_selector) {
        (None, None) => false,
        (None, Some(_)) => pod.namespace == namespace && pods_ok(),
        (Some(ns), _) => {
            selector::matches(ns, &snapshot.namespace_labels(&pod.namespace)) && pods_ok()
        }
    }
}

/// The port number `name` has on `pod` for `protocol`.
fn resolve(pod: &PodInfo, name: &str, protocol: Protocol) -> Option<u16> {
    pod.ports
        .iter()
        .find(|p| p.name == name && p.protocol == protocol)
        .map(|p| p.port)
}
