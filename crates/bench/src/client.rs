//! The HTTPS client: TLS with the admin certificate, then hyper's connection-level HTTP/1.1
//! or HTTP/2 client. No pool: each scenario decides how many connections it opens, so the
//! connection layout is part of what is measured and reported.

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::kubeconfig::Endpoint;

/// How clients reach the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// HTTP/1.1: every client (and every watcher) owns one TLS connection.
    H1,
    /// HTTP/2: clients are streams multiplexed over `--h2-connections` TLS connections.
    H2,
}

impl Protocol {
    pub fn alpn(self) -> &'static [u8] {
        match self {
            Protocol::H1 => b"http/1.1",
            Protocol::H2 => b"h2",
        }
    }
}

/// Opens connections to one endpoint.
#[derive(Clone)]
pub struct Connector {
    endpoint: Endpoint,
    tls: TlsConnector,
    protocol: Protocol,
    h2_connections: usize,
}

impl Connector {
    pub fn new(endpoint: Endpoint, protocol: Protocol, h2_connections: usize) -> Connector {
        let tls = TlsConnector::from(endpoint.tls.clone());
        Connector {
            endpoint,
            tls,
            protocol,
            h2_connections: h2_connections.max(1),
        }
    }

    /// One new TLS connection, handshaken for the configured protocol.
    pub async fn connect(&self) -> anyhow::Result<Conn> {
        let authority = &self.endpoint.authority;
        let tcp = TcpStream::connect(authority)
            .await
            .with_context(|| format!("connecting to {authority}"))?;
        tcp.set_nodelay(true).context("setting TCP_NODELAY")?;
        let tls = self
            .tls
            .connect(self.endpoint.server_name.clone(), tcp)
            .await
            .context("tls handshake")?;
        let io = TokioIo::new(tls);
        let send = match self.protocol {
            Protocol::H1 => {
                let (send, conn) = http1::handshake(io).await.context("http/1.1 handshake")?;
                tokio::spawn(conn);
                Sender::H1(send)
            }
            Protocol::H2 => {
                let (send, conn) = http2::handshake(TokioExecutor::new(), io)
                    .await
                    .context("http/2 handshake")?;
                tokio::spawn(conn);
                Sender::H2(send)
            }
        };
        Ok(Conn {
            send,
            authority: authority.clone(),
        })
    }

    /// `n` independent clients: `n` connections over HTTP/1.1, or `n` handles spread over at
    /// most `--h2-connections` connections over HTTP/2. Connecting is not part of any timing.
    pub async fn clients(&self, n: usize) -> anyhow::Result<Vec<Conn>> {
        let shared = match self.protocol {
            Protocol::H1 => n,
            Protocol::H2 => n.min(self.h2_connections),
        };
        let mut conns = Vec::with_capacity(n);
        for _ in 0..shared {
            conns.push(self.connect().await?);
        }
        for i in shared..n {
            let again = conns[i % shared]
                .try_clone()
                .context("sharing an http/2 connection")?;
            conns.push(again);
        }
        Ok(conns)
    }

    /// Describes the connection layout for `n` clients, for the report.
    pub fn layout(&self, n: usize) -> String {
        match self.protocol {
            Protocol::H1 => format!("HTTP/1.1, {n} connection(s)"),
            Protocol::H2 => format!(
                "HTTP/2, {n} stream(s) over {} connection(s)",
                n.min(self.h2_connections)
            ),
        }
    }
}

enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// One client's handle on a connection (its own over HTTP/1.1, shared over HTTP/2).
pub struct Conn {
    send: Sender,
    authority: String,
}

impl Conn {
    fn try_clone(&self) -> Option<Conn> {
        match &self.send {
            Sender::H1(_) => None,
            Sender::H2(s) => Some(Conn {
                send: Sender::H2(s.clone()),
                authority: self.authority.clone(),
            }),
        }
    }

    /// Sends a request and returns the response with its body still streaming.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Option<(&'static str, Bytes)>,
    ) -> anyhow::Result<Response<Incoming>> {
        let uri = match self.send {
            Sender::H1(_) => path.to_string(),
            Sender::H2(_) => format!("https://{}{path}", self.authority),
        };
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("accept", "application/json");
        if let Sender::H1(_) = self.send {
            builder = builder.header("host", &self.authority);
        }
        let body = match body {
            Some((content_type, bytes)) => {
                builder = builder.header("content-type", content_type);
                Full::new(bytes)
            }
            None => Full::new(Bytes::new()),
        };
        let req = builder.body(body).context("building a request")?;
        let resp = match &mut self.send {
            Sender::H1(s) => {
                s.ready().await.context("connection closed")?;
                s.send_request(req).await
            }
            Sender::H2(s) => {
                s.ready().await.context("connection closed")?;
                s.send_request(req).await
            }
        };
        resp.with_context(|| format!("request {path}"))
    }

    /// Sends a request and reads the whole body.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<(&'static str, Bytes)>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let resp = self.request(method, path, body).await?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .with_context(|| format!("reading the body of {path}"))?
            .to_bytes();
        Ok((status, bytes))
    }

    /// Like `call`, but fails unless the status is `expected`.
    pub async fn expect(
        &mut self,
        expected: StatusCode,
        method: Method,
        path: &str,
        body: Option<(&'static str, Bytes)>,
    ) -> anyhow::Result<Bytes> {
        let (status, bytes) = self.call(method.clone(), path, body).await?;
        if status != expected {
            bail!(
                "{method} {path}: {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            );
        }
        Ok(bytes)
    }
}
