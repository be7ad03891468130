//! Node objects: what a simulated node registers (labels, taints, capacity, conditions,
//! addresses, nodeInfo), its periodic status heartbeat, and parsing of `--labels` / `--taints`.
//! Everything here is pure; `register` in `lib.rs` sends it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSpec, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use crate::{Config, SimError, ip};

/// The label every simulated node carries.
pub const SIMULATED_LABEL: &str = "gantry.dev/simulated";
/// What `nodeInfo.kubeletVersion` says.
pub const KUBELET_VERSION: &str = "v1.33.0-sim";

/// The Node `name` registers with: labels, taints, and its whole status.
pub fn node_object(name: &str, config: &Config, now: Timestamp) -> Result<Node, SimError> {
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.to_string()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), arch()),
        (
            "node.kubernetes.io/instance-type".to_string(),
            "sim".to_string(),
        ),
        (SIMULATED_LABEL.to_string(), "true".to_string()),
    ]);
    labels.extend(config.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    let status = serde_json::from_value(status(name, config, now)).map_err(SimError::NodeObject)?;
    Ok(Node {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                "node.alpha.kubernetes.io/ttl".to_string(),
                "0".to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            taints: (!config.taints.is_empty()).then(|| config.taints.clone()),
            ..Default::default()
        }),
        status: Some(status),
    })
}

/// The node's status as JSON: also the body of the heartbeat merge patch, which replaces the
/// conditions wholesale and so turns a `Ready=Unknown` set by the node lifecycle controller
/// back into `Ready=True` while the sim process lives.
pub fn status(name: &str, config: &Config, now: Timestamp) -> Value {
    let resources = json!({
        "cpu": config.cpu,
        "memory": config.memory,
        "pods": config.pods.to_string(),
        "ephemeral-storage": config.ephemeral_storage,
    });
    json!({
        "capacity": resources,
        "allocatable": resources,
        "conditions": conditions(now),
        "addresses": [
            {"type": "InternalIP", "address": ip::node_ip(name).to_string()},
            {"type": "Hostname", "address": name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": format!("sim-{name}"),
            "systemUUID": format!("sim-{name}"),
            "bootID": format!("sim-{name}"),
            "kernelVersion": "sim",
            "osImage": "gantry simulated node",
            "containerRuntimeVersion": "sim://1.0.0",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": arch(),
        },
        "phase": "Running",
    })
}

/// The architecture in Go's spelling (`amd64`, `arm64`).
fn arch() -> String {
    std::env::consts::ARCH
        .replace("x86_64", "amd64")
        .replace("aarch64", "arm64")
}

/// The patch of the heartbeat: only the conditions.
pub fn heartbeat(now: Timestamp) -> Value {
    json!({"status": {"conditions": conditions(now)}})
}

fn conditions(now: Timestamp) -> Value {
    let t = rfc3339(now);
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": t, "lastTransitionTime": t})
    };
    json!([
        condition(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available"
        ),
        condition(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure"
        ),
        condition(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available"
        ),
        condition(
            "Ready",
            "True",
            "KubeletReady",
            "simulated kubelet is posting ready status"
        ),
    ])
}

/// A timestamp the way Kubernetes writes `metav1.Time`: seconds, UTC, `Z`.
pub fn rfc3339(t: Timestamp) -> String {
    k8s_openapi::jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%SZ", t)
        .unwrap_or_else(|_| t.to_string())
}

/// Parses `k=v,k2=v2` (empty means none).
pub fn parse_labels(s: &str) -> Result<BTreeMap<String, String>, SimError> {
    s.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(SimError::InvalidLabel(part.to_string())),
        })
        .collect()
}

/// Parses `key=value:Effect` or `key:Effect`, as `kubectl taint` writes them.
pub fn parse_taint(s: &str) -> Result<Taint, SimError> {
    let invalid = || SimError::InvalidTaint(s.to_string());
    let (key_value, effect) = s.rsplit_once(':').ok_or_else(invalid)?;
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        return Err(invalid());
    }
    let (key, value) = match key_value.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (key_value, None),
    };
    if key.is_empty() {
        return Err(invalid());
    }
    Ok(Taint {
        key: key.to_string(),
        value,
        effect: effect.to_string(),
        time_added: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2025-01-02T03:04:05Z".parse().expect("a timestamp")
    }

    #[test]
    fn node_object_has_capacity_conditions_addresses_and_labels() {
        let config = Config {
            labels: parse_labels("zone=a,tier=web").expect("labels"),
            taints: vec![parse_taint("dedicated=sim:NoSchedule").expect("taint")],
            ..Config::default()
        };
        let node = node_object("sim-3", &config, now()).expect("a node");
        let v = serde_json::to_value(&node).expect("json");
        assert_eq!(v["metadata"]["name"], "sim-3");
        assert_eq!(v["metadata"]["labels"][SIMULATED_LABEL], "true");
        assert_eq!(v["metadata"]["labels"]["zone"], "a");
        assert_eq!(v["metadata"]["labels"]["kubernetes.io/hostname"], "sim-3");
        assert_eq!(
            v["spec"]["taints"][0],
            json!({"key": "dedicated", "value": "sim", "effect": "NoSchedule"})
        );
        assert!(v["spec"].get("podCIDR").is_none(), "podCIDR is node IPAM's");
        for field in ["capacity", "allocatable"] {
            assert_eq!(
                v["status"][field],
                json!({"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"})
            );
        }
        let conditions = v["status"]["conditions"].as_array().expect("conditions");
        let status_of = |kind: &str| {
            conditions
                .iter()
                .find(|c| c["type"] == kind)
                .map(|c| c["status"].clone())
        };
        assert_eq!(status_of("Ready"), Some(json!("True")));
        for kind in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
            assert_eq!(status_of(kind), Some(json!("False")), "{kind}");
        }
        assert!(
            conditions
                .iter()
                .all(|c| c["lastHeartbeatTime"] == "2025-01-02T03:04:05Z")
        );
        assert_eq!(
            v["status"]["addresses"][0],
            json!({"type": "InternalIP", "address": ip::node_ip("sim-3").to_string()})
        );
        assert_eq!(v["status"]["nodeInfo"]["kubeletVersion"], KUBELET_VERSION);
        assert_eq!(v["status"]["nodeInfo"]["operatingSystem"], "linux");
    }

    #[test]
    fn no_taints_means_no_taint_list() {
        let node = node_object("n", &Config::default(), now()).expect("a node");
        assert_eq!(node.spec.and_then(|s| s.taints), None);
    }

    #[test]
    fn heartbeat_patches_only_conditions() {
        let patch = heartbeat(now());
        assert_eq!(patch["status"].as_object().map(|o| o.len()), Some(1));
        assert_eq!(patch["status"]["conditions"][3]["type"], "Ready");
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn labels_parse() {
        let cases: &[(&str, Option<&[(&str, &str)]>)] = &[
            ("", Some(&[])),
            ("a=b", Some(&[("a", "b")])),
            ("a=b, c=", Some(&[("a", "b"), ("c", "")])),
            ("a", None),
            ("=b", None),
        ];
        for (input, expected) in cases {
            let got = parse_labels(input).ok();
            let expected = expected.map(|e| {
                e.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            });
            assert_eq!(got, expected, "{input:?}");
        }
    }

    #[test]
    fn taints_parse() {
        let t = parse_taint("k=v:NoExecute").expect("taint");
        assert_eq!(
            (t.key.as_str(), t.value.as_deref(), t.effect.as_str()),
            ("k", Some("v"), "NoExecute")
        );
        let t = parse_taint("k:PreferNoSchedule").expect("taint");
        assert_eq!(
            (t.key.as_str(), t.value, t.effect.as_str()),
            ("k", None, "PreferNoSchedule")
        );
        for bad in ["k=v", "k=v:Sometimes", ":NoSchedule", "=v:NoSchedule"] {
            assert!(parse_taint(bad).is_err(), "{bad}");
        }
    }
}
