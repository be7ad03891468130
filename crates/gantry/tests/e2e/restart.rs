//! The control plane survives a restart, with real kubectl 1.32: `gantry server` is stopped and
//! started again on the same data dir while a Deployment is converging, with the simulated
//! nodes left running; afterwards the controllers and scheduler pick up where they were
//! (level-triggered): the scale finishes, later scales and a new rollout converge, and nothing
//! was created twice. A Job cut in half by a restart finishes with exactly its completions.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    DEADLINE, Kubectl, Server, SimNodes, ready_nodes, wait_for_ready_pods, wait_until,
};

const CONVERGE: Duration = Duration::from_secs(60);

fn deployment(replicas: u32) -> String {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "steady", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "steady"}},
            "template": {"metadata": {"labels": {"app": "steady"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.26"}]}}}})
    .to_string()
}

fn names(pods: &[Value]) -> BTreeSet<String> {
    pods.iter()
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

fn rollout_status(k: &Kubectl) {
    let out = k.ok(&["rollout", "status", "deployment/steady", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
}

fn replica_set_count(k: &Kubectl) -> usize {
    k.json(&["get", "replicasets", "-l", "app=steady"])["items"]
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn controllers_and_scheduler_converge_across_a_server_restart() {
    let mut server = Server::start();
    let k = Kubectl::new(&server, 32);
    let _nodes = SimNodes::start(&server, "keep-", 3);
    wait_until("3 nodes are Ready", DEADLINE, || ready_nodes(&k).len() == 3);
    k.ok_stdin(&["apply", "-f", "-"], &deployment(3));
    rollout_status(&k);
    let first = names(&wait_for_ready_pods(&k, "app=steady", 3, CONVERGE));

    // Scale, and restart before the controllers could have finished.
    k.ok(&["scale", "deployment/steady", "--replicas=8"]);
    server.restart();
    let after_restart = wait_for_ready_pods(&k, "app=steady", 8, CONVERGE);
    rollout_status(&k);
    assert!(
        first.is_subset(&names(&after_restart)),
        "running pods were replaced: {first:?}"
    );
    assert_eq!(
        replica_set_count(&k),
        1,
        "the restart made a second ReplicaSet"
    );
    assert!(after_restart.iter().all(|p| {
        p["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| n.starts_with("keep-"))
    }));

    // The restarted control plane keeps acting: scale down, up, and a new template.
    k.ok(&["scale", "deployment/steady", "--replicas=2"]);
    wait_for_ready_pods(&k, "app=steady", 2, CONVERGE);
    k.ok(&["scale", "deployment/steady", "--replicas=5"]);
    wait_for_ready_pods(&k, "app=steady", 5, CONVERGE);
    k.ok(&["set", "image", "deployment/steady", "app=nginx:1.27"]);
    rollout_status(&k);
    let pods = wait_for_ready_pods(&k, "app=steady", 5, CONVERGE);
    assert!(
        pods.iter()
            .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.27"),
        "{pods:?}"
    );
    assert_eq!(replica_set_count(&k), 2);

    // A second restart with nothing pending changes nothing, and a pod deleted while the
    // server is back is still replaced.
    let settled = names(&pods);
    server.restart();
    let d = k.json(&["get", "deployment", "steady"]);
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2",
        "{d}"
    );
    let victim = settled.iter().next().cloned().expect("a pod");
    k.ok(&["delete", "pod", &victim]);
    let healed = names(&wait_for_ready_pods(&k, "app=steady", 5, CONVERGE));
    assert!(!healed.contains(&victim), "{healed:?}");
    assert_eq!(
        healed.intersection(&settled).count(),
        4,
        "{settled:?} -> {healed:?}"
    );
    let d = k.json(&["get", "deployment", "steady"]);
    assert_eq!(
        d["status"]["observedGeneration"], d["metadata"]["generation"],
        "{d}"
    );
    assert_eq!(replica_set_count(&k), 2);
}

#[test]
fn job_completes_exactly_once_across_a_server_restart() {
    let mut server = Server::start();
    let k = Kubectl::new(&server, 32);
    let _nodes = SimNodes::start(&server, "batch-", 2);
    wait_until("2 nodes are Ready", DEADLINE, || ready_nodes(&k).len() == 2);
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "halves", "namespace": "default"},
        "spec": {"completions": 4, "parallelism": 2,
            "template": {"metadata": {"annotations": {"gantry.dev/sim-run-seconds": "2"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "task", "image": "busybox"}]}}}});
    k.ok_stdin(&["create", "-f", "-"], &job.to_string());
    wait_until("the first 2 pods of the Job run", DEADLINE, || {
        let pods = k.json(&["get", "pods", "-l", "job-name=halves"]);
        pods["items"].as_array().is_some_and(|ps| {
            ps.iter()
                .filter(|p| p["status"]["phase"] == "Running")
                .count()
                == 2
        })
    });
    server.restart();
    let out = k.ok(&[
        "wait",
        "--for=condition=complete",
        "job/halves",
        "--timeout=90s",
    ]);
    assert_eq!(out.trim(), "job.batch/halves condition met");
    let j = k.json(&["get", "job", "halves"]);
    assert_eq!(j["status"]["succeeded"], 4, "{j}");
    assert!(j["status"]["failed"].as_i64().unwrap_or(0) == 0, "{j}");
    let pods = k.json(&["get", "pods", "-l", "job-name=halves"]);
    let pods = pods["items"].as_array().cloned().unwrap_or_default();
    let phases: Vec<&str> = pods
        .iter()
        .filter_map(|p| p["status"]["phase"].as_str())
        .collect();
    assert_eq!(
        phases, ["Succeeded"; 4],
        "the restart made the Job run more pods than completions"
    );
    // Completed pods lose the Job's tracking finalizer, so nothing holds them.
    for pod in &pods {
        let finalizers = pod["metadata"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            finalizers
                .iter()
                .all(|f| f != "batch.kubernetes.io/job-tracking"),
            "{pod}"
        );
    }
}
