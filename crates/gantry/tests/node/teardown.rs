//! `gantry down` removes what the node created on the host: containers (their shims), the pod
//! network's bridge and the node's cgroups.

use std::path::Path;

use crate::harness::{BUSYBOX, Cluster, POD_DEADLINE, is_running_ready, wait_until};

/// The PIDs of processes whose command line mentions `needle` (e.g. the node's containerd socket).
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                String::from_utf8_lossy(&c)
                    .replace('\0', " ")
                    .contains(needle)
            })
        })
        .collect()
}

fn shims(data_dir: &Path) -> Vec<u32> {
    let needle = data_dir.display().to_string();
    processes_mentioning(&needle)
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.starts_with("containerd-shim"))
        })
        .collect()
}

#[test]
fn down_removes_containers_bridge_and_cgroups() {
    let mut cluster = Cluster::start(8);
    cluster.apply(&format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: sleepers
spec:
  replicas: 2
  selector:
    matchLabels: {{app: sleepers}}
  template:
    metadata:
      labels: {{app: sleepers}}
    spec:
      containers:
      - name: main
        image: {BUSYBOX}
        imagePullPolicy: IfNotPresent
        command: ["sleep", "3600"]
"#
    ));
    wait_until("both pods are Running and Ready", POD_DEADLINE, || {
        cluster
            .get_json(&["get", "pods", "-l", "app=sleepers"])
            .is_some_and(|l| {
                l["items"]
                    .as_array()
                    .is_some_and(|items| items.len() == 2 && items.iter().all(is_running_ready))
            })
    });
    let bridge = Path::new("/sys/class/net").join(&cluster.bridge);
    let cgroup = Path::new("/sys/fs/cgroup/memory/gantry").join(&cluster.node);
    let data_dir = cluster.data_dir().to_path_buf();
    assert!(
        bridge.exists(),
        "bridge {} missing while pods run",
        cluster.bridge
    );
    assert!(
        cgroup.exists(),
        "{} missing while pods run",
        cgroup.display()
    );
    assert!(
        shims(&data_dir).len() >= 2,
        "expected a shim per pod: {:?}",
        shims(&data_dir)
    );

    cluster.down();

    assert_eq!(
        shims(&data_dir),
        Vec::<u32>::new(),
        "containerd shims left for {}",
        data_dir.display()
    );
    assert_eq!(
        processes_mentioning(&data_dir.display().to_string()),
        Vec::<u32>::new(),
        "processes left"
    );
    assert!(!bridge.exists(), "bridge {} left", cluster.bridge);
    assert!(!cgroup.exists(), "{} left", cgroup.display());
    // In every hierarchy: runc also creates the pods' cgroups in the named and unified ones.
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup")
        .expect("listing /sys/fs/cgroup")
        .flatten()
    {
        let node = hierarchy.path().join("gantry").join(&cluster.node);
        assert!(!node.exists(), "{} left", node.display());
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("reading mountinfo");
    assert!(
        !mountinfo.contains(&data_dir.display().to_string()),
        "mounts left under {}",
        data_dir.display()
    );
}
