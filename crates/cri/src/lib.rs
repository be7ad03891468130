//! gantry's side of the Container Runtime Interface: a CRI client over a unix socket (the
//! `k8s-cri` crate's v1 bindings), a containerd managed per agent, and OCI images built in
//! process (the pause image, test images) and imported without a registry.

pub mod client;
pub mod containerd;
pub mod import;
pub mod oci;

pub use client::Cri;
pub use k8s_cri::v1 as api;

/// What can go wrong talking to or managing the container runtime.
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    #[error("connect to the container runtime: {0}")]
    Connect(String),
    #[error("container runtime: {0}")]
    Status(#[from] tonic::Status),
    #[error("containerd: {step}: {source}")]
    Containerd {
        step: &'static str,
        source: std::io::Error,
    },
    #[error("image: {step}: {source}")]
    Image {
        step: &'static str,
        source: std::io::Error,
    },
    #[error("import {file}: {message}")]
    Import { file: String, message: String },
}

impl CriError {
    /// The gRPC code when the runtime answered with an error.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            CriError::Status(s) => Some(s.code()),
            _ => None,
        }
    }
}
