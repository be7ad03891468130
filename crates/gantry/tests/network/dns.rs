//! Service discovery: a client pod reaches a Deployment on other nodes by its Service's DNS
//! name, and a headless Service's name resolves to every pod IP.

use std::collections::BTreeSet;

use crate::harness::{
    Cluster, DEADLINE, avoid_node, names, node_of, pod_ip, poll, service, stdout, web_deployment,
};

#[test]
fn client_reaches_deployment_on_other_nodes_by_service_name() {
    let cluster = Cluster::start(1, 3);
    let node1 = cluster.node(1);
    cluster.apply(&web_deployment("web", 2, &avoid_node(&node1)));
    cluster.apply(&service("web", "web", ""));
    cluster.client_pod("client", 1, "app: client");
    let pods = cluster.wait_ready_pods("app=web", 2);
    assert!(
        pods.iter().all(|p| node_of(p) != node1),
        "the web pods must run on other nodes than the client"
    );
    let web = names(&pods);

    // The first answer may wait for the proxy and DNS to learn the Service.
    let first = poll(
        "the client gets an answer from web.default.svc.cluster.local",
        DEADLINE,
        || cluster.diag("app=web"),
        || {
            let out = cluster.exec(
                "client",
                "timeout 3 wget -qO- http://web.default.svc.cluster.local/",
            );
            out.status.success().then(|| stdout(&out))
        },
    );
    assert!(first.starts_with("web "), "unexpected answer {first:?}");

    // Every answer comes from a web pod, and the Service spreads requests over both.
    let mut seen = BTreeSet::new();
    for _ in 0..30 {
        let out = cluster.exec(
            "client",
            "timeout 3 wget -qO- http://web.default.svc.cluster.local/",
        );
        assert!(
            out.status.success(),
            "a request by DNS name failed once the Service worked: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let answer = stdout(&out);
        let pod = answer
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        assert!(
            web.contains(&pod),
            "answer {answer:?} is not from a web pod {web:?}"
        );
        seen.insert(pod);
        if seen == web {
            break;
        }
    }
    assert_eq!(
        seen, web,
        "requests through the Service reach every endpoint"
    );

    // The short name works through the pod's search path (wget uses the resolver's search).
    let out = cluster.exec("client", "timeout 3 wget -qO- http://web/");
    assert!(
        out.status.success() && stdout(&out).starts_with("web "),
        "the short name web: {} {}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn headless_service_resolves_to_every_pod_ip() {
    let cluster = Cluster::start(5, 3);
    cluster.apply(&crate::harness::web_deployment("web", 3, ""));
    cluster.apply(&service("web-headless", "web", "  clusterIP: None"));
    cluster.client_pod("client", 1, "app: client");
    let pods = cluster.wait_ready_pods("app=web", 3);
    let ips: BTreeSet<String> = pods.iter().map(|p| pod_ip(p).to_string()).collect();
    assert_eq!(ips.len(), 3, "three distinct pod IPs: {ips:?}");
    assert_eq!(
        cluster.service_field("web-headless", "/spec/clusterIP"),
        "None"
    );

    // Exactly the pod IPs: a headless Service has no ClusterIP to hand out.
    poll(
        "nslookup of the headless Service lists every pod IP",
        DEADLINE,
        || cluster.diag("app=web"),
        || {
            let out = cluster.exec("client", "nslookup web-headless.default.svc.cluster.local");
            (addresses(&stdout(&out)) == ips).then_some(())
        },
    );
}

/// The addresses in the answer section of busybox nslookup's output (after `Name:` lines).
fn addresses(text: &str) -> BTreeSet<String> {
    let mut in_answer = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("Name:") {
            in_answer = true;
        } else if in_answer && let Some(addr) = line.strip_prefix("Address:") {
            let addr = addr.trim();
            let addr = addr.split_once(' ').map_or(addr, |(a, _)| a);
            if !addr.contains(':') {
                out.insert(addr.to_string());
            }
        }
    }
    out
}
