//! `gantry scheduler`: the scheduler as a separate process (with leader election), for
//! clusters that run it apart from `gantry server`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::kubeconfig;

#[derive(Args)]
pub struct SchedulerArgs {
    /// Kubeconfig of the cluster to schedule for.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Schedule pods whose `spec.schedulerName` is this.
    #[arg(long, default_value = "default-scheduler")]
    scheduler_name: String,
    /// How many bindings may be in flight at once.
    #[arg(long, default_value_t = 64)]
    bindings_in_flight: usize,
}

/// Runs the scheduler while holding the lease named after it (`kube-system/<scheduler name>`).
/// The name the scheduler's writes are recorded under (managedFields), as upstream.
pub const SCHEDULER: &str = "kube-scheduler";

pub async fn run_leading(client: kube::Client, config: gantry_scheduler::Config, identity: String) {
    let lease = gantry_leader::LeaderConfig::new(&config.scheduler_name, identity);
    gantry_leader::run_as_leader(client.clone(), lease, move || {
        let (client, config) = (client.clone(), config.clone());
        async move {
            if let Err(e) = gantry_scheduler::run(client, config).await {
                tracing::error!("scheduler stopped: {e}");
            }
        }
    })
    .await;
}

pub fn run(args: SchedulerArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let client = kubeconfig::client(&args.kubeconfig, SCHEDULER).await?;
        let config = gantry_scheduler::Config {
            scheduler_name: args.scheduler_name,
            bindings_in_flight: args.bindings_in_flight,
        };
        run_leading(client, config, kubeconfig::identity()).await;
        Ok(())
    })
}
