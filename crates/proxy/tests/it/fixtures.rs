//! Test objects: Services and EndpointSlices written as JSON, and a standard config.

use std::net::IpAddr;

use gantry_proxy::ProxyConfig;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::{Value, json};

pub const NODE: &str = "node-a";

pub fn cfg() -> ProxyConfig {
    ProxyConfig {
        node_name: NODE.to_string(),
        node_ips: vec!["192.168.77.1".parse::<IpAddr>().unwrap()],
        table: "gantry".to_string(),
        cluster_cidr: "10.42.0.0/16".to_string(),
        service_cidr: "10.43.0.0/16".to_string(),
    }
}

/// A Service `default/<name>` with the given spec (and optional status).
pub fn service(name: &str, spec: Value) -> Service {
    service_with_status(name, spec, json!({}))
}

pub fn service_with_status(name: &str, spec: Value, status: Value) -> Service {
    serde_json::from_value(json!({
        "metadata": { "name": name, "namespace": "default" },
        "spec": spec,
        "status": status,
    }))
    .unwrap()
}

/// A ClusterIP Service on port 80 named `http` targeting 8080.
pub fn web(name: &str, cluster_ip: &str) -> Service {
    service(
        name,
        json!({ "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                "ports": [{ "name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP" }] }),
    )
}

/// An endpoint on `node` with the given conditions.
pub fn endpoint(ip: &str, node: &str, ready: bool) -> Value {
    json!({ "addresses": [ip], "nodeName": node,
            "conditions": { "ready": ready, "serving": ready, "terminating": false } })
}

/// An EndpointSlice of Service `default/<service>` with one port `http`.
pub fn slice(service: &str, port: u16, endpoints: Vec<Value>) -> EndpointSlice {
    slice_ports(
        service,
        json!([{ "name": "http", "port": port, "protocol": "TCP" }]),
        endpoints,
    )
}

pub fn slice_ports(service: &str, ports: Value, endpoints: Vec<Value>) -> EndpointSlice {
    serde_json::from_value(json!({
        "metadata": { "name": format!("{service}-abc"), "namespace": "default",
                      "labels": { "kubernetes.io/service-name": service } },
        "addressType": "IPv4",
        "ports": ports,
        "endpoints": endpoints,
    }))
    .unwrap()
}
