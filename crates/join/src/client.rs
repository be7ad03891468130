//! The agent side of joining: fetch the CA without trusting the server, check it against the
//! token, then fetch node credentials over TLS verified by that CA.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::token::{NodeToken, ca_hash};
use crate::wire::{CACERTS_PATH, NODE_CREDENTIALS_PATH, NodeCredentials, NodeCredentialsRequest};

/// How long one step (connect, handshake, request) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Answers larger than this are refused (certificates are a few KiB).
const MAX_ANSWER: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("the server URL {0:?} is not https://HOST[:PORT]")]
    BadUrl(String),
    #[error("connecting to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("tls handshake with {addr}: {source}")]
    Tls {
        addr: String,
        source: std::io::Error,
    },
    #[error("tls configuration: {0}")]
    TlsConfig(String),
    #[error("{method} {url}: {source}")]
    Http {
        method: Method,
        url: String,
        source: hyper::Error,
    },
    #[error("{method} {url}: reading the answer: {reason}")]
    Body {
        method: Method,
        url: String,
        reason: String,
    },
    #[error("{method} {url}: timed out after {STEP_TIMEOUT:?}")]
    Timeout { method: Method, url: String },
    #[error("{method} {url} answered {status}: {body}")]
    Status {
        method: Method,
        url: String,
        status: StatusCode,
        body: String,
    },
    #[error("the server refused the token: {0}")]
    Unauthorized(String),
    #[error("{url} did not return a PEM certificate")]
    BadCa { url: String },
    #[error("the server's CA has sha256 {actual}, the token expects {expected}: refusing to join")]
    CaMismatch { expected: String, actual: String },
    #[error("decoding the node credentials: {0}")]
    Decode(serde_json::Error),
}

/// Joins the cluster at `server_url` (e.g. `https://10.0.0.1:6443`) as `node_name`: returns
/// the CA, a client certificate `system:node:<node_name>` and a kubelet serving certificate
/// for `node_ips` (plus the node name, 127.0.0.1 and localhost).
pub async fn join(
    server_url: &str,
    token: &NodeToken,
    node_name: &str,
    node_ips: &[IpAddr],
) -> Result<NodeCredentials, JoinError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let target = Target::parse(server_url)?;

    // 1. The CA, from a server we do not trust yet: the token's hash is what makes it trusted.
    let insecure = client_config(None)?;
    let (status, body) = target
        .request(&insecure, Method::GET, CACERTS_PATH, None, None)
        .await?;
    let url = target.url(CACERTS_PATH);
    if status != StatusCode::OK {
        return Err(JoinError::Status {
            method: Method::GET,
            url,
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    let ca_pem =
        String::from_utf8(body.to_vec()).map_err(|_| JoinError::BadCa { url: url.clone() })?;
    if !token.matches_ca(ca_pem.as_bytes()) {
        return Err(JoinError::CaMismatch {
            expected: token.ca_hash.clone(),
            actual: ca_hash(ca_pem.as_bytes()),
        });
    }

    // 2. Node credentials, over TLS verified by that CA, authenticated by the secret.
    let trusted = client_config(Some(&ca_pem))?;
    let request = NodeCredentialsRequest {
        node_name: node_name.to_string(),
        node_ips: node_ips.to_vec(),
    };
    let body = serde_json::to_vec(&request).map_err(JoinError::Decode)?;
    let (status, answer) = target
        .request(
            &trusted,
            Method::POST,
            NODE_CREDENTIALS_PATH,
            Some(&token.secret),
            Some(Bytes::from(body)),
        )
        .await?;
    let text = || String::from_utf8_lossy(&answer).into_owned();
    match status {
        StatusCode::OK => serde_json::from_slice(&answer).map_err(JoinError::Decode),
        StatusCode::UNAUTHORIZED => Err(JoinError::Unauthorized(
            status_message(&answer).unwrap_or_else(text),
        )),
        _ => Err(JoinError::Status {
            method: Method::POST,
            url: target.url(NODE_CREDENTIALS_PATH),
            status,
            body: status_message(&answer).unwrap_or_else(text),
        }),
    }
}

/// The `message` of a Kubernetes Status body.
fn status_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["message"].as_str().map(str::to_string)
}

/// Where the server is.
struct Target {
    host: String,
    port: u16,
    server_name: ServerName<'static>,
}

impl Target {
    fn parse(server_url: &str) -> Result<Target, JoinError> {
        let bad = || JoinError::BadUrl(server_url.to_string());
        let uri: Uri = server_url.parse().map_err(|_| bad())?;
        if uri.scheme_str() != Some("https") {
            return Err(bad());
        }
        let host = uri.host().ok_or_else(bad)?;
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let server_name = ServerName::try_from(bare.clone()).map_err(|_| bad())?;
        Ok(Target {
            host: bare,
            port: uri.port_u16().unwrap_or(443),
            server_name,
        })
    }

    fn authority(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]:{}", self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.authority())
    }

    /// One request on a fresh connection; returns the status and the whole (bounded) body.
    async fn request(
        &self,
        config: &Arc<rustls::ClientConfig>,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Bytes>,
    ) -> Result<(StatusCode, Bytes), JoinError> {
        let url = self.url(path);
        let timeout = || JoinError::Timeout {
            method: method.clone(),
            url: url.clone(),
        };
        let work = async {
            let addr = self.authority();
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|source| JoinError::Connect {
                    addr: addr.clone(),
                    source,
                })?;
            let tls = TlsConnector::from(config.clone())
                .connect(self.server_name.clone(), tcp)
                .await
                .map_err(|source| JoinError::Tls { addr, source })?;
            let http_err = |source| JoinError::Http {
                method: method.clone(),
                url: url.clone(),
                source,
            };
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(http_err)?;
            tokio::spawn(conn);
            let mut builder = Request::builder()
                .method(method.clone())
                .uri(path)
                .header(hyper::header::HOST, self.authority())
                .header(hyper::header::ACCEPT, "application/json, */*");
            if let Some(secret) = bearer {
                builder = builder.header(hyper::header::AUTHORIZATION, format!("Bearer {secret}"));
            }
            if body.is_some() {
                builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
            }
            let request = builder
                .body(Full::new(body.clone().unwrap_or_default()))
                .map_err(|e| JoinError::BadUrl(format!("{url}: {e}")))?;
            let response = sender.send_request(request).await.map_err(http_err)?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| JoinError::Body {
                    method: method.clone(),
                    url: url.clone(),
                    reason: e.to_string(),
                })?
                .to_bytes();
            Ok((status, bytes))
        };
        tokio::time::timeout(STEP_TIMEOUT, work)
            .await
            .map_err(|_| timeout())?
    }
}

/// A client configuration trusting `ca_pem`, or (with `None`) any certificate: the CA fetched
/// that way is only used once its hash matched the token.
fn client_config(ca_pem: Option<&str>) -> Result<Arc<rustls::ClientConfig>, JoinError> {
    let err = |e: &dyn std::fmt::Display| JoinError::TlsConfig(e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&e))?;
    let mut config = match ca_pem {
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(cert.map_err(|e| err(&e))?).map_err(|e| err(&e))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
            .with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts any server certificate (signatures are still checked, so the handshake is sound).
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_urls() {
        for (url, ok) in [
            ("https://127.0.0.1:6443", true),
            ("https://server.example:6443", true),
            ("https://[::1]:6443", true),
            ("https://10.0.0.1", true),
            ("http://127.0.0.1:6443", false),
            ("127.0.0.1:6443", false),
            ("", false),
        ] {
            assert_eq!(Target::parse(url).is_ok(), ok, "{url}");
        }
        let t = Target::parse("https://[::1]:6443").unwrap();
        assert_eq!(t.url("/cacerts"), "https://[::1]:6443/cacerts");
        assert_eq!(Target::parse("https://10.0.0.1").unwrap().port, 443);
    }
}
