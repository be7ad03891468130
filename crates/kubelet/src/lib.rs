//! The node agent's kubelet: registers the Node (capacity from the host, conditions, runtime
//! version), renews its Lease, writes the pod network config once the node has a podCIDR, and
//! runs the pods bound to it as real containers through CRI — one worker per pod.
//!
//! Architecture invariant: the kubelet talks to the cluster only through the API (kube-rs) and to
//! containers only through CRI; it keeps no state of its own that a restart could lose (the
//! runtime's labels say which pod a sandbox or container belongs to).

pub mod actions;
pub mod backoff;
pub mod cgroup;
pub mod cni;
pub mod container;
pub mod host;
pub mod images;
pub mod labels;
pub mod lease;
mod lifecycle;
mod manager;
pub mod node;
pub mod oom;
pub mod probes;
pub mod runtime;
pub mod sa_token;
pub mod sandbox;
pub mod status;
mod worker;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use gantry_cri::{Cri, CriError, api};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::runtime::watcher;

/// The kubelet's settings (the agent assembles them from its flags).
#[derive(Debug, Clone)]
pub struct Config {
    pub node_name: String,
    pub node_ip: String,
    /// `DATA/kubelet`: pod directories (volumes, termination logs).
    pub root_dir: PathBuf,
    /// Where container logs go (`DATA/pod-logs`).
    pub log_dir: PathBuf,
    pub kubelet_port: u16,
    pub max_pods: u32,
    pub cluster_dns: Vec<String>,
    pub cluster_domain: String,
    /// Parent of pod cgroups, e.g. `/gantry/<node>`.
    pub cgroup_root: String,
    pub cni_conf_dir: PathBuf,
    pub cni_bridge: String,
    pub node_labels: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    #[error("API: {0}")]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Runtime(#[from] CriError),
    #[error("container runtime: {0}")]
    Status(#[from] tonic::Status),
    #[error("cgroup {path}: {source}")]
    Cgroup {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("invalid object: {0}")]
    Invalid(String),
}

/// What every pod worker shares.
pub struct Context {
    pub cfg: Config,
    pub client: kube::Client,
    pub cri: Cri,
    pub settings: sandbox::SandboxSettings,
    pub allocatable: BTreeMap<String, Quantity>,
    /// Containers' cgroups the kernel reported OOM kills in.
    pub oom: oom::OomKills,
}

fn host_resolv() -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut servers = vec![];
    let mut searches = vec![];
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        match parts.next() {
            Some("nameserver") => servers.extend(parts.next().map(String::from)),
            Some("search") => searches.extend(parts.map(String::from)),
            _ => {}
        }
    }
    (servers, searches)
}

/// Runs the kubelet until the process stops: registration, heartbeats, network config, pods.
pub async fn run(cfg: Config, client: kube::Client, cri: Cri) -> Result<(), KubeletError> {
    // The API server or the runtime may be busy or still starting: retry the first calls.
    let mut wait = Duration::from_millis(200);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let (runtime_version, node) = loop {
        let attempt = async {
            Ok::<_, KubeletError>((cri.version().await?, node::register(&client, &cfg).await?))
        };
        match attempt.await {
            Ok(done) => break done,
            Err(err) if std::time::Instant::now() < deadline => {
                tracing::warn!(%err, "registering the node failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(err) => return Err(err),
        }
    };
    tracing::info!(node = %cfg.node_name, runtime = %runtime_version, "node registered");
    let facts = host::read_facts(&cfg.root_dir);
    let allocatable: BTreeMap<String, Quantity> =
        serde_json::from_value(node::capacity(&facts, cfg.max_pods))
            .map_err(|e| KubeletError::Invalid(e.to_string()))?;
    let (servers, searches) = host_resolv();
    let settings = sandbox::SandboxSettings {
        cluster_dns: cfg.cluster_dns.clone(),
        cluster_domain: cfg.cluster_domain.clone(),
        host_nameservers: servers,
        host_searches: searches,
        log_root: cfg.log_dir.display().to_string(),
    };
    let oom = oom::OomKills::default();
    oom.watch();
    let ctx = Arc::new(Context {
        cfg: cfg.clone(),
        client: client.clone(),
        cri: cri.clone(),
        settings,
        allocatable,
        oom,
    });
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(lease::run(
        client.clone(),
        cfg.node_name.clone(),
        node.metadata.uid.clone(),
    ));
    tasks.spawn(node_status_loop(ctx.clone(), runtime_version));
    tasks.spawn(manager::run(ctx));
    while let Some(done) = tasks.join_next().await {
        if let Err(err) = done {
            tracing::error!(%err, "a kubelet task ended");
        }
    }
    Ok(())
}

/// Keeps the node status current: network config from the podCIDR, runtime readiness, host
/// conditions; posts when something changed and at least every minute.
async fn node_status_loop(ctx: Arc<Context>, runtime_version: String) {
    let cfg = &ctx.cfg;
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let wc = watcher::Config::default().fields(&format!("metadata.name={}", cfg.node_name));
    let mut node_events = watcher::watcher(nodes, wc).boxed();
    let mut pod_cidr: Option<String> = None;
    let mut previous: Vec<serde_json::Value> = vec![];
    let mut last_post: Option<(serde_json::Value, std::time::Instant)> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            ev = node_events.next() => {
                if let Some(Ok(watcher::Event::Apply(n) | watcher::Event::InitApply(n))) = ev {
                    pod_cidr = n.spec.and_then(|s| s.pod_cidr);
                    if let Some(conds) = n.status.and_then(|s| s.conditions) {
                        previous = conds.iter().filter_map(|c| serde_json::to_value(c).ok()).collect();
                    }
                } else if ev.is_none() {
                    return;
                } else {
                    continue;
                }
            }
            _ = tick.tick() => {}
        }
        let network = match &pod_cidr {
            Some(cidr) => {
                let ipam = cfg.root_dir.join("cni-ipam");
                cni::write(&cfg.cni_conf_dir, cidr, &cfg.cni_bridge, &ipam)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            None => Err("network plugin not ready: the node has no podCIDR yet".to_string()),
        };
        let runtime = runtime_ready(&ctx.cri).await;
        let facts = host::read_facts(&cfg.root_dir);
        let readiness = node::Readiness { runtime, network };
        let conditions = node::conditions(&facts, &readiness, &previous, Timestamp::now());
        let status = node::status(cfg, &facts, &runtime_version, conditions);
        let mut comparable = status.clone();
        for c in comparable["conditions"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            c["lastHeartbeatTime"] = serde_json::Value::Null;
        }
        comparable["capacity"] = serde_json::Value::Null;
        comparable["allocatable"] = serde_json::Value::Null;
        let due = match &last_post {
            Some((last, at)) => *last != comparable || at.elapsed() > Duration::from_secs(60),
            None => true,
        };
        if due {
            match node::post_status(&ctx.client, cfg, status).await {
                Ok(_) => last_post = Some((comparable, std::time::Instant::now())),
                Err(err) => tracing::warn!(%err, "posting node status failed"),
            }
        }
    }
}

async fn runtime_ready(cri: &Cri) -> Result<(), String> {
    match cri
        .runtime
        .clone()
        .status(api::StatusRequest { verbose: false })
        .await
    {
        Ok(s) => {
            let conditions = s
                .into_inner()
                .status
                .map(|s| s.conditions)
                .unwrap_or_default();
            match conditions.iter().find(|c| c.r#type == "RuntimeReady") {
                Some(c) if c.status => Ok(()),
                Some(c) => Err(format!("container runtime not ready: {}", c.message)),
                None => Err("container runtime did not report readiness".into()),
            }
        }
        Err(e) => Err(format!("container runtime is down: {}", e.message())),
    }
}
