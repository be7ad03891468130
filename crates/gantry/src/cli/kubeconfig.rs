//! API clients for the components: a kube-rs client from a kubeconfig file, shared by every
//! subcommand that talks to the API server (`controller-manager`, `scheduler`, `sim`, and the
//! components `gantry server` runs in-process).

use std::path::Path;

use anyhow::Context;

/// A client for the cluster described by the kubeconfig at `path`.
pub async fn client(path: &Path) -> anyhow::Result<kube::Client> {
    // Only ring is compiled in; installing it twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = kube::config::Kubeconfig::read_from(path).with_context(|| format!("reading kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .with_context(|| format!("loading kubeconfig {}", path.display()))?;
    kube::Client::try_from(config).context("creating the API client")
}

/// This process's identity in leader election leases: hostname and pid.
pub fn identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "gantry".into());
    format!("{host}_{}", std::process::id())
}
