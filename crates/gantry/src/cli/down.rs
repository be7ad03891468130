//! `gantry down`: stops the cluster `gantry up` started in a data dir, removing its pods first,
//! then what it created on the host: mounts under the data dir, pod cgroups and the pod
//! network's bridge. The data dir itself (store, certificates, kubeconfig) stays.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

#[derive(Args)]
pub struct DownArgs {
    /// The data dir of the cluster to stop.
    #[arg(long, default_value = "/var/lib/gantry")]
    data_dir: PathBuf,
}

/// The marker that tells a stopping agent to remove its pods instead of leaving them running.
pub fn teardown_marker(agent_dir: &Path) -> PathBuf {
    agent_dir.join(".teardown")
}

/// Whether the process runs. A zombie (exited, not yet reaped by its parent, e.g. a supervisor
/// that started `gantry up` and now waits for `gantry down`) has stopped: it answers signal 0
/// but will never exit further.
fn alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for the process.
    let exists = unsafe { libc::kill(pid, 0) == 0 };
    exists
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| process_state(&s))
            != Some('Z')
}

/// The state letter of a `/proc/PID/stat` line (the field after the parenthesised command,
/// which may itself contain spaces and parentheses).
fn process_state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

pub fn run(args: DownArgs) -> anyhow::Result<()> {
    let agent_dir = args.data_dir.join("agent");
    let pid_file = super::up::pid_file(&args.data_dir);
    match std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
    {
        Some(pid) if alive(pid) => {
            for dir in agent_dirs(&args.data_dir) {
                std::fs::write(teardown_marker(&dir), b"")
                    .context("writing the teardown marker")?;
            }
            eprintln!("stopping gantry (pid {pid}) and its pods");
            // SAFETY: sending SIGTERM to a pid we read from our own pid file.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(90);
            while alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if alive(pid) {
                anyhow::bail!("gantry (pid {pid}) did not stop within 90 s");
            }
        }
        _ => eprintln!(
            "no running gantry in {}; cleaning up what is left",
            args.data_dir.display()
        ),
    }
    let _ = std::fs::remove_file(&pid_file);
    for dir in agent_dirs(&args.data_dir) {
        let _ = std::fs::remove_file(teardown_marker(&dir));
        cleanup_host(&args.data_dir, &dir)?;
    }
    if let Some((topology, nodes)) = super::up_nodes::saved(&args.data_dir) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        runtime.block_on(async {
            for i in 1..=nodes {
                topology.delete_node(i).await;
            }
            topology.delete_bridge().await;
        });
        let _ = std::fs::remove_file(super::up_nodes::topology_file(&args.data_dir));
        eprintln!(
            "removed {nodes} node network namespace(s) and bridge {}",
            topology.bridge()
        );
    }
    let _ = agent_dir;
    Ok(())
}

/// The agent data dirs of a cluster: `DATA/agent` (single node) and `DATA/nodes/*`.
fn agent_dirs(data_dir: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![data_dir.join("agent")];
    if let Ok(entries) = std::fs::read_dir(data_dir.join("nodes")) {
        dirs.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    dirs.retain(|d| d.exists());
    dirs
}

/// Unmounts everything under the data dir, removes the node's cgroups and bridge.
pub fn cleanup_host(data_dir: &Path, agent_dir: &Path) -> anyhow::Result<()> {
    let data = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<String> = mountinfo
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(String::from))
        .filter(|m| Path::new(m).starts_with(&data))
        .collect();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in &mounts {
        let Ok(c) = std::ffi::CString::new(m.as_str()) else {
            continue;
        };
        // SAFETY: umount2 on a path string we own; MNT_DETACH never blocks.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
    if !mounts.is_empty() {
        eprintln!(
            "unmounted {} mount(s) under {}",
            mounts.len(),
            data.display()
        );
    }
    if let Ok(node) = std::fs::read_to_string(agent_dir.join("node-name")) {
        let node = node.trim();
        if !node.is_empty() {
            let root = format!("/gantry/{node}");
            gantry_kubelet::cgroup::remove(&root).context("removing the node's cgroups")?;
            eprintln!("removed cgroups {root}");
        }
    }
    // A node in a network namespace of its own has its bridge there: it goes with the namespace.
    let in_host_netns = agent_dir == data_dir.join("agent");
    let conflist = agent_dir.join("cni/net.d/10-gantry.conflist");
    if !in_host_netns {
        return Ok(());
    }
    if let Some(bridge) = std::fs::read_to_string(&conflist)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["plugins"][0]["bridge"].as_str().map(String::from))
    {
        let out = std::process::Command::new("ip")
            .args(["link", "delete", &bridge])
            .output();
        if out.is_ok_and(|o| o.status.success()) {
            eprintln!("removed bridge {bridge}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::process_state;

    #[test]
    fn process_state_reads_the_field_after_the_command() {
        assert_eq!(process_state("42 (gantry) S 1 42 42 0 -1"), Some('S'));
        assert_eq!(process_state("42 (gantry) Z 1 42 42 0 -1"), Some('Z'));
        assert_eq!(process_state("7 (a (b) c) R 1 7"), Some('R'));
        assert_eq!(process_state("garbage"), None);
    }
}
