//! Tables of NetworkPolicy cases: each compiles a snapshot for node `n1` and checks which
//! new connections the ruleset allows.

use std::net::Ipv4Addr;

use gantry_netpol::{NamedPort, PodInfo, Protocol, Ruleset, Snapshot, compile, render};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::{Value, json};

/// The cluster: (namespace, name, node, ip, labels, named ports).
const PODS: &[(&str, &str, &str, &str, &[(&str, &str)], &[(&str, u16)])] = &[
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
const EXTERNAL: &str = "192.168.5.5";

fn ip(name: &str) -> Ipv4Addr {
    let text = match PODS.iter().find(|p| p.1 == name) {
        Some(pod) => pod.3,
        None if name == "ext" => EXTERNAL,
        None => panic!("unknown endpoint {name}"),
    };
    text.parse().expect("test address")
}

fn snapshot(policies: &[Value]) -> Snapshot {
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
fn check(case: &str, policies: &[Value], expect: &[(&str, &str, Protocol, u16, bool)]) -> Ruleset {
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

const TCP: Protocol = Protocol::Tcp;
const UDP: Protocol = Protocol::Udp;

fn deny_all_ingress() -> Value {
    json!({"podSelector": {}, "policyTypes": ["Ingress"]})
}

#[test]
fn no_policy_allows_everything() {
    let ruleset = check(
        "no policy",
        &[],
        &[
            ("client", "web", TCP, 80, true),
            ("remote", "db", UDP, 53, true),
            ("web", "ext", TCP, 443, true),
        ],
    );
    assert!(ruleset.pods.is_empty());
}

#[test]
fn default_deny_ingress() {
    let ruleset = check(
        "default deny",
        &[deny_all_ingress()],
        &[
            ("client", "web", TCP, 80, false),
            ("remote", "db", TCP, 5432, false),
            ("web", "ext", TCP, 443, true),
            // A pod cannot block itself.
            ("web", "web", TCP, 80, true),
            // Pods of other nodes are enforced there.
            ("client", "remote", TCP, 80, true),
        ],
    );
    assert_eq!(ruleset.pods.len(), 3);
    assert!(
        ruleset
            .pods
            .iter()
            .all(|p| p.ingress.as_deref() == Some(&[]) && p.egress.is_none())
    );
    // `ingress: []` without policyTypes also denies.
    check(
        "empty rules",
        &[json!({"podSelector": {}, "ingress": []})],
        &[("client", "web", TCP, 80, false)],
    );
}

#[test]
fn allow_by_pod_selector() {
    let allow = json!({
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}],
    });
    check(
        "pod selector",
        &[deny_all_ingress(), allow],
        &[
            ("client", "web", TCP, 80, true),
            ("client", "web", UDP, 53, true),
            ("db", "web", TCP, 80, false),
            // Same label, other namespace: a bare podSelector means the policy's namespace.
            ("remote", "web", TCP, 80, false),
            ("client", "db", TCP, 5432, false),
        ],
    );
}

#[test]
fn allow_by_namespace_selector_and_both() {
    let by_ns = json!({
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "b"}}}]}],
    });
    check(
        "namespace selector",
        &[by_ns],
        &[
            ("remote", "web", TCP, 80, true),
            ("x", "web", TCP, 80, true),
            ("client", "web", TCP, 80, false),
        ],
    );
    let both = json!({
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{
            "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["other"]}]},
            "podSelector": {"matchLabels": {"app": "client"}},
        }]}],
    });
    check(
        "both selectors",
        &[both],
        &[
            ("remote", "web", TCP, 80, true),
            ("x", "web", TCP, 80, false),
            ("client", "web", TCP, 80, false),
        ],
    );
    let all_namespaces = json!({
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "client"}}}]}],
    });
    check(
        "empty namespace selector",
        &[all_namespaces],
        &[
            ("remote", "web", TCP, 80, true),
            ("client", "web", TCP, 80, true),
            ("x", "web", TCP, 80, false),
        ],
    );
}

#[test]
fn ip_block_with_except() {
    let block = json!({
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{"ipBlock": {"cidr": "10.42.0.0/16", "except": ["10.42.1.0/24"]}}]}],
    });
    check(
        "ip block",
        &[block],
        &[
            ("client", "web", TCP, 80, true),
            ("remote", "web", TCP, 80, false),
            ("ext", "web", TCP, 80, false),
        ],
    );
    let egress = json!({
        "podSelector": {"matchLabels": {"app": "client"}},
        "egress": [{"to": [{"ipBlock": {"cidr": "192.168.0.0/16"}}]}],
    });
    check(
        "egress ip block",
        &[egress],
        &[
            ("client", "ext", TCP, 443, true),
            ("client", "web", TCP, 80, false),
        ],
    );
}

#[test]
fn ports_named_and_ranges() {
    let named = json!({
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"ports": [{"port": "http"}]}],
    });
    check(
        "named port",
        &[named],
        &[
            ("client", "web", TCP, 8080, true),
            ("client", "web", TCP, 80, false),
            ("client", "web", UDP, 8080, false),
        ],
    );
    let unknown = json!({"podSelector": {}, "ingress": [{"ports": [{"port": "nope"}]}]});
    check(
        "unresolved named port",
        &[unknown],
        &[("client", "web", TCP, 8080, false)],
    );
    let range = json!({
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"ports": [{"port": 8000, "endPort": 8100}, {"protocol": "UDP", "port": 53}]}],
    });
    check(
        "end port",
        &[range],
        &[
            ("client", "web", TCP, 8000, true),
            ("client", "web", TCP, 8100, true),
            ("client", "web", TCP, 8101, false),
            ("client", "web", UDP, 53, true),
            ("client", "web", TCP, 53, false),
        ],
    );
    let protocol_only = json!({"podSelector": {}, "ingress": [{"ports": [{"protocol": "SCTP"}]}]});
    check(
        "protocol only",
        &[protocol_only],
        &[
            ("client", "web", Protocol::Sctp, 9, true),
            ("client", "web", TCP, 9, false),
        ],
    );
}

#[test]
fn egress() {
    let deny =
        json!({"podSelector": {"matchLabels": {"app": "client"}}, "policyTypes": ["Egress"]});
    check(
        "egress deny",
        &[deny.clone()],
        &[
            ("client", "web", TCP, 80, false),
            ("client", "ext", TCP, 443, false),
            ("web", "client", TCP, 80, true),
        ],
    );
    let to_db = json!({
        "podSelector": {"matchLabels": {"app": "client"}},
        "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": "pg"}]}],
    });
    let ruleset = check(
        "egress named port",
        &[deny, to_db.clone()],
        &[
            ("client", "db", TCP, 5432, true),
            ("client", "db", TCP, 5433, false),
            ("client", "web", TCP, 5432, false),
        ],
    );
    assert_eq!(ruleset.port_sets.len(), 1);
    // Egress rules without policyTypes isolate for both directions.
    check(
        "default policy types",
        &[to_db],
        &[
            ("client", "db", TCP, 5432, true),
            ("client", "web", TCP, 80, false),
            ("web", "client", TCP, 80, false),
        ],
    );
    // Named ports to any destination resolve per destination pod.
    let any_http = json!({"podSelector": {"matchLabels": {"app": "client"}}, "egress": [{"ports": [{"port": "http"}]}]});
    check(
        "egress named port anywhere",
        &[any_http],
        &[
            ("client", "web", TCP, 8080, true),
            ("client", "x", TCP, 9090, true),
            ("client", "x", TCP, 8080, false),
        ],
    );
}

#[test]
fn policy_types_limit_direction() {
    let egress_only = json!({
        "podSelector": {},
        "policyTypes": ["Egress"],
        "ingress": [],
        "egress": [{}],
    });
    let ruleset = check(
        "egress only",
        &[egress_only],
        &[
            ("client", "web", TCP, 80, true),
            ("web", "ext", TCP, 1, true),
        ],
    );
    assert!(
        ruleset
            .pods
            .iter()
            .all(|p| p.ingress.is_none() && p.egress.is_some())
    );
}

#[test]
fn union_of_policies_and_removal() {
    let from_client = json!({
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}], "ports": [{"port": 80}]}],
    });
    let from_db = json!({
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": 5432}]}],
    });
    check(
        "union",
        &[from_client.clone(), from_db],
        &[
            ("client", "web", TCP, 80, true),
            ("client", "web", TCP, 5432, false),
            ("db", "web", TCP, 5432, true),
            ("db", "web", TCP, 80, false),
        ],
    );
    check(
        "one removed",
        &[from_client],
        &[
            ("db", "web", TCP, 5432, false),
            ("client", "web", TCP, 80, true),
        ],
    );
    check(
        "all removed",
        &[],
        &[
            ("db", "web", TCP, 5432, true),
            ("client", "web", TCP, 80, true),
        ],
    );
}

#[test]
fn other_namespaces_and_empty_peers() {
    let elsewhere = json!({"ns": "other", "podSelector": {}, "policyTypes": ["Ingress"]});
    check(
        "policy in another namespace",
        &[elsewhere],
        &[("client", "web", TCP, 80, true)],
    );
    let empty_from = json!({"podSelector": {}, "ingress": [{"from": [], "ports": [{"port": 80}]}]});
    check(
        "empty from",
        &[empty_from],
        &[
            ("ext", "web", TCP, 80, true),
            ("ext", "web", TCP, 81, false),
        ],
    );
    let allow_all = json!({"podSelector": {}, "ingress": [{}]});
    check(
        "allow all",
        &[deny_all_ingress(), allow_all],
        &[("ext", "web", TCP, 1, true)],
    );
}

#[test]
fn peer_sets_are_shared_by_equal_selectors() {
    let a = json!({"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]});
    let b = json!({"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]});
    let ruleset = compile(&snapshot(&[a, b]), "n1");
    assert_eq!(ruleset.peer_sets.len(), 1);
    let members: Vec<Ipv4Addr> = ruleset.peer_sets.values().flatten().copied().collect();
    assert_eq!(members, vec![ip("client")]);
}
