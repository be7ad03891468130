//! Containers that die: a main process killed from the host is restarted per restartPolicy
//! Always, and a container over its memory limit reports OOMKilled.

use std::time::Duration;

use crate::harness::{
    BUSYBOX, Cluster, POD_DEADLINE, container_id, container_status, restart_count,
};

#[test]
fn main_process_killed_from_the_host_is_restarted() {
    let cluster = Cluster::start(4);
    cluster.apply(&format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: victim
spec:
  restartPolicy: Always
  containers:
  - name: main
    image: {BUSYBOX}
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
"#
    ));
    let pod = cluster.wait_running("victim");
    assert_eq!(restart_count(&pod), 0);
    let id = container_id(&pod);
    let pid = cluster
        .task_pid(&id)
        .unwrap_or_else(|| panic!("no task for container {id}"));
    let comm =
        std::fs::read_to_string(format!("/proc/{pid}/comm")).expect("reading the task's comm");
    assert_eq!(
        comm.trim(),
        "sleep",
        "pid {pid} is not the container's sleep"
    );
    // SAFETY: SIGKILL to the container's main process, found through this node's containerd.
    assert_eq!(
        unsafe { libc::kill(pid, libc::SIGKILL) },
        0,
        "killing pid {pid}"
    );

    let pod = cluster.wait_pod(
        "victim",
        "is restarted after its process was killed",
        POD_DEADLINE,
        |p| restart_count(p) == 1 && container_status(p)["state"]["running"].is_object(),
    );
    let status = container_status(&pod);
    let terminated = &status["lastState"]["terminated"];
    assert_eq!(terminated["exitCode"], 137, "{status}");
    assert_eq!(
        terminated["containerID"],
        format!("containerd://{id}"),
        "{status}"
    );
    assert_ne!(container_id(&pod), id, "a new container runs");
    assert_eq!(pod["status"]["phase"], "Running");
}

/// A pod whose one container reads 64 MiB into a single buffer (`dd` touches every page) under
/// a 16 MiB memory limit.
fn memory_hog(name: &str, restart_policy: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: {restart_policy}
  containers:
  - name: main
    image: {BUSYBOX}
    imagePullPolicy: IfNotPresent
    command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]
    resources:
      limits:
        memory: 16Mi
"#
    )
}

#[test]
fn container_over_its_memory_limit_is_oom_killed() {
    let cluster = Cluster::start(5);
    cluster.apply(&memory_hog("hog", "Never"));
    cluster.apply(&memory_hog("hog-again", "Always"));
    // containerd may report the exit before its OOM event (reason "Error" first, then
    // "OOMKilled"): wait for the settled state rather than the first terminated one.
    let pod = cluster.wait_pod("hog", "was OOM-killed", Duration::from_secs(60), |p| {
        container_status(p)["state"]["terminated"]["reason"] == "OOMKilled"
            && p["status"]["phase"] == "Failed"
    });
    let status = container_status(&pod);
    let terminated = &status["state"]["terminated"];
    assert_eq!(terminated["reason"], "OOMKilled", "{status}");
    assert_eq!(terminated["exitCode"], 137, "{status}");
    assert_eq!(restart_count(&pod), 0);

    // With restartPolicy Always the kill is the last state of a restarted container.
    let pod = cluster.wait_pod(
        "hog-again",
        "was restarted after an OOM kill",
        Duration::from_secs(60),
        |p| {
            restart_count(p) >= 1
                && container_status(p)["lastState"]["terminated"]["reason"] == "OOMKilled"
        },
    );
    let status = container_status(&pod);
    let last = &status["lastState"]["terminated"];
    assert_eq!(last["reason"], "OOMKilled", "{status}");
    assert_eq!(last["exitCode"], 137, "{status}");
}
