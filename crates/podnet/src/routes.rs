//! Routes to the other nodes' pods and the masquerade rule, in the node's network namespace:
//! desired routes are a pure function of the Node objects; a watch keeps them current.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::runtime::watcher::{self, Event};

use crate::run;

/// podCIDR -> next hop (the owning node's InternalIP), for every node but `me`.
pub fn desired_routes(nodes: &[Node], me: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for n in nodes {
        if n.metadata.name.as_deref() == Some(me) {
            continue;
        }
        let Some(cidr) = n.spec.as_ref().and_then(|s| s.pod_cidr.clone()) else {
            continue;
        };
        let ip = n
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
            .map(|a| a.address.clone());
        if let Some(ip) = ip {
            out.insert(cidr, ip);
        }
    }
    out
}

/// The nftables table that masquerades pod traffic leaving the cluster CIDR (pod-to-pod
/// traffic across nodes keeps its source address).
pub fn masquerade_table(table: &str, cluster_cidr: &str) -> String {
    format!(
        "table ip {table} {{}}\ndelete table ip {table}\ntable ip {table} {{\n  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n    ip saddr {cluster_cidr} ip daddr != {cluster_cidr} masquerade\n  }}\n}}\n"
    )
}

/// Routes currently installed for pod CIDRs inside `cluster_cidr`'s first octets (ours).
async fn installed(proto: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(text) = run("ip", &["-4", "route", "show", "proto", proto], None).await else {
        return out;
    };
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let (Some(dst), Some(pos)) = (parts.first(), parts.iter().position(|p| *p == "via")) {
            if let Some(via) = parts.get(pos + 1) {
                out.insert(dst.to_string(), via.to_string());
            }
        }
    }
    out
}

/// The routing protocol number our routes carry, so we only ever touch our own.
const PROTO: &str = "198";

async fn reconcile(desired: &BTreeMap<String, String>) {
    let current = installed(PROTO).await;
    for (cidr, via) in desired {
        if current.get(cidr) != Some(via) {
            if let Err(err) = run(
                "ip",
                &["route", "replace", cidr, "via", via, "proto", PROTO],
                None,
            )
            .await
            {
                tracing::warn!(%cidr, %via, %err, "adding the route to a node's pods failed");
            }
        }
    }
    for cidr in current.keys().filter(|c| !desired.contains_key(*c)) {
        let _ = run("ip", &["route", "del", cidr, "proto", PROTO], None).await;
    }
}

/// The masquerade table of `node` (one per node: several nodes may share a network namespace).
pub fn table_name(node: &str) -> String {
    gantry_nft::node_table("gantry_podnet", node)
}

/// Keeps routes to other nodes' pods and the masquerade table current, forever.
pub async fn run_routes(client: kube::Client, node_name: String, cluster_cidr: String) {
    if let Err(err) = run(
        "nft",
        &["-f", "-"],
        Some(&masquerade_table(&table_name(&node_name), &cluster_cidr)),
    )
    .await
    {
        tracing::warn!(%err, "installing the pod masquerade rule failed");
    }
    let api: Api<Node> = Api::all(client);
    let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    let mut listing: Option<BTreeMap<String, Node>> = None;
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(Event::Apply(n)) => {
                nodes.insert(n.metadata.name.clone().unwrap_or_default(), n);
            }
            Ok(Event::Delete(n)) => {
                nodes.remove(n.metadata.name.as_deref().unwrap_or_default());
            }
            Ok(Event::Init) => listing = Some(BTreeMap::new()),
            Ok(Event::InitApply(n)) => {
                if let Some(l) = listing.as_mut() {
                    l.insert(n.metadata.name.clone().unwrap_or_default(), n);
                }
                continue;
            }
            Ok(Event::InitDone) => nodes = listing.take().unwrap_or_default(),
            Err(err) => {
                tracing::warn!(%err, "node watch failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        let all: Vec<Node> = nodes.values().cloned().collect();
        reconcile(&desired_routes(&all, &node_name)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, cidr: Option<&str>, ip: Option<&str>) -> Node {
        let mut v = json!({"metadata": {"name": name}, "spec": {}, "status": {"addresses": []}});
        if let Some(c) = cidr {
            v["spec"]["podCIDR"] = json!(c);
        }
        if let Some(ip) = ip {
            v["status"]["addresses"] = json!([{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}]);
        }
        serde_json::from_value(v).expect("node")
    }

    #[test]
    fn routes_to_every_other_node_with_a_cidr_and_an_address() {
        let nodes = vec![
            node("a", Some("10.42.0.0/24"), Some("172.31.0.11")),
            node("b", Some("10.42.1.0/24"), Some("172.31.0.12")),
            node("c", None, Some("172.31.0.13")),
            node("d", Some("10.42.3.0/24"), None),
        ];
        let r = desired_routes(&nodes, "a");
        assert_eq!(r.len(), 1);
        assert_eq!(
            r.get("10.42.1.0/24").map(String::as_str),
            Some("172.31.0.12")
        );
    }

    #[test]
    fn masquerade_only_leaving_the_cluster() {
        let t = masquerade_table("gantry_podnet", "10.42.0.0/16");
        assert!(t.contains("ip saddr 10.42.0.0/16 ip daddr != 10.42.0.0/16 masquerade"));
        assert!(t.starts_with("table ip gantry_podnet {}\ndelete table ip gantry_podnet\n"));
    }
}
