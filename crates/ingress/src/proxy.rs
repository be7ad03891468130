//! The reverse proxy for one request: route it, pick an endpoint, forward it over HTTP/1.1
//! with rewritten headers and streamed bodies, and for `Connection: Upgrade` relay the 101 and
//! pipe bytes both ways.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response, StatusCode, Uri, Version};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::headers::{self, Forwarded};
use crate::snapshot::{Shared, Target};

/// The body type of every response the proxy gives.
pub type ResponseBody = BoxBody<Bytes, hyper::Error>;

/// How long connecting to an endpoint may take before the client gets a 502.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the listener knows about the client connection.
#[derive(Clone, Copy, Debug)]
pub struct Conn {
    pub peer: SocketAddr,
    /// `http` or `https`.
    pub proto: &'static str,
    /// The listener's port.
    pub port: u16,
}

fn plain(status: StatusCode, text: &str) -> Response<ResponseBody> {
    let body = Full::new(Bytes::from(format!("{text}\n")))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The host the client asked for: the `Host` header, else the URI's authority (HTTP/2).
fn request_host(request: &Request<Incoming>) -> Option<String> {
    if let Some(host) = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
    {
        return Some(host.to_string());
    }
    let uri = request.uri();
    let host = uri.host()?;
    Some(match uri.port_u16() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

/// Handles one client request; every failure becomes a status response.
pub async fn handle(
    shared: Arc<Shared>,
    conn: Conn,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let host = request_host(&request);
    let target = shared
        .get()
        .target(host.as_deref().unwrap_or_default(), request.uri().path());
    let response = match target {
        Target::NoRoute => plain(StatusCode::NOT_FOUND, "no ingress rule matches"),
        Target::NoEndpoints(backend) => {
            tracing::debug!(?backend, "no ready endpoint");
            plain(StatusCode::SERVICE_UNAVAILABLE, "no ready endpoint")
        }
        Target::Endpoint(_, address) => {
            let forwarded = Forwarded {
                client: conn.peer.ip(),
                proto: conn.proto,
                port: conn.port,
                host,
            };
            match forward(request, address, forwarded).await {
                Ok(response) => response,
                Err(error) => {
                    tracing::debug!(%address, %error, "forwarding failed");
                    plain(StatusCode::BAD_GATEWAY, &error.to_string())
                }
            }
        }
    };
    Ok(response)
}

/// Why a request could not be forwarded (each becomes a 502 or 400).
#[derive(Debug, thiserror::Error)]
enum ForwardError {
    #[error("connecting to {0}: timed out")]
    ConnectTimeout(SocketAddr),
    #[error("connecting to {0}: {1}")]
    Connect(SocketAddr, std::io::Error),
    #[error("handshake with {0}: {1}")]
    Handshake(SocketAddr, hyper::Error),
    #[error("sending the request to {0}: {1}")]
    Send(SocketAddr, hyper::Error),
    #[error("building the backend request uri: {0}")]
    Uri(#[from] hyper::http::uri::InvalidUri),
    #[error("{0} switched protocols without being asked to")]
    UnaskedUpgrade(SocketAddr),
}

async fn forward(
    mut request: Request<Incoming>,
    address: SocketAddr,
    forwarded: Forwarded,
) -> Result<Response<ResponseBody>, ForwardError> {
    let client_version = request.version();
    let upgrade = if client_version == Version::HTTP_11 {
        headers::upgrade_protocol(request.headers())
    } else {
        None
    };
    let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut request));
    let (mut parts, body) = request.into_parts();
    headers::backend_request_headers(&mut parts.headers, &forwarded, upgrade);
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = path.parse::<Uri>()?;
    parts.version = Version::HTTP_11;
    parts.extensions = Default::default();

    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| ForwardError::ConnectTimeout(address))?
        .map_err(|e| ForwardError::Connect(address, e))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ForwardError::Handshake(address, e))?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%address, %error, "backend connection ended");
        }
    });
    let mut response = sender
        .send_request(Request::from_parts(parts, body))
        .await
        .map_err(|e| ForwardError::Send(address, e))?;

    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return Err(ForwardError::UnaskedUpgrade(address));
        };
        let backend_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(pipe(client_upgrade, backend_upgrade, address));
        let (parts, _) = response.into_parts();
        let body = Empty::new().map_err(|never| match never {}).boxed();
        return Ok(Response::from_parts(parts, body));
    }

    let (mut parts, body) = response.into_parts();
    headers::strip_hop_by_hop(&mut parts.headers);
    parts.version = client_version;
    Ok(Response::from_parts(parts, body.boxed()))
}

/// Once both sides have switched protocols, copies bytes both ways until either closes.
async fn pipe(client: OnUpgrade, backend: OnUpgrade, address: SocketAddr) {
    let (client, backend) = match tokio::try_join!(client, backend) {
        Ok(both) => both,
        Err(error) => {
            tracing::debug!(%address, %error, "upgrade failed");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut backend = TokioIo::new(backend);
    if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut backend).await {
        tracing::debug!(%address, %error, "upgraded connection ended");
    }
}
