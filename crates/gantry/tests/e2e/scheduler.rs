//! The scheduler as its own process (`gantry scheduler --kubeconfig`) against a real server,
//! checked with real kubectl: pods land on the nodes their selectors, tolerations and requests
//! allow, a pod that fits nowhere gets upstream's FailedScheduling event and
//! `PodScheduled=False`, another scheduler's pods are left alone, and a pod parked as
//! unschedulable is placed once a node grows.

use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::harness::{DEADLINE, Kubectl, Server, wait_until};

/// One `gantry scheduler` process; killed when dropped.
struct Scheduler {
    child: Child,
    log: std::path::PathBuf,
}

impl Scheduler {
    fn start(server: &Server) -> Scheduler {
        let log = server.data_dir().join("scheduler.log");
        let file = std::fs::File::create(&log).expect("creating the scheduler log");
        let child = Command::new(env!("CARGO_BIN_EXE_gantry"))
            .args(["scheduler", "--kubeconfig"])
            .arg(server.kubeconfig())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("cloning the log handle"))
            .stderr(file)
            .spawn()
            .expect("starting gantry scheduler");
        Scheduler { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates a Ready node with `cpu` allocatable, `labels` and `taints`.
fn add_node(k: &Kubectl, name: &str, cpu: &str, labels: Value, taints: Value) {
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}});
    k.ok_stdin(&["create", "-f", "-"], &node.to_string());
    set_status(k, name, cpu);
}

fn set_status(k: &Kubectl, name: &str, cpu: &str) {
    let resources = json!({"cpu": cpu, "memory": "8Gi", "pods": "110"});
    let status = json!({"status": {"capacity": resources, "allocatable": resources, "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ready"}]}});
    k.ok(&[
        "patch",
        "node",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ]);
}

fn add_pod(k: &Kubectl, name: &str, cpu: &str, spec: Value) {
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10", "resources": {"requests": {"cpu": cpu}}}]}});
    if let (Some(target), Value::Object(extra)) = (pod["spec"].as_object_mut(), spec) {
        target.extend(extra);
    }
    k.ok_stdin(&["create", "-f", "-"], &pod.to_string());
}

fn node_of(k: &Kubectl, pod: &str) -> String {
    k.ok(&["get", "pod", pod, "-o", "jsonpath={.spec.nodeName}"])
}

fn failed_scheduling(k: &Kubectl, pod: &str) -> Vec<Value> {
    let events = k.json(&["get", "events", "-n", "default"]);
    let items = events["items"].as_array().cloned().unwrap_or_default();
    items
        .into_iter()
        .filter(|e| e["involvedObject"]["name"] == pod && e["reason"] == "FailedScheduling")
        .collect()
}

#[test]
fn places_pods_and_reports_failures() {
    let server = Server::start();
    let k = Kubectl::new(&server, 32);
    add_node(&k, "ssd-1", "4", json!({"disk": "ssd"}), json!([]));
    add_node(&k, "hdd-1", "4", json!({"disk": "hdd"}), json!([]));
    add_node(
        &k,
        "gpu-1",
        "4",
        json!({"disk": "ssd"}),
        json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
    );
    add_pod(&k, "on-ssd", "1", json!({"nodeSelector": {"disk": "ssd"}}));
    add_pod(
        &k,
        "on-gpu",
        "1",
        json!({"nodeSelector": {"kubernetes.io/hostname": "gpu-1"}, "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}),
    );
    add_pod(&k, "too-big", "6", json!({}));
    add_pod(
        &k,
        "not-ours",
        "100m",
        json!({"schedulerName": "other-scheduler"}),
    );
    // kubernetes.io/hostname is set by kubelets; these nodes are hand-made.
    k.ok(&["label", "node", "gpu-1", "kubernetes.io/hostname=gpu-1"]);

    let scheduler = Scheduler::start(&server);
    let placed = |pod: &str, want: &str| {
        wait_until(&format!("{pod} is bound to {want}"), DEADLINE, || {
            node_of(&k, pod) == want
        });
    };
    placed("on-ssd", "ssd-1");
    placed("on-gpu", "gpu-1");

    let want = "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. \
                preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    let mut events = Vec::new();
    wait_until("too-big gets a FailedScheduling event", DEADLINE, || {
        events = failed_scheduling(&k, "too-big");
        !events.is_empty()
    });
    let event = &events[0];
    assert_eq!(
        event["message"],
        want,
        "{event:#}\nscheduler log:\n{}",
        scheduler.log()
    );
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reportingComponent"], "default-scheduler");
    wait_until("too-big has PodScheduled=False", DEADLINE, || {
        let pod = k.json(&["get", "pod", "too-big"]);
        let conditions = pod["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        conditions.iter().any(|c| {
            c["type"] == "PodScheduled"
                && c["status"] == "False"
                && c["reason"] == "Unschedulable"
                && c["message"] == want
        })
    });
    assert_eq!(node_of(&k, "too-big"), "");
    assert_eq!(
        node_of(&k, "not-ours"),
        "",
        "another scheduler's pod stays pending"
    );
    assert!(failed_scheduling(&k, "not-ours").is_empty());

    // A node that grows makes the parked pod schedulable again.
    set_status(&k, "hdd-1", "8");
    placed("too-big", "hdd-1");
    assert_eq!(node_of(&k, "not-ours"), "");
}
