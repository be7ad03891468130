//! A snapshot of literal API objects shared by the record tables and the server tests.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;

use crate::snapshot::Snapshot;

fn service(namespace: &str, name: &str, spec: serde_json::Value) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }))
    .unwrap()
}

fn slice(
    namespace: &str,
    name: &str,
    service: &str,
    family: &str,
    endpoints: serde_json::Value,
    ports: serde_json::Value,
) -> EndpointSlice {
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": family,
        "endpoints": endpoints,
        "ports": ports,
    }))
    .unwrap()
}

pub(crate) fn cluster() -> Snapshot {
    let services = [
        service(
            "default",
            "web",
            json!({"type": "ClusterIP", "clusterIP": "10.43.0.20", "clusterIPs": ["10.43.0.20", "fd43::20"],
                   "ports": [{"name": "http", "port": 80, "protocol": "TCP"},
                             {"name": "dns", "port": 53, "protocol": "UDP"},
                             {"port": 9000}]}),
        ),
        service(
            "default",
            "np",
            json!({"type": "NodePort", "clusterIP": "10.43.0.21", "ports": [{"port": 80}]}),
        ),
        service(
            "default",
            "db",
            json!({"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}),
        ),
        service(
            "default",
            "warm",
            json!({"clusterIP": "None", "publishNotReadyAddresses": true}),
        ),
        service("default", "empty", json!({"clusterIP": "None"})),
        service(
            "default",
            "ext",
            json!({"type": "ExternalName", "externalName": "example.com."}),
        ),
        service(
            "default",
            "alias",
            json!({"type": "ExternalName", "externalName": "web.default.svc.cluster.local"}),
        ),
        service(
            "default",
            "loop",
            json!({"type": "ExternalName", "externalName": "loop.default.svc.cluster.local"}),
        ),
        service("other", "pending", json!({"type": "ClusterIP"})),
    ];
    let slices = [
        slice(
            "default",
            "db-a",
            "db",
            "IPv4",
            json!([
                {"addresses": ["10.42.0.5"], "hostname": "db-0", "conditions": {"ready": true}},
                {"addresses": ["10.42.0.6"], "conditions": {}},
                {"addresses": ["10.42.0.7"], "hostname": "db-2", "conditions": {"ready": false}},
            ]),
            json!([{"name": "pg", "port": 15432, "protocol": "TCP"}]),
        ),
        slice(
            "default",
            "warm-a",
            "warm",
            "IPv4",
            json!([{"addresses": ["10.42.1.9"], "conditions": {"ready": false}}]),
            json!([]),
        ),
        slice(
            "default",
            "gone-a",
            "gone",
            "IPv4",
            json!([{"addresses": ["10.42.9.9"]}]),
            json!([]),
        ),
        slice(
            "default",
            "db-fqdn",
            "db",
            "FQDN",
            json!([{"addresses": ["x.example.com"]}]),
            json!([]),
        ),
    ];
    Snapshot::build(&services, &slices)
}
