//! Why a pod's volumes or a container's mounts could not be prepared; each variant names the
//! volume, object or path concerned.

use std::io;
use std::path::PathBuf;

use crate::fieldref::FieldError;
use crate::objects::FetchError;
use crate::quantity::InvalidQuantity;

/// Preparing volumes or mounts failed.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("volume {volume}: {kind} {namespace}/{name} not found")]
    ObjectNotFound {
        volume: String,
        kind: &'static str,
        namespace: String,
        name: String,
    },
    #[error("volume {volume}: {kind} {namespace}/{name} has no key {key}")]
    KeyNotFound {
        volume: String,
        kind: &'static str,
        namespace: String,
        name: String,
        key: String,
    },
    #[error("volume {volume}: persistentvolumeclaim {namespace}/{claim} not found")]
    ClaimNotFound {
        volume: String,
        namespace: String,
        claim: String,
    },
    #[error("volume {volume}: persistentvolumeclaim {namespace}/{claim} is not bound")]
    ClaimUnbound {
        volume: String,
        namespace: String,
        claim: String,
    },
    #[error("persistentvolume {name} of claim {claim} not found")]
    PersistentVolumeNotFound { claim: String, name: String },
    #[error(
        "persistentvolume {name} has no hostPath or local source, the only kinds this node supports"
    )]
    UnsupportedPersistentVolume { name: String },
    #[error("volume {volume}: unsupported volume source")]
    UnsupportedVolume { volume: String },
    #[error("volume {volume}: invalid path {path:?}: {reason}")]
    InvalidPath {
        volume: String,
        path: String,
        reason: String,
    },
    #[error("volume {volume}: hostPath type check failed: {path} {reason} (type {type_:?})")]
    HostPathType {
        volume: String,
        path: PathBuf,
        type_: String,
        reason: String,
    },
    #[error("volume {volume}: item {path}: {source}")]
    Field {
        volume: String,
        path: String,
        #[source]
        source: FieldError,
    },
    #[error("volume {volume}: sizeLimit: {source}")]
    Quantity {
        volume: String,
        #[source]
        source: InvalidQuantity,
    },
    #[error("container {container} mounts volume {volume}, which the pod does not have")]
    VolumeNotPrepared { container: String, volume: String },
    #[error("volume {volume}: invalid subPath {sub_path:?}: {reason}")]
    InvalidSubPath {
        volume: String,
        sub_path: String,
        reason: String,
    },
    #[error("volume {volume}: subPath {sub_path:?} resolves outside the volume")]
    SubPathEscapes { volume: String, sub_path: String },
    #[error("volume {volume}: subPathExpr {expr:?}: missing value for {}", missing.join(", "))]
    SubPathExpr {
        volume: String,
        expr: String,
        missing: Vec<String>,
    },
    #[error("container {container}: mount {mount_path}: {reason}")]
    Propagation {
        container: String,
        mount_path: String,
        reason: String,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("mount tmpfs on {path}: {source}")]
    Mount {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("unmount {path}: {source}")]
    Unmount {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("volume task failed: {0}")]
    Task(String),
    #[error(transparent)]
    Fetch(#[from] FetchError),
}
