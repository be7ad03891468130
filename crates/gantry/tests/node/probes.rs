//! A failing liveness probe restarts the container.

use std::time::Duration;

use crate::harness::{BUSYBOX, Cluster, container_status, restart_count};

#[test]
fn failing_liveness_probe_restarts_the_container() {
    let cluster = Cluster::start(3);
    cluster.apply(&format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: unhealthy
spec:
  containers:
  - name: main
    image: {BUSYBOX}
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "touch /tmp/healthy; sleep 3; rm -f /tmp/healthy; exec sleep 3600"]
    livenessProbe:
      exec:
        command: ["cat", "/tmp/healthy"]
      periodSeconds: 1
      failureThreshold: 2
"#
    ));
    cluster.wait_running("unhealthy");
    let pod = cluster.wait_pod(
        "unhealthy",
        "restarts after failing its liveness probe",
        Duration::from_secs(90),
        |p| restart_count(p) >= 1 && container_status(p)["lastState"]["terminated"].is_object(),
    );
    let status = container_status(&pod);
    let terminated = &status["lastState"]["terminated"];
    assert!(
        terminated["exitCode"].as_i64().is_some_and(|c| c != 0),
        "{status}"
    );
    assert!(
        terminated["containerID"]
            .as_str()
            .is_some_and(|id| id.starts_with("containerd://")),
        "{status}"
    );
    // And the restarted container runs again.
    cluster.wait_pod("unhealthy", "runs again", Duration::from_secs(60), |p| {
        container_status(p)["state"]["running"].is_object() && restart_count(p) >= 1
    });
}
