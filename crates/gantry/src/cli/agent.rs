//! `gantry agent`: a worker node. Joins the cluster with the server's node token (verifying the
//! server's CA against the hash in the token), runs its own containerd (or uses an existing CRI
//! endpoint), imports the pause image and any image tarballs in `DATA/images`, serves the
//! kubelet API and runs the kubelet.

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use gantry_cri::Cri;
use gantry_cri::containerd::{Containerd, ContainerdPaths};
use gantry_cri::import::{PAUSE_IMAGE, import_dir, import_spec, pause_image};
use gantry_join::{NodeCredentials, NodeToken};
use tokio::sync::watch;

#[derive(Args, Clone)]
pub struct AgentArgs {
    /// The API server, e.g. https://10.0.0.1:6443.
    #[arg(long)]
    pub server: String,
    /// The node token (the server's DATA/token).
    #[arg(long, env = "GANTRY_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Directory for all of the agent's state.
    #[arg(long, default_value = "/var/lib/gantry/agent")]
    pub data_dir: PathBuf,
    /// Node name (default: the host name).
    #[arg(long)]
    pub node_name: Option<String>,
    /// The node's IP (default: the address of the interface of the default route).
    #[arg(long)]
    pub node_ip: Option<IpAddr>,
    /// Port of the kubelet API.
    #[arg(long, default_value_t = 10250)]
    pub kubelet_port: u16,
    /// Use this CRI endpoint (unix socket) instead of a containerd of the agent's own.
    #[arg(long)]
    pub container_runtime_endpoint: Option<String>,
    /// Cluster DNS server given to pods.
    #[arg(long, default_value = "10.43.0.10")]
    pub cluster_dns: String,
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Registries reached over plain HTTP (HOST:PORT); may be repeated.
    #[arg(long)]
    pub insecure_registry: Vec<String>,
    /// The Service ClusterIP range (the proxy drops traffic to unallocated addresses in it).
    #[arg(long, default_value = "10.43.0.0/16")]
    pub service_cidr: String,
    /// Port of the node's DNS server (on the node IP; pods reach it as the cluster DNS Service).
    #[arg(long, default_value_t = 53)]
    pub dns_port: u16,
    /// Ports of the built-in ingress controller on the node IP (HTTP, HTTPS).
    #[arg(long, default_value_t = 80)]
    pub ingress_http_port: u16,
    #[arg(long, default_value_t = 443)]
    pub ingress_https_port: u16,
    /// Pod addresses of the whole cluster (traffic leaving it is masqueraded).
    #[arg(long, default_value = "10.42.0.0/16")]
    pub cluster_cidr: String,
    /// Name of the Linux bridge of the pod network.
    #[arg(long, default_value = "gantry0")]
    pub cni_bridge: String,
    /// Labels of the node (key=value); may be repeated.
    #[arg(long)]
    pub node_label: Vec<String>,
    /// Most pods the node runs.
    #[arg(long, default_value_t = 110)]
    pub max_pods: u32,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_lowercase())
        .unwrap_or_else(|_| "gantry".into())
}

/// The source address the kernel picks for the default route (no packet is sent).
fn default_ip() -> IpAddr {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| {
        s.connect("10.255.255.255:1")?;
        s.local_addr()
    });
    probe
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("chmod {}", path.display()))
}

/// The node's credentials: kept from an earlier join, or obtained by joining now.
async fn credentials(args: &AgentArgs, node: &str, ip: IpAddr) -> anyhow::Result<NodeCredentials> {
    let file = args.data_dir.join("tls/node-credentials.json");
    if let Ok(text) = std::fs::read_to_string(&file) {
        if let Ok(creds) = serde_json::from_str::<NodeCredentials>(&text) {
            return Ok(creds);
        }
    }
    let token = NodeToken::parse(args.token.trim()).context("parsing the node token")?;
    // The server may be starting or busy: retry what may pass, not a refused token or CA.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut wait = std::time::Duration::from_millis(200);
    let creds = loop {
        match gantry_join::join(&args.server, &token, node, &[ip]).await {
            Ok(c) => break c,
            Err(
                e @ (gantry_join::JoinError::CaMismatch { .. }
                | gantry_join::JoinError::Unauthorized(_)),
            ) => {
                return Err(anyhow::Error::new(e).context("joining the cluster"));
            }
            Err(e) if std::time::Instant::now() > deadline => {
                return Err(anyhow::Error::new(e).context("joining the cluster"));
            }
            Err(e) => {
                tracing::warn!("joining the cluster failed, retrying: {e}");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
        }
    };
    std::fs::create_dir_all(args.data_dir.join("tls"))?;
    write_private(&file, &serde_json::to_string(&creds)?)?;
    Ok(creds)
}

async fn client(
    args: &AgentArgs,
    node: &str,
    creds: &NodeCredentials,
) -> anyhow::Result<kube::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let yaml = gantry_join::kubeconfig_yaml(
        &args.server,
        &creds.ca_pem,
        &creds.client_cert_pem,
        &creds.client_key_pem,
        &format!("system:node:{node}"),
    );
    let path = args.data_dir.join("kubelet.kubeconfig");
    write_private(&path, &yaml)?;
    super::kubeconfig::client(&path, "kubelet").await
}

/// Runs the agent until `stop` turns true (or SIGTERM/SIGINT when `stop` is None).
pub async fn serve(
    args: AgentArgs,
    mut stop: watch::Receiver<bool>,
    progress: impl Fn(&str),
) -> anyhow::Result<()> {
    let node = args.node_name.clone().unwrap_or_else(hostname);
    let ip = args.node_ip.unwrap_or_else(default_ip);
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    std::fs::write(args.data_dir.join("node-name"), &node).context("writing the node name")?;
    let creds = credentials(&args, &node, ip).await?;
    let client = client(&args, &node, &creds).await?;
    let cni_conf_dir = args.data_dir.join("cni/net.d");
    let mut containerd = None;
    let socket = match &args.container_runtime_endpoint {
        Some(endpoint) => gantry_cri::client::socket_path(endpoint),
        None => {
            let paths = ContainerdPaths {
                dir: args.data_dir.join("containerd"),
                cni_conf_dir: cni_conf_dir.clone(),
                cni_bin_dir: PathBuf::from("/usr/lib/cni"),
                sandbox_image: PAUSE_IMAGE.into(),
                insecure_registries: args.insecure_registry.clone(),
            };
            progress("starting containerd");
            let c = Containerd::start(paths.clone())
                .await
                .context("starting containerd")?;
            containerd = Some(c);
            paths.socket()
        }
    };
    let scratch = args.data_dir.join("tmp");
    std::fs::create_dir_all(&scratch)?;
    import_spec(&socket, &pause_image(), &scratch)
        .await
        .context("importing the pause image")?;
    let imported = import_dir(&socket, &args.data_dir.join("images"))
        .await
        .context("importing images")?;
    if imported > 0 {
        progress(&format!("imported {imported} image archive(s)"));
    }
    let cri = Cri::connect(&socket)?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, args.kubelet_port))
        .await
        .with_context(|| format!("binding the kubelet API on {ip}:{}", args.kubelet_port))?;
    let tls = gantry_kubelet_server::ServerTls {
        cert_pem: creds.serving_cert_pem.clone(),
        key_pem: creds.serving_key_pem.clone(),
        client_ca_pem: creds.ca_pem.clone(),
    };
    let server = tokio::spawn(gantry_kubelet_server::serve(
        listener,
        tls,
        cri.clone(),
        stop.clone(),
    ));
    let labels = args
        .node_label
        .iter()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let cfg = gantry_kubelet::Config {
        node_name: node.clone(),
        node_ip: ip.to_string(),
        root_dir: args.data_dir.join("kubelet"),
        log_dir: args.data_dir.join("pod-logs"),
        kubelet_port: args.kubelet_port,
        max_pods: args.max_pods,
        cluster_dns: vec![args.cluster_dns.clone()],
        cluster_domain: args.cluster_domain.clone(),
        cgroup_root: format!("/gantry/{node}"),
        cni_conf_dir,
        cni_bridge: args.cni_bridge.clone(),
        node_labels: labels,
    };
    let podnet = tokio::spawn(gantry_podnet::routes::run_routes(
        client.clone(),
        node.clone(),
        args.cluster_cidr.clone(),
    ));
    let network = tokio::spawn(services(client.clone(), args.clone(), node.clone(), ip));
    progress(&format!("node {node} ({ip}) starting its kubelet"));
    let kubelet = gantry_kubelet::run(cfg, client, cri.clone());
    tokio::select! {
        r = kubelet => r.context("kubelet")?,
        _ = stop.changed() => {}
    }
    server.abort();
    podnet.abort();
    network.abort();
    if super::down::teardown_marker(&args.data_dir).exists() {
        progress("removing this node's pods and network rules");
        remove_pods(&cri, &node).await;
        let _ = gantry_proxy::cleanup(&proxy_table(&node)).await;
        gantry_netpol::cleanup(&netpol_table(&node)).await;
        let table = gantry_podnet::routes::table_name(&node);
        let _ = gantry_podnet::run("nft", &["delete", "table", "ip", &table], None).await;
    }
    if let Some(c) = containerd {
        c.stop().await;
    }
    Ok(())
}

/// The node's service proxy (its own nftables table) and DNS server, published as the
/// cluster DNS Service; each restarts after a failure.
async fn services(client: kube::Client, args: AgentArgs, node: String, ip: IpAddr) {
    let proxy = gantry_proxy::ProxyConfig {
        node_name: node.clone(),
        node_ips: vec![ip],
        table: proxy_table(&node),
        cluster_cidr: args.cluster_cidr.clone(),
        service_cidr: args.service_cidr.clone(),
    };
    let proxy_loop = supervise("service proxy", || {
        gantry_proxy::run(client.clone(), proxy.clone())
    });
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let dns = gantry_dns::DnsConfig {
        listen: vec![SocketAddr::new(ip, args.dns_port)],
        cluster_domain: args.cluster_domain.clone(),
        upstreams: gantry_dns::upstreams_from_resolv_conf(&resolv),
        negative_ttl: std::time::Duration::from_secs(30),
    };
    let dns_ip: IpAddr = args
        .cluster_dns
        .parse()
        .unwrap_or(IpAddr::from([10, 43, 0, 10]));
    let dns_loop = async {
        let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client.clone());
        let node_uid = nodes.get(&node).await.ok().and_then(|n| n.metadata.uid);
        if let Err(err) = gantry_dns::publish::publish(
            &client,
            dns_ip,
            &node,
            node_uid.as_deref(),
            ip,
            args.dns_port,
        )
        .await
        {
            tracing::warn!(%err, "publishing the node's DNS server failed");
        }
        supervise("cluster DNS", || {
            gantry_dns::serve(client.clone(), dns.clone())
        })
        .await
    };
    let ingress = gantry_ingress::IngressConfig {
        http: SocketAddr::new(ip, args.ingress_http_port),
        https: SocketAddr::new(ip, args.ingress_https_port),
        class: "gantry".into(),
        publish_ips: vec![],
    };
    let ingress_loop = supervise("ingress controller", || {
        gantry_ingress::run(client.clone(), ingress.clone())
    });
    let netpol = gantry_netpol::NetpolConfig {
        node_name: node.clone(),
        table: netpol_table(&node),
        cluster_cidr: args.cluster_cidr.clone(),
    };
    let netpol_loop = supervise("network policy enforcement", || {
        gantry_netpol::run(client.clone(), netpol.clone())
    });
    tokio::join!(proxy_loop, dns_loop, ingress_loop, netpol_loop);
}

/// Runs a node component forever, restarting it a second after it stops with an error.
async fn supervise<F, E>(what: &str, mut start: impl FnMut() -> F) -> std::convert::Infallible
where
    F: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    loop {
        match start().await {
            Ok(()) => tracing::error!("{what} stopped; restarting it"),
            Err(err) => tracing::error!(%err, "{what} stopped; restarting it"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// The proxy's nftables table for `node`: one per node, so several nodes on one host (each in
/// its own network namespace, or side by side in tests) never share a table.
fn proxy_table(node: &str) -> String {
    gantry_nft::node_table("gantry_svc", node)
}

/// The NetworkPolicy table of `node`.
fn netpol_table(node: &str) -> String {
    gantry_nft::node_table("gantry_netpol", node)
}

/// Stops and removes every sandbox (and its containers) this node's kubelet made.
async fn remove_pods(cri: &Cri, node: &str) {
    use gantry_cri::api;
    let filter = api::PodSandboxFilter {
        label_selector: [(gantry_kubelet::labels::NODE.to_string(), node.to_string())].into(),
        ..Default::default()
    };
    let mut rt = cri.runtime.clone();
    let Ok(list) = rt
        .list_pod_sandbox(api::ListPodSandboxRequest {
            filter: Some(filter),
        })
        .await
    else {
        return;
    };
    for s in list.into_inner().items {
        let _ = rt
            .stop_pod_sandbox(api::StopPodSandboxRequest {
                pod_sandbox_id: s.id.clone(),
            })
            .await;
        let _ = rt
            .remove_pod_sandbox(api::RemovePodSandboxRequest {
                pod_sandbox_id: s.id,
            })
            .await;
    }
}

pub fn run(args: AgentArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            super::server::wait_for_signal().await;
            let _ = tx.send(true);
        });
        serve(args, rx, |msg| tracing::info!("{msg}")).await
    })
}
