//! Forwarding one request to a kubelet over HTTPS (client certificate from the cluster CA,
//! kubelet certificate verified against it): plain requests stream their answer back chunk by
//! chunk; upgrade requests (SPDY, WebSocket) answered 101 are spliced into a byte pipe.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderMap};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

use super::target::KubeletEndpoint;
use crate::pki::Pki;
use crate::response::{self, Response};

/// How long dialing a kubelet (TCP and TLS) may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Headers that describe one connection, never forwarded as they are (RFC 9110 7.6.1);
/// `Authorization` is the caller's credential towards the API server, not the kubelet's.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
];

/// The API server's HTTPS client towards kubelets.
pub struct KubeletClient {
    tls: TlsConnector,
}

/// A Status answer for a kubelet that cannot be reached or misbehaved.
fn backend_error(code: u16, reason: &str, message: String) -> Response {
    tracing::info!("kubelet proxy: {message}");
    response::json(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code}),
    )
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    let connection_upgrade = headers.get_all(header::CONNECTION).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        })
    });
    connection_upgrade && headers.contains_key(header::UPGRADE)
}

/// Copies end-to-end headers (all values of repeated ones, e.g. `X-Stream-Protocol-Version`);
/// with `upgrade`, `Connection: Upgrade` and `Upgrade` too.
fn copy_headers(from: &HeaderMap, to: &mut HeaderMap, upgrade: bool) {
    for (name, value) in from {
        let hop = HOP_BY_HOP.contains(&name.as_str());
        let keep = !hop || (upgrade && (name == header::UPGRADE || name == header::CONNECTION));
        if keep {
            to.append(name.clone(), value.clone());
        }
    }
}

impl KubeletClient {
    pub fn new(pki: &Pki) -> Result<KubeletClient, String> {
        let err = |e: &dyn std::fmt::Display| format!("kubelet client tls: {e}");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
            roots.add(cert.map_err(|e| err(&e))?).map_err(|e| err(&e))?;
        }
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(pki.kubelet_client_cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| err(&e))?;
        let key = PrivateKeyDer::from_pem_slice(pki.kubelet_client_key_pem.as_bytes())
            .map_err(|e| err(&e))?;
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| err(&e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| err(&e))?;
        // Upgrades exist only in HTTP/1.1.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(KubeletClient {
            tls: TlsConnector::from(Arc::new(config)),
        })
    }

    /// Sends `req` to `path_and_query` on the kubelet at `ep` and relays the answer.
    pub async fn forward(
        &self,
        ep: &KubeletEndpoint,
        path_and_query: &str,
        mut req: Request<Incoming>,
    ) -> Response {
        let authority = std::net::SocketAddr::new(ep.ip, ep.port).to_string();
        let url = format!("https://{authority}{path_and_query}");
        let dial = async {
            let tcp = TcpStream::connect((ep.ip, ep.port)).await?;
            let _ = tcp.set_nodelay(true);
            self.tls
                .connect(ServerName::IpAddress(ep.ip.into()), tcp)
                .await
        };
        let tls = match tokio::time::timeout(DIAL_TIMEOUT, dial).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                return backend_error(
                    503,
                    "ServiceUnavailable",
                    format!("error dialing backend: {url}: {e}"),
                );
            }
            Err(_) => {
                return backend_error(
                    503,
                    "ServiceUnavailable",
                    format!("error dialing backend: {url}: timed out after {DIAL_TIMEOUT:?}"),
                );
            }
        };
        let (mut sender, conn) =
            match hyper::client::conn::http1::handshake(TokioIo::new(tls)).await {
                Ok(pair) => pair,
                Err(e) => {
                    return backend_error(
                        502,
                        "InternalError",
                        format!("error talking to the kubelet at {url}: {e}"),
                    );
                }
            };
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!("kubelet connection ended: {e}");
            }
        });

        let upgrade = is_upgrade(req.headers());
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (parts, body) = req.into_parts();
        let mut out = Request::builder().method(parts.method).uri(path_and_query);
        if let Some(headers) = out.headers_mut() {
            copy_headers(&parts.headers, headers, upgrade);
            if let Ok(host) = header::HeaderValue::from_str(&authority) {
                headers.insert(header::HOST, host);
            }
        }
        let out = match out.body(body) {
            Ok(r) => r,
            Err(e) => {
                return backend_error(
                    502,
                    "InternalError",
                    format!("building the kubelet request {url}: {e}"),
                );
            }
        };
        let mut answer = match sender.send_request(out).await {
            Ok(a) => a,
            Err(e) => {
                return backend_error(
                    502,
                    "InternalError",
                    format!("error trying to reach the kubelet at {url}: {e}"),
                );
            }
        };

        if let (Some(client_upgrade), StatusCode::SWITCHING_PROTOCOLS) =
            (client_upgrade, answer.status())
        {
            let kubelet_upgrade = hyper::upgrade::on(&mut answer);
            tokio::spawn(async move {
                match tokio::try_join!(client_upgrade, kubelet_upgrade) {
                    Ok((client, kubelet)) => {
                        let (mut client, mut kubelet) =
                            (TokioIo::new(client), TokioIo::new(kubelet));
                        if let Err(e) =
                            tokio::io::copy_bidirectional(&mut client, &mut kubelet).await
                        {
                            tracing::debug!("upgraded kubelet stream ended: {e}");
                        }
                    }
                    Err(e) => tracing::info!("kubelet proxy: upgrade failed: {e}"),
                }
            });
            let mut relay = hyper::Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
            if let Some(headers) = relay.headers_mut() {
                // A 101 keeps its Connection and Upgrade headers: they name the new protocol.
                copy_headers(answer.headers(), headers, true);
            }
            return relay
                .body(http_body_util::Empty::new().boxed())
                .unwrap_or_else(|e| backend_error(502, "InternalError", e.to_string()));
        }

        let (parts, body) = answer.into_parts();
        let mut relay = hyper::Response::builder().status(parts.status);
        if let Some(headers) = relay.headers_mut() {
            copy_headers(&parts.headers, headers, false);
        }
        relay
            .body(stream(body))
            .unwrap_or_else(|e| backend_error(502, "InternalError", e.to_string()))
    }
}

/// The kubelet's body as it arrives: a pump forwards each frame as soon as it is read, and stops
/// reading when the client goes away.
fn stream(mut body: Incoming) -> response::Body {
    let (tx, rx) = mpsc::channel::<Frame<Bytes>>(16);
    tokio::spawn(async move {
        loop {
            let frame = tokio::select! {
                frame = body.frame() => frame,
                _ = tx.closed() => return,
            };
            match frame {
                Some(Ok(frame)) => {
                    if tx.send(frame).await.is_err() {
                        return;
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!("kubelet body ended: {e}");
                    return;
                }
                None => return,
            }
        }
    });
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|f| (Ok::<_, Infallible>(f), rx))
    });
    BodyExt::boxed(StreamBody::new(frames))
}
