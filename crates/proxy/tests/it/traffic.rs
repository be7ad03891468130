//! Traffic through our rules, all inside namespaces this test creates: a "node" namespace holds
//! the rules, a bridge to two "pod" namespaces (busybox httpd on :8080) and a veth to a
//! "client" namespace outside the cluster network.

use std::time::{Duration, Instant};

use gantry_proxy::nft::Nft;
use gantry_proxy::{ProxyConfig, Snapshot, ruleset};
use serde_json::json;

use crate::fixtures::{NODE, cfg, endpoint, service, slice, web};
use crate::netns::{Background, Netns};

/// Fetches `url` with busybox wget (its `-T` crashes here, hence `timeout`) from inside `ns`: the body, or wget's error text.
fn get(ns: &Netns, url: &str) -> Result<String, String> {
    let out = ns.exec(&["timeout", "5", "busybox", "wget", "-q", "-O", "-", url]);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Waits until `url` answers from `ns`, or panics after a deadline.
fn wait_for(ns: &Netns, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match get(ns, url) {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => panic!("{url} never answered: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Connecting must fail at once with "connection refused" (a reset, not a timeout).
fn assert_refused(ns: &Netns, url: &str) {
    let start = Instant::now();
    let result = get(ns, url);
    let elapsed = start.elapsed();
    let error = result.expect_err("connection must fail");
    assert!(error.to_lowercase().contains("refused"), "{url}: {error}");
    assert!(elapsed < Duration::from_secs(2), "{url} took {elapsed:?}");
}

struct Topology {
    node: Netns,
    client: Netns,
    pods: Vec<Netns>,
    _servers: Vec<Background>,
    _dirs: Vec<std::path::PathBuf>,
}

impl Drop for Topology {
    fn drop(&mut self) {
        for dir in &self._dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn topology() -> Topology {
    let node = Netns::new("node");
    let client = Netns::new("client");
    node.sysctl("net.ipv4.ip_forward", "1");
    node.exec_ok(&["ip", "link", "add", "br0", "type", "bridge"]);
    node.exec_ok(&["ip", "addr", "add", "10.42.0.1/24", "dev", "br0"]);
    node.exec_ok(&["ip", "link", "set", "br0", "up"]);

    node.exec_ok(&[
        "ip",
        "link",
        "add",
        "vc",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &client.name,
    ]);
    node.exec_ok(&["ip", "addr", "add", "192.168.77.1/24", "dev", "vc"]);
    node.exec_ok(&["ip", "link", "set", "vc", "up"]);
    node.exec_ok(&["ip", "route", "add", "default", "via", "192.168.77.2"]);
    client.exec_ok(&["ip", "addr", "add", "192.168.77.2/24", "dev", "eth0"]);
    client.exec_ok(&["ip", "link", "set", "eth0", "up"]);
    client.exec_ok(&["ip", "route", "add", "default", "via", "192.168.77.1"]);

    let mut pods = Vec::new();
    let mut servers = Vec::new();
    let mut dirs = Vec::new();
    for i in 1..=2 {
        let pod = Netns::new(&format!("pod{i}-"));
        let veth = format!("vp{i}");
        node.exec_ok(&[
            "ip", "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &pod.name,
        ]);
        node.exec_ok(&["ip", "link", "set", &veth, "master", "br0", "up"]);
        // As the CNI bridge plugin's hairpinMode: a pod reaching itself through a Service.
        node.exec_ok(&[
            "ip",
            "link",
            "set",
            &veth,
            "type",
            "bridge_slave",
            "hairpin",
            "on",
        ]);
        pod.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("10.42.0.1{i}/24"),
            "dev",
            "eth0",
        ]);
        pod.exec_ok(&["ip", "link", "set", "eth0", "up"]);
        pod.exec_ok(&["ip", "route", "add", "default", "via", "10.42.0.1"]);
        let dir = std::env::temp_dir().join(format!("{}-www", pod.name));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), format!("pod{i}\n")).unwrap();
        let dir_text = dir.to_string_lossy().into_owned();
        servers.push(pod.spawn(&["busybox", "httpd", "-f", "-p", "8080", "-h", &dir_text]));
        dirs.push(dir);
        pods.push(pod);
    }
    for i in 1..=2 {
        wait_for(&node, &format!("http://10.42.0.1{i}:8080/"));
    }
    Topology {
        node,
        client,
        pods,
        _servers: servers,
        _dirs: dirs,
    }
}

fn proxy_cfg() -> ProxyConfig {
    ProxyConfig {
        node_ips: vec!["192.168.77.1".parse().unwrap()],
        ..cfg()
    }
}

#[tokio::test]
async fn traffic_reaches_endpoints() {
    let t = topology();
    let services = [
        service(
            "web",
            json!({ "type": "NodePort", "clusterIP": "10.43.0.10",
            "ports": [{ "name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080 }] }),
        ),
        service(
            "empty",
            json!({ "type": "NodePort", "clusterIP": "10.43.0.11",
            "ports": [{ "name": "http", "port": 80, "targetPort": 8080, "nodePort": 30081 }] }),
        ),
        web("self", "10.43.0.12"),
    ];
    let slices = [
        slice(
            "web",
            8080,
            vec![
                endpoint("10.42.0.11", NODE, true),
                endpoint("10.42.0.12", NODE, true),
            ],
        ),
        slice("self", 8080, vec![endpoint("10.42.0.11", NODE, true)]),
    ];
    let text = ruleset(&Snapshot::build(&services, &slices), &proxy_cfg());
    Nft::in_netns(&t.node.name)
        .apply("gantry", &text)
        .await
        .expect("apply");

    // ClusterIP from outside the cluster network and from the node itself.
    let body = get(&t.client, "http://10.43.0.10/").expect("cluster ip from client");
    assert!(body == "pod1" || body == "pod2", "{body}");
    get(&t.node, "http://10.43.0.10/").expect("cluster ip from node");
    // NodePort on the node's IP, from the client and from the node.
    get(&t.client, "http://192.168.77.1:30080/").expect("node port from client");
    get(&t.node, "http://192.168.77.1:30080/").expect("node port from node");
    // Hairpin: pod1 reaches itself through a Service.
    assert_eq!(get(&t.pods[0], "http://10.43.0.12/").as_deref(), Ok("pod1"));
    // Another pod reaches it too.
    assert_eq!(get(&t.pods[1], "http://10.43.0.12/").as_deref(), Ok("pod1"));

    // No endpoints: refused at once, for ClusterIP and NodePort, from client and node.
    assert_refused(&t.client, "http://10.43.0.11/");
    assert_refused(&t.node, "http://10.43.0.11/");
    assert_refused(&t.client, "http://192.168.77.1:30081/");
    // A ClusterIP's unknown port is refused too.
    assert_refused(&t.client, "http://10.43.0.10:81/");

    // Random balancing: both endpoints answer over 50 connections.
    let mut hits = [0u32; 2];
    for _ in 0..50 {
        match get(&t.client, "http://10.43.0.10/").as_deref() {
            Ok("pod1") => hits[0] += 1,
            Ok("pod2") => hits[1] += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(hits[0] > 0 && hits[1] > 0, "hits {hits:?}");
}

#[tokio::test]
async fn session_affinity_sticks_and_local_policy_filters() {
    let t = topology();
    let services = [
        service(
            "sticky",
            json!({ "clusterIP": "10.43.0.20", "sessionAffinity": "ClientIP",
            "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] }),
        ),
        service(
            "local",
            json!({ "type": "NodePort", "clusterIP": "10.43.0.21",
            "externalTrafficPolicy": "Local",
            "ports": [{ "name": "http", "port": 80, "targetPort": 8080, "nodePort": 30090 }] }),
        ),
    ];
    let slices = [
        slice(
            "sticky",
            8080,
            vec![
                endpoint("10.42.0.11", NODE, true),
                endpoint("10.42.0.12", NODE, true),
            ],
        ),
        slice(
            "local",
            8080,
            vec![
                endpoint("10.42.0.11", NODE, true),
                endpoint("10.42.0.12", "node-b", true),
            ],
        ),
    ];
    let text = ruleset(&Snapshot::build(&services, &slices), &proxy_cfg());
    Nft::in_netns(&t.node.name)
        .apply("gantry", &text)
        .await
        .expect("apply");

    let first = get(&t.client, "http://10.43.0.20/").expect("sticky");
    for _ in 0..15 {
        assert_eq!(
            get(&t.client, "http://10.43.0.20/").as_deref(),
            Ok(first.as_str())
        );
    }
    // externalTrafficPolicy Local: node-port traffic only reaches this node's endpoint.
    for _ in 0..15 {
        assert_eq!(
            get(&t.client, "http://192.168.77.1:30090/").as_deref(),
            Ok("pod1")
        );
    }
}
