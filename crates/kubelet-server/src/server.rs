//! The accept loop: TLS handshakes, HTTP/1.1 (with upgrades) and HTTP/2 connections, and a
//! graceful stop when `shutdown` turns true.

use std::sync::Arc;
use std::time::Duration;

use gantry_cri::Cri;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::ServerError;
use crate::handler;
use crate::tls::{ServerTls, server_config};

/// How long a stop waits for open requests (followed logs, streams) before dropping them.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves the kubelet API on `listener` until `shutdown` turns true (or its sender is dropped).
pub async fn serve(
    listener: TcpListener,
    tls: ServerTls,
    cri: Cri,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ServerError> {
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config(&tls)?);
    let graceful = GracefulShutdown::new();
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    loop {
        if *shutdown.borrow() {
            break;
        }
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) if is_transient(&err) => {
                    tracing::warn!(%err, "kubelet server: accept");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(err) => return Err(ServerError::Accept(err)),
            },
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let cri = cri.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(err)) => {
                        tracing::debug!(%peer, %err, "kubelet server: tls handshake");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "kubelet server: tls handshake timed out");
                        return;
                    }
                };
            let authenticated = tls
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|c| !c.is_empty());
            let service = service_fn(move |req| {
                let cri = cri.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        handler::handle(req, &cri, authenticated).await,
                    )
                }
            });
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
            if let Err(err) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, %err, "kubelet server: connection");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("kubelet server: open connections dropped at stop");
    }
    Ok(())
}

fn is_transient(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        err.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    ) || err.raw_os_error() == Some(24)
}
