//! Pod cgroups (cgroup v1, cgroupfs driver): the kubelet creates `<root>/<qos>/pod<uid>` in every
//! mounted hierarchy before the sandbox starts, with the pod's memory limit and CPU shares, and
//! removes it after the sandbox is gone (runc creates missing parents but never removes them).

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;

use crate::KubeletError;

const CGROUP_FS: &str = "/sys/fs/cgroup";

/// The cgroup path (relative to each hierarchy's root) of a pod.
pub fn pod_cgroup(root: &str, qos: &str, uid: &str) -> String {
    let qos = match qos {
        "Guaranteed" => "guaranteed",
        "BestEffort" => "besteffort",
        _ => "burstable",
    };
    format!("{}/{qos}/pod{uid}", root.trim_end_matches('/'))
}

/// Mounted v1 hierarchies (cpu, memory, pids, ...), skipping the unified and named ones.
fn hierarchies() -> Vec<PathBuf> {
    mounted(false)
}

/// The hierarchies under /sys/fs/cgroup: the v1 controllers, or with `all` every hierarchy.
fn mounted(all: bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(CGROUP_FS) else {
        return vec![];
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            selected(
                &name,
                p.join("cgroup.procs").exists(),
                p.join("cgroup.controllers").exists(),
                all,
            )
        })
        .collect();
    out.sort();
    out
}

/// Whether a hierarchy named `name` is used: pod cgroups are created in the v1 controllers only,
/// but removed from every hierarchy, since runc also creates them in the named `systemd` one and
/// in the `unified` (v2) one of a hybrid layout.
fn selected(name: &str, is_cgroup: bool, is_v2: bool, all: bool) -> bool {
    is_cgroup && (all || (name != "unified" && name != "systemd" && !is_v2))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> KubeletError + '_ {
    move |source| KubeletError::Cgroup {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates the pod cgroup in every hierarchy. cpuset children need cpus and mems copied from
/// their parent before they can hold tasks.
pub fn create(
    cgroup: &str,
    memory_limit: Option<i64>,
    cpu_shares: Option<i64>,
) -> Result<(), KubeletError> {
    for h in hierarchies() {
        let mut dir = h.clone();
        for part in cgroup.trim_start_matches('/').split('/') {
            let parent = dir.clone();
            dir = dir.join(part);
            if !dir.exists() {
                std::fs::create_dir(&dir)
                    .or_else(|e| if dir.exists() { Ok(()) } else { Err(e) })
                    .map_err(io(&dir))?;
                if h.ends_with("cpuset") {
                    for f in ["cpuset.cpus", "cpuset.mems"] {
                        let v = std::fs::read_to_string(parent.join(f)).map_err(io(&parent))?;
                        std::fs::write(dir.join(f), v.trim()).map_err(io(&dir))?;
                    }
                }
            }
        }
        if h.ends_with("memory") {
            if let Some(limit) = memory_limit.filter(|l| *l > 0) {
                std::fs::write(dir.join("memory.limit_in_bytes"), limit.to_string())
                    .map_err(io(&dir))?;
            }
        }
        if h.ends_with("cpu") {
            if let Some(shares) = cpu_shares {
                std::fs::write(dir.join("cpu.shares"), shares.to_string()).map_err(io(&dir))?;
            }
        }
    }
    Ok(())
}

/// Removes the pod cgroup from every hierarchy, named and unified ones included (nested container cgroups first); idempotent.
pub fn remove(cgroup: &str) -> Result<(), KubeletError> {
    for h in mounted(true) {
        let dir = h.join(cgroup.trim_start_matches('/'));
        remove_tree(&dir)?;
    }
    Ok(())
}

fn remove_tree(dir: &Path) -> Result<(), KubeletError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_tree(&e.path())?;
        }
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(dir)(e)),
    }
}

/// Pod UIDs that have a cgroup under `root` (any QoS class), for garbage collection.
pub fn pod_uids(root: &str) -> Vec<String> {
    let mut out = vec![];
    for h in hierarchies().into_iter().take(1) {
        for qos in ["guaranteed", "burstable", "besteffort"] {
            let Ok(entries) = std::fs::read_dir(h.join(root.trim_start_matches('/')).join(qos))
            else {
                continue;
            };
            for e in entries.flatten() {
                if let Some(uid) = e.file_name().to_string_lossy().strip_prefix("pod") {
                    out.push(uid.to_string());
                }
            }
        }
    }
    out
}

/// The pod-level memory limit (sum of container limits, only when every container has one)
/// and CPU shares (sum of requests).
pub fn pod_resources(pod: &Pod) -> (Option<i64>, i64) {
    let Some(spec) = &pod.spec else {
        return (None, 2);
    };
    let mut mem = Some(0i64);
    let mut cpu = 0i64;
    for c in &spec.containers {
        let r = c.resources.as_ref();
        let limit = r
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.get("memory"))
            .map(gantry_quantity::value);
        mem = match (mem, limit) {
            (Some(m), Some(l)) => Some(m + l),
            _ => None,
        };
        let req = r
            .and_then(|r| r.requests.as_ref())
            .and_then(|l| l.get("cpu"))
            .or_else(|| r.and_then(|r| r.limits.as_ref()).and_then(|l| l.get("cpu")));
        cpu += req.map(gantry_quantity::milli_value).unwrap_or(0);
    }
    (mem, crate::container::cpu_shares(cpu))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_by_qos() {
        assert_eq!(
            pod_cgroup("/gantry/n1", "Guaranteed", "u"),
            "/gantry/n1/guaranteed/podu"
        );
        assert_eq!(
            pod_cgroup("/gantry/n1/", "BestEffort", "u"),
            "/gantry/n1/besteffort/podu"
        );
        assert_eq!(
            pod_cgroup("/gantry/n1", "Burstable", "u"),
            "/gantry/n1/burstable/podu"
        );
    }

    #[test]
    fn created_in_v1_controllers_removed_from_every_hierarchy() {
        assert!(selected("memory", true, false, false));
        assert!(!selected("systemd", true, false, false));
        assert!(!selected("unified", true, true, false));
        assert!(selected("systemd", true, false, true));
        assert!(selected("unified", true, true, true));
        assert!(!selected("stray-file", false, false, true));
    }

    #[test]
    fn create_and_remove_a_pod_cgroup() {
        if !Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists() {
            return;
        }
        let root = format!("/gantry-test-{}", std::process::id());
        let cg = pod_cgroup(&root, "Burstable", "u1");
        create(&cg, Some(64 << 20), Some(512)).expect("create");
        let limit =
            std::fs::read_to_string(format!("/sys/fs/cgroup/memory{cg}/memory.limit_in_bytes"))
                .expect("limit");
        assert_eq!(limit.trim(), (64u64 << 20).to_string());
        assert_eq!(pod_uids(&root), vec!["u1".to_string()]);
        remove(&cg).expect("remove");
        assert!(!Path::new(&format!("/sys/fs/cgroup/memory{cg}")).exists());
        remove(&root).expect("remove root");
    }
}
