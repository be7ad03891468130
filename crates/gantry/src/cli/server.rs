//! `gantry server`: the control plane of a cluster.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use gantry_store::embedded::{EmbeddedOptions, EmbeddedStore};
use tokio::sync::watch;

#[derive(Args, Clone)]
pub struct ServerArgs {
    /// Directory for all state: store, certificates, kubeconfig.
    #[arg(long, default_value = "/var/lib/gantry")]
    pub(crate) data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) bind_address: IpAddr,
    /// Port of the HTTPS API.
    #[arg(long, default_value_t = 6443)]
    pub(crate) https_port: u16,
    /// How long events are kept after they were last seen (e.g. 1h, 30m, 90s).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    event_ttl: std::time::Duration,
    /// Do not run the controller manager in this process.
    #[arg(long)]
    disable_controller_manager: bool,
    /// Do not run the scheduler in this process.
    #[arg(long)]
    disable_scheduler: bool,
    #[command(flatten)]
    pub(crate) controllers: super::controller_manager::ControllerFlags,
}

/// Parses `90s`, `30m`, `1h` or plain seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("invalid duration {s:?}: use s, m or h")),
    };
    Ok(std::time::Duration::from_secs(secs))
}

pub fn run(args: ServerArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    // `None` when the controller manager does not run here.
    let controllers = match args.disable_controller_manager {
        true => None,
        false => Some(args.controllers.config()?),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        std::fs::create_dir_all(&args.data_dir)
            .with_context(|| format!("creating {}", args.data_dir.display()))?;
        let store_dir = args.data_dir.join("db");
        let store = EmbeddedStore::open(&store_dir, EmbeddedOptions::default())
            .await
            .with_context(|| format!("opening the store in {}", store_dir.display()))?;
        let config = gantry_apiserver::Config {
            data_dir: args.data_dir.clone(),
            bind_address: args.bind_address,
            https_port: args.https_port,
            event_ttl: args.event_ttl,
        };
        let kubeconfig = args.data_dir.join("kubeconfig.yaml");
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let components = tokio::spawn(run_components(
            kubeconfig.clone(),
            ready_rx,
            args.https_port,
            controllers,
            !args.disable_scheduler,
        ));
        let (stop, stopped) = watch::channel(false);
        let stop_components = components.abort_handle();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            // Components first, so that they do not call an API server that is going away.
            stop_components.abort();
            let _ = stop.send(true);
        });
        gantry_apiserver::run(
            config,
            store.clone() as Arc<dyn gantry_store::Store>,
            stopped,
            |addr| {
                tracing::info!(
                    "gantry server ready on https://{addr} in {} ms; kubeconfig: {}",
                    started.elapsed().as_millis(),
                    kubeconfig.display()
                );
                let _ = ready_tx.send(());
            },
        )
        .await?;
        components.abort();
        store.close().await.context("closing the store")?;
        Ok(())
    })
}

/// The control-plane components that run in this process as API clients, each under its
/// leader election lease, once the API server serves.
async fn run_components(
    kubeconfig: PathBuf,
    ready: tokio::sync::oneshot::Receiver<()>,
    https_port: u16,
    controller_manager: Option<gantry_controllers::Config>,
    scheduler: bool,
) {
    if ready.await.is_err() {
        return;
    }
    let client = match super::kubeconfig::client(&kubeconfig).await {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("control-plane components cannot reach the API: {e:#}");
            return;
        }
    };
    // A JoinSet aborts its tasks when dropped, so aborting this function stops them all.
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(config) = controller_manager {
        tasks.spawn(super::controller_manager::run_leading(
            client.clone(),
            super::kubeconfig::server_identity(https_port),
            config,
        ));
    }
    if scheduler {
        tasks.spawn(super::scheduler::run_leading(
            client.clone(),
            gantry_scheduler::Config::default(),
            super::kubeconfig::server_identity(https_port),
        ));
    }
    while tasks.join_next().await.is_some() {}
}

pub(crate) async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
