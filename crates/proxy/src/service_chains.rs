//! The chains of one Service port: the ClusterIP entry (`svc-`), the external entry for node
//! ports, externalIPs and LoadBalancer IPs (`ext-`), endpoint selection over all endpoints
//! (`cluster-`) or this node's (`local-`), and one DNAT chain per endpoint (`ep-`), with
//! ClientIP affinity sets (`aff-`) when the Service asks for it.

use crate::config::ProxyConfig;
use crate::rules::Maps;
use crate::snapshot::{Endpoint, PortInfo, ServiceInfo};

/// Text generated for one Service port: set declarations and chains.
#[derive(Debug, Default)]
pub(crate) struct PortChains {
    pub sets: String,
    pub chains: String,
}

/// Keeps API-provided names to characters nft accepts inside an identifier.
fn clean(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `namespace/name/proto/port-name-or-number`, the stem of every object of this port.
fn stem(svc: &ServiceInfo, port: &PortInfo) -> String {
    let port_id = if port.name.is_empty() {
        port.port.to_string()
    } else {
        clean(&port.name)
    };
    format!(
        "{}/{}/{}/{}",
        clean(&svc.namespace),
        clean(&svc.name),
        port.protocol.nft(),
        port_id
    )
}

fn endpoint_id(stem: &str, ep: &Endpoint) -> String {
    format!("{stem}/{}/{}", ep.ip, ep.port)
}

/// Emits the chains of `port` and registers its map elements in `maps`.
pub(crate) fn port_chains(
    svc: &ServiceInfo,
    port: &PortInfo,
    cfg: &ProxyConfig,
    maps: &mut Maps,
) -> PortChains {
    let stem = stem(svc, port);
    let proto = port.protocol.nft();
    let all = port.usable_endpoints(None);
    let node_port = port.node_port.filter(|_| svc.node_ports);
    let has_external = node_port.is_some() || !svc.external_ips.is_empty();

    if all.is_empty() {
        let reject = "goto reject-chain".to_string();
        for ip in svc.cluster_ips.iter().chain(&svc.external_ips) {
            let key = format!("{ip} . {proto} . {}", port.port);
            maps.no_endpoint_services
                .entry(key)
                .or_insert_with(|| reject.clone());
        }
        if let Some(np) = node_port {
            maps.no_endpoint_nodeports
                .entry(format!("{proto} . {np}"))
                .or_insert(reject);
        }
        return PortChains::default();
    }

    let local = port.usable_endpoints(Some(&cfg.node_name));
    let need_local = svc.internal_local || (svc.external_local && has_external);
    let need_cluster = !svc.internal_local || has_external;
    let mut out = PortChains::default();

    // Endpoint chains (and affinity sets) for every endpoint some selection chain may pick.
    let mut used: Vec<&Endpoint> = if need_cluster {
        all.clone()
    } else {
        local.clone()
    };
    used.sort();
    for ep in &used {
        let id = endpoint_id(&stem, ep);
        let mut body = vec![format!("ip saddr {} jump mark-for-masquerade", ep.ip)];
        if let Some(timeout) = svc.affinity_seconds {
            out.sets.push_str(&format!(
                "\tset aff-{id} {{\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout {timeout}s\n\t}}\n\n"
            ));
            body.push(format!("update @aff-{id} {{ ip saddr }}"));
        }
        body.push(format!(
            "meta l4proto {proto} dnat to {}:{}",
            ep.ip, ep.port
        ));
        out.chains.push_str(&chain(&format!("ep-{id}"), &body));
    }

    if need_cluster {
        let body = selection(&stem, &all, svc.affinity_seconds.is_some());
        out.chains
            .push_str(&chain(&format!("cluster-{stem}"), &body));
    }
    if need_local {
        let body = selection(&stem, &local, svc.affinity_seconds.is_some());
        out.chains.push_str(&chain(&format!("local-{stem}"), &body));
    }

    // ClusterIP entry: masquerade what comes from outside the pod network.
    let mut body = Vec::new();
    if let Some(cidr) = cfg.cluster_cidr() {
        body.push(format!("ip saddr != {cidr} jump mark-for-masquerade"));
    }
    let internal = if svc.internal_local {
        "local"
    } else {
        "cluster"
    };
    body.push(format!("goto {internal}-{stem}"));
    out.chains.push_str(&chain(&format!("svc-{stem}"), &body));
    for ip in &svc.cluster_ips {
        maps.service_ips
            .entry(format!("{ip} . {proto} . {}", port.port))
            .or_insert_with(|| format!("goto svc-{stem}"));
    }

    if has_external {
        let body = if svc.external_local {
            let mut body = Vec::new();
            if let Some(cidr) = cfg.cluster_cidr() {
                // Pods reaching an external address get the cluster-wide behaviour.
                body.push(format!("ip saddr {cidr} goto cluster-{stem}"));
            }
            // The node itself cannot keep its source address: masquerade, any endpoint.
            body.push("fib saddr type local jump mark-for-masquerade".to_string());
            body.push(format!("fib saddr type local goto cluster-{stem}"));
            body.push(format!("goto local-{stem}"));
            body
        } else {
            vec![
                "jump mark-for-masquerade".to_string(),
                format!("goto cluster-{stem}"),
            ]
        };
        out.chains.push_str(&chain(&format!("ext-{stem}"), &body));
        for ip in &svc.external_ips {
            maps.service_ips
                .entry(format!("{ip} . {proto} . {}", port.port))
                .or_insert_with(|| format!("goto ext-{stem}"));
        }
        if let Some(np) = node_port {
            maps.service_nodeports
                .entry(format!("{proto} . {np}"))
                .or_insert_with(|| format!("goto ext-{stem}"));
        }
    }
    out
}

/// Rules choosing an endpoint: first a remembered one (ClientIP affinity), then a random one.
/// No endpoint at all (e.g. no local one for a `Local` policy) drops the packet.
fn selection(stem: &str, endpoints: &[&Endpoint], affinity: bool) -> Vec<String> {
    if endpoints.is_empty() {
        return vec!["drop".to_string()];
    }
    let mut body = Vec::new();
    if affinity {
        for ep in endpoints {
            let id = endpoint_id(stem, ep);
            body.push(format!("ip saddr @aff-{id} goto ep-{id}"));
        }
    }
    let arms: Vec<String> = endpoints
        .iter()
        .enumerate()
        .map(|(i, ep)| format!("{i} : goto ep-{}", endpoint_id(stem, ep)))
        .collect();
    body.push(format!(
        "numgen random mod {} vmap {{ {} }}",
        endpoints.len(),
        arms.join(", ")
    ));
    body
}

fn chain(name: &str, body: &[String]) -> String {
    let mut out = format!("\tchain {name} {{\n");
    for rule in body {
        out.push_str(&format!("\t\t{rule}\n"));
    }
    out.push_str("\t}\n\n");
    out
}
