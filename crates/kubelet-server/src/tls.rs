//! The server's TLS: its certificate, and client certificates verified against the client CA.
//! A client without a certificate still completes the handshake (for `/healthz`); every other
//! path answers it 401. A certificate the CA did not sign fails the handshake.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::ServerError;

/// PEM material of the server.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The serving certificate chain.
    pub cert_pem: String,
    /// The serving key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: String,
    /// The CA(s) whose client certificates are accepted (the API server's client certificate).
    pub client_ca_pem: String,
}

fn certs(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| ServerError::Tls(format!("{what}: {e}")))?;
    if certs.is_empty() {
        return Err(ServerError::Tls(format!(
            "{what}: no certificate in the PEM"
        )));
    }
    Ok(certs)
}

/// The rustls configuration: ALPN h2 and http/1.1, client certificates optional but verified.
pub fn server_config(tls: &ServerTls) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in certs(&tls.client_ca_pem, "client CA")? {
        roots
            .add(ca)
            .map_err(|e| ServerError::Tls(format!("client CA: {e}")))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| ServerError::Tls(format!("client verifier: {e}")))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut tls.key_pem.as_bytes())
        .map_err(|e| ServerError::Tls(format!("server key: {e}")))?
        .ok_or_else(|| ServerError::Tls("server key: no private key in the PEM".into()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(format!("protocol versions: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(&tls.cert_pem, "server certificate")?, key)
        .map_err(|e| ServerError::Tls(format!("server certificate: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
