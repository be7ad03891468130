//! WebSocket port-forward tunnelling (kubectl >= 1.31, subprotocol `SPDY/3.1+portforward.k8s.io`):
//! the client runs SPDY inside WebSocket binary messages. The runtime only speaks plain SPDY, so
//! we upgrade to SPDY with the runtime, accept the WebSocket ourselves, and move the SPDY bytes
//! between binary messages and the runtime's connection.

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::stream::{Upstream, dial};
use crate::{Body, HandlerError};

/// The WebSocket subprotocol of tunnelled SPDY port-forwarding.
pub const TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

/// Whether a request is a WebSocket upgrade offering the tunnelling subprotocol.
pub fn wants_tunnel(headers: &HeaderMap) -> bool {
    let websocket = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    websocket && offered(headers).any(|p| p == TUNNEL_PROTOCOL)
}

/// The WebSocket subprotocols a request offers.
pub(crate) fn offered(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// Accepts the tunnel: SPDY upgrade with the runtime, then the WebSocket handshake with the client.
pub async fn tunnel(mut req: Request<Incoming>, url: &str) -> Result<Response<Body>, HandlerError> {
    let key = req
        .headers()
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or_else(|| {
            HandlerError::BadRequest("websocket upgrade without Sec-WebSocket-Key".into())
        })?
        .clone();
    let client_upgrade = hyper::upgrade::on(&mut req);
    let mut headers = HeaderMap::new();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    headers.insert(
        "x-stream-protocol-version",
        HeaderValue::from_static("portforward.k8s.io"),
    );
    let switched = match dial(url, Method::POST, headers).await? {
        Upstream::Refused(response) => return Ok(response),
        Upstream::Switched(response) => response,
    };
    let mut answer = Response::new(
        Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *answer.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = answer.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    let accept = HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
        .map_err(|e| HandlerError::Internal(format!("websocket accept key: {e}")))?;
    h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    h.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(TUNNEL_PROTOCOL),
    );
    tokio::spawn(async move {
        let (client, runtime) = match tokio::try_join!(client_upgrade, hyper::upgrade::on(switched))
        {
            Ok(both) => both,
            Err(err) => {
                tracing::debug!(%err, "port-forward tunnel upgrade did not complete");
                return;
            }
        };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(client), Role::Server, None).await;
        pipe(ws, TokioIo::new(runtime)).await;
    });
    Ok(answer)
}

/// Moves binary message payloads to `runtime` and `runtime`'s bytes into binary messages.
async fn pipe<C, R>(ws: WebSocketStream<C>, runtime: R)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    R: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (mut rt_rx, mut rt_tx) = tokio::io::split(runtime);
    let up = async {
        while let Some(message) = ws_rx.next().await {
            match message {
                Ok(Message::Binary(data)) => {
                    if rt_tx.write_all(&data).await.is_err() {
                        break;
                    }
                }
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = rt_tx.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match rt_rx.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if ws_tx
                        .send(Message::Binary(Bytes::copy_from_slice(&buf[..n])))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        let _ = ws_tx.close().await;
    };
    tokio::join!(up, down);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunnel_requests() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (
                &[
                    ("upgrade", "websocket"),
                    ("sec-websocket-protocol", "SPDY/3.1+portforward.k8s.io"),
                ],
                true,
            ),
            (
                &[
                    ("upgrade", "WebSocket"),
                    (
                        "sec-websocket-protocol",
                        "v4.channel.k8s.io, SPDY/3.1+portforward.k8s.io",
                    ),
                ],
                true,
            ),
            (
                &[
                    ("upgrade", "websocket"),
                    ("sec-websocket-protocol", "portforward.k8s.io"),
                ],
                false,
            ),
            (
                &[
                    ("upgrade", "SPDY/3.1"),
                    ("x-stream-protocol-version", "portforward.k8s.io"),
                ],
                false,
            ),
        ];
        for (pairs, want) in cases {
            let mut headers = HeaderMap::new();
            for (k, v) in *pairs {
                headers.append(*k, HeaderValue::from_static(v));
            }
            assert_eq!(wants_tunnel(&headers), *want, "{pairs:?}");
        }
    }
}
