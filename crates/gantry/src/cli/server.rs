//! `gantry server`: the control plane of a cluster.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use gantry_store::embedded::{EmbeddedOptions, EmbeddedStore};
use tokio::sync::watch;

use super::components::{Components, threads_for_component};

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
        let components = Arc::new(Mutex::new(Components::default()));
        let starter = tokio::spawn(start_components(
            kubeconfig.clone(),
            ready_rx,
            args.https_port,
            controllers,
            !args.disable_scheduler,
            components.clone(),
        ));
        let (stop, stopped) = watch::channel(false);
        let stop_starter = starter.abort_handle();
        let stop_components = components.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            // Components first, so that they do not call an API server that is going away.
            stop_starter.abort();
            if let Ok(c) = stop_components.lock() {
                c.abort();
            }
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
        starter.abort();
        if let Ok(mut c) = components.lock() {
            std::mem::take(&mut *c).stop();
        }
        store.close().await.context("closing the store")?;
        Ok(())
    })
}

/// Starts the control-plane components that run in this process (API clients, each under its
/// leader election lease, each on its own runtime) once the API server serves.
async fn start_components(
    kubeconfig: PathBuf,
    ready: tokio::sync::oneshot::Receiver<()>,
    https_port: u16,
    controller_manager: Option<gantry_controllers::Config>,
    scheduler: bool,
    components: Arc<Mutex<Components>>,
) {
    if ready.await.is_err() {
        return;
    }
    let identity = super::kubeconfig::server_identity(https_port);
    let Ok(mut running) = components.lock() else {
        return;
    };
    let threads = threads_for_component();
    if let Some(config) = controller_manager {
        let identity = identity.clone();
        let started = running.start(
            (
                "gantry-controllers",
                super::controller_manager::CONTROLLER_MANAGER,
            ),
            threads,
            kubeconfig.clone(),
            |client| super::controller_manager::run_leading(client, identity, config),
        );
        if let Err(e) = started {
            tracing::error!("{e:#}");
        }
    }
    if scheduler {
        let started = running.start(
            ("gantry-scheduler", super::scheduler::SCHEDULER),
            threads,
            kubeconfig,
            |client| {
                super::scheduler::run_leading(client, gantry_scheduler::Config::default(), identity)
            },
        );
        if let Err(e) = started {
            tracing::error!("{e:#}");
        }
    }
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
