//! Table output as kubectl prints it: the columns (and `-o wide` columns) of pods,
//! deployments and services, the cells computed from the objects, and `-o custom-columns`
//! and `--show-labels` working on the same Tables.

use serde_json::json;

use crate::harness::{Kubectl, Server};

crate::per_kubectl! {
    table_columns => columns;
}

/// Splits kubectl's table into rows of cells; cells are separated by at least two spaces or
/// end the line, so multi-word headers (`NOMINATED NODE`) stay one cell.
fn table(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect()
        })
        .collect()
}

fn header(out: &str) -> Vec<String> {
    table(out).into_iter().next().unwrap_or_default()
}

/// The row whose first cell is `name`.
fn row(out: &str, name: &str) -> Vec<String> {
    table(out)
        .into_iter()
        .find(|r| r.first().map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no row {name}:\n{out}"))
}

fn columns(minor: u32) {
    let server = Server::start();
    let k = Kubectl::new(&server, minor);

    // The node exists, so no controller treats the pod bound to it as orphaned.
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}});
    k.ok_stdin(&["create", "-f", "-"], &node.to_string());
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "labels": {"app": "p"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "a", "image": "nginx:1.27"}, {"name": "b", "image": "busybox:1.36"}]}
    });
    k.ok_stdin(&["create", "-f", "-"], &pod.to_string());
    let status = json!({"status": {
        "phase": "Running", "podIP": "10.42.0.7", "podIPs": [{"ip": "10.42.0.7"}],
        "containerStatuses": [
            {"name": "a", "ready": true, "restartCount": 2, "image": "nginx:1.27", "imageID": "", "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}},
            {"name": "b", "ready": false, "restartCount": 1, "image": "busybox:1.36", "imageID": "", "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}
        ]
    }});
    k.ok(&[
        "patch",
        "pod",
        "p",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        &status.to_string(),
    ]);

    let pods = k.ok(&["get", "pods"]);
    assert_eq!(
        header(&pods),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{pods}"
    );
    assert_eq!(row(&pods, "p")[..4], ["p", "1/2", "Running", "3"], "{pods}");
    let wide = k.ok(&["get", "pods", "-o", "wide"]);
    assert_eq!(
        header(&wide),
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES"
        ],
        "{wide}"
    );
    let wide_row = row(&wide, "p");
    assert_eq!(
        wide_row[5..],
        ["10.42.0.7", "n1", "<none>", "<none>"],
        "{wide}"
    );
    let labels = k.ok(&["get", "pods", "--show-labels"]);
    assert_eq!(header(&labels).last().map(String::as_str), Some("LABELS"));
    assert_eq!(
        row(&labels, "p").last().map(String::as_str),
        Some("app=p"),
        "{labels}"
    );

    k.ok(&["run", "pending", "--image=nginx:1.27"]);
    let pods = k.ok(&["get", "pods"]);
    assert_eq!(
        row(&pods, "pending")[..4],
        ["pending", "0/1", "Pending", "0"],
        "{pods}"
    );

    k.ok(&[
        "create",
        "deployment",
        "d",
        "--image=nginx:1.27",
        "--replicas=3",
    ]);
    let deploys = k.ok(&["get", "deploy"]);
    assert_eq!(
        header(&deploys),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{deploys}"
    );
    let d = row(&deploys, "d");
    assert_eq!(d[0], "d");
    assert!(
        d[1].ends_with("/3"),
        "READY counts against 3 replicas: {deploys}"
    );
    let wide = k.ok(&["get", "deploy", "-o", "wide"]);
    assert_eq!(
        header(&wide)[5..],
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        "{wide}"
    );
    assert_eq!(
        row(&wide, "d")[5..],
        ["nginx", "nginx:1.27", "app=d"],
        "{wide}"
    );

    k.ok(&[
        "create",
        "service",
        "clusterip",
        "s",
        "--tcp=80:8080",
        "--tcp=443:8443",
    ]);
    k.ok(&["create", "service", "nodeport", "np", "--tcp=81:8081"]);
    let services = k.ok(&["get", "svc"]);
    assert_eq!(
        header(&services),
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ],
        "{services}"
    );
    let s = row(&services, "s");
    assert_eq!(
        [&s[1], &s[3], &s[4]],
        ["ClusterIP", "<none>", "80/TCP,443/TCP"],
        "{services}"
    );
    let wide = k.ok(&["get", "svc", "-o", "wide"]);
    assert_eq!(
        header(&wide).last().map(String::as_str),
        Some("SELECTOR"),
        "{wide}"
    );
    assert_eq!(
        row(&wide, "s").last().map(String::as_str),
        Some("app=s"),
        "{wide}"
    );

    let custom = k.ok(&[
        "get",
        "pods",
        "p",
        "pending",
        "-o",
        "custom-columns=NAME:.metadata.name,NODE:.spec.nodeName",
        "--sort-by=.metadata.name",
    ]);
    assert_eq!(
        table(&custom),
        [
            vec!["NAME", "NODE"],
            vec!["p", "n1"],
            vec!["pending", "<none>"]
        ],
        "{custom}"
    );

    // Last, as gantry does not allocate them yet: the addresses and node ports upstream assigns.
    let s = row(&services, "s");
    let cluster_ip = k.json(&["get", "svc", "s"])["spec"]["clusterIP"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        !cluster_ip.is_empty(),
        "a ClusterIP service gets an address"
    );
    assert_eq!(
        s[1..5],
        [
            "ClusterIP".to_string(),
            cluster_ip,
            "<none>".into(),
            "80/TCP,443/TCP".into()
        ],
        "{services}"
    );
    let np = row(&services, "np");
    let node_port = k.json(&["get", "svc", "np"])["spec"]["ports"][0]["nodePort"]
        .as_i64()
        .unwrap_or_default();
    assert!(
        (30000..=32767).contains(&node_port),
        "a NodePort service gets a port in range: {node_port}"
    );
    assert_eq!(np[1], "NodePort");
    assert_eq!(np[4], format!("81:{node_port}/TCP"), "{services}");
}
