//! The rendered text: which nftables lines each kind of rule becomes, and when a change can
//! be applied as a set update.

use gantry_netpol::{compile, render, set_update};
use serde_json::{Value, json};

use crate::fixture::snapshot;

/// Renders `policies` for node n1 and checks each expected line is present (trimmed).
fn check(case: &str, policies: &[Value], lines: &[&str]) {
    let text = render(&compile(&snapshot(policies), "n1"), "t");
    let have: Vec<&str> = text.lines().map(str::trim).collect();
    for line in lines {
        assert!(have.contains(line), "{case}: missing {line:?} in\n{text}");
    }
}

#[test]
fn rule_lines() {
    let cases: &[(&str, Value, &[&str])] = &[
        (
            "deny all",
            json!({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}),
            &[
                "elements = { 10.42.0.10 : jump ingress-10-42-0-10 }",
                "chain ingress-10-42-0-10 {",
                "ip saddr 10.42.0.10 return",
                "drop",
                "ct state established,related accept",
                "ip daddr vmap @ingress-pods",
                "ip saddr vmap @egress-pods",
            ],
        ),
        (
            "peer set and port range",
            json!({"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{
                "from": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                "ports": [{"port": 8000, "endPort": 8100}, {"protocol": "UDP", "port": "http"}]}]}),
            &[
                "elements = { 10.42.0.12 }",
                "ip saddr @peers-0 meta l4proto tcp th dport 8000-8100 return",
            ],
        ),
        (
            "ip block with except",
            json!({"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{
                "from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "10.1.2.0/24"]}}]}]}),
            &["ip saddr 10.0.0.0/8 ip saddr != { 10.1.0.0/16 } return"],
        ),
        (
            "egress named port",
            json!({"podSelector": {"matchLabels": {"app": "client"}}, "egress": [{"ports": [{"port": "http"}]}]}),
            &[
                "elements = { 10.42.0.10 . tcp . 8080, 10.42.1.21 . tcp . 9090 }",
                "ip daddr . meta l4proto . th dport @dports-0 accept",
                "ip daddr 10.42.0.12 accept",
            ],
        ),
        (
            "allow all",
            json!({"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}]}),
            &["meta nfproto ipv4 return"],
        ),
    ];
    for (case, policy, lines) in cases {
        check(case, std::slice::from_ref(policy), lines);
    }
}

#[test]
fn set_updates_only_for_membership_changes() {
    let policy = json!({"podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]});
    let before = compile(&snapshot(std::slice::from_ref(&policy)), "n1");
    let mut moved = snapshot(std::slice::from_ref(&policy));
    for pod in moved.pods.iter_mut().filter(|p| p.name == "client") {
        pod.ip = "10.42.0.99".parse().ok();
    }
    let after = compile(&moved, "n1");
    assert_eq!(
        set_update(&before, &after, "t").as_deref(),
        Some("flush set inet t peers-0\nadd element inet t peers-0 { 10.42.0.99 }\n")
    );
    // A new isolated pod changes chains: no set update.
    let mut more = snapshot(&[policy]);
    for pod in more.pods.iter_mut().filter(|p| p.name == "db") {
        pod.labels.insert("app".to_string(), "web".to_string());
    }
    assert_eq!(set_update(&before, &compile(&more, "n1"), "t"), None);
}
