//! `gantry up --nodes N`: the agents of a multi-node cluster on one machine, each a `gantry
//! agent` process in its own network namespace (entered with setns(2) only, so the host's
//! mounts, cgroups included, stay visible), with its own address on a bridge that `gantry up`
//! creates and `gantry down` removes. The layout is saved in `DATA/topology` for `gantry down`.

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::Context;
use gantry_podnet::topology::Topology;

use super::agent::AgentArgs;

/// Where the topology of a multi-node cluster is written.
pub fn topology_file(data_dir: &Path) -> PathBuf {
    data_dir.join("topology")
}

/// Reads a saved topology: `tag subnet nodes`.
pub fn saved(data_dir: &Path) -> Option<(Topology, u8)> {
    let text = std::fs::read_to_string(topology_file(data_dir)).ok()?;
    let mut parts = text.split_whitespace();
    let tag = parts.next()?;
    let subnet = parts.next()?.parse().ok()?;
    let nodes = parts.next()?.parse().ok()?;
    Topology::new(tag, subnet).ok().map(|t| (t, nodes))
}

/// Creates the nodes' bridge (before the API server binds its address).
pub async fn prepare(https_port: u16, subnet: std::net::Ipv4Addr) -> anyhow::Result<Topology> {
    let tag = https_port.to_string();
    let t = Topology::new(&tag, subnet)?;
    t.create_bridge()
        .await
        .context("creating the nodes' bridge")?;
    Ok(t)
}

/// The data dir of node `name`.
pub fn node_dir(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("nodes").join(name)
}

/// Creates every node's namespace and starts its agent.
pub async fn start(
    t: &Topology,
    data_dir: &Path,
    template: &AgentArgs,
    nodes: u8,
    started: Instant,
) -> anyhow::Result<Vec<(String, Child)>> {
    std::fs::write(
        topology_file(data_dir),
        format!("{} {} {nodes}\n", t.tag, t.subnet),
    )
    .context("writing the topology")?;
    let prefix = template.node_name.clone().unwrap_or_else(|| "node".into());
    let exe = std::env::current_exe().context("finding the gantry binary")?;
    let mut children = vec![];
    for i in 1..=nodes {
        let net = t
            .create_node(i)
            .await
            .with_context(|| format!("creating node {i}'s network"))?;
        let name = format!("{prefix}-{i}");
        let dir = node_dir(data_dir, &name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let log = std::fs::File::create(dir.join("agent.log")).context("creating the agent log")?;
        let netns = std::fs::File::open(format!("/run/netns/{}", net.netns))
            .with_context(|| format!("opening netns {}", net.netns))?;
        let mut cmd = Command::new(&exe);
        cmd.args(["agent", "--server", &template.server, "--data-dir"])
            .arg(&dir)
            .args(["--node-name", &name, "--node-ip", &net.ip.to_string()])
            .args([
                "--kubelet-port",
                &template.kubelet_port.to_string(),
                "--cluster-cidr",
                &template.cluster_cidr,
            ])
            .args([
                "--cni-bridge",
                &template.cni_bridge,
                "--service-cidr",
                &template.service_cidr,
            ])
            .args(["--dns-port", &template.dns_port.to_string()])
            .args([
                "--ingress-http-port",
                &template.ingress_http_port.to_string(),
            ])
            .args([
                "--ingress-https-port",
                &template.ingress_https_port.to_string(),
            ])
            .env("GANTRY_TOKEN", &template.token)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for r in &template.insecure_registry {
            cmd.args(["--insecure-registry", r]);
        }
        let fd = netns.as_raw_fd();
        // SAFETY: between fork and exec only async-signal-safe calls: setns(2) on an fd that
        // stays open in the parent until spawn returns.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting the agent of {name}"))?;
        drop(netns);
        eprintln!(
            "[{:>6.2}s] node {name}: agent started in netns {} at {}",
            started.elapsed().as_secs_f64(),
            net.netns,
            net.ip
        );
        children.push((name, child));
    }
    Ok(children)
}

/// Waits until one of the agents exits; says which (its log is DATA/nodes/NAME/agent.log).
pub async fn first_exit(children: &mut [(String, Child)]) -> String {
    loop {
        for (name, child) in children.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return format!("the agent of node {name} exited ({status})");
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Stops the agents (SIGTERM; their pods keep running unless `gantry down` asked otherwise).
pub async fn stop(children: Vec<(String, Child)>) {
    for (_, c) in &children {
        if let Ok(pid) = libc::pid_t::try_from(c.id()) {
            // SAFETY: kill(2) on children we spawned and have not reaped.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
    for (_, mut c) in children {
        let _ = tokio::task::spawn_blocking(move || c.wait()).await;
    }
}
