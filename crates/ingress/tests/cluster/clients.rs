//! The test's clients: plain HTTP/1.1, HTTPS with a chosen SNI and ALPN (trusting the test CA,
//! or anything, to look at the fallback certificate), HTTP/2 over TLS and a raw upgrade.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A reply: status, HTTP version and the app's `key=value` lines.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub version: Version,
    pub fields: HashMap<String, String>,
}

impl Reply {
    pub fn field(&self, key: &str) -> &str {
        self.fields.get(key).map_or("", String::as_str)
    }

    /// The app that answered, `404`/`503`/... when the proxy did.
    pub fn who(&self) -> String {
        match self.fields.get("name") {
            Some(name) if self.status.is_success() => name.clone(),
            _ => self.status.as_u16().to_string(),
        }
    }
}

async fn read_reply(response: hyper::Response<hyper::body::Incoming>) -> Result<Reply> {
    let status = response.status();
    let version = response.version();
    let body = response.into_body().collect().await?.to_bytes();
    let fields = String::from_utf8_lossy(&body)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Ok(Reply {
        status,
        version,
        fields,
    })
}

async fn http1<S>(io: S, host: &str, path: &str) -> Result<Reply>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(connection);
    let request = Request::get(path)
        .header("host", host)
        .body(Empty::<Bytes>::new())?;
    read_reply(sender.send_request(request).await?).await
}

/// `GET path` with `Host: host` over plain HTTP/1.1.
pub async fn get(proxy: SocketAddr, host: &str, path: &str) -> Result<Reply> {
    http1(TcpStream::connect(proxy).await?, host, path).await
}

/// `GET path` over HTTPS/1.1 on an established TLS stream.
pub async fn get_tls(tls: TlsStream<TcpStream>, host: &str, path: &str) -> Result<Reply> {
    http1(tls, host, path).await
}

/// Over HTTP/2 on an established TLS stream (ALPN h2): `GET https://host/path` and then, on
/// the same connection, a `POST` of `upload`.
pub async fn get_and_post_h2(
    tls: TlsStream<TcpStream>,
    host: &str,
    path: &str,
    upload: Bytes,
) -> Result<(Reply, Reply)> {
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await?;
    tokio::spawn(connection);
    let get = Request::get(format!("https://{host}{path}")).body(Full::new(Bytes::new()))?;
    let got = read_reply(sender.send_request(get).await?).await?;
    let post = Request::post(format!("https://{host}{path}")).body(Full::new(upload))?;
    let posted = read_reply(sender.send_request(post).await?).await?;
    Ok((got, posted))
}

/// Accepts any server certificate: only to look at the fallback certificate.
#[derive(Debug)]
struct AcceptAnything;

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client config trusting `ca` (or anything when `None`) and offering `alpn`.
pub fn tls_config(ca: Option<&CertificateDer<'static>>, alpn: &[&str]) -> Result<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)?;
    let mut config = match ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(ca.clone())?;
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything))
            .with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Ok(config)
}

/// Connects with SNI `sni`; returns the stream and the leaf certificate the server sent.
pub async fn connect_tls(
    proxy: SocketAddr,
    sni: &str,
    config: ClientConfig,
) -> Result<(TlsStream<TcpStream>, CertificateDer<'static>)> {
    let tcp = TcpStream::connect(proxy).await?;
    let name = ServerName::try_from(sni.to_string())?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .with_context(|| format!("tls handshake for {sni}"))?;
    let leaf = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .context("no server certificate")?
        .clone()
        .into_owned();
    Ok((tls, leaf))
}

/// Sends an HTTP/1.1 `Connection: Upgrade` request, expects 101, then checks that bytes sent
/// come back (the app echoes); returns the response head.
pub async fn upgrade_echo(proxy: SocketAddr, host: &str, payload: &[u8]) -> Result<String> {
    let mut stream = TcpStream::connect(proxy).await?;
    let head = format!(
        "GET /ws HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: echo-test\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    while !received.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            bail!("connection closed before the response head");
        }
        received.extend_from_slice(&buffer[..n]);
    }
    let end = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("head end")?
        + 4;
    let response_head = String::from_utf8_lossy(&received[..end]).to_string();
    if !response_head.starts_with("HTTP/1.1 101") {
        bail!("expected 101, got {response_head}");
    }
    let mut echoed = received[end..].to_vec();
    stream.write_all(payload).await?;
    while echoed.len() < payload.len() {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            bail!("upgraded connection closed after {} bytes", echoed.len());
        }
        echoed.extend_from_slice(&buffer[..n]);
    }
    if echoed != payload {
        bail!("echo mismatch: {:?}", String::from_utf8_lossy(&echoed));
    }
    Ok(response_head)
}
