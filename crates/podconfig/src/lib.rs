//! Turns a pod's configuration into what one container needs on this node.
//!
//! The kubelet calls four entry points:
//! - [`container_env`]: the container's environment (`env`, `envFrom`, `$(VAR)` expansion);
//! - [`prepare_volumes`]: every volume of the pod, made ready under the pod's directory;
//! - [`container_mounts`]: the CRI mounts of one container over the prepared volumes;
//! - [`cleanup_pod`]: unmounts and removes what `prepare_volumes` made.
//!
//! Every decision (which value an env var gets, which files a volume holds, which mode a file
//! has, whether a path stays inside its volume) is a pure function over objects already read;
//! the async entry points only read the API objects around them (see [`objects`]).

pub mod env;
pub mod expand;
pub mod fieldref;
pub mod objects;
pub mod quantity;
pub mod volumes;

pub use env::{EnvError, container_env, resolve_env};
pub use fieldref::FieldError;
pub use objects::{FetchError, Objects};
pub use volumes::{
    PreparedVolume, PreparedVolumes, VolumeError, cleanup_pod, container_mounts,
    container_mounts_with_env, prepare_volumes, prepare_volumes_with_allocatable,
};

/// Facts the kubelet knows about the pod when it starts a container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodRuntimeInfo {
    /// The node the pod runs on (`spec.nodeName`).
    pub node_name: String,
    /// The node's primary IP (`status.hostIP`).
    pub host_ip: String,
    /// The pod's IPs, primary first (`status.podIPs`).
    pub pod_ips: Vec<String>,
    /// A token for the pod's service account, written into projected
    /// `serviceAccountToken` sources when present.
    pub service_account_token: Option<String>,
}
