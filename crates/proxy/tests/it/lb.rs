//! Cases for `lb_status()` and `ready_node_ips()`.

use std::net::IpAddr;

use gantry_proxy::lb::{lb_status, ready_node_ips};
use k8s_openapi::api::core::v1::Node;
use serde_json::json;

use crate::fixtures::{service, service_with_status};

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|ip| ip.parse().unwrap()).collect()
}

fn ingress_ips(status: &k8s_openapi::api::core::v1::LoadBalancerStatus) -> Vec<String> {
    status
        .ingress
        .iter()
        .flatten()
        .filter_map(|i| i.ip.clone())
        .collect()
}

#[test]
fn lb_status_cases() {
    let nodes = ips(&["10.0.0.2", "10.0.0.1", "fd00::1"]);
    let lb = json!({ "type": "LoadBalancer", "clusterIP": "10.43.0.9", "ports": [{ "port": 80 }] });

    // Not a LoadBalancer: not ours.
    let cluster_ip = service("a", json!({ "clusterIP": "10.43.0.9" }));
    assert_eq!(lb_status(&cluster_ip, &nodes), None);

    // New LoadBalancer: all IPv4 node IPs, sorted, VIP mode.
    let fresh = service("b", lb.clone());
    let status = lb_status(&fresh, &nodes).expect("needs a status");
    assert_eq!(ingress_ips(&status), ["10.0.0.1", "10.0.0.2"]);
    assert!(
        status
            .ingress
            .iter()
            .flatten()
            .all(|i| i.ip_mode.as_deref() == Some("VIP"))
    );

    // Already right: nothing to patch (idempotent across proxies).
    let done = service_with_status(
        "c",
        lb.clone(),
        json!({ "loadBalancer": { "ingress": [
        { "ip": "10.0.0.1", "ipMode": "VIP" }, { "ip": "10.0.0.2", "ipMode": "VIP" }] } }),
    );
    assert_eq!(lb_status(&done, &nodes), None);

    // A node left: shrink.
    let status = lb_status(&done, &ips(&["10.0.0.2"])).expect("must shrink");
    assert_eq!(ingress_ips(&status), ["10.0.0.2"]);

    // Another controller's class: leave it alone.
    let mut classy = lb.clone();
    classy["loadBalancerClass"] = json!("example.com/lb");
    assert_eq!(lb_status(&service("d", classy), &nodes), None);

    // Dual-stack Service gets both families.
    let mut dual = lb.clone();
    dual["ipFamilies"] = json!(["IPv4", "IPv6"]);
    let status = lb_status(&service("e", dual), &nodes).expect("needs a status");
    assert_eq!(ingress_ips(&status), ["10.0.0.1", "10.0.0.2", "fd00::1"]);
}

fn node(name: &str, ip: &str, ready: &str) -> Node {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "status": {
            "addresses": [{ "type": "InternalIP", "address": ip }, { "type": "Hostname", "address": name }],
            "conditions": [{ "type": "Ready", "status": ready }],
        },
    }))
    .unwrap()
}

#[test]
fn ready_node_ips_skips_unready_nodes() {
    let nodes = [
        node("b", "10.0.0.2", "True"),
        node("a", "10.0.0.1", "True"),
        node("c", "10.0.0.3", "Unknown"),
    ];
    assert_eq!(ready_node_ips(&nodes), ips(&["10.0.0.1", "10.0.0.2"]));
}
