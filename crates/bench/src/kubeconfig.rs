//! Reads the admin kubeconfig the server writes and turns it into a rustls client
//! configuration: the cluster CA as the only root, the admin certificate as client identity.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::Deserialize;

/// The parts of a kubeconfig the benchmark needs.
#[derive(Debug, Deserialize)]
struct Kubeconfig {
    clusters: Vec<NamedCluster>,
    users: Vec<NamedUser>,
}

#[derive(Debug, Deserialize)]
struct NamedCluster {
    cluster: Cluster,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster {
    server: String,
    certificate_authority_data: String,
}

#[derive(Debug, Deserialize)]
struct NamedUser {
    user: User,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct User {
    client_certificate_data: String,
    client_key_data: String,
}

/// Where to connect and how to authenticate, ready for `tokio_rustls::TlsConnector`.
#[derive(Clone)]
pub struct Endpoint {
    /// `host:port` of the API server.
    pub authority: String,
    pub server_name: ServerName<'static>,
    pub tls: Arc<rustls::ClientConfig>,
}

impl Endpoint {
    /// Loads `path`; `alpn` is offered as is (`h2` or `http/1.1`).
    pub fn load(path: &Path, alpn: &[u8]) -> anyhow::Result<Endpoint> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let config: Kubeconfig =
            serde_saphyr::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let (Some(cluster), Some(user)) = (config.clusters.first(), config.users.first()) else {
            bail!("{}: no cluster or no user", path.display());
        };
        let cluster = &cluster.cluster;
        let user = &user.user;
        let authority = cluster
            .server
            .strip_prefix("https://")
            .with_context(|| format!("{}: server {} is not https", path.display(), cluster.server))?
            .trim_end_matches('/')
            .to_string();
        let host = match authority.rsplit_once(':') {
            Some((host, _port)) => host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            None => authority.clone(),
        };
        let server_name =
            ServerName::try_from(host.clone()).with_context(|| format!("server name {host}"))?;

        let decode = |field: &str, data: &str| -> anyhow::Result<Vec<u8>> {
            STANDARD
                .decode(data.trim())
                .with_context(|| format!("{}: decoding {field}", path.display()))
        };
        let ca = decode(
            "certificate-authority-data",
            &cluster.certificate_authority_data,
        )?;
        let cert = decode("client-certificate-data", &user.client_certificate_data)?;
        let key = decode("client-key-data", &user.client_key_data)?;

        let mut roots = rustls::RootCertStore::empty();
        for der in CertificateDer::pem_slice_iter(&ca) {
            roots
                .add(der.context("reading the cluster CA")?)
                .context("adding the cluster CA")?;
        }
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert)
            .collect::<Result<_, _>>()
            .context("reading the client certificate")?;
        let key = PrivateKeyDer::from_pem_slice(&key).context("reading the client key")?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("tls protocol versions")?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .context("client certificate")?;
        tls.alpn_protocols = vec![alpn.to_vec()];
        Ok(Endpoint {
            authority,
            server_name,
            tls: Arc::new(tls),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_gantry_writes() {
        let text = "apiVersion: v1\nkind: Config\nclusters:\n- name: gantry\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: QQ==\nusers:\n- name: admin\n  user:\n    client-certificate-data: Qg==\n    client-key-data: Qw==\ncontexts: []\ncurrent-context: gantry\n";
        let config: Kubeconfig = serde_saphyr::from_str(text).unwrap();
        assert_eq!(config.clusters[0].cluster.server, "https://127.0.0.1:6443");
        assert_eq!(config.users[0].user.client_key_data, "Qw==");
    }
}
