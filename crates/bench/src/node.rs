//! The node scenario (`--scenario node`): `gantry server` plus one real `gantry agent` (its own
//! containerd, real containers from a busybox image built from the host's busybox). Measures
//! create-to-Running of one pod at a time and of 50 pods created at once, and the agent's own
//! RSS and CPU (containerd and shims excluded) idle and with 50 pods. Pods are timed on this
//! client's clock from one watch: ADDED to the first event with phase Running.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use bytes::Bytes;
use hyper::{Method, StatusCode};
use tokio::sync::watch;

use crate::Args;
use crate::client::Connector;
use crate::latency::{Latencies, ms};
use crate::report::{Report, Target, number};
use crate::scheduling::{read_events, watch_new_namespace};
use crate::server::{Server, free_port};

const NAMESPACE: &str = "nodebench";
const SINGLE_ROUNDS: usize = 10;
const BATCH: usize = 50;
const TARGET_SINGLE_P50_MS: f64 = 500.0;
const TARGET_BATCH_ALL_MS: f64 = 15_000.0;
const TARGET_IDLE_RSS_MIB: f64 = 30.0;
pub(crate) const DEADLINE: Duration = Duration::from_secs(120);

/// The agent process; on drop it is asked to remove its pods and stop.
pub(crate) struct Agent {
    pub(crate) child: Child,
    /// When the agent was spawned (after the image was built).
    pub(crate) spawned: Instant,
    data_dir: std::path::PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = std::fs::write(self.data_dir.join(".teardown"), b"");
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) on the child we spawned and have not reaped.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let _ = self.child.wait();
    }
}

/// A memory field of /proc/PID/status in KiB (0 when unreadable: the agent may be gone).
fn proc_kib(pid: u32, field: &str) -> u64 {
    crate::server::process_memory_kib(pid, field).unwrap_or(0)
}

fn cpu_seconds(pid: u32) -> f64 {
    crate::machine::process_cpu_seconds(pid).unwrap_or(0.0)
}

/// RSS (MiB) and average cores of `pid` over `window` (a measurement window, not a wait).
async fn sample(pid: u32, window: Duration) -> (f64, f64) {
    let (c0, t0) = (cpu_seconds(pid), Instant::now());
    tokio::time::sleep(window).await;
    let cores = (cpu_seconds(pid) - c0) / t0.elapsed().as_secs_f64();
    (proc_kib(pid, "VmRSS") as f64 / 1024.0, cores)
}

pub async fn run(args: &Args, command: String) -> anyhow::Result<Report> {
    let (mut report, gantry) = Report::begin(command, &args.gantry)?;
    report.context(format!(
        "`{} server` and one `gantry agent` (its own containerd 1.6 + runc) on one machine with {} CPU(s), shared with this client; pods run busybox from an image built from the host's busybox",
        gantry.display(),
        crate::machine::cpus()
    ));
    let server = Server::start(
        &gantry,
        args.protocol,
        args.h2_connections,
        &["--cluster-cidr", "10.77.0.0/16"],
    )
    .await?;
    let outcome = measure(&gantry, &server, &mut report).await;
    let _ = Command::new(&gantry)
        .args(["down", "--data-dir"])
        .arg(server.data_dir())
        .stderr(Stdio::null())
        .status();
    let _ = server.stop().await;
    outcome?;
    report.note("The agent's RSS and CPU are its own process only: containerd (~50 MiB) and one containerd-shim per pod (~13 MiB each) come on top.");
    let markdown = report.markdown();
    println!("\n{markdown}");
    if let Some(out) = &args.out {
        std::fs::write(out, &markdown).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(report)
}

async fn measure(gantry: &Path, server: &Server, report: &mut Report) -> anyhow::Result<()> {
    let agent = start_agent(gantry, server, "bench-node", &["--cni-bridge", "gbench0"])?;
    let started = agent.spawned;
    let connector = &server.connector;
    wait_node_ready(connector, "bench-node").await?;
    report.row(
        "agent start to node Ready",
        format!("{} ms", ms(started.elapsed())),
        "spawn to Ready=True in a node list (containerd start, image imports, registration)",
    );
    let pid = agent.child.id();
    let (rss, cores) = sample(pid, Duration::from_secs(10)).await;
    report.check(
        "agent idle RSS",
        rss,
        "MiB",
        Target::AtMost(TARGET_IDLE_RSS_MIB),
        "VmRSS after 10 s idle, node Ready",
    );
    report.row(
        "agent idle CPU",
        format!("{} cores", number(cores)),
        "average over 10 s",
    );

    let mut admin = connector.connect().await?;
    let events = watch_new_namespace(connector, NAMESPACE).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let reader = tokio::spawn(read_events(events, SINGLE_ROUNDS + BATCH, stop_rx));
    let pods = format!("/api/v1/namespaces/{NAMESPACE}/pods");
    for i in 0..SINGLE_ROUNDS {
        let name = format!("single-{i}");
        admin
            .expect(
                StatusCode::CREATED,
                Method::POST,
                &pods,
                Some(("application/json", Bytes::from(pod(&name)))),
            )
            .await?;
        wait_running(&mut admin, &format!("{pods}/{name}")).await?;
    }
    let batch_start = Instant::now();
    for i in 0..BATCH {
        admin
            .expect(
                StatusCode::CREATED,
                Method::POST,
                &pods,
                Some(("application/json", Bytes::from(pod(&format!("batch-{i}"))))),
            )
            .await?;
    }
    tokio::spawn(async move {
        // The scenario's deadline; the reader returns as soon as every pod runs.
        tokio::time::sleep(DEADLINE).await;
        let _ = stop_tx.send(true);
    });
    let seen = reader.await.context("the watch reader panicked")??;
    let mut single = Latencies::with_capacity(SINGLE_ROUNDS);
    let mut batch = Latencies::with_capacity(BATCH);
    let mut last = None::<Instant>;
    for (name, s) in &seen {
        let (Some(added), Some(running)) = (s.added, s.running) else {
            continue;
        };
        if name.starts_with("single-") {
            single.push(running.saturating_duration_since(added));
        } else {
            batch.push(running.saturating_duration_since(added));
            last = Some(last.map_or(running, |l| l.max(running)));
        }
    }
    let n_single = single.len();
    report.check(
        "1 pod create-to-Running p50",
        single.percentile(50.0).as_secs_f64() * 1e3,
        "ms",
        Target::AtMost(TARGET_SINGLE_P50_MS),
        format!("{n_single} pods one after another; {}", single.summary()),
    );
    report.row(
        "1 pod create-to-Running p99",
        format!("{} ms", ms(single.percentile(99.0))),
        "",
    );
    let n_batch = batch.len();
    let all = last.map_or(f64::INFINITY, |l| {
        l.duration_since(batch_start).as_secs_f64() * 1e3
    });
    report.check(
        &format!("{BATCH} pods at once: all Running"),
        all,
        "ms",
        Target::AtMost(TARGET_BATCH_ALL_MS),
        format!("{n_batch} of {BATCH} Running; from the first create to the last Running"),
    );
    report.row(
        &format!("{BATCH} pods create-to-Running p50 / p99"),
        format!(
            "{} / {} ms",
            ms(batch.percentile(50.0)),
            ms(batch.percentile(99.0))
        ),
        batch.summary(),
    );
    let (rss, cores) = sample(pid, Duration::from_secs(10)).await;
    report.row(
        &format!("agent RSS with {} pods", SINGLE_ROUNDS + BATCH),
        format!("{} MiB", number(rss)),
        "VmRSS",
    );
    report.row(
        &format!("agent CPU with {} pods", SINGLE_ROUNDS + BATCH),
        format!("{} cores", number(cores)),
        "average over 10 s (probes none; 1 s resync per pod)",
    );
    report.row(
        "agent peak RSS",
        format!("{} MiB", number(proc_kib(pid, "VmHWM") as f64 / 1024.0)),
        "VmHWM",
    );
    drop(agent);
    Ok(())
}

/// Builds the busybox image into a fresh agent data dir under the server's and spawns
/// `gantry agent` as node `node` with `extra` flags; its log goes to `DATA/agent.log`.
pub(crate) fn start_agent(
    gantry: &Path,
    server: &Server,
    node: &str,
    extra: &[&str],
) -> anyhow::Result<Agent> {
    let data = server.data_dir();
    let agent_dir = data.join("agent");
    std::fs::create_dir_all(agent_dir.join("images"))?;
    let built = Command::new(gantry)
        .args(["image", "busybox"])
        .arg(agent_dir.join("images/busybox.tar"))
        .stderr(Stdio::null())
        .status()
        .context("building the busybox image")?;
    ensure!(built.success(), "gantry image busybox failed");
    let token = std::fs::read_to_string(data.join("token")).context("reading the node token")?;
    let kubeconfig = std::fs::read_to_string(data.join("kubeconfig.yaml"))?;
    let server_url = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .map(|s| s.trim_matches('"').to_string())
        .context("no server in the kubeconfig")?;
    let log = std::fs::File::create(data.join("agent.log"))?;
    let spawned = Instant::now();
    let child = Command::new(gantry)
        .args(["agent", "--server", &server_url, "--data-dir"])
        .arg(&agent_dir)
        .args([
            "--node-name",
            node,
            "--kubelet-port",
            &free_port()?.to_string(),
        ])
        .args(extra)
        .env("GANTRY_TOKEN", token.trim())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting gantry agent")?;
    Ok(Agent {
        child,
        spawned,
        data_dir: agent_dir,
    })
}

fn pod(name: &str) -> String {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": "gantry.local/busybox:latest", "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"]}],
        },
    })
    .to_string()
}

pub(crate) async fn wait_running(conn: &mut crate::client::Conn, path: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let body = conn.expect(StatusCode::OK, Method::GET, path, None).await?;
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        if v["status"]["phase"] == "Running" {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{path} not Running after {} s",
            DEADLINE.as_secs()
        );
        // Poll interval against the deadline above.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub(crate) async fn wait_node_ready(connector: &Connector, node: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + DEADLINE;
    let mut conn = connector.connect().await?;
    loop {
        let body = conn
            .expect(
                StatusCode::OK,
                Method::GET,
                &format!("/api/v1/nodes/{node}"),
                None,
            )
            .await;
        if let Ok(body) = body {
            let v: serde_json::Value = serde_json::from_slice(&body)?;
            let ready = v["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
            if ready {
                return Ok(());
            }
        }
        ensure!(
            Instant::now() < deadline,
            "the agent's node was not Ready after {} s",
            DEADLINE.as_secs()
        );
        // Poll interval against the deadline above.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
