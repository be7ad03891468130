//! The crate's error type: one variant per step that can fail, naming what it concerned.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    #[error("binding the {scheme} listener on {addr}: {source}")]
    Bind {
        scheme: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("accepting a connection on {addr}: {source}")]
    Accept {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("generating the fallback certificate: {0}")]
    FallbackCertificate(#[from] rcgen::Error),
    #[error("building the TLS configuration: {0}")]
    TlsConfig(#[source] rustls::Error),
    #[error("reading TLS secret {secret}: {message}")]
    Secret { secret: String, message: String },
    #[error("watching {resource}: {message}")]
    Watch {
        resource: &'static str,
        message: String,
    },
    #[error("ensuring IngressClass {class}: {source}")]
    EnsureClass { class: String, source: kube::Error },
    #[error("patching the status of Ingress {ingress}: {source}")]
    Status {
        ingress: String,
        source: kube::Error,
    },
}
