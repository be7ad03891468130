//! Containers that die: a main process killed from the host is restarted per restartPolicy
//! Always, and a container over its memory limit reports OOMKilled.

use std::process::Command;
use std::time::Duration;

use crate::harness::{BUSYBOX, Cluster, POD_DEADLINE, container_status, restart_count};

/// The host PID of a container's task, from containerd (`ctr tasks ls`).
fn task_pid(cluster: &Cluster, container_id: &str) -> Option<i32> {
    let out = Command::new("ctr")
        .arg("--address")
        .arg(cluster.containerd_socket())
        .args(["-n", "k8s.io", "tasks", "ls"])
        .output()
        .expect("running ctr");
    assert!(
        out.status.success(),
        "ctr tasks ls: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            (fields.next() == Some(container_id))
                .then(|| fields.next()?.parse().ok())
                .flatten()
        })
}

fn container_id(pod: &serde_json::Value) -> String {
    let id = container_status(pod)["containerID"]
        .as_str()
        .expect("a container ID");
    id.strip_prefix("containerd://")
        .expect("a containerd ID")
        .to_string()
}

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
    let pid = task_pid(&cluster, &id).unwrap_or_else(|| panic!("no task for container {id}"));
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

#[test]
fn container_over_its_memory_limit_is_oom_killed() {
    let cluster = Cluster::start(5);
    // dd reads 64 MiB of /dev/zero into one buffer: the pages are touched, the 16 MiB limit trips.
    cluster.apply(&format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: hog
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: {BUSYBOX}
    imagePullPolicy: IfNotPresent
    command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]
    resources:
      limits:
        memory: 16Mi
"#
    ));
    let pod = cluster.wait_pod("hog", "has terminated", Duration::from_secs(60), |p| {
        container_status(p)["state"]["terminated"].is_object() && p["status"]["phase"] == "Failed"
    });
    let status = container_status(&pod);
    let terminated = &status["state"]["terminated"];
    assert_eq!(terminated["reason"], "OOMKilled", "{status}");
    assert_eq!(terminated["exitCode"], 137, "{status}");
    assert_eq!(restart_count(&pod), 0);
}
