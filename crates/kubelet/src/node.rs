//! The node's object: registration (labels, addresses, capacity and allocatable from the host,
//! nodeInfo with the runtime's version, the kubelet's port) and its status conditions (Ready,
//! MemoryPressure, DiskPressure, PIDPressure), posted when they change and at least every
//! minute.

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::host::{HostFacts, pressures};
use crate::{Config, KubeletError};

/// The version the node reports as its kubelet (the API version gantry serves).
pub const KUBELET_VERSION: &str = "v1.33.0-gantry";

fn rfc3339(t: Timestamp) -> String {
    k8s_openapi::jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%SZ", t)
        .unwrap_or_else(|_| t.to_string())
}

/// Capacity (and allocatable, which is the same: gantry reserves nothing) from the host.
pub fn capacity(f: &HostFacts, max_pods: u32) -> Value {
    json!({
        "cpu": f.cpus.to_string(),
        "memory": format!("{}Ki", f.memory_bytes / 1024),
        "ephemeral-storage": format!("{}Ki", f.disk_bytes / 1024),
        "pods": max_pods.to_string(),
    })
}

/// Runtime and network readiness as the Ready condition reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub runtime: Result<(), String>,
    pub network: Result<(), String>,
}

/// The node's conditions. `previous` supplies lastTransitionTime for unchanged ones.
pub fn conditions(f: &HostFacts, ready: &Readiness, previous: &[Value], now: Timestamp) -> Value {
    let (memory, disk, pid) = pressures(f);
    let not_ready = ready
        .runtime
        .as_ref()
        .err()
        .or(ready.network.as_ref().err());
    let rows = [
        (
            "MemoryPressure",
            memory,
            "KubeletHasInsufficientMemory",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
            "kubelet has insufficient memory available",
        ),
        (
            "DiskPressure",
            disk,
            "KubeletHasDiskPressure",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
            "kubelet has disk pressure",
        ),
        (
            "PIDPressure",
            pid,
            "KubeletHasInsufficientPID",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
            "kubelet has insufficient PID available",
        ),
    ];
    let mut out = vec![];
    let stamp = |kind: &str, status: &str| {
        previous
            .iter()
            .find(|c| c["type"] == kind && c["status"] == status)
            .and_then(|c| c["lastTransitionTime"].as_str().map(String::from))
            .unwrap_or_else(|| rfc3339(now))
    };
    for (kind, on, reason_on, reason_off, msg_off, msg_on) in rows {
        let status = if on { "True" } else { "False" };
        out.push(json!({
            "type": kind, "status": status,
            "reason": if on { reason_on } else { reason_off },
            "message": if on { msg_on } else { msg_off },
            "lastHeartbeatTime": rfc3339(now), "lastTransitionTime": stamp(kind, status),
        }));
    }
    let (status, reason, message) = match not_ready {
        None => (
            "True",
            "KubeletReady",
            "kubelet is posting ready status".to_string(),
        ),
        Some(why) => ("False", "KubeletNotReady", why.clone()),
    };
    out.push(json!({
        "type": "Ready", "status": status, "reason": reason, "message": message,
        "lastHeartbeatTime": rfc3339(now), "lastTransitionTime": stamp("Ready", status),
    }));
    Value::Array(out)
}

/// The full node status (the body of the status patch).
pub fn status(cfg: &Config, f: &HostFacts, runtime_version: &str, conditions: Value) -> Value {
    let cap = capacity(f, cfg.max_pods);
    json!({
        "capacity": cap,
        "allocatable": cap,
        "conditions": conditions,
        "addresses": [{"type": "InternalIP", "address": cfg.node_ip}, {"type": "Hostname", "address": cfg.node_name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": cfg.kubelet_port}},
        "nodeInfo": {
            "machineID": f.machine_id, "systemUUID": f.machine_id, "bootID": f.boot_id,
            "kernelVersion": f.kernel, "osImage": f.os_image,
            "containerRuntimeVersion": runtime_version,
            "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux", "architecture": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
        },
    })
}

/// Creates the Node if it does not exist (an existing one is kept: its spec, e.g. podCIDR and
/// taints, belongs to the cluster).
pub async fn register(client: &kube::Client, cfg: &Config) -> Result<Node, KubeletError> {
    let api: Api<Node> = Api::all(client.clone());
    let mut labels = json!({
        "kubernetes.io/hostname": cfg.node_name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
    });
    for (k, v) in &cfg.node_labels {
        labels[k] = json!(v);
    }
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": cfg.node_name, "labels": labels},
    }))
    .map_err(|e| KubeletError::Invalid(e.to_string()))?;
    match api.create(&PostParams::default(), &node).await {
        Ok(n) => Ok(n),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(api.get(&cfg.node_name).await?),
        Err(e) => Err(e.into()),
    }
}

/// Posts the node's status.
pub async fn post_status(
    client: &kube::Client,
    cfg: &Config,
    status: Value,
) -> Result<Node, KubeletError> {
    let api: Api<Node> = Api::all(client.clone());
    Ok(api
        .patch_status(
            &cfg.node_name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_follows_runtime_and_network() {
        let f = HostFacts {
            cpus: 2,
            memory_bytes: 1 << 34,
            memory_available: 1 << 33,
            disk_bytes: 100,
            disk_available: 90,
            pid_max: 1000,
            pids_in_use: 1,
            ..Default::default()
        };
        let now = Timestamp::UNIX_EPOCH;
        let ok = Readiness {
            runtime: Ok(()),
            network: Ok(()),
        };
        let c = conditions(&f, &ok, &[], now);
        assert_eq!(c[3]["type"], "Ready");
        assert_eq!(c[3]["status"], "True");
        let no_net = Readiness {
            runtime: Ok(()),
            network: Err("network plugin not ready: no podCIDR yet".into()),
        };
        let c2 = conditions(
            &f,
            &no_net,
            c.as_array().map(Vec::as_slice).unwrap_or_default(),
            now,
        );
        assert_eq!(c2[3]["status"], "False");
        assert_eq!(c2[3]["message"], "network plugin not ready: no podCIDR yet");
        assert_eq!(c2[0]["type"], "MemoryPressure");
        assert_eq!(c2[0]["status"], "False");
        let cap = capacity(&f, 110);
        assert_eq!(cap["pods"], "110");
        assert_eq!(cap["cpu"], "2");
    }
}
