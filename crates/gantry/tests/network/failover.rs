//! Failures under traffic: an endpoint pod killed during a stream of requests through its
//! Service, and a node cut off the network whose pods are replaced on the other nodes.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::{
    Cluster, DEADLINE, Options, curl, names, node_of, poll, service, stdout, web_deployment,
};

/// Requests in the loop, and how many may fail (those in flight while the endpoint goes).
const REQUESTS: usize = 200;
const MAX_FAILURES: usize = 5;

#[test]
fn killing_an_endpoint_pod_does_not_break_the_service() {
    let cluster = Cluster::start(6, 3);
    cluster.apply(&web_deployment("web", 3, ""));
    cluster.apply(&service("web", "web", ""));
    cluster.client_pod("client", 1, "app: client");
    let pods = cluster.wait_ready_pods("app=web", 3);
    let before = names(&pods);
    let ip = cluster.service_field("web", "/spec/clusterIP");
    let url = format!("http://{ip}/");
    poll(
        "the client reaches the Service",
        DEADLINE,
        || cluster.diag("app=web"),
        || {
            let out = cluster.exec("client", &format!("timeout 3 wget -qO- {url}"));
            out.status.success().then_some(())
        },
    );

    // Sequential requests, paced so that the loop spans the deletion and the convergence.
    let script = format!(
        "i=0; while [ $i -lt {REQUESTS} ]; do i=$((i+1)); \
         if r=$(timeout 3 wget -qO- {url} 2>&1); then echo \"ok $r\"; else echo \"fail $r\"; fi; \
         sleep 0.05; done; echo done"
    );
    let mut child = cluster
        .kubectl_command()
        .args(["exec", "client", "--", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the request loop");
    let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let victim = before.first().expect("a web pod").clone();
    let mut results = vec![];
    let mut deleted = false;
    for line in lines {
        let line = line.expect("reading the loop's output");
        if line == "done" {
            break;
        }
        results.push(line);
        if results.len() == 40 && !deleted {
            cluster.kubectl_ok(&[
                "delete",
                "pod",
                &victim,
                "--grace-period=0",
                "--force",
                "--wait=false",
            ]);
            deleted = true;
        }
    }
    let status = child.wait().expect("waiting for the loop");
    assert!(status.success(), "the request loop's exec failed");
    assert!(
        deleted,
        "the loop ended before the pod was deleted: {results:?}"
    );
    assert_eq!(
        results.len(),
        REQUESTS,
        "every request reported: {results:?}"
    );
    let failures: Vec<&String> = results.iter().filter(|l| l.starts_with("fail")).collect();
    assert!(
        failures.len() <= MAX_FAILURES,
        "{} of {REQUESTS} requests failed while one endpoint went away: {failures:?}",
        failures.len()
    );
    // The answers after the deletion settle on the remaining pods and the replacement.
    let late: Vec<&str> = results[REQUESTS - 20..]
        .iter()
        .filter_map(|l| l.strip_prefix("ok web "))
        .collect();
    assert_eq!(late.len(), 20, "the last requests all succeed: {results:?}");
    assert!(
        !late.contains(&victim.as_str()),
        "the deleted pod {victim} still answers at the end: {late:?}"
    );

    // The Deployment replaces the pod, and the Service then reaches only live pods again.
    let after = cluster.wait_ready_pods_where("app=web", 3, "without the deleted pod", |p| {
        !names(p).contains(&victim)
    });
    let after = names(&after);
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + DEADLINE;
    while seen != after {
        assert!(
            Instant::now() < deadline,
            "requests reach {seen:?}, not every live pod {after:?}\n{}",
            cluster.diag("app=web")
        );
        let out = cluster.exec("client", &format!("timeout 3 wget -qO- {url}"));
        assert!(out.status.success(), "a request after convergence failed");
        let answer = stdout(&out);
        let pod = answer
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        assert!(
            after.contains(&pod),
            "{answer:?} is not from a live web pod"
        );
        seen.insert(pod);
    }
}

const TOLERATIONS: &str = r#"      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 5}"#;

#[test]
fn pods_of_a_cut_off_node_are_replaced_on_the_others() {
    let mut cluster = Cluster::start_with(
        8,
        3,
        Options {
            node_monitor_grace_period: Some("10s"),
        },
    );
    cluster.apply(&web_deployment("web", 3, TOLERATIONS));
    cluster.apply(&service("web", "web", "  type: NodePort"));
    let pods = cluster.wait_ready_pods("app=web", 3);
    let port = cluster.service_field("web", "/spec/ports/0/nodePort");
    let victim_node = node_of(&pods[0]).to_string();
    let i = cluster.node_index(&victim_node);
    let on_victim: Vec<String> = pods
        .iter()
        .filter(|p| node_of(p) == victim_node)
        .map(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();

    cluster.cut_off(i);

    // The node's Lease stops being renewed: Ready turns Unknown once the last renewal is older
    // than the 10 s grace period (so within 10 s of the cut plus the controller's resync).
    poll(
        &format!("node {victim_node}'s Ready condition is Unknown"),
        Duration::from_secs(30),
        || cluster.diag("app=web"),
        || {
            let node = cluster.get_json(&["get", "node", &victim_node])?;
            let ready = node["status"]["conditions"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == "Ready")?
                .clone();
            (ready["status"] == "Unknown").then_some(())
        },
    );
    poll(
        &format!("node {victim_node} is tainted unreachable (NoExecute)"),
        DEADLINE,
        || cluster.diag("app=web"),
        || {
            let node = cluster.get_json(&["get", "node", &victim_node])?;
            node["spec"]["taints"]
                .as_array()?
                .iter()
                .any(|t| t["key"] == "node.kubernetes.io/unreachable" && t["effect"] == "NoExecute")
                .then_some(())
        },
    );
    // The pods there are evicted after their 5 s toleration and replaced on the other nodes.
    let replaced =
        cluster.wait_ready_pods_where("app=web", 3, &format!("off node {victim_node}"), |p| {
            p.iter().all(|p| node_of(p) != victim_node)
        });
    for name in &on_victim {
        assert!(!names(&replaced).contains(name), "{name} was not replaced");
    }

    // The Service answers from the replacements through the nodes that remain.
    let live = names(&replaced);
    for j in (1..=3).filter(|&j| j != i) {
        let url = format!("http://{}:{port}/", cluster.node_ip(j));
        let answer = poll(
            &format!("{url} answers from a live pod"),
            DEADLINE,
            || cluster.diag("app=web"),
            || {
                curl(&[&url])
                    .ok()
                    .filter(|a| live.contains(a.split_whitespace().nth(1).unwrap_or_default()))
            },
        );
        assert!(answer.starts_with("web "));
    }
}
