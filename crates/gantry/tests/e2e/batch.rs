//! Jobs and CronJobs with real kubectl 1.32 against `gantry server` and simulated nodes whose
//! pods finish after `gantry.dev/sim-run-seconds`: a Job of 3 completions, 2 at a time,
//! completes; a failing Job stops at its backoffLimit; a CronJob fires on its own schedule and
//! `kubectl create job --from=cronjob/...` copies its template.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{DEADLINE, Kubectl, Server, SimNodes, wait_until};

fn job(name: &str, completions: u32, parallelism: u32, exit_code: u32) -> String {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"},
        "spec": {"completions": completions, "parallelism": parallelism, "backoffLimit": 1,
            "template": {"metadata": {"annotations": {"gantry.dev/sim-run-seconds": "1", "gantry.dev/sim-exit-code": exit_code.to_string()}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "task", "image": "busybox"}]}}}})
    .to_string()
}

fn job_pods(k: &Kubectl, job: &str) -> Vec<Value> {
    k.json(&["get", "pods", "-l", &format!("job-name={job}")])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a str> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)?["status"]
        .as_str()
}

#[test]
fn job_completes_with_parallelism() {
    let server = Server::start();
    let k = Kubectl::new(&server, 32);
    let _nodes = SimNodes::start(&server, "batch-", 2);
    let out = k.ok_stdin(&["create", "-f", "-"], &job("count", 3, 2, 0));
    assert_eq!(out.trim(), "job.batch/count created");

    // Never more than `parallelism` pods run at once.
    let watch = k.background(&["get", "pods", "-l", "job-name=count", "-w", "-o", "json"]);
    let out = k.ok(&[
        "wait",
        "--for=condition=complete",
        "job/count",
        "--timeout=60s",
    ]);
    assert_eq!(out.trim(), "job.batch/count condition met");
    let j = k.json(&["get", "job", "count"]);
    assert_eq!(j["status"]["succeeded"], 3, "{j}");
    assert!(j["status"]["failed"].as_i64().unwrap_or(0) == 0, "{j}");
    assert!(j["status"]["active"].as_i64().unwrap_or(0) == 0, "{j}");
    assert!(j["status"]["completionTime"].is_string(), "{j}");
    assert_eq!(condition(&j, "Complete"), Some("True"), "{j}");
    let pods = job_pods(&k, "count");
    assert_eq!(
        pods.iter()
            .filter(|p| p["status"]["phase"] == "Succeeded")
            .count(),
        3,
        "{pods:?}"
    );
    assert!(
        pods.iter()
            .all(|p| p["metadata"]["ownerReferences"][0]["name"] == "count")
    );

    let mut running = std::collections::BTreeSet::new();
    let mut most = 0;
    for pod in serde_json::Deserializer::from_str(&watch.stdout())
        .into_iter::<Value>()
        .map_while(Result::ok)
    {
        let name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if pod["status"]["phase"] == "Running" {
            running.insert(name);
        } else {
            running.remove(&name);
        }
        most = most.max(running.len());
    }
    assert!(
        (1..=2).contains(&most),
        "{most} pods ran at once with parallelism 2"
    );
    let table = k.ok(&["get", "job", "count"]);
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("Complete") || l.contains("3/3")),
        "{table}"
    );
}

#[test]
fn failing_job_stops_at_backoff_limit() {
    let server = Server::start();
    let k = Kubectl::new(&server, 32);
    let _nodes = SimNodes::start(&server, "fail-", 1);
    k.ok_stdin(&["create", "-f", "-"], &job("broken", 1, 1, 3));
    let out = k.ok(&[
        "wait",
        "--for=condition=failed",
        "job/broken",
        "--timeout=60s",
    ]);
    assert_eq!(out.trim(), "job.batch/broken condition met");
    let j = k.json(&["get", "job", "broken"]);
    assert_eq!(
        j["status"]["failed"], 2,
        "backoffLimit 1 allows 2 attempts: {j}"
    );
    assert!(j["status"]["succeeded"].as_i64().unwrap_or(0) == 0, "{j}");
    let failed = j["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Failed").cloned());
    assert_eq!(
        failed.as_ref().map(|c| &c["reason"]),
        Some(&json!("BackoffLimitExceeded")),
        "{j}"
    );
    let pods = job_pods(&k, "broken");
    assert_eq!(
        pods.iter()
            .filter(|p| p["status"]["phase"] == "Failed")
            .count(),
        2,
        "{pods:?}"
    );
}

#[test]
fn cronjob_fires_on_schedule_and_on_demand() {
    let server = Server::start();
    let k = Kubectl::new(&server, 32);
    let _nodes = SimNodes::start(&server, "cron-", 1);
    let out = k.ok(&[
        "create",
        "cronjob",
        "tick",
        "--image=busybox",
        "--schedule=* * * * *",
        "--restart=Never",
    ]);
    assert_eq!(out.trim(), "cronjob.batch/tick created");
    let patch = json!({"spec": {"jobTemplate": {"spec": {"template": {"metadata": {"annotations": {"gantry.dev/sim-run-seconds": "1"}}}}}}});
    k.ok(&[
        "patch",
        "cronjob",
        "tick",
        "--type=merge",
        "-p",
        &patch.to_string(),
    ]);

    // On demand: a Job from the CronJob's template, owned by it and annotated as manual.
    assert_eq!(
        k.ok(&["create", "job", "now", "--from=cronjob/tick"])
            .trim(),
        "job.batch/now created"
    );
    let manual = k.json(&["get", "job", "now"]);
    assert_eq!(
        manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"], "manual",
        "{manual}"
    );
    assert_eq!(
        manual["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox"
    );
    assert_eq!(
        manual["metadata"]["ownerReferences"][0]["name"], "tick",
        "{manual}"
    );
    let out = k.ok(&[
        "wait",
        "--for=condition=complete",
        "job/now",
        "--timeout=60s",
    ]);
    assert_eq!(out.trim(), "job.batch/now condition met");

    // On schedule: within a minute (plus slack) the controller creates a Job it owns.
    let mut scheduled = None;
    wait_until(
        "the CronJob creates its first Job",
        Duration::from_secs(75),
        || {
            let jobs = k.json(&["get", "jobs"])["items"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            scheduled = jobs.into_iter().find(|j| {
                j["metadata"]["ownerReferences"][0]["name"] == "tick"
                    && j["metadata"]["name"] != "now"
            });
            scheduled.is_some()
        },
    );
    let fired = scheduled.expect("a scheduled Job");
    let name = fired["metadata"]["name"]
        .as_str()
        .expect("job name")
        .to_string();
    let suffix = name
        .strip_prefix("tick-")
        .expect("the Job is named after the CronJob");
    let minutes: i64 = suffix
        .parse()
        .unwrap_or_else(|_| panic!("{name}: upstream suffixes the scheduled minute"));
    assert!(minutes > 0, "{name}");
    assert_eq!(fired["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    assert_eq!(fired["metadata"]["ownerReferences"][0]["controller"], true);
    assert!(
        fired["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
            .is_string(),
        "{fired}"
    );
    let out = k.ok(&[
        "wait",
        "--for=condition=complete",
        &format!("job/{name}"),
        "--timeout=60s",
    ]);
    assert!(out.contains("condition met"), "{out}");
    wait_until(
        "the CronJob records its last schedule and success",
        DEADLINE,
        || {
            let cj = k.json(&["get", "cronjob", "tick"]);
            cj["status"]["lastScheduleTime"].is_string()
                && cj["status"]["lastSuccessfulTime"].is_string()
        },
    );
}
