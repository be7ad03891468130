//! `gantry controller-manager`: the controllers as a separate process (with leader election),
//! for clusters that run them apart from `gantry server`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::kubeconfig;

#[derive(Args)]
pub struct ControllerManagerArgs {
    /// Kubeconfig of the cluster to manage.
    #[arg(long)]
    kubeconfig: PathBuf,
    #[command(flatten)]
    controllers: ControllerFlags,
}

/// The controller manager's tunables, shared by `gantry server` and `gantry controller-manager`.
#[derive(Args, Clone)]
pub struct ControllerFlags {
    /// Pod addresses of the cluster; every node gets a block of it.
    #[arg(long, default_value = "10.42.0.0/16")]
    pub(crate) cluster_cidr: String,
    /// Prefix length of each node's block of the cluster CIDR.
    #[arg(long, default_value_t = 24)]
    node_cidr_mask_size: u8,
    /// How long a node's Lease may go unrenewed before the node is marked Unknown.
    #[arg(long, default_value = "40s", value_parser = super::server::parse_duration)]
    node_monitor_grace_period: std::time::Duration,
}

impl ControllerFlags {
    /// The controllers' configuration from the flags.
    pub fn config(&self) -> anyhow::Result<gantry_controllers::Config> {
        let node_ipam = gantry_controllers::node_ipam::Config::parse(
            &self.cluster_cidr,
            self.node_cidr_mask_size,
        )
        .with_context(|| {
            format!(
                "--cluster-cidr {} with --node-cidr-mask-size {}",
                self.cluster_cidr, self.node_cidr_mask_size
            )
        })?;
        Ok(gantry_controllers::Config {
            node_lifecycle: gantry_controllers::node_lifecycle::Config {
                grace: self.node_monitor_grace_period,
            },
            node_ipam,
        })
    }
}

/// Runs the controllers while holding the `gantry-controller-manager` lease.
/// The name the controller manager's writes are recorded under (managedFields), as upstream.
pub const CONTROLLER_MANAGER: &str = "kube-controller-manager";

pub async fn run_leading(
    client: kube::Client,
    identity: String,
    controllers: gantry_controllers::Config,
) {
    let config = gantry_leader::LeaderConfig::new("gantry-controller-manager", identity);
    gantry_leader::run_as_leader(client.clone(), config, move || {
        gantry_controllers::run(client.clone(), controllers.clone())
    })
    .await;
}

pub fn run(args: ControllerManagerArgs) -> anyhow::Result<()> {
    let controllers = args.controllers.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let client = kubeconfig::client(&args.kubeconfig, CONTROLLER_MANAGER).await?;
        run_leading(client, kubeconfig::identity(), controllers).await;
        Ok(())
    })
}
