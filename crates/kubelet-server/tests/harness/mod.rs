//! Test harness: a managed containerd with a labelled pod running, certificates made with rcgen,
//! the kubelet server on 127.0.0.1:0, and a TLS client (plain HTTP/1.1, raw bytes, WebSocket).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use gantry_cri::Cri;
use gantry_cri::api;
use gantry_cri::containerd::{Containerd, ContainerdPaths};
use gantry_cri::import::{PAUSE_IMAGE, import_spec, pause_image};
use gantry_cri::oci::{ImageSpec, busybox_entries};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub const IMAGE: &str = "gantry.local/busybox:test";

/// Certificates: a CA, the server's certificate and a client certificate, all PEM.
pub struct Certs {
    pub ca_pem: String,
    pub server: (String, String),
    pub client: (String, String),
}

pub fn certs() -> Result<Certs> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |names: Vec<String>| -> Result<(String, String)> {
        let key = KeyPair::generate()?;
        let cert = CertificateParams::new(names)?.signed_by(&key, &issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    };
    Ok(Certs {
        ca_pem: ca.pem(),
        server: leaf(vec!["127.0.0.1".into(), "localhost".into()])?,
        client: leaf(vec!["apiserver".into()])?,
    })
}

/// The pod the tests look at: namespace `default`, pod `p`, container `c`.
pub struct Node {
    pub dir: tempfile::TempDir,
    pub containerd: Option<Containerd>,
    pub cri: Cri,
    pub sandbox: String,
    pub container: String,
}

fn labels(container: Option<&str>) -> HashMap<String, String> {
    let mut labels = HashMap::from([
        ("io.kubernetes.pod.name".to_string(), "p".to_string()),
        (
            "io.kubernetes.pod.namespace".to_string(),
            "default".to_string(),
        ),
        ("io.kubernetes.pod.uid".to_string(), "u1".to_string()),
    ]);
    if let Some(name) = container {
        labels.insert("io.kubernetes.container.name".into(), name.into());
    }
    labels
}

pub async fn node() -> Result<Node> {
    let dir = tempfile::tempdir()?;
    let paths = ContainerdPaths {
        dir: dir.path().join("containerd"),
        cni_conf_dir: dir.path().join("cni"),
        cni_bin_dir: PathBuf::from("/usr/lib/cni"),
        sandbox_image: PAUSE_IMAGE.into(),
        insecure_registries: vec![],
    };
    let containerd = Containerd::start(paths.clone()).await?;
    let cri = Cri::connect(&paths.socket())?;
    import_spec(&paths.socket(), &pause_image(), dir.path()).await?;
    let busybox = ImageSpec {
        name: IMAGE.into(),
        entries: busybox_entries(std::path::Path::new("/bin/busybox"))?,
        cmd: vec!["sh".into()],
        ..Default::default()
    };
    import_spec(&paths.socket(), &busybox, dir.path()).await?;
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs)?;
    let sandbox_config = api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: "p".into(),
            uid: "u1".into(),
            namespace: "default".into(),
            attempt: 0,
        }),
        log_directory: logs.display().to_string(),
        labels: labels(None),
        linux: Some(api::LinuxPodSandboxConfig {
            security_context: Some(api::LinuxSandboxSecurityContext {
                namespace_options: Some(api::NamespaceOption {
                    network: api::NamespaceMode::Node as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut node = Node {
        dir,
        containerd: Some(containerd),
        cri: cri.clone(),
        sandbox: String::new(),
        container: String::new(),
    };
    let mut rt = cri.runtime.clone();
    let request = api::RunPodSandboxRequest {
        config: Some(sandbox_config.clone()),
        runtime_handler: String::new(),
    };
    node.sandbox = rt
        .run_pod_sandbox(request)
        .await?
        .into_inner()
        .pod_sandbox_id;
    let config = api::ContainerConfig {
        metadata: Some(api::ContainerMetadata {
            name: "c".into(),
            attempt: 0,
        }),
        image: Some(api::ImageSpec {
            image: IMAGE.into(),
            ..Default::default()
        }),
        command: vec![
            "sh".into(),
            "-c".into(),
            "for i in 1 2 3; do echo line $i; done; sleep 3600".into(),
        ],
        log_path: "c/0.log".into(),
        labels: labels(Some("c")),
        ..Default::default()
    };
    let request = api::CreateContainerRequest {
        pod_sandbox_id: node.sandbox.clone(),
        config: Some(config),
        sandbox_config: Some(sandbox_config),
    };
    node.container = rt
        .create_container(request)
        .await?
        .into_inner()
        .container_id;
    rt.start_container(api::StartContainerRequest {
        container_id: node.container.clone(),
    })
    .await?;
    Ok(node)
}

impl Node {
    /// Runs a command in the container and waits for it.
    pub async fn exec_sync(&self, cmd: &[&str]) -> Result<()> {
        let request = api::ExecSyncRequest {
            container_id: self.container.clone(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            timeout: 10,
        };
        let answer = self
            .cri
            .runtime
            .clone()
            .exec_sync(request)
            .await?
            .into_inner();
        if answer.exit_code != 0 {
            bail!(
                "exec {cmd:?}: exit {}: {}",
                answer.exit_code,
                String::from_utf8_lossy(&answer.stderr)
            );
        }
        Ok(())
    }

    pub async fn stop(mut self) {
        let mut rt = self.cri.runtime.clone();
        let _ = rt
            .stop_pod_sandbox(api::StopPodSandboxRequest {
                pod_sandbox_id: self.sandbox.clone(),
            })
            .await;
        let _ = rt
            .remove_pod_sandbox(api::RemovePodSandboxRequest {
                pod_sandbox_id: self.sandbox.clone(),
            })
            .await;
        if let Some(containerd) = self.containerd.take() {
            containerd.stop().await;
        }
        let _ = self.dir.path();
    }
}

/// A TLS client of the kubelet server.
#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
}

impl Client {
    /// With the client certificate, or anonymous.
    pub fn new(addr: SocketAddr, certs: &Certs, with_cert: bool) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for ca in rustls_pemfile::certs(&mut certs.ca_pem.as_bytes()) {
            roots.add(ca?)?;
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let mut config = if with_cert {
            let chain: Vec<CertificateDer<'static>> =
                rustls_pemfile::certs(&mut certs.client.0.as_bytes()).collect::<Result<_, _>>()?;
            let key: PrivateKeyDer<'static> =
                rustls_pemfile::private_key(&mut certs.client.1.as_bytes())?
                    .context("client key")?;
            builder.with_client_auth_cert(chain, key)?
        } else {
            builder.with_no_client_auth()
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            addr,
            config: Arc::new(config),
        })
    }

    pub async fn connect(&self) -> Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.addr).await?;
        let name = ServerName::try_from("127.0.0.1")?.to_owned();
        Ok(tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await?)
    }

    /// Sends a GET and returns the response with its streaming body.
    pub async fn get_stream(&self, path: &str) -> Result<hyper::Response<Incoming>> {
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(self.connect().await?)).await?;
        tokio::spawn(conn);
        let request = hyper::Request::get(path)
            .header("host", "127.0.0.1")
            .body(Empty::<Bytes>::new())?;
        Ok(sender.send_request(request).await?)
    }

    /// Sends a GET and returns the status and the whole body as text.
    pub async fn get(&self, path: &str) -> Result<(u16, String)> {
        let response =
            tokio::time::timeout(Duration::from_secs(10), self.get_stream(path)).await??;
        let status = response.status().as_u16();
        let body = tokio::time::timeout(Duration::from_secs(10), response.into_body().collect())
            .await??
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// Sends a raw request and returns the TLS stream and the response head.
    pub async fn raw(&self, request: &str) -> Result<(TlsStream<TcpStream>, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tls = self.connect().await?;
        tls.write_all(request.as_bytes()).await?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            let n = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut byte)).await??;
            if n == 0 {
                break;
            }
            head.push(byte[0]);
        }
        Ok((tls, String::from_utf8_lossy(&head).into_owned()))
    }
}
