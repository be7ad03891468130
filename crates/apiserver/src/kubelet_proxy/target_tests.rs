//! Table tests of the kubelet proxy's pure parts: container defaulting, kubelet address and
//! the kubelet path and query built from pod, node and client query.

use serde_json::json;

use super::*;

fn pod(containers: &[&str], node: Option<&str>) -> Value {
    let list: Vec<Value> = containers.iter().map(|c| json!({"name": c})).collect();
    let mut pod =
        json!({"metadata": {"name": "web", "namespace": "ns1"}, "spec": {"containers": list}});
    if let Some(n) = node {
        pod["spec"]["nodeName"] = json!(n);
    }
    pod
}

fn message(e: ApiError) -> (u16, String) {
    (e.code_reason().0, e.to_string())
}

#[test]
fn container_defaulting() {
    let mut with_init = pod(&["a", "b"], None);
    with_init["spec"]["initContainers"] = json!([{"name": "init"}]);
    let cases: Vec<(Value, Option<&str>, Result<&str, &str>)> = vec![
        (pod(&["only"], None), None, Ok("only")),
        (pod(&["only"], None), Some(""), Ok("only")),
        (pod(&["a", "b"], None), Some("b"), Ok("b")),
        (with_init.clone(), Some("init"), Ok("init")),
        (
            pod(&["a", "b"], None),
            None,
            Err("a container name must be specified for pod web, choose one of: [a b]"),
        ),
        (
            with_init,
            None,
            Err("a container name must be specified for pod web, choose one of: [init a b]"),
        ),
        (
            pod(&[], None),
            None,
            Err("a container name must be specified for pod web"),
        ),
        (
            pod(&["a"], None),
            Some("zz"),
            Err("container zz is not valid for pod web"),
        ),
    ];
    for (pod, requested, want) in cases {
        let got = container(&pod, requested).map_err(message);
        match want {
            Ok(c) => assert_eq!(got, Ok(c.to_string()), "{requested:?}"),
            Err(m) => assert_eq!(got, Err((400, m.to_string())), "{requested:?}"),
        }
    }
}

/// Subresource, pod, client query, and the kubelet path or the error code and message.
type TargetCase<'a> = (
    PodSubresource,
    &'a Value,
    &'a str,
    Result<&'a str, (u16, &'a str)>,
);

#[test]
fn pod_targets() {
    let one = pod(&["c1"], Some("n1"));
    let two = pod(&["a", "b"], Some("n1"));
    use PodSubresource::*;
    let cases: Vec<TargetCase> = vec![
        (Log, &one, "", Ok("/containerLogs/ns1/web/c1")),
        (
            Log,
            &one,
            "follow=true&tailLines=10&timestamps=1&previous=false&limitBytes=500&container=c1",
            Ok("/containerLogs/ns1/web/c1?follow=true&timestamps=true&tailLines=10&limitBytes=500"),
        ),
        (
            Log,
            &one,
            "sinceSeconds=30",
            Ok("/containerLogs/ns1/web/c1?sinceSeconds=30"),
        ),
        (
            Log,
            &one,
            "sinceTime=2024-01-02T03:04:05Z",
            Ok("/containerLogs/ns1/web/c1?sinceTime=2024-01-02T03%3A04%3A05Z"),
        ),
        (Log, &two, "container=b", Ok("/containerLogs/ns1/web/b")),
        (
            Log,
            &one,
            "tailLines=-1",
            Err((400, "tailLines must be greater than or equal to 0")),
        ),
        (
            Log,
            &one,
            "sinceSeconds=0",
            Err((400, "sinceSeconds must be greater than 0")),
        ),
        (
            Log,
            &one,
            "sinceSeconds=5&sinceTime=2024-01-02T03:04:05Z",
            Err((
                400,
                "at most one of sinceTime or sinceSeconds may be specified",
            )),
        ),
        (
            Log,
            &one,
            "sinceTime=yesterday",
            Err((400, "invalid sinceTime \"yesterday\": want RFC 3339")),
        ),
        (
            Log,
            &one,
            "follow=maybe",
            Err((
                400,
                "invalid value \"maybe\" for follow: want true or false",
            )),
        ),
        (
            Exec,
            &one,
            "command=sh&command=-c&command=echo+hi%26bye&stdin=true&stdout=true&stderr=true&tty=false",
            Ok(
                "/exec/ns1/web/c1?input=1&output=1&error=1&command=sh&command=-c&command=echo+hi%26bye",
            ),
        ),
        (
            Exec,
            &two,
            "command=ls&container=a&stdout=1&tty=true",
            Ok("/exec/ns1/web/a?output=1&tty=1&command=ls"),
        ),
        (
            Exec,
            &two,
            "command=ls",
            Err((
                400,
                "a container name must be specified for pod web, choose one of: [a b]",
            )),
        ),
        (
            Attach,
            &one,
            "stdin=true&stdout=true&command=ignored",
            Ok("/attach/ns1/web/c1?input=1&output=1"),
        ),
        (PortForward, &two, "", Ok("/portForward/ns1/web")),
        (
            PortForward,
            &two,
            "ports=8080,9090&ports=53",
            Ok("/portForward/ns1/web?port=8080&port=9090&port=53"),
        ),
        (
            PortForward,
            &two,
            "ports=0",
            Err((400, "invalid port \"0\": want 1-65535")),
        ),
    ];
    for (sub, pod, query, want) in cases {
        let got = pod_target(sub, pod, Some(query)).map_err(message);
        match want {
            Ok(path) => assert_eq!(
                got,
                Ok(PodTarget {
                    node_name: "n1".into(),
                    path_and_query: path.into()
                }),
                "{sub:?} {query}"
            ),
            Err((code, m)) => assert_eq!(got, Err((code, m.to_string())), "{sub:?} {query}"),
        }
    }
}

#[test]
fn unscheduled_pods_have_no_target() {
    for sub in [
        PodSubresource::Log,
        PodSubresource::Exec,
        PodSubresource::PortForward,
    ] {
        let got = pod_target(sub, &pod(&["c"], None), None).map_err(message);
        assert_eq!(
            got,
            Err((400, "pod web does not have a host assigned".to_string())),
            "{sub:?}"
        );
    }
}

#[test]
fn kubelet_endpoints() {
    let node = |addresses: Value, port: Value| json!({"status": {"addresses": addresses, "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}});
    let cases = vec![
        (
            node(
                json!([{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.7"}]),
                json!(10250),
            ),
            Ok(("10.0.0.7", 10250)),
        ),
        (
            node(
                json!([{"type": "ExternalIP", "address": "1.2.3.4"}]),
                json!(12345),
            ),
            Ok(("1.2.3.4", 12345)),
        ),
        (
            node(
                json!([{"type": "InternalIP", "address": "fd00::5"}]),
                json!(0),
            ),
            Ok(("fd00::5", 10250)),
        ),
        (
            node(json!([{"type": "Hostname", "address": "n1"}]), json!(10250)),
            Err("no preferred addresses found; known addresses: [{Hostname n1}]"),
        ),
        (
            json!({}),
            Err("no preferred addresses found; known addresses: []"),
        ),
    ];
    for (node, want) in cases {
        let got = kubelet_endpoint(&node).map_err(|e| e.to_string());
        let want = want.map(|(ip, port)| KubeletEndpoint {
            ip: ip.parse().unwrap(),
            port,
        });
        assert_eq!(got, want.map_err(String::from), "{node}");
    }
}
