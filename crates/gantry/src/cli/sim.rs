//! `gantry sim`: simulated nodes (like KWOK) that register, renew their leases and mark the
//! pods bound to them Running, without running containers; for tests and scale benchmarks.
//!
//! A node group is stopped by killing its process: the nodes stay registered and their leases
//! expire as if the machines had died (unless `--delete-nodes-on-exit`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

#[derive(Args)]
pub struct SimArgs {
    /// Kubeconfig of the cluster the nodes join.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// How many nodes to simulate.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Node names are this prefix followed by 0..N-1.
    #[arg(long, default_value = "sim-")]
    name_prefix: String,
    /// CPU capacity of each node.
    #[arg(long, default_value = "32")]
    cpu: String,
    /// Memory capacity of each node.
    #[arg(long, default_value = "256Gi")]
    memory: String,
    /// Pod capacity of each node.
    #[arg(long, default_value_t = 110)]
    pods: u32,
    /// Ephemeral storage capacity of each node.
    #[arg(long, default_value = "100Gi")]
    ephemeral_storage: String,
    /// Extra node labels: k=v,k2=v2.
    #[arg(long, default_value = "")]
    labels: String,
    /// Node taints: key=value:Effect (repeat or separate with commas).
    #[arg(long, value_delimiter = ',')]
    taints: Vec<String>,
    /// Seconds between lease renewals of each node.
    #[arg(long, default_value_t = 10)]
    lease_interval_seconds: u64,
    /// Pod status updates and deletes in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Delete the nodes on SIGTERM instead of letting their leases expire.
    #[arg(long)]
    delete_nodes_on_exit: bool,
}

pub fn run(args: SimArgs) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = gantry_sim::Config {
        nodes: args.nodes,
        name_prefix: args.name_prefix,
        cpu: args.cpu,
        memory: args.memory,
        pods: args.pods,
        ephemeral_storage: args.ephemeral_storage,
        labels: gantry_sim::parse_labels(&args.labels)?,
        taints: args
            .taints
            .iter()
            .map(|t| gantry_sim::parse_taint(t))
            .collect::<Result<_, _>>()?,
        lease_interval: std::time::Duration::from_secs(args.lease_interval_seconds.max(1)),
        concurrency: args.concurrency,
        delete_nodes_on_exit: args.delete_nodes_on_exit,
        ..gantry_sim::Config::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(async move {
        let client = super::kubeconfig::client(&args.kubeconfig, "gantry-sim").await?;
        gantry_sim::run(client, config)
            .await
            .context("simulating nodes")
    });
    // Do not wait for in-flight requests: a stopped node just stops.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    result
}
