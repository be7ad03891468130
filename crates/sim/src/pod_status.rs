//! Pod statuses a simulated kubelet reports, as merge patches of `pods/status`: Running and
//! Ready with made-up IPs and container IDs, and, for run-to-completion pods annotated with
//! `gantry.dev/sim-run-seconds`, Succeeded or Failed. Pure functions of the pod and the clock.

use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use crate::node::rfc3339;

/// Seconds a run-to-completion pod runs before it terminates.
pub const RUN_SECONDS_ANNOTATION: &str = "gantry.dev/sim-run-seconds";
/// The exit code its containers terminate with (default 0; non-zero gives phase Failed).
pub const EXIT_CODE_ANNOTATION: &str = "gantry.dev/sim-exit-code";

/// The status patch that marks `pod` Running and Ready, started at its existing `startTime` if
/// it has one (a restarted sim re-marking its pods), else `now`.
pub fn running(pod: &Pod, pod_ip: Ipv4Addr, host_ip: Ipv4Addr, now: Timestamp) -> Value {
    let now_s = rfc3339(now);
    let started = start_time(pod).unwrap_or_else(|| now_s.clone());
    let spec = pod.spec.as_ref();
    let containers: Vec<Value> = spec
        .map(|s| {
            s.containers
                .iter()
                .map(|c| {
                    json!({
                        "name": c.name,
                        "ready": true,
                        "started": true,
                        "restartCount": 0,
                        "image": image(c),
                        "imageID": image_id(c),
                        "containerID": container_id(pod, c),
                        "state": {"running": {"startedAt": started}},
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut status = json!({
        "phase": "Running",
        "conditions": [
            condition("PodReadyToStartContainers", "True", &now_s, None),
            condition("Initialized", "True", &now_s, None),
            condition("Ready", "True", &now_s, None),
            condition("ContainersReady", "True", &now_s, None),
            condition("PodScheduled", "True", &now_s, None),
        ],
        "hostIP": host_ip.to_string(),
        "hostIPs": [{"ip": host_ip.to_string()}],
        "podIP": pod_ip.to_string(),
        "podIPs": [{"ip": pod_ip.to_string()}],
        "startTime": started,
        "containerStatuses": containers,
        "qosClass": qos_class(pod),
    });
    if let Some(init) = init_statuses(pod, &started) {
        status["initContainerStatuses"] = init;
    }
    json!({"status": status})
}

/// The status patch that ends a run-to-completion pod: every container terminated with
/// `exit_code`, phase Succeeded (0) or Failed (anything else).
pub fn completed(pod: &Pod, exit_code: i32, now: Timestamp) -> Value {
    let now_s = rfc3339(now);
    let started = start_time(pod).unwrap_or_else(|| now_s.clone());
    let (phase, reason) = if exit_code == 0 {
        ("Succeeded", "Completed")
    } else {
        ("Failed", "Error")
    };
    let containers: Vec<Value> = pod
        .spec
        .as_ref()
        .map(|s| {
            s.containers.iter().map(|c| json!({
            "name": c.name,
            "ready": false,
            "started": false,
            "restartCount": 0,
            "image": image(c),
            "imageID": image_id(c),
            "containerID": container_id(pod, c),
            "state": {"terminated": {"exitCode": exit_code, "reason": reason, "startedAt": started,
                                     "finishedAt": now_s, "containerID": container_id(pod, c)}},
        })).collect()
        })
        .unwrap_or_default();
    json!({"status": {
        "phase": phase,
        "conditions": [
            condition("PodReadyToStartContainers", "False", &now_s, None),
            condition("Initialized", "True", &now_s, None),
            condition("Ready", "False", &now_s, Some("PodCompleted")),
            condition("ContainersReady", "False", &now_s, Some("PodCompleted")),
            condition("PodScheduled", "True", &now_s, None),
        ],
        "containerStatuses": containers,
    }})
}

/// How long `pod` runs before it completes: its `gantry.dev/sim-run-seconds` annotation, only
/// for pods that are not restarted (`restartPolicy` Never or OnFailure). Pods with
/// `restartPolicy: Always` run until deleted.
pub fn run_seconds(pod: &Pod) -> Option<u64> {
    let policy = pod
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always");
    if policy == "Always" {
        return None;
    }
    annotation(pod, RUN_SECONDS_ANNOTATION)?.trim().parse().ok()
}

/// The exit code `pod`'s containers end with: `gantry.dev/sim-exit-code`, 0 when absent or not
/// a number.
pub fn exit_code(pod: &Pod) -> i32 {
    annotation(pod, EXIT_CODE_ANNOTATION)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The pod's `status.startTime` as written by the server, if set.
pub fn start_time(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()?
        .start_time
        .as_ref()
        .map(|t| rfc3339(t.0))
}

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

fn condition(kind: &str, status: &str, now: &str, reason: Option<&str>) -> Value {
    let mut c =
        json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": now});
    if let Some(reason) = reason {
        c["reason"] = json!(reason);
    }
    c
}

fn init_statuses(pod: &Pod, started: &str) -> Option<Value> {
    let init = pod
        .spec
        .as_ref()?
        .init_containers
        .as_ref()
        .filter(|i| !i.is_empty())?;
    Some(Value::Array(init.iter().map(|c| json!({
        "name": c.name,
        "ready": true,
        "started": false,
        "restartCount": 0,
        "image": image(c),
        "imageID": image_id(c),
        "containerID": container_id(pod, c),
        "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started,
                                 "finishedAt": started, "containerID": container_id(pod, c)}},
    })).collect()))
}

fn image(c: &Container) -> String {
    c.image.clone().unwrap_or_default()
}

fn image_id(c: &Container) -> String {
    format!("sim://{}", image(c))
}

fn container_id(pod: &Pod, c: &Container) -> String {
    format!(
        "sim://{}/{}",
        pod.metadata.uid.as_deref().unwrap_or("unknown"),
        c.name
    )
}

/// Guaranteed when every container has limits equal to its requests for cpu and memory,
/// BestEffort when none has any, Burstable otherwise (upstream's rule, simplified).
fn qos_class(pod: &Pod) -> &'static str {
    let Some(spec) = pod.spec.as_ref() else {
        return "BestEffort";
    };
    let resources = spec
        .containers
        .iter()
        .map(|c| c.resources.clone().unwrap_or_default());
    let mut any = false;
    let mut guaranteed = true;
    for r in resources {
        let requests = r.requests.unwrap_or_default();
        let limits = r.limits.unwrap_or_default();
        any |= !requests.is_empty() || !limits.is_empty();
        for key in ["cpu", "memory"] {
            let limit = limits.get(key);
            let request = requests.get(key).or(limit);
            guaranteed &= limit.is_some() && request == limit;
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

#[cfg(test)]
mod tests;
