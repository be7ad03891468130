//! Runs the controller manager against a cluster: `cargo run -p gantry-controllers --example run -- KUBECONFIG`.

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let path = std::env::args().nth(1).context("usage: run KUBECONFIG")?;
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).context("reading kubeconfig")?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    let client = kube::Client::try_from(config)?;
    gantry_controllers::run(client, gantry_controllers::Config::default()).await;
    Ok(())
}
