//! NetworkPolicy enforcement across nodes: a default-deny ingress policy cuts clients off a
//! Service's pods, an allow rule for labelled clients lets exactly those back in, and deleting
//! the policies restores open access.

use crate::harness::{Cluster, DEADLINE, on_node, poll, service, stdout, web_deployment};

const DEFAULT_DENY: &str = r#"apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
spec:
  podSelector: {}
  policyTypes: [Ingress]
"#;

const ALLOW_LABELLED: &str = r#"apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-web
spec:
  podSelector:
    matchLabels: {app: web}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchLabels: {access: "true"}
    ports:
    - {protocol: TCP, port: 8080}
"#;

/// Whether `client` gets an answer from the web pod through `url` within `seconds` (a dropped
/// connection only shows as a timeout, so checks expecting a block use a short one).
fn reaches(cluster: &Cluster, client: &str, url: &str, seconds: u32) -> bool {
    let out = cluster.exec(client, &format!("timeout {seconds} wget -qO- {url}"));
    out.status.success() && stdout(&out).starts_with("web ")
}

/// Waits until `client`'s access through `url` is `expected`, then checks it stays so.
fn settle(cluster: &Cluster, client: &str, url: &str, expected: bool) {
    let (state, seconds) = if expected {
        ("reaches", 3)
    } else {
        ("is blocked from", 1)
    };
    poll(
        &format!("{client} {state} {url}"),
        DEADLINE,
        || cluster.diag("app=web"),
        || (reaches(cluster, client, url, seconds) == expected).then_some(()),
    );
    for _ in 0..2 {
        assert_eq!(
            reaches(cluster, client, url, seconds),
            expected,
            "{client} flapped after it {state} {url}"
        );
    }
}

#[test]
fn default_deny_blocks_and_an_allow_rule_reopens() {
    let cluster = Cluster::start(9, 2);
    // The web pod on node 2, the clients on node 1: policy applies across the network.
    cluster.apply(&web_deployment("web", 1, &on_node(&cluster.node(2))));
    cluster.apply(&service("web", "web", ""));
    cluster.client_pod("allowed", 1, "access: \"true\"");
    cluster.client_pod("denied", 1, "access: \"false\"");
    let pods = cluster.wait_ready_pods("app=web", 1);
    let ip = cluster.service_field("web", "/spec/clusterIP");
    let service_url = format!("http://{ip}/");
    let pod_url = format!("http://{}:8080/", crate::harness::pod_ip(&pods[0]));
    let urls = [service_url.as_str(), pod_url.as_str()];

    for url in urls {
        settle(&cluster, "allowed", url, true);
        settle(&cluster, "denied", url, true);
    }

    cluster.apply(DEFAULT_DENY);
    for url in urls {
        settle(&cluster, "allowed", url, false);
        settle(&cluster, "denied", url, false);
    }

    cluster.apply(ALLOW_LABELLED);
    for url in urls {
        settle(&cluster, "allowed", url, true);
        settle(&cluster, "denied", url, false);
    }

    // Relabelling a client changes its access without touching the policies.
    cluster.kubectl_ok(&["label", "pod", "denied", "access=true", "--overwrite"]);
    settle(&cluster, "denied", &service_url, true);

    cluster.kubectl_ok(&["delete", "networkpolicy", "default-deny", "allow-web"]);
    cluster.kubectl_ok(&["label", "pod", "denied", "access=false", "--overwrite"]);
    for url in urls {
        settle(&cluster, "denied", url, true);
    }
}
