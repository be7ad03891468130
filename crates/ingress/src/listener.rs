//! The HTTP and HTTPS listeners: accept loops that hand each connection (after the TLS
//! handshake, for HTTPS) to hyper's auto builder (HTTP/1.1 with upgrades, or HTTP/2).

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::error::IngressError;
use crate::proxy::{self, Conn};
use crate::snapshot::Shared;

/// How long a client gets to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Binds a listener, naming the scheme and address on failure.
pub async fn bind(
    scheme: &'static str,
    addr: std::net::SocketAddr,
) -> Result<TcpListener, IngressError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| IngressError::Bind {
            scheme,
            addr,
            source,
        })
}

async fn serve_connection<I>(io: I, conn: Conn, shared: Arc<Shared>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| proxy::handle(shared.clone(), conn, request));
    let builder = Builder::new(TokioExecutor::new());
    if let Err(error) = builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .await
    {
        tracing::debug!(peer = %conn.peer, %error, "client connection ended");
    }
}

/// Serves plain HTTP forever (returns only if the listener breaks for good).
pub async fn serve_http(listener: TcpListener, shared: Arc<Shared>) -> IngressError {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accepting http connection");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let conn = Conn {
            peer,
            proto: "http",
            port,
        };
        tokio::spawn(serve_connection(stream, conn, shared.clone()));
    }
}

/// Serves HTTPS forever: TLS with SNI-selected certificates, ALPN h2 / http/1.1.
pub async fn serve_https(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
) -> IngressError {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accepting https connection");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "tls handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "tls handshake timed out");
                    return;
                }
            };
            let conn = Conn {
                peer,
                proto: "https",
                port,
            };
            serve_connection(tls, conn, shared).await;
        });
    }
}
