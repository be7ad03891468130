//! The CRI client: gRPC over a unix socket with the `k8s-cri` crate's v1 bindings.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::VersionRequest;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::CriError;

/// Both CRI services on one connection. Cheap to clone.
#[derive(Clone)]
pub struct Cri {
    pub runtime: RuntimeServiceClient<Channel>,
    pub image: ImageServiceClient<Channel>,
}

/// Accepts `unix:///path`, `unix:/path` or a bare path.
pub fn socket_path(endpoint: &str) -> PathBuf {
    PathBuf::from(
        endpoint
            .trim_start_matches("unix://")
            .trim_start_matches("unix:"),
    )
}

impl Cri {
    /// Connects lazily: the channel reconnects on its own when containerd restarts.
    pub fn connect(socket: &Path) -> Result<Self, CriError> {
        let socket = socket.to_path_buf();
        let endpoint = Endpoint::try_from("http://[::1]:50051")
            .map_err(|e| CriError::Connect(e.to_string()))?;
        let channel = endpoint
            .connect_timeout(Duration::from_secs(5))
            .connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                let socket = socket.clone();
                async move {
                    Ok::<_, std::io::Error>(TokioIo::new(
                        tokio::net::UnixStream::connect(socket).await?,
                    ))
                }
            }));
        let max = 64 * 1024 * 1024;
        Ok(Self {
            runtime: RuntimeServiceClient::new(channel.clone()).max_decoding_message_size(max),
            image: ImageServiceClient::new(channel).max_decoding_message_size(max),
        })
    }

    /// The runtime's name and version, e.g. `containerd://1.6.20`.
    pub async fn version(&self) -> Result<String, CriError> {
        let v = self
            .runtime
            .clone()
            .version(VersionRequest {
                version: "v1".into(),
            })
            .await?
            .into_inner();
        Ok(format!("{}://{}", v.runtime_name, v.runtime_version))
    }
}

/// Waits until the runtime at `socket` answers `Version`.
pub async fn wait_ready(socket: &Path, timeout: Duration) -> Result<(), CriError> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match Cri::connect(socket) {
            Ok(cri) => match cri.version().await {
                Ok(_) => return Ok(()),
                Err(err) => err.to_string(),
            },
            Err(err) => err.to_string(),
        };
        if Instant::now() > deadline {
            return Err(CriError::Connect(format!(
                "{} did not answer within {timeout:?}: {last}",
                socket.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
