//! The controllers record Events as upstream's do, so `kubectl describe` shows what they did:
//! a Deployment's `ScalingReplicaSet`, a ReplicaSet's `SuccessfulCreate` / `SuccessfulDelete`,
//! a Job's `SuccessfulCreate` and `Completed`.

use serde_json::json;

use crate::harness::{DEADLINE, Kubectl, sim_cluster, wait_for_ready_pods, wait_until};

fn describe_shows(k: &Kubectl, what: &[&str], lines: &[&str]) {
    let mut args = vec!["describe"];
    args.extend_from_slice(what);
    let mut last = String::new();
    wait_until(
        &format!("`kubectl describe {what:?}` shows {lines:?}"),
        DEADLINE,
        || {
            last = k.ok(&args);
            lines.iter().all(|l| last.contains(l))
        },
    );
}

#[test]
fn describe_shows_what_the_controllers_did() {
    let (_server, k, _nodes) = sim_cluster("ev-", 1, 33);

    k.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=2",
    ]);
    wait_for_ready_pods(&k, "app=web", 2, DEADLINE);
    describe_shows(
        &k,
        &["deployment", "web"],
        &[
            "ScalingReplicaSet",
            "Scaled up replica set web-",
            "from 0 to 2",
        ],
    );
    describe_shows(
        &k,
        &["replicaset", "-l", "app=web"],
        &["SuccessfulCreate", "Created pod: web-"],
    );
    k.ok(&["scale", "deployment", "web", "--replicas=1"]);
    wait_for_ready_pods(&k, "app=web", 1, DEADLINE);
    describe_shows(
        &k,
        &["deployment", "web"],
        &["Scaled down replica set web-", "from 2 to 1"],
    );
    describe_shows(
        &k,
        &["replicaset", "-l", "app=web"],
        &["SuccessfulDelete", "Deleted pod: web-"],
    );

    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": "default"},
        "spec": {"template": {"metadata": {"annotations": {"gantry.dev/sim-run-seconds": "1"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "task", "image": "busybox"}]}}}});
    k.ok_stdin(&["create", "-f", "-"], &job.to_string());
    k.ok(&[
        "wait",
        "--for=condition=complete",
        "job/once",
        "--timeout=60s",
    ]);
    describe_shows(
        &k,
        &["job", "once"],
        &[
            "SuccessfulCreate",
            "Created pod: once-",
            "Completed",
            "Job completed",
        ],
    );
}
