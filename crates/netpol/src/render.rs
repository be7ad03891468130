//! The ruleset as nftables text ([`render`]): one `inet` table whose forward-hook chain sends
//! packets to isolated local pods (and from them) through per-pod chains via verdict maps.

use std::fmt::Write;
use std::net::Ipv4Addr;

use crate::ruleset::{Peer, PortRange, Rule, Ruleset};

/// The family of our table.
pub const FAMILY: &str = "inet";

/// The full text of `table inet <table> { ... }` for `nft -f`.
///
/// Layout: named sets of peer addresses; verdict maps `ingress-pods` (destination address →
/// `jump` that pod's ingress chain) and `egress-pods` (source address → its egress chain);
/// the base chain `forward` (hook forward, priority filter) accepts established and related
/// packets, then consults both maps. An ingress chain `return`s when a rule allows the packet
/// (so the source's egress rules still apply) and drops otherwise; an egress chain accepts or
/// drops. Traffic from the node itself to its pods never crosses forward, so it passes.
pub fn render(ruleset: &Ruleset, table: &str) -> String {
    let mut out = format!("table {FAMILY} {table} {{\n");
    out.push_str("\tcomment \"gantry network policies\"\n\n");
    for (name, members) in &ruleset.peer_sets {
        let elements: Vec<String> = members.iter().map(Ipv4Addr::to_string).collect();
        out.push_str(&set(name, "ipv4_addr", &elements));
    }
    for (name, members) in &ruleset.port_sets {
        let elements: Vec<String> = members
            .iter()
            .map(|(ip, proto, port)| format!("{ip} . {} . {port}", proto.nft()))
            .collect();
        out.push_str(&set(
            name,
            "ipv4_addr . inet_proto . inet_service",
            &elements,
        ));
    }
    let mut ingress_map = Vec::new();
    let mut egress_map = Vec::new();
    let mut chains = String::new();
    for pod in &ruleset.pods {
        let id = pod.ip.to_string().replace('.', "-");
        if let Some(rules) = &pod.ingress {
            let chain = format!("ingress-{id}");
            ingress_map.push(format!("{} : jump {chain}", pod.ip));
            chains.push_str(&pod_chain(&chain, pod.ip, "saddr", rules, "return"));
        }
        if let Some(rules) = &pod.egress {
            let chain = format!("egress-{id}");
            egress_map.push(format!("{} : jump {chain}", pod.ip));
            chains.push_str(&pod_chain(&chain, pod.ip, "daddr", rules, "accept"));
        }
    }
    out.push_str(&verdict_map("ingress-pods", &ingress_map));
    out.push_str(&verdict_map("egress-pods", &egress_map));
    out.push_str(&chains);
    out.push_str(
        "\tchain forward {\n\
         \t\ttype filter hook forward priority filter; policy accept;\n\
         \t\tct state established,related accept\n\
         \t\tip daddr vmap @ingress-pods\n\
         \t\tip saddr vmap @egress-pods\n\
         \t}\n",
    );
    out.push_str("}\n");
    out
}

/// One pod's chain for one direction. `remote` is the header field holding the other end
/// (`saddr` for ingress, `daddr` for egress); `verdict` is what an allowed packet gets.
fn pod_chain(name: &str, ip: Ipv4Addr, remote: &str, rules: &[Rule], verdict: &str) -> String {
    let mut out = format!("\tchain {name} {{\n");
    // A pod cannot block traffic to itself (hairpin through a Service).
    let _ = writeln!(out, "\t\tip {remote} {ip} {verdict}");
    for rule in rules {
        for line in rule_lines(rule, remote) {
            let _ = writeln!(out, "\t\t{line} {verdict}");
        }
    }
    out.push_str("\t\tdrop\n\t}\n\n");
    out
}

/// The match expressions of one rule: one line per (peer, port range) pair.
fn rule_lines(rule: &Rule, remote: &str) -> Vec<String> {
    match rule {
        Rule::AllowSet { set } => {
            vec![format!("ip daddr . meta l4proto . th dport @{set}")]
        }
        Rule::Allow { peers, ports } => {
            let peers: Vec<String> = match peers {
                None => vec![String::new()],
                Some(list) => list.iter().map(|p| peer_match(p, remote)).collect(),
            };
            let ports: Vec<String> = match ports {
                None => vec![String::new()],
                Some(list) => list.iter().map(port_match).collect(),
            };
            let mut lines = Vec::new();
            for peer in &peers {
                for port in &ports {
                    let line = [peer.as_str(), port.as_str()]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" ");
                    // An empty match would be a bare verdict: the rule allows everything.
                    lines.push(if line.is_empty() {
                        "meta nfproto ipv4".to_string()
                    } else {
                        line
                    });
                }
            }
            lines
        }
    }
}

fn peer_match(peer: &Peer, remote: &str) -> String {
    match peer {
        Peer::Set(name) => format!("ip {remote} @{name}"),
        Peer::Block(block) if block.except.is_empty() => format!("ip {remote} {}", block.cidr),
        Peer::Block(block) => {
            let except: Vec<String> = block.except.iter().map(|c| c.to_string()).collect();
            format!(
                "ip {remote} {} ip {remote} != {{ {} }}",
                block.cidr,
                except.join(", ")
            )
        }
    }
}

fn port_match(range: &PortRange) -> String {
    let proto = range.protocol.nft();
    match range.ports {
        None => format!("meta l4proto {proto}"),
        Some((first, last)) if first == last => format!("meta l4proto {proto} th dport {first}"),
        Some((first, last)) => format!("meta l4proto {proto} th dport {first}-{last}"),
    }
}

fn set(name: &str, ty: &str, elements: &[String]) -> String {
    let mut out = format!("\tset {name} {{\n\t\ttype {ty}\n");
    if !elements.is_empty() {
        let _ = writeln!(out, "\t\telements = {{ {} }}", elements.join(", "));
    }
    out.push_str("\t}\n\n");
    out
}

fn verdict_map(name: &str, elements: &[String]) -> String {
    let mut out = format!("\tmap {name} {{\n\t\ttype ipv4_addr : verdict\n");
    if !elements.is_empty() {
        let _ = writeln!(out, "\t\telements = {{ {} }}", elements.join(",\n\t\t\t"));
    }
    out.push_str("\t}\n\n");
    out
}
