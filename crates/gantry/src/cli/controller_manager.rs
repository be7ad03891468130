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
}

/// Runs the controllers while holding the `gantry-controller-manager` lease.
pub async fn run_leading(client: kube::Client, identity: String) {
    let config = gantry_leader::LeaderConfig::new("gantry-controller-manager", identity);
    gantry_leader::run_as_leader(client.clone(), config, move || {
        gantry_controllers::run(client.clone())
    })
    .await;
}

pub fn run(args: ControllerManagerArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let client = kubeconfig::client(&args.kubeconfig).await?;
        run_leading(client, kubeconfig::identity()).await;
        Ok(())
    })
}
