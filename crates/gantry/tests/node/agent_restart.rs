//! Restarting the agent (SIGTERM to `gantry up`, then `gantry up` again) leaves pods running:
//! the same container, no restart, still Ready.

use crate::harness::{
    BUSYBOX, Cluster, container_id, container_status, is_running_ready, restart_count,
};

#[test]
fn agent_restart_leaves_pods_running() {
    let mut cluster = Cluster::start(6);
    cluster.apply(&format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: survivor
spec:
  containers:
  - name: main
    image: {BUSYBOX}
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo $$ > /tmp/pid-file; exec sleep 3600"]
    readinessProbe:
      exec:
        command: ["cat", "/tmp/pid-file"]
      periodSeconds: 1
"#
    ));
    let before = cluster.wait_running("survivor");
    let id = container_status(&before)["containerID"].clone();
    let pid = cluster
        .task_pid(&container_id(&before))
        .expect("the container's task runs");
    let marker = cluster.kubectl_ok(&[
        "exec",
        "survivor",
        "--",
        "sh",
        "-c",
        "echo alive > /tmp/marker; cat /tmp/marker",
    ]);
    assert_eq!(marker, "alive\n");

    cluster.stop();
    assert!(!cluster.alive());
    cluster.restart();

    // A pod created after the restart runs: the new kubelet is syncing pods again.
    cluster.apply(&format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: newcomer
spec:
  containers:
  - name: main
    image: {BUSYBOX}
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
"#
    ));
    cluster.wait_running("newcomer");
    let after = cluster.wait_running("survivor");
    assert_eq!(
        container_status(&after)["containerID"],
        id,
        "the same container runs"
    );
    assert_eq!(restart_count(&after), 0);
    assert_eq!(
        cluster.task_pid(&container_id(&after)),
        Some(pid),
        "the same process runs"
    );
    assert!(is_running_ready(&after));
    // The container was never restarted: what it wrote before is still there.
    let marker = cluster.kubectl_ok(&["exec", "survivor", "--", "cat", "/tmp/marker"]);
    assert_eq!(marker, "alive\n");
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
}
