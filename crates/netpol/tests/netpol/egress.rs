//! Egress cases, policyTypes defaults, and peer sets shared between equal selectors.

use std::net::Ipv4Addr;

use gantry_netpol::compile;
use serde_json::json;

use crate::fixture::{TCP, check, ip, snapshot};

#[test]
fn egress() {
    let deny =
        json!({"podSelector": {"matchLabels": {"app": "client"}}, "policyTypes": ["Egress"]});
    check(
        "egress deny",
        std::slice::from_ref(&deny),
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
fn peer_sets_are_shared_by_equal_selectors() {
    let a = json!({"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]});
    let b = json!({"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]});
    let ruleset = compile(&snapshot(&[a, b]), "n1");
    assert_eq!(ruleset.peer_sets.len(), 1);
    let members: Vec<Ipv4Addr> = ruleset.peer_sets.values().flatten().copied().collect();
    assert_eq!(members, vec![ip("client")]);
}
