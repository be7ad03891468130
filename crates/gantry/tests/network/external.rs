//! Traffic from outside the pod network: NodePorts on every node's address, LoadBalancer
//! addresses published in the Service's status, and `externalTrafficPolicy: Local` keeping the
//! client's own address.

use std::collections::BTreeSet;

use crate::harness::{
    Cluster, DEADLINE, curl, names, node_of, on_node, poll, service, stdout, web_deployment,
};

#[test]
fn node_port_answers_on_every_node() {
    let cluster = Cluster::start(2, 3);
    // One pod on node 2: nodes 1 and 3 must forward to it across the network.
    cluster.apply(&web_deployment("web", 1, &on_node(&cluster.node(2))));
    cluster.apply(&service("web", "web", "  type: NodePort"));
    let pods = cluster.wait_ready_pods("app=web", 1);
    let pod = names(&pods).pop_first().expect("a web pod");
    let port = cluster.service_field("web", "/spec/ports/0/nodePort");
    let n: u16 = port.parse().expect("a numeric node port");
    assert!(
        (30000..=32767).contains(&n),
        "node port {n} in the default range"
    );

    for i in 1..=3 {
        let url = format!("http://{}:{port}/", cluster.node_ip(i));
        let answer = poll(
            &format!("{url} answers from the host"),
            DEADLINE,
            || cluster.diag("app=web"),
            || curl(&[&url]).ok(),
        );
        assert_eq!(answer.trim(), format!("web {pod}"), "answer of {url}");
    }
    // From inside another node's network namespace too (node 1 to node 3's address).
    let url = format!("http://{}:{port}/", cluster.node_ip(3));
    let out = cluster.in_node(1, "curl", &["-sS", "--max-time", "3", &url]);
    assert_eq!(
        stdout(&out).trim(),
        format!("web {pod}"),
        "{url} from node 1: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // `gantry down` removes the nodes' namespaces and the bridge.
    let mut cluster = cluster;
    cluster.down();
    let netns = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    for i in 1..=3 {
        assert!(
            !stdout(&netns)
                .lines()
                .any(|l| l.split_whitespace().next() == Some(&cluster.netns(i))),
            "{} remains after gantry down",
            cluster.netns(i)
        );
    }
    let bridge = std::process::Command::new("ip")
        .args(["link", "show", &cluster.bridge()])
        .output()
        .expect("ip link show");
    assert!(
        !bridge.status.success(),
        "the bridge remains after gantry down"
    );
}

#[test]
fn load_balancer_gets_node_addresses_and_answers_on_them() {
    let cluster = Cluster::start(3, 2);
    cluster.apply(&web_deployment("web", 2, ""));
    cluster.apply(&service("web", "web", "  type: LoadBalancer"));
    let pods = cluster.wait_ready_pods("app=web", 2);
    let web = names(&pods);
    let expected: BTreeSet<String> = (1..=2).map(|i| cluster.node_ip(i)).collect();

    let ingress = poll(
        "status.loadBalancer.ingress lists the node addresses",
        DEADLINE,
        || cluster.diag("app=web"),
        || {
            let svc = cluster.get_json(&["get", "service", "web"])?;
            let ips: BTreeSet<String> = svc["status"]["loadBalancer"]["ingress"]
                .as_array()?
                .iter()
                .filter_map(|i| i["ip"].as_str().map(String::from))
                .collect();
            (ips == expected).then_some(ips)
        },
    );
    // The Service also has a node port (allocated by default) and a cluster IP.
    assert!(
        !cluster
            .service_field("web", "/spec/ports/0/nodePort")
            .is_empty()
    );

    for ip in &ingress {
        let url = format!("http://{ip}:80/");
        let answer = poll(
            &format!("the load balancer address {url} answers"),
            DEADLINE,
            || cluster.diag("app=web"),
            || curl(&[&url]).ok(),
        );
        let pod = answer.split_whitespace().nth(1).unwrap_or_default();
        assert!(
            web.contains(pod),
            "answer {answer:?} of {url} is not from a web pod"
        );
    }
}

#[test]
fn external_traffic_policy_local_keeps_the_client_address() {
    let cluster = Cluster::start(7, 2);
    cluster.apply(&web_deployment("web", 1, &on_node(&cluster.node(2))));
    cluster.apply(&service(
        "web",
        "web",
        "  type: NodePort\n  externalTrafficPolicy: Local",
    ));
    let pods = cluster.wait_ready_pods("app=web", 1);
    let pod = names(&pods).pop_first().expect("a web pod");
    assert_eq!(node_of(&pods[0]), cluster.node(2));
    let port = cluster.service_field("web", "/spec/ports/0/nodePort");

    // The host (the bridge's address) calls the node that has the pod.
    let url = format!("http://{}:{port}/", cluster.node_ip(2));
    let answer = poll(
        &format!("{url} answers"),
        DEADLINE,
        || cluster.diag("app=web"),
        || curl(&[&url]).ok(),
    );
    assert_eq!(answer.trim(), format!("web {pod}"));

    // busybox httpd -vv logs `ADDRESS:PORT: url:/` (an IPv4 peer of its IPv6 socket as
    // `[::ffff:ADDRESS]:PORT`): the address must be the host's, not a node's.
    let client = cluster.gateway();
    let logs = poll(
        "the pod's log shows the request",
        DEADLINE,
        || cluster.diag("app=web"),
        || {
            let logs = cluster.kubectl_ok(&["logs", &pod]);
            logs.contains("url:/").then_some(logs)
        },
    );
    let peers: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("url:/"))
        .filter_map(|l| l.split(": url:").next())
        .map(|peer| {
            let addr = peer.rsplit_once(':').map_or(peer, |(a, _)| a);
            addr.trim_start_matches('[')
                .trim_end_matches(']')
                .trim_start_matches("::ffff:")
        })
        .collect();
    assert!(
        !peers.is_empty() && peers.iter().all(|p| *p == client),
        "every request must come from the client's own address {client}, saw {peers:?}"
    );

    // A node without a local endpoint does not forward the Service's NodePort.
    let other = format!("http://{}:{port}/", cluster.node_ip(1));
    assert!(
        curl(&[&other]).is_err(),
        "node 1 has no endpoint of a Local Service and must not answer on {other}"
    );
}
