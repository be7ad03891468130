//! The kubelet's HTTPS API, which the API server proxies to: container logs, and exec, attach and
//! port-forward proxied to the container runtime's (containerd's) CRI streaming server.
//!
//! Entry point: [`serve`]. Containers are found through CRI by the labels the kubelet puts on
//! sandboxes and containers (`locate`); log files are parsed and selected by pure functions
//! (`logs::parse`, `logs::select`); upgrades are re-issued to the runtime and piped (`stream`),
//! except WebSocket port-forward tunnelling, which is unwrapped onto SPDY (`tunnel`), and
//! WebSocket `v5.channel.k8s.io` exec/attach, translated to SPDY by our own client (`translate`,
//! `v5`, `spdy`).

pub mod handler;
pub mod locate;
pub mod logs;
pub mod routes;
pub mod server;
pub mod spdy;
pub mod stream;
pub mod tls;
pub mod translate;
pub mod tunnel;
pub mod v5;

use bytes::Bytes;

pub use server::serve;
pub use tls::ServerTls;

/// Response bodies: buffered or streamed, never failing.
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::convert::Infallible>;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("tls: {0}")]
    Tls(String),
    #[error("accept: {0}")]
    Accept(#[source] std::io::Error),
}

/// Why a request failed; each maps to one HTTP status with a plain-text message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Locate(#[from] locate::LocateError),
    #[error("{0}")]
    Cri(#[from] gantry_cri::CriError),
    #[error("build response: {0}")]
    Http(#[from] hyper::http::Error),
}
