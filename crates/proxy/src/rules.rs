//! The rules as a pure function: one nftables table (family `ip`) from a [`Snapshot`].
//!
//! Lookups go through verdict maps keyed by `ip . proto . port` (and `proto . port` for node
//! ports), so a packet costs O(1) map lookups whatever the number of Services; each Service
//! port adds a handful of chains (entry, endpoint selection, one per endpoint).

use std::collections::BTreeMap;

use crate::config::ProxyConfig;
use crate::service_chains::{self, PortChains};
use crate::snapshot::Snapshot;

/// The packet mark bit asking `nat-postrouting` to masquerade.
pub const MASQUERADE_MARK: u32 = 0x4000;

/// The verdict maps and sets filled while walking the Services.
#[derive(Debug, Default)]
pub(crate) struct Maps {
    /// `ip . proto . port` → `goto svc-...` / `goto ext-...`.
    pub service_ips: BTreeMap<String, String>,
    /// `proto . port` → `goto ext-...`.
    pub service_nodeports: BTreeMap<String, String>,
    /// `ip . proto . port` of Service ports without endpoints → reject.
    pub no_endpoint_services: BTreeMap<String, String>,
    /// `proto . port` of node ports without endpoints → reject.
    pub no_endpoint_nodeports: BTreeMap<String, String>,
    /// Every ClusterIP (traffic to other ports of them is rejected).
    pub cluster_ips: Vec<String>,
}

/// The full text of our table, `table ip <cfg.table> { ... }`, for `nft -f`.
pub fn ruleset(snapshot: &Snapshot, cfg: &ProxyConfig) -> String {
    let mut maps = Maps::default();
    let mut sets = String::new();
    let mut chains = String::new();
    for svc in &snapshot.services {
        for port in &svc.ports {
            let PortChains { sets: s, chains: c } =
                service_chains::port_chains(svc, port, cfg, &mut maps);
            sets.push_str(&s);
            chains.push_str(&c);
        }
        for ip in &svc.cluster_ips {
            maps.cluster_ips.push(ip.to_string());
        }
    }
    maps.cluster_ips.sort();
    maps.cluster_ips.dedup();

    let mut out = format!("table ip {} {{\n", cfg.table);
    out.push_str("\tcomment \"gantry service proxy\"\n\n");
    out.push_str(&set("nodeport-ips", "ipv4_addr", &node_ip_elements(cfg)));
    out.push_str(&set("cluster-ips", "ipv4_addr", &maps.cluster_ips));
    out.push_str(&sets);
    out.push_str(&fixed_chains(cfg));
    out.push_str(&chains);
    let ip_key = "ipv4_addr . inet_proto . inet_service";
    let port_key = "inet_proto . inet_service";
    out.push_str(&verdict_map("service-ips", ip_key, &maps.service_ips));
    out.push_str(&verdict_map(
        "service-nodeports",
        port_key,
        &maps.service_nodeports,
    ));
    out.push_str(&verdict_map(
        "no-endpoint-services",
        ip_key,
        &maps.no_endpoint_services,
    ));
    out.push_str(&verdict_map(
        "no-endpoint-nodeports",
        port_key,
        &maps.no_endpoint_nodeports,
    ));
    out.push_str(&hook_chains());
    out.push_str("}\n");
    out
}

fn node_ip_elements(cfg: &ProxyConfig) -> Vec<String> {
    cfg.node_ipv4s().iter().map(|ip| ip.to_string()).collect()
}

fn set(name: &str, ty: &str, elements: &[String]) -> String {
    let mut out = format!("\tset {name} {{\n\t\ttype {ty}\n");
    if !elements.is_empty() {
        out.push_str(&format!("\t\telements = {{ {} }}\n", elements.join(", ")));
    }
    out.push_str("\t}\n\n");
    out
}

fn verdict_map(name: &str, key: &str, elements: &BTreeMap<String, String>) -> String {
    let mut out = format!("\tmap {name} {{\n\t\ttype {key} : verdict\n");
    if !elements.is_empty() {
        let items: Vec<String> = elements.iter().map(|(k, v)| format!("{k} : {v}")).collect();
        out.push_str(&format!(
            "\t\telements = {{ {} }}\n",
            items.join(",\n\t\t\t")
        ));
    }
    out.push_str("\t}\n\n");
    out
}

/// Chains every table has: marking, masquerading, rejecting and the checks the hooks call.
fn fixed_chains(cfg: &ProxyConfig) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\tchain mark-for-masquerade {{\n\t\tmeta mark set meta mark | {MASQUERADE_MARK:#x}\n\t}}\n\n"
    ));
    // Plain masquerade keeps the client's source port where it can: a new connection then
    // reuses the translated 4-tuple only with the client's own (monotonic) sequence numbers,
    // which an endpoint still in TIME_WAIT accepts. `fully-random` ports made such reuse carry
    // unrelated sequence numbers, answered with a challenge ACK: a 1 s SYN retransmit.
    out.push_str(&format!(
        "\tchain masquerading {{\n\
         \t\tmeta mark & {MASQUERADE_MARK:#x} == 0 return\n\
         \t\tmeta mark set meta mark ^ {MASQUERADE_MARK:#x}\n\
         \t\tmasquerade\n\t}}\n\n"
    ));
    out.push_str(
        "\tchain reject-chain {\n\
         \t\tmeta l4proto tcp reject with tcp reset\n\
         \t\treject\n\t}\n\n",
    );
    out.push_str(
        "\tchain nodeport-endpoints-check {\n\
         \t\tip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports\n\t}\n\n",
    );
    out.push_str(
        "\tchain service-endpoints-check {\n\
         \t\tip daddr . meta l4proto . th dport vmap @no-endpoint-services\n\t}\n\n",
    );
    out.push_str("\tchain cluster-ips-check {\n");
    out.push_str("\t\tip daddr @cluster-ips jump reject-chain\n");
    if let Some(cidr) = cfg.service_cidr() {
        out.push_str(&format!("\t\tip daddr {cidr} drop\n"));
    }
    out.push_str("\t}\n\n");
    out.push_str(
        "\tchain services {\n\
         \t\tip daddr . meta l4proto . th dport vmap @service-ips\n\
         \t\tip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports\n\t}\n\n",
    );
    out
}

/// The base chains hooked into netfilter. Filter chains run before DNAT (priority -110) to
/// reject Service ports without endpoints; `filter-output-post-dnat` and `filter-forward`
/// reject what is still addressed to a ClusterIP after DNAT (an unknown port).
fn hook_chains() -> String {
    let base = |name: &str, ty: &str, hook: &str, prio: &str, body: &[&str]| {
        let mut out = format!(
            "\tchain {name} {{\n\t\ttype {ty} hook {hook} priority {prio}; policy accept;\n"
        );
        for rule in body {
            out.push_str(&format!("\t\t{rule}\n"));
        }
        out.push_str("\t}\n\n");
        out
    };
    let mut out = String::new();
    out.push_str(&base(
        "filter-input",
        "filter",
        "input",
        "-110",
        &[
            "ct state new jump nodeport-endpoints-check",
            "ct state new jump service-endpoints-check",
        ],
    ));
    out.push_str(&base(
        "filter-forward",
        "filter",
        "forward",
        "-110",
        &[
            "ct state new jump service-endpoints-check",
            "ct state new jump cluster-ips-check",
        ],
    ));
    out.push_str(&base(
        "filter-output",
        "filter",
        "output",
        "-110",
        &[
            "ct state new jump nodeport-endpoints-check",
            "ct state new jump service-endpoints-check",
        ],
    ));
    out.push_str(&base(
        "filter-output-post-dnat",
        "filter",
        "output",
        "-90",
        &["ct state new jump cluster-ips-check"],
    ));
    out.push_str(&base(
        "nat-prerouting",
        "nat",
        "prerouting",
        "dstnat",
        &["jump services"],
    ));
    out.push_str(&base(
        "nat-output",
        "nat",
        "output",
        "-100",
        &["jump services"],
    ));
    out.push_str(&base(
        "nat-postrouting",
        "nat",
        "postrouting",
        "srcnat",
        &["jump masquerading"],
    ));
    out
}
