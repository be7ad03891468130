//! The gantry API server: serves the Kubernetes REST API over TLS from one generic registry
//! backed by a [`gantry_store::Store`].
//!
//! [`run`] is the whole server: certificates, listener, system namespaces, namespace
//! lifecycle, and request handling until shutdown.

mod apply;
mod bootstrap;
mod caller;
pub mod crd;
pub mod decode;
pub mod discovery;
pub mod error;
mod event_expiry;
mod eviction;
pub mod handler;
pub mod join;
pub mod kubelet_proxy;
mod namespace_lifecycle;
pub mod object;
mod patch;
pub mod pki;
mod protobuf;
pub mod query;
pub mod registry;
pub mod response;
pub mod route;
pub mod selector;
pub mod server;
pub mod service_account;
mod smp;
pub mod storage;
mod subresource;
mod table;
pub mod validation;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use gantry_store::Store;
use tokio::sync::watch;

/// What `gantry server` is told on its command line.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub bind_address: IpAddr,
    pub https_port: u16,
    /// How long an event lives after it was last seen.
    pub event_ttl: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    #[error(transparent)]
    SigningKey(#[from] service_account::jwt::KeyError),
    #[error(transparent)]
    Serve(#[from] server::ServeError),
    #[error("creating system namespaces: {0}")]
    Bootstrap(error::ApiError),
    #[error("node token: {0}")]
    Token(#[from] join::TokenFileError),
    #[error("{0}")]
    KubeletClient(String),
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// The address clients should use: the bind address, or loopback when bound to all interfaces.
fn client_host(bind: IpAddr) -> String {
    let ip = if bind.is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        bind
    };
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Runs the API server until `shutdown` becomes true. `ready` is called with the bound address
/// once requests are being served.
pub async fn run(
    config: Config,
    store: Arc<dyn Store>,
    shutdown: watch::Receiver<bool>,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), RunError> {
    // Only the ring provider is compiled in; installing it is idempotent for our purposes.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut names = vec![
        config.bind_address.to_string(),
        "127.0.0.1".into(),
        "localhost".into(),
    ];
    names.extend(hostname());
    names.extend(
        [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "10.43.0.1",
        ]
        .map(String::from),
    );
    let pki = Arc::new(pki::Pki::load_or_create(&config.data_dir, &names)?);
    let signing_key =
        service_account::jwt::SigningKey::load_or_create(&config.data_dir.join("tls"))?;
    let token = join::load_or_create_token(&config.data_dir, &pki.ca_pem)?;
    tracing::info!(
        "node join token: {}",
        config.data_dir.join("token").display()
    );
    let kubelets = kubelet_proxy::KubeletProxy::new(&pki).map_err(RunError::KubeletClient)?;
    let listener = server::Listener::bind(
        SocketAddr::new(config.bind_address, config.https_port),
        &pki,
    )
    .await?;
    let addr = listener
        .local_addr()
        .unwrap_or_else(|| SocketAddr::new(config.bind_address, config.https_port));
    let server_address = format!("{}:{}", client_host(config.bind_address), addr.port());
    pki.write_kubeconfig(
        &config.data_dir.join("kubeconfig.yaml"),
        &format!("https://{server_address}"),
    )?;

    let storage = Arc::new(storage::Storage::new(registry::Registry::builtin(), store));
    namespace_lifecycle::ensure_system_namespaces(&storage)
        .await
        .map_err(RunError::Bootstrap)?;
    match storage.repair_reservations().await {
        Ok(0) => {}
        Ok(n) => tracing::info!("released {n} reservations left by an interrupted write"),
        Err(e) => tracing::warn!("repairing reservations: {e}"),
    }
    let api_address = SocketAddr::new(
        if config.bind_address.is_unspecified() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            config.bind_address
        },
        addr.port(),
    );
    bootstrap::ensure_kubernetes_service(&storage, api_address)
        .await
        .map_err(RunError::Bootstrap)?;
    let crds = tokio::spawn(crd::controller::CrdController::new(storage.clone()).run());
    let expiry = tokio::spawn(event_expiry::run(storage.clone(), config.event_ttl));
    let api = Arc::new(
        handler::Api::new(storage, server_address)
            .with_nodes(handler::NodeAccess {
                join: join::NodeJoin::new(token, pki.clone()),
                kubelets,
            })
            .with_tokens(Arc::new(service_account::Tokens::new(signing_key))),
    );
    let warm = api.clone();
    // The OpenAPI documents are built in the background so that startup stays fast.
    tokio::task::spawn_blocking(move || warm.discovery().warm());
    ready(addr);
    listener.serve(api, shutdown).await;
    crds.abort();
    expiry.abort();
    Ok(())
}
