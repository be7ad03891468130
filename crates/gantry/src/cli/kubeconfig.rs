//! API clients for the components: a kube-rs client from a kubeconfig file, shared by every
//! subcommand that talks to the API server (`controller-manager`, `scheduler`, `sim`, and the
//! components `gantry server` runs in-process).

use std::path::Path;

use anyhow::Context;

/// A client for the cluster described by the kubeconfig at `path`.
/// A client from the kubeconfig at `path` that names itself `agent` (the User-Agent's product,
/// which the API server records as the field manager of this client's writes, as upstream).
pub async fn client(path: &Path, agent: &str) -> anyhow::Result<kube::Client> {
    // Only ring is compiled in; installing it twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("reading kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .with_context(|| format!("loading kubeconfig {}", path.display()))?;
    let mut config = config;
    let product = format!("{agent}/v{}", env!("CARGO_PKG_VERSION"));
    let value =
        http::HeaderValue::from_str(&product).with_context(|| format!("user agent {product:?}"))?;
    config.headers.push((http::header::USER_AGENT, value));
    kube::Client::try_from(config).context("creating the API client")
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "gantry".into())
}

/// This process's identity in leader election leases: hostname and pid.
pub fn identity() -> String {
    format!("{}_{}", hostname(), std::process::id())
}

/// The identity of components running inside `gantry server`: stable across restarts of the
/// same server (hostname and API port), so a restarted server renews its own leases at once
/// instead of waiting for them to expire.
pub fn server_identity(https_port: u16) -> String {
    format!("{}_server-{https_port}", hostname())
}
