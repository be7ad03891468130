//! The cluster's certificates: a CA, the serving certificate, the admin client certificate and
//! the API server's client certificate towards kubelets, created on first start under
//! `DATA_DIR/tls`, and the admin kubeconfig. [`Pki::issue`] signs further leaf certificates
//! (the node credentials handed out by [`crate::join`]).
//!
//! The CA, admin and kubelet-client identities persist; the serving certificate is re-issued at every start so
//! its names always match the current bind address and hostname.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("generating {what}: {source}")]
    Generate {
        what: &'static str,
        source: rcgen::Error,
    },
    #[error("{path} does not hold a usable key: {source}")]
    BadKey { path: PathBuf, source: rcgen::Error },
}

/// PEM material the server and its clients need.
pub struct Pki {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
    /// The API server's identity towards kubelets: CN=kube-apiserver-kubelet-client,
    /// O=system:masters.
    pub kubelet_client_cert_pem: String,
    pub kubelet_client_key_pem: String,
    ca_key_pem: String,
}

/// A leaf certificate to sign with the cluster CA.
#[derive(Clone, Copy, Debug)]
pub enum Leaf<'a> {
    /// A client certificate: the user is the common name, the groups the organizations.
    Client {
        common_name: &'a str,
        organizations: &'a [&'a str],
    },
    /// A serving certificate for `names` (IP addresses or DNS names; others are skipped).
    Serving {
        common_name: &'a str,
        names: &'a [String],
    },
}

const CA_NAME: &str = "gantry-ca";

pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), PkiError> {
    let err = |source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    f.write_all(contents.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(err)
}

fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn validity(params: &mut CertificateParams, years: i16) {
    let now = k8s_openapi::jiff::Zoned::now().date();
    params.not_before = rcgen::date_time_ymd(i32::from(now.year()) - 1, now.month() as u8, 1);
    params.not_after = rcgen::date_time_ymd(i32::from(now.year() + years), now.month() as u8, 1);
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn gen_key(what: &'static str) -> Result<KeyPair, PkiError> {
    KeyPair::generate().map_err(|source| PkiError::Generate { what, source })
}

/// Signs a fresh key pair for `leaf`; returns the certificate and key PEM.
fn sign(issuer: &Issuer<'_, KeyPair>, leaf: Leaf<'_>) -> Result<(String, String), PkiError> {
    let mut params = CertificateParams::default();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let what = match leaf {
        Leaf::Client {
            common_name,
            organizations,
        } => {
            params
                .distinguished_name
                .push(DnType::CommonName, common_name);
            for org in organizations {
                params
                    .distinguished_name
                    .push(DnType::OrganizationName, *org);
            }
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            "client certificate"
        }
        Leaf::Serving { common_name, names } => {
            params
                .distinguished_name
                .push(DnType::CommonName, common_name);
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            for name in names {
                let san = match name.parse::<IpAddr>() {
                    Ok(ip) => SanType::IpAddress(ip),
                    Err(_) => match name.clone().try_into() {
                        Ok(dns) => SanType::DnsName(dns),
                        Err(_) => continue,
                    },
                };
                if !params.subject_alt_names.contains(&san) {
                    params.subject_alt_names.push(san);
                }
            }
            "serving certificate"
        }
    };
    validity(&mut params, 1);
    let key = gen_key(what)?;
    let cert = params
        .signed_by(&key, issuer)
        .map_err(|source| PkiError::Generate { what, source })?;
    Ok((cert.pem(), key.serialize_pem()))
}

impl Pki {
    /// Loads or creates the certificates in `dir/tls`; `names` are the serving certificate's
    /// subject alternative names (DNS names or IP addresses).
    pub fn load_or_create(dir: &Path, names: &[String]) -> Result<Pki, PkiError> {
        let tls = dir.join("tls");
        fs::create_dir_all(&tls).map_err(|source| PkiError::Write {
            path: tls.clone(),
            source,
        })?;
        let (ca_crt, ca_key, admin_crt, admin_key) = (
            tls.join("ca.crt"),
            tls.join("ca.key"),
            tls.join("admin.crt"),
            tls.join("admin.key"),
        );
        let (kubelet_client_crt, kubelet_client_key) = (
            tls.join("kubelet-client.crt"),
            tls.join("kubelet-client.key"),
        );
        if !ca_key.exists() || !ca_crt.exists() {
            let key = gen_key("CA key")?;
            let mut params = ca_params();
            validity(&mut params, 10);
            let cert = params
                .self_signed(&key)
                .map_err(|source| PkiError::Generate {
                    what: "CA certificate",
                    source,
                })?;
            write_private(&ca_key, &key.serialize_pem())?;
            write_private(&ca_crt, &cert.pem())?;
            let _ = fs::remove_file(&admin_crt);
            let _ = fs::remove_file(&kubelet_client_crt);
        }
        let ca_key_pair =
            KeyPair::from_pem(&read(&ca_key)?).map_err(|source| PkiError::BadKey {
                path: ca_key.clone(),
                source,
            })?;
        let issuer = Issuer::new(ca_params(), ca_key_pair);

        for (crt, key, leaf) in [
            (
                &admin_crt,
                &admin_key,
                Leaf::Client {
                    common_name: "system:admin",
                    organizations: &["system:masters"],
                },
            ),
            (
                &kubelet_client_crt,
                &kubelet_client_key,
                Leaf::Client {
                    common_name: "kube-apiserver-kubelet-client",
                    organizations: &["system:masters"],
                },
            ),
        ] {
            if !crt.exists() || !key.exists() {
                let (cert_pem, key_pem) = sign(&issuer, leaf)?;
                write_private(key, &key_pem)?;
                write_private(crt, &cert_pem)?;
            }
        }
        let (server_cert_pem, server_key_pem) = sign(
            &issuer,
            Leaf::Serving {
                common_name: "gantry-apiserver",
                names,
            },
        )?;

        Ok(Pki {
            ca_pem: read(&ca_crt)?,
            server_cert_pem,
            server_key_pem,
            admin_cert_pem: read(&admin_crt)?,
            admin_key_pem: read(&admin_key)?,
            kubelet_client_cert_pem: read(&kubelet_client_crt)?,
            kubelet_client_key_pem: read(&kubelet_client_key)?,
            ca_key_pem: read(&ca_key)?,
        })
    }

    /// Signs a fresh key pair for `leaf` with the cluster CA (valid one year); returns the
    /// certificate and key PEM.
    pub fn issue(&self, leaf: Leaf<'_>) -> Result<(String, String), PkiError> {
        let key = KeyPair::from_pem(&self.ca_key_pem).map_err(|source| PkiError::BadKey {
            path: PathBuf::from("tls/ca.key"),
            source,
        })?;
        sign(&Issuer::new(ca_params(), key), leaf)
    }

    /// Writes an admin kubeconfig for `server` (an `https://` URL) with mode 600.
    pub fn write_kubeconfig(&self, path: &Path, server: &str) -> Result<(), PkiError> {
        let b64 = |s: &str| STANDARD.encode(s.as_bytes());
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: gantry\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\nusers:\n- name: admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: gantry\n  context:\n    cluster: gantry\n    user: admin\ncurrent-context: gantry\n",
            b64(&self.ca_pem),
            b64(&self.admin_cert_pem),
            b64(&self.admin_key_pem),
        );
        write_private(path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_and_reuses_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        let first = Pki::load_or_create(dir.path(), &names).unwrap();
        let second = Pki::load_or_create(dir.path(), &names).unwrap();
        assert_eq!(first.ca_pem, second.ca_pem);
        assert_eq!(first.admin_cert_pem, second.admin_cert_pem);
        let mode = fs::metadata(dir.path().join("tls/ca.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let kubeconfig = dir.path().join("kubeconfig.yaml");
        first
            .write_kubeconfig(&kubeconfig, "https://127.0.0.1:6443")
            .unwrap();
        assert_eq!(
            fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
