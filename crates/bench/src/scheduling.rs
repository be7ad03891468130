//! The scheduling scenario (`--scenario scheduling`): the server (with its in-process
//! scheduler and controller manager) plus `gantry sim --nodes N`, then Deployments totalling
//! `--scheduling-pods` pods. One watch of the namespace's pods, read by this client, times every
//! pod on the client's own clock: ADDED (the ReplicaSet controller created it), first seen
//! with `spec.nodeName` (bound), first seen with phase Running. Reports pods bound per second
//! and create-to-Running latency p50/p99 against the issue's targets.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use tokio::sync::watch;

use crate::Args;
use crate::client::Connector;
use crate::latency::{Latencies, ms};
use crate::list;
use crate::report::{Report, Target, number};
use crate::server::Server;

const NAMESPACE: &str = "sched";
const TARGET_BOUND_PER_S: f64 = 1000.0;
const TARGET_RUNNING_P99_MS: f64 = 2000.0;
const NODES_DEADLINE: Duration = Duration::from_secs(180);
const PODS_DEADLINE: Duration = Duration::from_secs(300);

/// When this client first saw each step of one pod.
#[derive(Default, Clone, Copy)]
pub(crate) struct Seen {
    pub(crate) added: Option<Instant>,
    pub(crate) bound: Option<Instant>,
    pub(crate) running: Option<Instant>,
}

#[derive(Deserialize)]
struct Event {
    object: Object,
}

#[derive(Deserialize)]
struct Object {
    metadata: Meta,
    #[serde(default)]
    spec: Spec,
    #[serde(default)]
    status: Status,
}

#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize, Default)]
struct Spec {
    #[serde(rename = "nodeName")]
    node_name: Option<String>,
}

#[derive(Deserialize, Default)]
struct Status {
    phase: Option<String>,
}

/// A helper process of the run (`gantry sim`, and with `--split-control-plane` the scheduler
/// and the controller manager); killed when dropped.
struct Helper {
    name: &'static str,
    child: Child,
}

impl Helper {
    fn spawn(name: &'static str, gantry: &Path, args: &[&str], log: &Path) -> anyhow::Result<Self> {
        let log =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(gantry)
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting gantry {name}"))?;
        Ok(Helper { name, child })
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Adds a row of CPU seconds used during the run per process, and their sum per pod.
fn cpu_rows(report: &mut Report, used: &[(String, f64)], pods: usize) {
    let total: f64 = used.iter().map(|(_, s)| s).sum();
    let each: Vec<String> = used.iter().map(|(n, s)| format!("{n} {s:.1} s")).collect();
    report.row(
        "CPU per pod, all processes",
        format!("{} ms", number(total * 1e3 / pods.max(1) as f64)),
        format!(
            "{}; from the first Deployment create to the last pod Running",
            each.join(", ")
        ),
    );
}

/// Runs the scenario; the report is printed and written to `--out`.
pub async fn run(args: &Args, command: String) -> anyhow::Result<Report> {
    let (mut report, gantry) = Report::begin(command, &args.gantry)?;
    report.context(format!(
        "`{} server` (scheduler and controller manager in-process) and `gantry sim --nodes {}` on one machine with {} CPU(s), shared with this client",
        gantry.display(),
        args.sim_nodes,
        crate::machine::cpus()
    ));
    let split: &[&str] = if args.split_control_plane {
        &["--disable-controller-manager", "--disable-scheduler"]
    } else {
        &[]
    };
    let server = Server::start(&gantry, args.protocol, args.h2_connections, split).await?;
    let outcome = measure(args, &gantry, &server, &mut report).await;
    if let Ok(hwm) = server.memory_kib("VmHWM") {
        report.row(
            "server peak RSS",
            format!("{} MiB", number(hwm as f64 / 1024.0)),
            format!("VmHWM {hwm} kB"),
        );
    }
    let _ = server.stop().await;
    outcome?;
    report.note("Times are taken on this client's clock: a pod's creation is the arrival of its ADDED event (creationTimestamp has only 1 s resolution), its binding the first event with spec.nodeName, Running the first event with phase Running.");
    let markdown = report.markdown();
    println!("\n{markdown}");
    if let Some(out) = &args.out {
        std::fs::write(out, &markdown).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(report)
}

async fn measure(
    args: &Args,
    gantry: &Path,
    server: &Server,
    report: &mut Report,
) -> anyhow::Result<()> {
    let connector = &server.connector;
    let dir = server.data_dir();
    let kubeconfig = dir.join("kubeconfig.yaml");
    let kubeconfig = kubeconfig.to_str().context("a UTF-8 data dir")?;
    let started = Instant::now();
    let nodes = args.sim_nodes.to_string();
    let sim_args = [
        "sim",
        "--kubeconfig",
        kubeconfig,
        "--nodes",
        &nodes,
        "--name-prefix",
        "bench-node-",
    ];
    let mut helpers = vec![Helper::spawn(
        "sim",
        gantry,
        &sim_args,
        &dir.join("sim.log"),
    )?];
    if args.split_control_plane {
        for name in ["scheduler", "controller-manager"] {
            let log = dir.join(format!("{name}.log"));
            let args = [name, "--kubeconfig", kubeconfig];
            helpers.push(Helper::spawn(name, gantry, &args, &log)?);
        }
    }
    wait_nodes_ready(connector, args.sim_nodes).await?;
    report.row(
        &format!("{} simulated nodes Ready", args.sim_nodes),
        format!("{} ms", ms(started.elapsed())),
        "from spawning `gantry sim` to every node Ready in a list",
    );

    let mut admin = connector.connect().await?;
    let events = watch_new_namespace(connector, NAMESPACE).await?;
    let total = args.scheduling_pods;
    let (stop_tx, stop_rx) = watch::channel(false);
    let reader = tokio::spawn(read_events(events, total, stop_rx));

    let deployments = args.deployments.max(1);
    let cpu = |helpers: &[Helper]| -> Vec<(String, f64)> {
        let mut used = vec![(
            "server".to_string(),
            crate::machine::process_cpu_seconds(server.pid()).unwrap_or(0.0),
        )];
        used.extend(helpers.iter().map(|h| {
            let pid = h.child.id();
            (
                h.name.to_string(),
                crate::machine::process_cpu_seconds(pid).unwrap_or(0.0),
            )
        }));
        used
    };
    let cpu_before = cpu(&helpers);
    let revision_before = revision(connector).await?;
    let created = Instant::now();
    for d in 0..deployments {
        let replicas = total / deployments + usize::from(d < total % deployments);
        let body = deployment(d, replicas);
        let path = format!("/apis/apps/v1/namespaces/{NAMESPACE}/deployments");
        admin
            .expect(
                StatusCode::CREATED,
                Method::POST,
                &path,
                Some(("application/json", Bytes::from(body))),
            )
            .await?;
    }
    tokio::spawn(async move {
        // The scenario's deadline, not synchronisation: the reader returns as soon as all pods run.
        tokio::time::sleep(PODS_DEADLINE).await;
        let _ = stop_tx.send(true);
    });
    let seen = reader.await.context("the watch reader panicked")??;
    let used: Vec<(String, f64)> = cpu(&helpers)
        .into_iter()
        .zip(cpu_before)
        .map(|((name, after), (_, before))| (name, after - before))
        .collect();
    let peaks: Vec<String> = helpers
        .iter()
        .filter_map(|h| {
            let kib = crate::server::process_memory_kib(h.child.id(), "VmHWM").ok()?;
            Some(format!("{} {} MiB", h.name, number(kib as f64 / 1024.0)))
        })
        .collect();
    let writes = revision(connector).await?.saturating_sub(revision_before);
    drop(helpers);
    report.row(
        "store writes per pod",
        number(writes as f64 / total.max(1) as f64),
        format!("{writes} revisions of every kind (node leases included) while the pods started"),
    );
    report.row("peak RSS of the other processes", peaks.join(", "), "VmHWM");

    let bound: Vec<Instant> = seen.values().filter_map(|s| s.bound).collect();
    let last_bound = bound.iter().max().copied();
    let rate = last_bound.map_or(0.0, |last| {
        bound.len() as f64 / last.duration_since(created).as_secs_f64().max(1e-3)
    });
    report.check(
        &format!("pods bound/s ({total} pods in {deployments} Deployments)"),
        rate,
        "/s",
        Target::AtLeast(TARGET_BOUND_PER_S),
        format!(
            "{} of {total} bound, {} s from the first Deployment create to the last binding seen",
            bound.len(),
            last_bound.map_or("-".into(), |l| format!(
                "{:.2}",
                l.duration_since(created).as_secs_f64()
            ))
        ),
    );
    let mut latencies = Latencies::with_capacity(total);
    for s in seen.values() {
        if let (Some(added), Some(running)) = (s.added, s.running) {
            latencies.push(running.saturating_duration_since(added));
        }
    }
    let running = latencies.len();
    let p99 = latencies.percentile(99.0).as_secs_f64() * 1e3;
    report.check(
        "create-to-Running p99",
        p99,
        "ms",
        Target::AtMost(TARGET_RUNNING_P99_MS),
        format!("{running} of {total} Running; {}", latencies.summary()),
    );
    report.row(
        "create-to-Running p50",
        format!("{} ms", ms(latencies.percentile(50.0))),
        "",
    );
    cpu_rows(report, &used, total);
    if running < total {
        report.check(
            "pods not Running by the deadline",
            (total - running) as f64,
            "pods",
            Target::AtMost(0.0),
            format!("deadline {} s", PODS_DEADLINE.as_secs()),
        );
    }
    Ok(())
}

/// The store's current revision (every write of any kind takes one).
async fn revision(connector: &Connector) -> anyhow::Result<u64> {
    let rv = list::current_version(connector, NAMESPACE).await?;
    rv.parse()
        .with_context(|| format!("resourceVersion {rv:?} is not a revision"))
}

/// Polls the node list until `n` simulated nodes report Ready.
async fn wait_nodes_ready(connector: &Connector, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + NODES_DEADLINE;
    let mut conn = connector.connect().await?;
    loop {
        let body = conn
            .expect(
                StatusCode::OK,
                Method::GET,
                "/api/v1/nodes?labelSelector=gantry.dev%2Fsimulated%3Dtrue",
                None,
            )
            .await?;
        let list: serde_json::Value =
            serde_json::from_slice(&body).context("decoding the node list")?;
        let ready = list["items"].as_array().map_or(0, |items| {
            items
                .iter()
                .filter(|node| {
                    node["status"]["conditions"].as_array().is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
                })
                .count()
        });
        if ready >= n {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "only {ready} of {n} simulated nodes Ready after {} s",
            NODES_DEADLINE.as_secs()
        );
        // Poll interval against the deadline above.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Creates `namespace` and opens a watch of its pods from now on; returns the event stream.
pub(crate) async fn watch_new_namespace(
    connector: &Connector,
    namespace: &str,
) -> anyhow::Result<hyper::body::Incoming> {
    let body =
        format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{namespace}"}}}}"#);
    connector
        .connect()
        .await?
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/v1/namespaces",
            Some(("application/json", Bytes::from(body))),
        )
        .await?;
    let rv = list::current_version(connector, namespace).await?;
    let path = format!("/api/v1/namespaces/{namespace}/pods?watch=1&resourceVersion={rv}");
    let resp = connector
        .connect()
        .await?
        .request(Method::GET, &path, None)
        .await?;
    ensure!(
        resp.status() == StatusCode::OK,
        "watch {path}: {}",
        resp.status()
    );
    Ok(resp.into_body())
}

/// Reads the watch until `total` pods were seen Running, or `stop`.
pub(crate) async fn read_events(
    mut body: hyper::body::Incoming,
    total: usize,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<HashMap<String, Seen>> {
    let mut seen: HashMap<String, Seen> = HashMap::with_capacity(total);
    let mut running = 0;
    let mut pending: Vec<u8> = Vec::with_capacity(64 * 1024);
    while running < total {
        let frame = tokio::select! {
            frame = body.frame() => frame,
            _ = stop.changed() => break,
        };
        let Some(frame) = frame else { break };
        let arrived = Instant::now();
        let Ok(data) = frame.context("reading the pod watch")?.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        let mut start = 0;
        while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
            if let Ok(event) = serde_json::from_slice::<Event>(&pending[start..start + end]) {
                let pod = seen.entry(event.object.metadata.name).or_default();
                pod.added.get_or_insert(arrived);
                if event.object.spec.node_name.is_some_and(|n| !n.is_empty()) {
                    pod.bound.get_or_insert(arrived);
                }
                if event.object.status.phase.as_deref() == Some("Running") && pod.running.is_none()
                {
                    pod.running = Some(arrived);
                    running += 1;
                }
            }
            start += end + 1;
        }
        pending.drain(..start);
    }
    Ok(seen)
}

/// Deployment `d` of the scenario: `replicas` pause pods with small requests.
fn deployment(d: usize, replicas: usize) -> String {
    serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": format!("load-{d}"), "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": format!("load-{d}")}},
            "template": {
                "metadata": {"labels": {"app": format!("load-{d}")}},
                "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]},
            },
        },
    })
    .to_string()
}
