//! The WebSocket v5 → SPDY v4 translator for exec and attach: upgrade to SPDY with the runtime,
//! accept the client's WebSocket with `v5.channel.k8s.io`, then move channel messages to SPDY
//! streams and back (`v5` holds the mapping). When the runtime's streams end, the error stream's
//! Status goes out on channel 3 and the WebSocket is closed normally.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::routes::ExecQuery;
use crate::spdy::{Event, Session};
use crate::stream::{Upstream, dial};
use crate::v5::{self, ClientMessage, StreamType};
use crate::{Body, HandlerError, tunnel};

/// How long the runtime may take to accept the streams.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether a request is a WebSocket upgrade offering `v5.channel.k8s.io`.
pub fn wants_v5(headers: &HeaderMap) -> bool {
    let websocket = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    websocket && tunnel::offered(headers).any(|p| p == v5::V5_PROTOCOL)
}

/// Accepts the client's WebSocket and runs the call over SPDY with the runtime's `url`.
pub async fn translate(
    mut req: Request<Incoming>,
    url: &str,
    query: &ExecQuery,
) -> Result<Response<Body>, HandlerError> {
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
        HeaderValue::from_static(v5::SPDY_PROTOCOL),
    );
    let switched = match dial(url, Method::POST, headers).await? {
        Upstream::Refused(response) => return Ok(response),
        Upstream::Switched(response) => response,
    };
    let chosen = switched
        .headers()
        .get("x-stream-protocol-version")
        .and_then(|v| v.to_str().ok());
    if chosen != Some(v5::SPDY_PROTOCOL) {
        return Err(HandlerError::Internal(format!(
            "the runtime chose stream protocol {chosen:?}, want {}",
            v5::SPDY_PROTOCOL
        )));
    }
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
        HeaderValue::from_static(v5::V5_PROTOCOL),
    );
    let types = v5::stream_types(query);
    tokio::spawn(async move {
        let (client, runtime) = match tokio::try_join!(client_upgrade, hyper::upgrade::on(switched))
        {
            Ok(both) => both,
            Err(err) => {
                tracing::debug!(%err, "v5 stream upgrade did not complete");
                return;
            }
        };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(client), Role::Server, None).await;
        run(ws, TokioIo::new(runtime), &types).await;
    });
    Ok(answer)
}

/// Moves channel messages between the client's WebSocket and SPDY streams on `runtime`.
async fn run<C, R>(ws: WebSocketStream<C>, runtime: R, types: &[StreamType])
where
    C: AsyncRead + AsyncWrite + Unpin,
    R: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (mut session, mut events) = Session::start(runtime);
    let mut kinds: HashMap<u32, StreamType> = HashMap::new();
    let mut ids: HashMap<StreamType, u32> = HashMap::new();
    for kind in types {
        match session.open(&[("streamType", kind.name())]).await {
            Ok(id) => {
                kinds.insert(id, *kind);
                ids.insert(*kind, id);
            }
            Err(err) => {
                tracing::debug!(%err, "open SPDY stream");
                return;
            }
        }
    }
    let mut unreplied: HashSet<u32> = kinds.keys().copied().collect();
    let mut outputs: HashSet<u32> = kinds
        .iter()
        .filter(|(_, kind)| kind.is_output())
        .map(|(id, _)| *id)
        .collect();
    let mut status = Vec::new();
    let mut failure: Option<String> = None;
    let mut client_gone = false;
    let reply_deadline = tokio::time::sleep(REPLY_TIMEOUT);
    tokio::pin!(reply_deadline);
    while !outputs.is_empty() {
        tokio::select! {
            event = events.recv() => {
                let event = match event {
                    Some(Ok(event)) => event,
                    Some(Err(err)) => {
                        failure = Some(format!("stream with the container runtime failed: {err}"));
                        break;
                    }
                    None => break,
                };
                match event {
                    Event::Reply { stream } => {
                        unreplied.remove(&stream);
                    }
                    Event::Data { stream, data, fin } => {
                        match kinds.get(&stream) {
                            Some(StreamType::Error) => status.extend_from_slice(&data),
                            Some(kind @ (StreamType::Stdout | StreamType::Stderr)) if !data.is_empty() => {
                                let message = v5::server_message(kind.channel(), &data);
                                if ws_tx.send(Message::Binary(message)).await.is_err() {
                                    client_gone = true;
                                    break;
                                }
                            }
                            _ => {}
                        }
                        if fin {
                            outputs.remove(&stream);
                        }
                    }
                    Event::Reset { stream, .. } => {
                        unreplied.remove(&stream);
                        outputs.remove(&stream);
                    }
                    Event::GoAway { .. } => {}
                }
            }
            message = ws_rx.next(), if unreplied.is_empty() => {
                let data = match message {
                    Some(Ok(Message::Binary(data))) => data,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        client_gone = true;
                        break;
                    }
                    Some(Ok(_)) => continue,
                };
                let (kind, data, fin) = match v5::client_message(&data) {
                    ClientMessage::Write(kind, data) => (kind, data, false),
                    ClientMessage::Close(kind) => (kind, Bytes::new(), true),
                    ClientMessage::Ignored => continue,
                };
                if let Some(id) = ids.get(&kind)
                    && session.data(*id, data, fin).await.is_err()
                {
                    break;
                }
            }
            () = &mut reply_deadline, if !unreplied.is_empty() => {
                failure = Some("timed out waiting for the container runtime to accept the streams".into());
                break;
            }
        }
    }
    session.close().await;
    if client_gone {
        return;
    }
    let status = if status.is_empty() {
        let why = failure
            .unwrap_or_else(|| "the container runtime ended the stream without a status".into());
        v5::failure_status(&why).into_bytes()
    } else {
        status
    };
    let _ = ws_tx
        .send(Message::Binary(v5::server_message(v5::ERROR, &status)))
        .await;
    let close = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    if ws_tx.send(Message::Close(Some(close))).await.is_ok() {
        // Let the client answer the close, then end TLS cleanly (close_notify).
        let drain = async { while let Some(Ok(_)) = ws_rx.next().await {} };
        let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
    }
    if let Ok(mut ws) = ws_tx.reunite(ws_rx) {
        let _ = ws.get_mut().shutdown().await;
    }
}
