//! A minimal kubelet endpoint for the proxy tests, holding the kubelet's side of the contract:
//! HTTPS with the serving certificate issued at join, client certificates verified against
//! the cluster CA, plain requests answered with their method, path and query (follow logs
//! stream one line, then a second once released), and upgrade requests answered 101 and then
//! echoed byte for byte.

use std::sync::Arc;

use bytes::Bytes;
use gantry_join::NodeCredentials;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::sync::Notify;

type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

/// A running echo kubelet on 127.0.0.1; stops with its runtime when dropped.
pub struct EchoKubelet {
    pub port: u16,
    /// Lets a following log stream send its second line.
    pub release: Arc<Notify>,
    pub runtime: tokio::runtime::Runtime,
}

impl EchoKubelet {
    pub fn start(creds: &NodeCredentials) -> EchoKubelet {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Runtime::new().expect("starting a runtime");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(creds.ca_pem.as_bytes()) {
            roots.add(cert.expect("CA PEM")).expect("adding the CA");
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .expect("client verifier");
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(creds.serving_cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .expect("serving certificate PEM");
        let key =
            PrivateKeyDer::from_pem_slice(creds.serving_key_pem.as_bytes()).expect("serving key");
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .expect("server config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("binding the echo kubelet");
        let port = listener.local_addr().expect("local address").port();
        let release = Arc::new(Notify::new());
        let notify = release.clone();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let release = notify.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    // The API server's kubelet client certificate names it in its subject.
                    let client = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).is_some_and(|c| {
                        c.as_ref().windows(29).any(|w| w == b"kube-apiserver-kubelet-client")
                    });
                    let service = hyper::service::service_fn(move |req| {
                        let release = release.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(req, client, release)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        EchoKubelet {
            port,
            release,
            runtime,
        }
    }
}

fn header_values(req: &Request<Incoming>, name: &str) -> String {
    let values: Vec<&str> = req
        .headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    values.join(",")
}

fn answer(
    mut req: Request<Incoming>,
    apiserver_client: bool,
    release: Arc<Notify>,
) -> Response<Body> {
    let target = match req.uri().query() {
        Some(q) => format!("{}?{q}", req.uri().path()),
        None => req.uri().path().to_string(),
    };
    if let Some(upgrade) = req.headers().get(hyper::header::UPGRADE).cloned() {
        let protocols = header_values(&req, "x-stream-protocol-version");
        let ws_key = header_values(&req, "sec-websocket-key");
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(upgraded) = on_upgrade.await {
                let (mut r, mut w) = tokio::io::split(TokioIo::new(upgraded));
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }
        });
        let first = protocols.split(',').next().unwrap_or_default().to_string();
        return Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("connection", "Upgrade")
            .header("upgrade", upgrade)
            .header("x-stream-protocol-version", first)
            .header("x-echo-target", target)
            .header("x-echo-protocols", protocols)
            .header("x-echo-websocket-key", ws_key)
            .header("x-echo-apiserver-client", apiserver_client.to_string())
            .body(Empty::new().boxed())
            .expect("101 response");
    }
    let echo = format!(
        "{} {target} apiserver-client={apiserver_client}\n",
        req.method()
    );
    if target.starts_with("/containerLogs/") && target.contains("follow=true") {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(2);
        tokio::spawn(async move {
            let _ = tx.send(Bytes::from(format!("line 1 {echo}"))).await;
            release.notified().await;
            let _ = tx.send(Bytes::from("line 2\n")).await;
        });
        let frames = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|b| (Ok(Frame::data(b)), rx))
        });
        return Response::builder()
            .header("content-type", "text/plain")
            .body(StreamBody::new(frames).boxed())
            .expect("log response");
    }
    Response::builder()
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(echo)).boxed())
        .expect("echo response")
}
