//! exec, attach and port-forward: ask the runtime for a streaming URL, re-issue the client's
//! upgrade request there, answer the client with the runtime's answer (its 101 and headers, or
//! its refusal), then pipe bytes both ways.

use bytes::Bytes;
use gantry_cri::api;
use gantry_cri::{Cri, CriError};
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;

use crate::routes::{ContainerRef, ExecQuery, PodRef};
use crate::{Body, HandlerError, locate};

/// The request headers that carry the upgrade negotiation (SPDY and WebSocket).
const FORWARDED: [&str; 7] = [
    "connection",
    "upgrade",
    "x-stream-protocol-version",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
];

/// Which streaming call to make.
pub enum Call<'a> {
    Exec(&'a ContainerRef, &'a ExecQuery),
    Attach(&'a ContainerRef, &'a ExecQuery),
    PortForward(&'a PodRef, &'a [i32]),
}

/// The runtime's streaming URL for a call.
pub async fn url(cri: &Cri, call: Call<'_>) -> Result<String, HandlerError> {
    let mut rt = cri.runtime.clone();
    let url = match call {
        Call::Exec(target, q) => {
            let container_id = locate::container(cri, target, false).await?;
            let request = api::ExecRequest {
                container_id,
                cmd: q.command.clone(),
                tty: q.tty,
                stdin: q.stdin,
                stdout: q.stdout,
                stderr: q.stderr,
            };
            rt.exec(request)
                .await
                .map_err(CriError::from)?
                .into_inner()
                .url
        }
        Call::Attach(target, q) => {
            let container_id = locate::container(cri, target, false).await?;
            let request = api::AttachRequest {
                container_id,
                stdin: q.stdin,
                tty: q.tty,
                stdout: q.stdout,
                stderr: q.stderr,
            };
            rt.attach(request)
                .await
                .map_err(CriError::from)?
                .into_inner()
                .url
        }
        Call::PortForward(pod, ports) => {
            let pod_sandbox_id = locate::sandbox(cri, pod).await?;
            let request = api::PortForwardRequest {
                pod_sandbox_id,
                port: ports.to_vec(),
            };
            rt.port_forward(request)
                .await
                .map_err(CriError::from)?
                .into_inner()
                .url
        }
    };
    Ok(url)
}

/// The runtime's answer to an upgrade request.
pub enum Upstream {
    /// 101: the response, whose upgrade yields the connection.
    Switched(Response<Incoming>),
    /// Anything else, ready to hand to the client.
    Refused(Response<Body>),
}

/// Sends an upgrade request with `headers` to the runtime's streaming `url`.
pub async fn dial(url: &str, method: Method, headers: HeaderMap) -> Result<Upstream, HandlerError> {
    let bad_url =
        |why: &str| HandlerError::Internal(format!("runtime streaming URL {url:?}: {why}"));
    let uri: hyper::Uri = url.parse().map_err(|_| bad_url("not a URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad_url("only http is supported"));
    }
    let authority = uri.authority().ok_or_else(|| bad_url("no host"))?.clone();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let tcp = tokio::net::TcpStream::connect(authority.as_str())
        .await
        .map_err(|e| {
            HandlerError::Internal(format!(
                "connect to the runtime's streaming server {authority}: {e}"
            ))
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| {
            HandlerError::Internal(format!("runtime streaming server {authority}: {e}"))
        })?;
    tokio::spawn(async move {
        if let Err(err) = conn.with_upgrades().await {
            tracing::debug!(%err, "runtime streaming connection");
        }
    });
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .body(Empty::<Bytes>::new())?;
    *request.headers_mut() = headers;
    let host = HeaderValue::from_str(authority.as_str()).map_err(|_| bad_url("bad host"))?;
    request.headers_mut().insert(header::HOST, host);
    let response = sender.send_request(request).await.map_err(|e| {
        HandlerError::Internal(format!("runtime streaming server {authority}: {e}"))
    })?;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        return Ok(Upstream::Switched(response));
    }
    let (parts, body) = response.into_parts();
    let bytes = match Limited::new(body, 64 * 1024).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    tracing::debug!(status = %parts.status, body = %String::from_utf8_lossy(&bytes), "runtime refused the upgrade");
    let bytes = if bytes.is_empty() {
        // containerd 1.6 refuses unknown WebSocket subprotocols (v5.channel.k8s.io) with an empty
        // 403: keep the status (any non-101 makes kubectl fall back to SPDY), say why.
        Bytes::from(format!(
            "the container runtime refused the upgrade ({})\n",
            parts.status
        ))
    } else {
        bytes
    };
    let mut refused = Response::new(
        Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *refused.status_mut() = parts.status;
    for name in [
        header::CONTENT_TYPE,
        HeaderName::from_static("x-content-type-options"),
    ] {
        if let Some(value) = parts.headers.get(&name) {
            refused.headers_mut().insert(name, value.clone());
        }
    }
    if !refused.headers().contains_key(header::CONTENT_TYPE) {
        refused.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    Ok(Upstream::Refused(refused))
}

/// The client's upgrade headers, to re-issue to the runtime.
pub fn upgrade_headers(client: &HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for name in FORWARDED {
        for value in client.get_all(name) {
            headers.append(HeaderName::from_static(name), value.clone());
        }
    }
    headers
}

/// Whether the request asks for an upgrade at all (over HTTP/1.1).
pub fn check_upgrade(req: &Request<Incoming>) -> Result<(), HandlerError> {
    if req.version() != Version::HTTP_11 || !req.headers().contains_key(header::UPGRADE) {
        return Err(HandlerError::BadRequest(
            "upgrade request required (HTTP/1.1 with Upgrade: SPDY/3.1 or websocket)".into(),
        ));
    }
    Ok(())
}

/// Proxies the client's upgrade request to the runtime's streaming `url` unchanged.
pub async fn proxy(mut req: Request<Incoming>, url: &str) -> Result<Response<Body>, HandlerError> {
    let client_upgrade = hyper::upgrade::on(&mut req);
    let upstream = dial(url, req.method().clone(), upgrade_headers(req.headers())).await?;
    let switched = match upstream {
        Upstream::Refused(response) => return Ok(response),
        Upstream::Switched(response) => response,
    };
    let mut answer = Response::new(
        Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *answer.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *answer.headers_mut() = switched.headers().clone();
    tokio::spawn(async move {
        let (client, runtime) = match tokio::try_join!(client_upgrade, hyper::upgrade::on(switched))
        {
            Ok(both) => both,
            Err(err) => {
                tracing::debug!(%err, "stream upgrade did not complete");
                return;
            }
        };
        let (mut client, mut runtime) = (TokioIo::new(client), TokioIo::new(runtime));
        match tokio::io::copy_bidirectional(&mut client, &mut runtime).await {
            Ok((up, down)) => tracing::debug!(up, down, "stream closed"),
            Err(err) => tracing::debug!(%err, "stream ended"),
        }
    });
    Ok(answer)
}
