//! The cluster every compile case runs against, and the one `check` helper: compile the
//! snapshot for node `n1` and assert which new connections the ruleset allows.

use std::net::Ipv4Addr;

use gantry_netpol::{NamedPort, PodInfo, Protocol, Ruleset, Snapshot, compile, render};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::{Value, json};

/// One pod: (namespace, name, node, ip, labels, named ports).
type PodRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [(&'static str, u16)],
);

/// The cluster.
pub const PODS: &[PodRow] = &[
    (
        "default",
        "web",
        "n1",
        "10.42.0.10",
        &[("app", "web")],
        &[("http", 8080)],
    ),
    (
        "default",
        "db",
        "n1",
        "10.42.0.11",
        &[("app", "db")],
        &[("pg", 5432)],
    ),
    (
        "default",
        "client",
        "n1",
        "10.42.0.12",
        &[("app", "client")],
        &[],
    ),
    (
        "other",
        "remote",
        "n2",
        "10.42.1.20",
        &[("app", "client")],
        &[],
    ),
    (
        "other",
        "x",
        "n2",
        "10.42.1.21",
        &[("app", "x")],
        &[("http", 9090)],
    ),
];
pub const EXTERNAL: &str = "192.168.5.5";

pub fn ip(name: &str) -> Ipv4Addr {
    let text = match PODS.iter().find(|p| p.1 == name) {
        Some(pod) => pod.3,
        None if name == "ext" => EXTERNAL,
        None => panic!("unknown endpoint {name}"),
    };
    text.parse().expect("test address")
}

pub fn snapshot(policies: &[Value]) -> Snapshot {
    let mut snapshot = Snapshot::default();
    snapshot.add_namespace("default", [("team".to_string(), "a".to_string())].into());
    snapshot.add_namespace("other", [("team".to_string(), "b".to_string())].into());
    for (namespace, name, node, ip, labels, ports) in PODS {
        snapshot.pods.push(PodInfo {
            namespace: namespace.to_string(),
            name: name.to_string(),
            node: Some(node.to_string()),
            ip: ip.parse().ok(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ports: ports
                .iter()
                .map(|(n, p)| NamedPort {
                    name: n.to_string(),
                    protocol: Protocol::Tcp,
                    port: *p,
                })
                .collect(),
        });
    }
    for (i, spec) in policies.iter().enumerate() {
        let namespace = spec.get("ns").and_then(Value::as_str).unwrap_or("default");
        let mut spec = spec.clone();
        if let Some(map) = spec.as_object_mut() {
            map.remove("ns");
        }
        let policy: NetworkPolicy = serde_json::from_value(json!({
            "metadata": {"name": format!("p{i}"), "namespace": namespace},
            "spec": spec,
        }))
        .expect("test policy");
        snapshot.policies.push(policy);
    }
    snapshot
}

/// Compiles `policies` for node n1 and checks (src, dst, protocol, port, allowed) tuples.
pub fn check(
    case: &str,
    policies: &[Value],
    expect: &[(&str, &str, Protocol, u16, bool)],
) -> Ruleset {
    let ruleset = compile(&snapshot(policies), "n1");
    for (src, dst, proto, port, want) in expect {
        let got = ruleset.allows(ip(src), ip(dst), *proto, *port);
        assert_eq!(
            got, *want,
            "{case}: {src} -> {dst} {proto:?}/{port}\n{ruleset:#?}"
        );
    }
    // Whatever the case, the text names only our table and has a forward chain.
    let text = render(&ruleset, "gantry_netpol");
    assert!(
        text.starts_with("table inet gantry_netpol {"),
        "{case}: {text}"
    );
    assert!(text.contains("hook forward"), "{case}");
    ruleset
}

pub const TCP: Protocol = Protocol::Tcp;
pub const UDP: Protocol = Protocol::Udp;

pub fn deny_all_ingress() -> Value {
    json!({"podSelector": {}, "policyTypes": ["Ingress"]})
}
