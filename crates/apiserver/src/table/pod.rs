//! The pod printer: READY, STATUS (phase, reasons of waiting or terminated containers, init
//! progress, Terminating), RESTARTS with the time of the last restart, and the wide columns.

use k8s_openapi::api::core::v1 as core;
use serde_json::{Value, json};

use super::format::{human_duration, int, list, text, timestamp};
use super::{Printer, age_column, column, doc, name_column};

pub const PRINTER: Printer = Printer {
    columns,
    cells,
    conditions: Some(conditions),
};

fn columns() -> Vec<Value> {
    vec![
        name_column(),
        column(
            "Ready",
            "string",
            "The aggregate readiness state of this pod for accepting traffic.",
            0,
        ),
        column(
            "Status",
            "string",
            "The aggregate status of the containers in this pod.",
            0,
        ),
        column(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            0,
        ),
        age_column(),
        column("IP", "string", doc::<core::PodStatus>("podIP"), 1),
        column("Node", "string", doc::<core::PodSpec>("nodeName"), 1),
        column(
            "Nominated Node",
            "string",
            doc::<core::PodStatus>("nominatedNodeName"),
            1,
        ),
        column(
            "Readiness Gates",
            "string",
            doc::<core::PodSpec>("readinessGates"),
            1,
        ),
    ]
}

fn conditions(pod: &Value) -> Option<Value> {
    match text(&pod["status"]["phase"]) {
        "Succeeded" => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]),
        ),
        "Failed" => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]),
        ),
        _ => None,
    }
}

fn condition_true(pod: &Value, ty: &str) -> bool {
    list(&pod["status"]["conditions"])
        .iter()
        .find(|c| c["type"] == ty)
        .is_some_and(|c| c["status"] == "True")
}

/// When the container last terminated, if it has.
fn last_termination(status: &Value) -> Option<i64> {
    timestamp(&status["lastState"]["terminated"]["finishedAt"])
}

/// A terminated container's reason, or its signal or exit code.
fn terminated_reason(t: &Value, prefix: &str) -> String {
    match text(&t["reason"]) {
        "" if int(&t["signal"]) != 0 => format!("{prefix}Signal:{}", int(&t["signal"])),
        "" => format!("{prefix}ExitCode:{}", int(&t["exitCode"])),
        reason => format!("{prefix}{reason}"),
    }
}

fn cells(pod: &Value, now: i64) -> Vec<Value> {
    let spec = &pod["spec"];
    let status = &pod["status"];
    let init_specs = list(&spec["initContainers"]);
    let restartable = |name: &str| {
        init_specs
            .iter()
            .any(|c| c["name"] == name && c["restartPolicy"] == "Always")
    };
    let total = list(&spec["containers"]).len()
        + init_specs
            .iter()
            .filter(|c| c["restartPolicy"] == "Always")
            .count();
    let phase = text(&status["phase"]);
    let mut reason = match text(&status["reason"]) {
        "" => phase.to_string(),
        r => r.to_string(),
    };
    if list(&status["conditions"])
        .iter()
        .any(|c| c["type"] == "PodScheduled" && c["reason"] == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }

    let mut ready = 0;
    let mut restarts = 0;
    let mut sidecar_restarts = 0;
    let mut last_restart: Option<i64> = None;
    let mut last_sidecar_restart: Option<i64> = None;
    let mut initializing = false;
    let init_statuses = list(&status["initContainerStatuses"]);
    for (i, c) in init_statuses.iter().enumerate() {
        restarts += int(&c["restartCount"]);
        last_restart = last_restart.max(last_termination(c));
        let sidecar = restartable(text(&c["name"]));
        if sidecar {
            sidecar_restarts += int(&c["restartCount"]);
            last_sidecar_restart = last_sidecar_restart.max(last_termination(c));
        }
        let state = &c["state"];
        let terminated = state["terminated"].is_object();
        let waiting_reason = text(&state["waiting"]["reason"]);
        if terminated && int(&state["terminated"]["exitCode"]) == 0 {
            continue;
        }
        if sidecar && c["started"] == true {
            if c["ready"] == true {
                ready += 1;
            }
            continue;
        }
        reason = if terminated {
            terminated_reason(&state["terminated"], "Init:")
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_true(pod, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for c in list(&status["containerStatuses"]).iter().rev() {
            restarts += int(&c["restartCount"]);
            last_restart = last_restart.max(last_termination(c));
            let state = &c["state"];
            let waiting_reason = text(&state["waiting"]["reason"]);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if state["terminated"].is_object() {
                reason = terminated_reason(&state["terminated"], "");
            } else if c["ready"] == true && state["running"].is_object() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(pod, "Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    let deleting = !pod["metadata"]["deletionTimestamp"].is_null();
    if deleting && text(&status["reason"]) == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", human_duration(now - t)),
        _ => restarts.to_string(),
    };

    let ip = list(&status["podIPs"])
        .first()
        .map(|p| text(&p["ip"]))
        .unwrap_or_else(|| text(&status["podIP"]));
    let gates = list(&spec["readinessGates"]);
    let gates_cell = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conds = list(&status["conditions"]);
        let true_count = gates
            .iter()
            .filter(|g| {
                conds
                    .iter()
                    .find(|c| c["type"] == g["conditionType"])
                    .is_some_and(|c| c["status"] == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };
    let none = |s: &str| {
        if s.is_empty() {
            "<none>".to_string()
        } else {
            s.to_string()
        }
    };
    vec![
        pod["metadata"]["name"].clone(),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_cell),
        json!(super::format::since(
            &pod["metadata"]["creationTimestamp"],
            now
        )),
        json!(none(ip)),
        json!(none(text(&spec["nodeName"]))),
        json!(none(text(&status["nominatedNodeName"]))),
        json!(gates_cell),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::PRINTER;
    use crate::table::tests::{NOW, ago, cells};

    fn pod(spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "p", "creationTimestamp": ago(600)}, "spec": spec, "status": status})
    }

    fn running(name: &str, ready: bool, restarts: i64) -> Value {
        json!({"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {"startedAt": ago(60)}}})
    }

    #[test]
    fn pod_status_and_restarts_like_upstream() {
        let one = json!({"containers": [{"name": "a", "image": "nginx"}]});
        let two = json!({"containers": [{"name": "a"}, {"name": "b"}]});
        let cases: Vec<(&str, Value, [&str; 3])> = vec![
            (
                "pending, no statuses",
                pod(one.clone(), json!({"phase": "Pending"})),
                ["0/1", "Pending", "0"],
            ),
            (
                "running and ready",
                pod(
                    one.clone(),
                    json!({"phase": "Running", "containerStatuses": [running("a", true, 0)]}),
                ),
                ["1/1", "Running", "0"],
            ),
            (
                "crash loop",
                pod(
                    one.clone(),
                    json!({"phase": "Running", "containerStatuses": [{"name": "a", "ready": false, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(120)}}}]}),
                ),
                ["0/1", "CrashLoopBackOff", "3 (2m ago)"],
            ),
            (
                "terminated without reason",
                pod(
                    one.clone(),
                    json!({"phase": "Failed", "containerStatuses": [{"name": "a", "restartCount": 0, "state": {"terminated": {"exitCode": 2}}}]}),
                ),
                ["0/1", "ExitCode:2", "0"],
            ),
            (
                "killed by signal",
                pod(
                    one.clone(),
                    json!({"phase": "Failed", "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}),
                ),
                ["0/1", "Signal:9", "0"],
            ),
            (
                "one of two ready",
                pod(
                    two.clone(),
                    json!({"phase": "Running", "containerStatuses": [running("a", true, 1), running("b", false, 2)]}),
                ),
                ["1/2", "Running", "3"],
            ),
            (
                "completed but one still running",
                pod(
                    two,
                    json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [running("a", true, 0), {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
                ),
                ["1/2", "NotReady", "0"],
            ),
            (
                "waiting on the first init container",
                pod(
                    json!({"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]}),
                    json!({"phase": "Pending", "initContainerStatuses": [{"name": "i1", "state": {"running": {}}}, {"name": "i2", "state": {"waiting": {"reason": "PodInitializing"}}}], "containerStatuses": [{"name": "a", "state": {"waiting": {"reason": "PodInitializing"}}}]}),
                ),
                ["0/1", "Init:0/2", "0"],
            ),
            (
                "init container crashing",
                pod(
                    json!({"initContainers": [{"name": "i1"}], "containers": [{"name": "a"}]}),
                    json!({"phase": "Pending", "initContainerStatuses": [{"name": "i1", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(30)}}}]}),
                ),
                ["0/1", "Init:CrashLoopBackOff", "4 (30s ago)"],
            ),
            (
                "init container failed",
                pod(
                    json!({"initContainers": [{"name": "i1"}], "containers": [{"name": "a"}]}),
                    json!({"phase": "Pending", "initContainerStatuses": [{"name": "i1", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
                ),
                ["0/1", "Init:Error", "0"],
            ),
            (
                "sidecar counts as a container",
                pod(
                    json!({"initContainers": [{"name": "side", "restartPolicy": "Always"}], "containers": [{"name": "a"}]}),
                    json!({"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}], "initContainerStatuses": [{"name": "side", "started": true, "ready": true, "restartCount": 1, "state": {"running": {}}, "lastState": {"terminated": {"finishedAt": ago(300)}}}], "containerStatuses": [running("a", true, 0)]}),
                ),
                ["2/2", "Running", "1 (5m ago)"],
            ),
            (
                "scheduling gated",
                pod(
                    one.clone(),
                    json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
                ),
                ["0/1", "SchedulingGated", "0"],
            ),
        ];
        for (what, obj, want) in cases {
            let got = cells(&PRINTER, &obj);
            assert_eq!(
                [&got[1], &got[2], &got[3]],
                want.map(Value::from).each_ref(),
                "{what}"
            );
            assert_eq!(got[4], "10m", "{what}");
        }
    }

    #[test]
    fn pod_terminating_and_wide_columns() {
        let mut obj = pod(
            json!({"nodeName": "n1", "containers": [{"name": "a"}], "readinessGates": [{"conditionType": "x/ready"}, {"conditionType": "y"}]}),
            json!({"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}], "conditions": [{"type": "x/ready", "status": "True"}], "containerStatuses": [running("a", true, 0)]}),
        );
        assert_eq!(
            cells(&PRINTER, &obj)[5..],
            [
                json!("10.0.0.5"),
                json!("n1"),
                json!("<none>"),
                json!("1/2")
            ]
        );
        obj["metadata"]["deletionTimestamp"] = json!(ago(1));
        assert_eq!(cells(&PRINTER, &obj)[2], "Terminating");
        obj["status"]["phase"] = json!("Succeeded");
        obj["status"]["containerStatuses"] =
            json!([{"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]);
        assert_eq!(cells(&PRINTER, &obj)[2], "Completed");
        assert_eq!(
            (PRINTER.conditions.expect("conditions"))(&obj).expect("completed")[0]["reason"],
            "Succeeded"
        );
        let bare = json!({"metadata": {"name": "p"}});
        assert_eq!(
            cells(&PRINTER, &bare)[1..5],
            [json!("0/0"), json!(""), json!("0"), json!("<unknown>")]
        );
        let _ = NOW;
    }
}
