//! Table tests of "endpoints from pods and service".

use super::*;
use serde_json::json;

fn service(publish: bool) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid"},
        "spec": {"selector": {"app": "web"}, "publishNotReadyAddresses": publish, "ports": [
            {"name": "http", "port": 80, "targetPort": "http"},
            {"name": "metrics", "port": 9090, "targetPort": 9100}
        ]}
    }))
    .unwrap_or_default()
}

fn pod(
    name: &str,
    ip: Option<&str>,
    ready: bool,
    labels: serde_json::Value,
    http_port: Option<i32>,
) -> Pod {
    let ports = http_port
        .map(|p| json!([{"name": "http", "containerPort": p}]))
        .unwrap_or(json!([]));
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default", "uid": format!("{name}-uid"), "labels": labels},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x", "ports": ports}]},
        "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}
    }))
    .unwrap_or_default()
}

fn ips(list: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
    list.iter().flatten().map(|a| a.ip.as_str()).collect()
}

#[test]
fn endpoints_from_pods_and_service() {
    let web = json!({"app": "web"});
    let pods = vec![
        pod("a", Some("10.0.0.2"), true, web.clone(), Some(8080)),
        pod("b", Some("10.0.0.1"), false, web.clone(), Some(8080)),
        pod("c", None, true, web.clone(), Some(8080)),
        pod(
            "d",
            Some("10.0.0.9"),
            true,
            json!({"app": "other"}),
            Some(8080),
        ),
        pod("e", Some("10.0.0.3"), true, web.clone(), Some(8081)),
    ];
    let svc = service(false);
    let b = backends(&svc, &pods);
    assert_eq!(
        b.iter().map(|b| b.ip.as_str()).collect::<Vec<_>>(),
        vec!["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    );
    assert_eq!(b[0].node_name.as_deref(), Some("n1"));
    assert_eq!(b[0].target_ref.name.as_deref(), Some("b"));
    let s = subsets(&svc, &b);
    assert_eq!(s.len(), 2, "two port sets: 8080 and 8081");
    assert_eq!(ips(&s[0].addresses), vec!["10.0.0.2"]);
    assert_eq!(ips(&s[0].not_ready_addresses), vec!["10.0.0.1"]);
    let ports: Vec<i32> = s[0].ports.iter().flatten().map(|p| p.port).collect();
    assert_eq!(ports, vec![8080, 9100]);
    assert_eq!(ips(&s[1].addresses), vec!["10.0.0.3"]);

    let published = service(true);
    let s = subsets(&published, &backends(&published, &pods));
    assert_eq!(ips(&s[0].addresses), vec!["10.0.0.1", "10.0.0.2"]);
    assert!(s[0].not_ready_addresses.is_none());
}

#[test]
fn unresolvable_named_port_is_left_out() {
    let p = pod("a", Some("10.0.0.2"), true, json!({"app": "web"}), None);
    let ports = resolve_ports(&service(false), &p);
    assert_eq!(
        ports
            .iter()
            .map(|p| (p.name.clone().unwrap_or_default(), p.port))
            .collect::<Vec<_>>(),
        vec![("metrics".to_string(), 9100)]
    );
}

#[test]
fn terminating_pods_are_not_ready() {
    let mut p = pod("a", Some("10.0.0.2"), true, json!({"app": "web"}), Some(80));
    p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
    ));
    let b = backends(&service(false), [&p]);
    assert!(!b[0].ready && b[0].serving && b[0].terminating);
    assert!(subsets(&service(false), &b).is_empty());
}
