//! The HTTPS listener: TLS with optional client certificates (verified against the cluster
//! CA), HTTP/1.1 and HTTP/2, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::handler::{Api, Caller};
use crate::pki::Pki;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("tls configuration: {0}")]
    Tls(String),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

fn tls_config(pki: &Pki) -> Result<rustls::ServerConfig, ServeError> {
    let err = |e: &dyn std::fmt::Display| ServeError::Tls(e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
        roots.add(cert.map_err(|e| err(&e))?).map_err(|e| err(&e))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| err(&e))?;
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.server_cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| err(&e))?;
    let key = PrivateKeyDer::from_pem_slice(pki.server_key_pem.as_bytes()).map_err(|e| err(&e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| err(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A bound listener, ready to serve.
pub struct Listener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl Listener {
    pub async fn bind(addr: SocketAddr, pki: &Pki) -> Result<Listener, ServeError> {
        let tcp = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        Ok(Listener {
            tcp,
            acceptor: TlsAcceptor::from(Arc::new(tls_config(pki)?)),
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.tcp.local_addr().ok()
    }

    /// Serves until `shutdown` turns true, then gives open requests a moment to finish.
    pub async fn serve(self, api: Arc<Api>, mut shutdown: watch::Receiver<bool>) {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        continue;
                    }
                },
                _ = shutdown.changed() => break,
            };
            let _ = stream.set_nodelay(true);
            let acceptor = self.acceptor.clone();
            let api = api.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let tls =
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => {
                            tracing::debug!("tls handshake with {peer} failed: {e}");
                            return;
                        }
                        Err(_) => return,
                    };
                let caller = Caller::from_certificates(tls.get_ref().1.peer_certificates());
                let service = service_fn(move |req: hyper::Request<Incoming>| {
                    let api = api.clone();
                    let caller = caller.clone();
                    async move { Ok::<_, std::convert::Infallible>(api.handle(req, &caller).await) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                if let Err(e) = watcher.watch(conn.into_owned()).await {
                    tracing::debug!("connection from {peer} ended: {e}");
                }
            });
        }
        // Long-running watches would hold shutdown forever: give requests a second, then go.
        let _ = tokio::time::timeout(Duration::from_secs(1), graceful.shutdown()).await;
    }
}
