//! The labels the kubelet puts on CRI sandboxes and containers to find their pod again (the
//! same keys upstream uses, so `crictl` users recognise them), and the annotations that carry
//! what the runtime must remember across kubelet restarts.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;

pub const POD_NAME: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const POD_UID: &str = "io.kubernetes.pod.uid";
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// Annotation: the container's terminationMessagePath (read when it exits).
pub const TERMINATION_MESSAGE_PATH: &str = "io.kubernetes.container.terminationMessagePath";
/// Annotation: the container spec's hash, so a changed spec is noticed.
pub const CONTAINER_HASH: &str = "io.kubernetes.container.hash";
/// Annotation: the pod's terminationGracePeriodSeconds.
pub const GRACE_PERIOD: &str = "io.kubernetes.pod.terminationGracePeriod";
/// Label: the node whose kubelet made the sandbox (several kubelets may share a containerd).
pub const NODE: &str = "io.gantry.node.name";
/// Label value on init containers, so the kubelet tells them apart after a restart.
pub const CONTAINER_TYPE: &str = "io.gantry.container.type";

/// The labels naming `pod`.
pub fn pod_labels(pod: &Pod) -> HashMap<String, String> {
    let m = &pod.metadata;
    HashMap::from([
        (POD_NAME.to_string(), m.name.clone().unwrap_or_default()),
        (
            POD_NAMESPACE.to_string(),
            m.namespace.clone().unwrap_or_default(),
        ),
        (POD_UID.to_string(), m.uid.clone().unwrap_or_default()),
    ])
}
