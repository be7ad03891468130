//! TLS: certificates from the `spec.tls` Secrets of served Ingresses, chosen by SNI (exact host,
//! then wildcard host), a self-signed fallback for unknown names, and the rustls server config.
//! The certificate map is swapped whole when Ingresses or Secrets change, so no restart.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::error::IngressError;
use crate::routes::normalize_host;
use crate::table::{HostMatch, oldest_first};

/// Certificates by host: exact names and wildcard suffixes (`.example.com`).
#[derive(Debug, Default)]
pub struct CertMap {
    exact: HashMap<String, Arc<CertifiedKey>>,
    wildcard: HashMap<String, Arc<CertifiedKey>>,
}

impl CertMap {
    /// The certificate for an SNI name: exact entry first, then `*.` + the parent domain.
    pub fn lookup(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let name = normalize_host(name);
        if let Some(cert) = self.exact.get(&name) {
            return Some(cert.clone());
        }
        let (_, parent) = name.split_once('.')?;
        self.wildcard.get(&format!(".{parent}")).cloned()
    }

    fn insert(&mut self, host: &str, cert: Arc<CertifiedKey>) {
        match HostMatch::parse(Some(host)) {
            HostMatch::Exact(h) => {
                self.exact.entry(h).or_insert(cert);
            }
            HostMatch::Wildcard(suffix) => {
                self.wildcard.entry(suffix).or_insert(cert);
            }
            HostMatch::Any => {}
        }
    }

    pub fn len(&self) -> usize {
        self.exact.len() + self.wildcard.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A `kubernetes.io/tls` Secret's `tls.crt` chain and `tls.key` as a rustls key.
pub fn certified_key(secret: &Secret) -> Result<CertifiedKey, IngressError> {
    let name = format!(
        "{}/{}",
        secret.metadata.namespace.as_deref().unwrap_or_default(),
        secret.metadata.name.as_deref().unwrap_or_default()
    );
    let fail = |message: String| IngressError::Secret {
        secret: name.clone(),
        message,
    };
    let data = secret.data.as_ref().ok_or_else(|| fail("no data".into()))?;
    let crt = data
        .get("tls.crt")
        .ok_or_else(|| fail("no tls.crt".into()))?;
    let key = data
        .get("tls.key")
        .ok_or_else(|| fail("no tls.key".into()))?;
    let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut crt.0.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| fail(format!("parsing tls.crt: {e}")))?;
    if chain.is_empty() {
        return Err(fail("tls.crt holds no certificate".into()));
    }
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key.0.as_slice())
        .map_err(|e| fail(format!("parsing tls.key: {e}")))?
        .ok_or_else(|| fail("tls.key holds no private key".into()))?;
    let signing =
        ring::sign::any_supported_type(&key).map_err(|e| fail(format!("loading tls.key: {e}")))?;
    Ok(CertifiedKey::new(chain, signing))
}

/// The certificates of the served Ingresses' `spec.tls` entries; the oldest Ingress wins a
/// host claimed twice. Secrets that are missing or broken are logged and skipped.
pub fn cert_map(ingresses: &[&Ingress], secrets: &[Arc<Secret>]) -> CertMap {
    let mut sorted = ingresses.to_vec();
    oldest_first(&mut sorted);
    let mut map = CertMap::default();
    for ingress in sorted {
        let namespace = ingress.metadata.namespace.as_deref().unwrap_or("default");
        let entries = ingress.spec.as_ref().and_then(|s| s.tls.as_ref());
        for entry in entries.into_iter().flatten() {
            let Some(secret_name) = entry.secret_name.as_deref() else {
                continue;
            };
            let Some(secret) = secrets.iter().find(|s| {
                s.metadata.namespace.as_deref() == Some(namespace)
                    && s.metadata.name.as_deref() == Some(secret_name)
            }) else {
                tracing::debug!(namespace, secret_name, "tls secret not found (yet)");
                continue;
            };
            match certified_key(secret) {
                Ok(key) => {
                    let key = Arc::new(key);
                    for host in entry.hosts.iter().flatten() {
                        map.insert(host, key.clone());
                    }
                }
                Err(error) => tracing::warn!(%error, "skipping tls entry"),
            }
        }
    }
    map
}

/// A self-signed certificate for names no Secret covers.
pub fn fallback() -> Result<CertifiedKey, IngressError> {
    let generated = rcgen::generate_simple_self_signed(vec!["gantry-ingress.invalid".to_string()])?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let signing = ring::sign::any_supported_type(&key).map_err(IngressError::TlsConfig)?;
    Ok(CertifiedKey::new(
        vec![generated.cert.der().clone()],
        signing,
    ))
}

/// The SNI resolver: the current map (replaced on every change) or the fallback.
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<Arc<CertMap>>,
    fallback: Arc<CertifiedKey>,
}

impl CertResolver {
    pub fn new(fallback: CertifiedKey) -> CertResolver {
        CertResolver {
            current: RwLock::new(Arc::new(CertMap::default())),
            fallback: Arc::new(fallback),
        }
    }

    pub fn replace(&self, map: CertMap) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        *current = Arc::new(map);
    }

    fn lookup(&self, name: Option<&str>) -> Arc<CertifiedKey> {
        let map = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        name.and_then(|n| map.lookup(n))
            .unwrap_or_else(|| self.fallback.clone())
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.lookup(hello.server_name()))
    }
}

/// The rustls server config: ring, TLS 1.2 and 1.3, ALPN h2 then http/1.1, SNI resolver.
pub fn server_config(resolver: Arc<CertResolver>) -> Result<rustls::ServerConfig, IngressError> {
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_protocol_versions(rustls::DEFAULT_VERSIONS)
            .map_err(IngressError::TlsConfig)?
            .with_no_client_auth()
            .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Arc<CertifiedKey> {
        let generated = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            generated.signing_key.serialize_der(),
        ));
        Arc::new(CertifiedKey::new(
            vec![generated.cert.der().clone()],
            ring::sign::any_supported_type(&der).unwrap(),
        ))
    }

    #[test]
    fn sni_lookup_table() {
        let (a, wild) = (key("a.example.com"), key("*.example.com"));
        let mut map = CertMap::default();
        map.insert("a.example.com", a.clone());
        map.insert("*.example.com", wild.clone());
        let cases: &[(&str, Option<&Arc<CertifiedKey>>)] = &[
            ("a.example.com", Some(&a)),
            ("A.EXAMPLE.com", Some(&a)),
            ("b.example.com", Some(&wild)),
            ("x.b.example.com", None),
            ("example.com", None),
            ("other.org", None),
        ];
        for (name, expected) in cases {
            let got = map.lookup(name);
            assert_eq!(
                got.map(|k| k.cert[0].clone()),
                expected.map(|k| k.cert[0].clone()),
                "{name}"
            );
        }
    }

    #[test]
    fn broken_secret_names_the_problem() {
        let secret: Secret = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "bad", "namespace": "ns"},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "bm90IGEgY2VydA==", "tls.key": ""}
        }))
        .unwrap();
        let error = certified_key(&secret).unwrap_err().to_string();
        assert!(error.contains("ns/bad"), "{error}");
    }
}
