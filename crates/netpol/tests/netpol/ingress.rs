//! Ingress cases: default deny, selectors, ipBlock, ports, unions and removal.

use serde_json::json;

use crate::fixture::{TCP, UDP, check, deny_all_ingress};
use gantry_netpol::Protocol;

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
