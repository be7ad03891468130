//! `gantry up`: a complete single-node cluster on this machine in one process — the control
//! plane (API server, embedded store, scheduler, controllers) and an agent (managed containerd,
//! kubelet) — with progress printed while it starts and kubectl ready at the end.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use k8s_openapi::api::core::v1::Node;
use tokio::sync::watch;

use super::agent::AgentArgs;
use super::server::ServerArgs;

#[derive(Args)]
pub struct UpArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Node name (default: the host name).
    #[arg(long)]
    node_name: Option<String>,
    /// The node's IP (default: the address of the interface of the default route).
    #[arg(long)]
    node_ip: Option<IpAddr>,
    /// Port of the kubelet API.
    #[arg(long, default_value_t = 10250)]
    kubelet_port: u16,
    /// Registries reached over plain HTTP (HOST:PORT); may be repeated.
    #[arg(long)]
    insecure_registry: Vec<String>,
    /// Name of the Linux bridge of the pod network (distinct per cluster on one host).
    #[arg(long, default_value = "gantry0")]
    cni_bridge: String,
    /// Port of each node's DNS server (pods reach it as 10.43.0.10:53 through the proxy).
    #[arg(long, default_value_t = 53)]
    dns_port: u16,
    /// Ports of the ingress controller on each node's IP (HTTP, HTTPS).
    #[arg(long, default_value_t = 80)]
    ingress_http_port: u16,
    #[arg(long, default_value_t = 443)]
    ingress_https_port: u16,
    /// Run this many agents, each in its own network namespace on a bridge of its own (0: one
    /// agent in this process, on the host's network).
    #[arg(long, default_value_t = 0)]
    nodes: u8,
    /// The /24 of the nodes' bridge with `--nodes` (the API listens on its .1).
    #[arg(long, default_value = "172.30.0.0")]
    node_subnet: std::net::Ipv4Addr,
}

/// The file holding the PID of a running `gantry up`, for `gantry down`.
pub fn pid_file(data_dir: &Path) -> PathBuf {
    data_dir.join("gantry.pid")
}

fn say(started: Instant, msg: &str) {
    eprintln!("[{:>6.2}s] {msg}", started.elapsed().as_secs_f64());
}

pub fn run(mut args: UpArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let data_dir = args.server.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    std::fs::write(pid_file(&data_dir), std::process::id().to_string())
        .context("writing the pid file")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let topology = match args.nodes {
        0 => None,
        _ => {
            let t = super::up_nodes::prepare(args.server.https_port, args.node_subnet);
            let t = runtime.block_on(t)?;
            // The nodes reach the API on their bridge's address.
            args.server.bind_address = IpAddr::V4(t.gateway());
            Some(t)
        }
    };
    let host = match args.server.bind_address {
        IpAddr::V4(a) if a.is_unspecified() => "127.0.0.1".to_string(),
        IpAddr::V6(a) if a.is_unspecified() => "[::1]".to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
        a => a.to_string(),
    };
    let server_url = format!("https://{host}:{}", args.server.https_port);
    let token_file = data_dir.join("token");
    let kubeconfig = data_dir.join("kubeconfig.yaml");
    let cluster_cidr = args.server.controllers.cluster_cidr.clone();
    say(
        started,
        &format!(
            "starting the control plane on {server_url} (data in {})",
            data_dir.display()
        ),
    );
    let server_args = args.server.clone();
    let server = std::thread::spawn(move || super::server::run(server_args));
    let result = runtime.block_on(async {
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            super::server::wait_for_signal().await;
            let _ = stop_tx.send(true);
        });
        let client = wait_for_control_plane(&kubeconfig, &token_file, &server).await?;
        say(started, "control plane ready");
        let token = std::fs::read_to_string(&token_file)
            .context("reading the node token")?
            .trim()
            .to_string();
        let agent = AgentArgs {
            server: server_url.clone(),
            token,
            data_dir: data_dir.join("agent"),
            node_name: args.node_name.clone(),
            node_ip: args.node_ip,
            kubelet_port: args.kubelet_port,
            container_runtime_endpoint: None,
            cluster_dns: "10.43.0.10".into(),
            cluster_domain: "cluster.local".into(),
            insecure_registry: args.insecure_registry.clone(),
            cluster_cidr,
            service_cidr: "10.43.0.0/16".into(),
            dns_port: args.dns_port,
            ingress_http_port: args.ingress_http_port,
            ingress_https_port: args.ingress_https_port,
            cni_bridge: args.cni_bridge.clone(),
            node_label: vec!["node-role.kubernetes.io/control-plane=true".into()],
            max_pods: 110,
        };
        if let Some(t) = &topology {
            let mut stop = stop_rx;
            let mut nodes = super::up_nodes::start(t, &data_dir, &agent, args.nodes, started).await?;
            let mut failed = None;
            tokio::select! {
                _ = wait_for_ready_nodes(&client, usize::from(args.nodes)) => {
                    let msg = format!("{} nodes Ready; kubeconfig: {}", args.nodes, kubeconfig.display());
                    say(started, &msg);
                    println!("export KUBECONFIG={}", kubeconfig.display());
                    tokio::select! {
                        _ = stop.changed() => {}
                        exited = super::up_nodes::first_exit(&mut nodes) => {
                            tracing::error!("{exited}; the other nodes keep running");
                            let _ = stop.changed().await;
                        }
                    }
                }
                exited = super::up_nodes::first_exit(&mut nodes) => failed = Some(exited),
                _ = stop.changed() => {}
            }
            super::up_nodes::stop(nodes).await;
            return match failed {
                Some(why) => Err(anyhow::anyhow!("{why} before the cluster was up")),
                None => Ok(()),
            };
        }
        let mut agent_task = tokio::spawn(super::agent::serve(agent, stop_rx, move |m| {
            say(started, m)
        }));
        tokio::select! {
            _ = wait_for_ready_nodes(&client, 1) => {
                say(started, &format!("cluster up; kubeconfig: {}", kubeconfig.display()));
                println!("export KUBECONFIG={}", kubeconfig.display());
            }
            r = &mut agent_task => return r.context("agent task")?,
        }
        // Runs until SIGTERM/SIGINT stops the agent (and the control plane, which sees it too).
        agent_task.await.context("agent task")?
    });
    let server_result = server
        .join()
        .map_err(|_| anyhow::anyhow!("the control plane thread panicked"))?;
    let _ = std::fs::remove_file(pid_file(&data_dir));
    result.and(server_result)
}

async fn wait_for_control_plane(
    kubeconfig: &Path,
    token: &Path,
    server: &std::thread::JoinHandle<anyhow::Result<()>>,
) -> anyhow::Result<kube::Client> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if server.is_finished() {
            anyhow::bail!("the control plane stopped during start-up (see the log above)");
        }
        if kubeconfig.exists() && token.exists() {
            if let Ok(client) = super::kubeconfig::client(kubeconfig, "gantry-up").await {
                if client.apiserver_version().await.is_ok() {
                    return Ok(client);
                }
            }
        }
        if Instant::now() > deadline {
            anyhow::bail!("the control plane did not become ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `n` nodes are Ready, printing each as it gets there.
async fn wait_for_ready_nodes(client: &kube::Client, n: usize) {
    let nodes: kube::Api<Node> = kube::Api::all(client.clone());
    let mut seen = std::collections::BTreeSet::new();
    loop {
        if let Ok(list) = nodes.list(&Default::default()).await {
            for node in list.items {
                let ready = node
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                let name = node.metadata.name.unwrap_or_default();
                if ready && seen.insert(name.clone()) {
                    eprintln!("node {name} is Ready");
                }
            }
        }
        if seen.len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
