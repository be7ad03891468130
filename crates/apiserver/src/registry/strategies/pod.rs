//! Pods: defaults, validation of pod specs (shared with every workload template), graceful
//! deletion and the pod field selectors.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::default_field;
use crate::error::FieldError;
use crate::registry::Strategy;
use crate::validation::{is_dns1123_label, is_dns1123_subdomain};

pub struct PodStrategy;

const DEFAULT_GRACE_SECONDS: i64 = 30;
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

impl Strategy for PodStrategy {
    fn has_status(&self) -> bool {
        true
    }

    fn tracks_generation(&self) -> bool {
        false
    }

    fn default(&self, obj: &mut Value) {
        if let Some(spec) = obj.get_mut("spec") {
            default_pod_spec(spec);
        }
    }

    fn prepare_create(&self, obj: &mut Value) {
        obj["status"] = json!({ "phase": "Pending", "qosClass": qos_class(&obj["spec"]) });
        if let Some(spec) = obj.get_mut("spec") {
            default_toleration_seconds(spec);
        }
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_pod_spec(&obj["spec"], "spec")
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        // Only images, activeDeadlineSeconds, tolerations additions and terminationGrace change.
        let strip = |spec: &Value| {
            let mut s = spec.clone();
            if let Some(cs) = s.get_mut("containers").and_then(Value::as_array_mut) {
                cs.iter_mut().for_each(|c| c["image"] = Value::Null);
            }
            if let Some(cs) = s.get_mut("initContainers").and_then(Value::as_array_mut) {
                cs.iter_mut().for_each(|c| c["image"] = Value::Null);
            }
            for k in [
                "activeDeadlineSeconds",
                "tolerations",
                "terminationGracePeriodSeconds",
            ] {
                if let Some(m) = s.as_object_mut() {
                    m.remove(k);
                }
            }
            s
        };
        if strip(&new["spec"]) != strip(&old["spec"]) {
            return vec![FieldError::forbidden(
                "spec",
                "pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or `spec.terminationGracePeriodSeconds`",
            )];
        }
        Vec::new()
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ]
    }

    fn graceful_delete(&self, obj: &Value, requested: Option<i64>) -> Option<i64> {
        // Unscheduled and finished pods have nothing to stop: they go at once.
        let scheduled = obj["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty());
        let finished = matches!(
            obj["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        );
        if !scheduled || finished {
            return None;
        }
        let grace = requested
            .or_else(|| obj["spec"]["terminationGracePeriodSeconds"].as_i64())
            .unwrap_or(DEFAULT_GRACE_SECONDS);
        (grace > 0).then_some(grace)
    }
}

/// The defaults the API server applies to a pod spec (also inside templates).
pub fn default_pod_spec(spec: &mut Value) {
    default_field(spec, "restartPolicy", json!("Always"));
    default_field(spec, "dnsPolicy", json!("ClusterFirst"));
    default_field(spec, "schedulerName", json!("default-scheduler"));
    default_field(
        spec,
        "terminationGracePeriodSeconds",
        json!(DEFAULT_GRACE_SECONDS),
    );
    default_field(spec, "securityContext", json!({}));
    for list in ["containers", "initContainers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in containers {
                let image = c["image"].as_str().unwrap_or_default();
                let tagless = !image.rsplit('/').next().unwrap_or(image).contains(':')
                    && !image.contains('@');
                let policy = if tagless || image.ends_with(":latest") {
                    "Always"
                } else {
                    "IfNotPresent"
                };
                default_field(c, "imagePullPolicy", json!(policy));
                default_field(c, "terminationMessagePath", json!("/dev/termination-log"));
                default_field(c, "terminationMessagePolicy", json!("File"));
                default_field(c, "resources", json!({}));
                if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
                    ports
                        .iter_mut()
                        .for_each(|p| default_field(p, "protocol", json!("TCP")));
                }
            }
        }
    }
}

/// Upstream's DefaultTolerationSeconds admission: a new pod tolerates the `not-ready` and
/// `unreachable` NoExecute taints for 300 s unless it already says how long.
pub fn default_toleration_seconds(spec: &mut Value) {
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerations = spec["tolerations"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let covered = tolerations.iter().any(|t| {
            let effect = t["effect"].as_str().unwrap_or_default();
            let key_matches = t["key"].as_str() == Some(key)
                || (t["key"].as_str().unwrap_or_default().is_empty() && t["operator"] == "Exists");
            key_matches && (effect.is_empty() || effect == "NoExecute")
        });
        if covered {
            continue;
        }
        let toleration = json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": DEFAULT_TOLERATION_SECONDS});
        match spec["tolerations"].as_array_mut() {
            Some(list) => list.push(toleration),
            None => spec["tolerations"] = json!([toleration]),
        }
    }
}

/// The QoS class Kubernetes derives from a pod's requests and limits.
pub fn qos_class(spec: &Value) -> &'static str {
    let containers = spec["containers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in containers {
        let limits = &c["resources"]["limits"];
        let requests = &c["resources"]["requests"];
        any |= limits.as_object().is_some_and(|m| !m.is_empty())
            || requests.as_object().is_some_and(|m| !m.is_empty());
        for res in ["cpu", "memory"] {
            let limit = &limits[res];
            let request = if requests[res].is_null() {
                limit
            } else {
                &requests[res]
            };
            guaranteed &= !limit.is_null() && request == limit;
        }
    }
    match (any, guaranteed) {
        (_, true) => "Guaranteed",
        (true, false) => "Burstable",
        (false, _) => "BestEffort",
    }
}

/// Validates a pod spec at `path` (`spec` or `spec.template.spec`).
pub fn validate_pod_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let containers = spec["containers"].as_array();
    if containers.is_none_or(|c| c.is_empty()) {
        errors.push(FieldError::required(format!("{path}.containers")));
    }
    let mut names = HashSet::new();
    for list in ["initContainers", "containers"] {
        for (i, c) in spec[list].as_array().into_iter().flatten().enumerate() {
            let at = format!("{path}.{list}[{i}]");
            match c["name"].as_str() {
                None | Some("") => errors.push(FieldError::required(format!("{at}.name"))),
                Some(name) if !is_dns1123_label(name) => errors.push(FieldError::invalid(
                    format!("{at}.name"),
                    format!("Invalid value: \"{name}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"),
                )),
                Some(name) if !names.insert(name.to_string()) => errors.push(FieldError {
                    reason: "FieldValueDuplicate",
                    field: format!("{at}.name"),
                    message: format!("Duplicate value: \"{name}\""),
                }),
                Some(_) => {}
            }
            if c["image"].as_str().is_none_or(|s| s.trim().is_empty()) {
                errors.push(FieldError::required(format!("{at}.image")));
            }
            for (j, p) in c["ports"].as_array().into_iter().flatten().enumerate() {
                let port = p["containerPort"].as_i64().unwrap_or(0);
                if !(1..=65535).contains(&port) {
                    errors.push(FieldError::invalid(
                        format!("{at}.ports[{j}].containerPort"),
                        format!("Invalid value: {port}: must be between 1 and 65535, inclusive"),
                    ));
                }
            }
        }
    }
    if let Some(policy) = spec["restartPolicy"].as_str() {
        if !matches!(policy, "Always" | "OnFailure" | "Never") {
            errors.push(FieldError {
                reason: "FieldValueNotSupported",
                field: format!("{path}.restartPolicy"),
                message: format!("Unsupported value: \"{policy}\": supported values: \"Always\", \"OnFailure\", \"Never\""),
            });
        }
    }
    if let Some(node) = spec["nodeName"].as_str() {
        if !node.is_empty() && !is_dns1123_subdomain(node) {
            errors.push(FieldError::invalid(
                format!("{path}.nodeName"),
                format!("Invalid value: \"{node}\""),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_toleration_seconds_table() {
        let keys = |spec: &Value| {
            spec["tolerations"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .map(|t| {
                            format!(
                                "{}:{}",
                                t["key"].as_str().unwrap_or(""),
                                t["tolerationSeconds"]
                            )
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        let cases = [
            (
                json!({}),
                vec![
                    "node.kubernetes.io/not-ready:300",
                    "node.kubernetes.io/unreachable:300",
                ],
            ),
            (
                json!({"tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]}),
                vec![
                    "node.kubernetes.io/unreachable:5",
                    "node.kubernetes.io/not-ready:300",
                ],
            ),
            (
                json!({"tolerations": [{"operator": "Exists"}]}),
                vec![":null"],
            ),
            (
                json!({"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}]}),
                vec![
                    "node.kubernetes.io/not-ready:null",
                    "node.kubernetes.io/not-ready:300",
                    "node.kubernetes.io/unreachable:300",
                ],
            ),
        ];
        for (mut spec, want) in cases {
            default_toleration_seconds(&mut spec);
            assert_eq!(keys(&spec), want);
        }
    }

    #[test]
    fn qos_table() {
        let cases = [
            (json!({"containers": [{"name": "a"}]}), "BestEffort"),
            (
                json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}]}),
                "Burstable",
            ),
            (
                json!({"containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}),
                "Guaranteed",
            ),
            (
                json!({"containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}}]}),
                "Burstable",
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(qos_class(&spec), want, "{spec}");
        }
    }

    #[test]
    fn pod_spec_validation_table() {
        let cases = [
            (
                json!({"containers": [{"name": "a", "image": "busybox"}]}),
                vec![],
            ),
            (json!({"containers": []}), vec!["spec.containers"]),
            (
                json!({"containers": [{"name": "a"}]}),
                vec!["spec.containers[0].image"],
            ),
            (
                json!({"containers": [{"name": "A_b", "image": "x"}]}),
                vec!["spec.containers[0].name"],
            ),
            (
                json!({"containers": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]}),
                vec!["spec.containers[1].name"],
            ),
            (
                json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 70000}]}]}),
                vec!["spec.containers[0].ports[0].containerPort"],
            ),
            (
                json!({"containers": [{"name": "a", "image": "x"}], "restartPolicy": "Sometimes"}),
                vec!["spec.restartPolicy"],
            ),
        ];
        for (spec, want) in cases {
            let got: Vec<String> = validate_pod_spec(&spec, "spec")
                .into_iter()
                .map(|e| e.field)
                .collect();
            assert_eq!(got, want, "{spec}");
        }
    }

    #[test]
    fn graceful_delete_table() {
        let s = PodStrategy;
        let unscheduled = json!({"spec": {}});
        let running = json!({"spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 10}, "status": {"phase": "Running"}});
        let done = json!({"spec": {"nodeName": "n1"}, "status": {"phase": "Succeeded"}});
        assert_eq!(s.graceful_delete(&unscheduled, None), None);
        assert_eq!(s.graceful_delete(&running, None), Some(10));
        assert_eq!(s.graceful_delete(&running, Some(0)), None);
        assert_eq!(s.graceful_delete(&running, Some(5)), Some(5));
        assert_eq!(s.graceful_delete(&done, None), None);
    }

    #[test]
    fn image_pull_policy_defaults() {
        let mut spec = json!({"containers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "reg:5000/busybox:1.36"}, {"name": "c", "image": "x:latest"}]});
        default_pod_spec(&mut spec);
        assert_eq!(spec["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(spec["containers"][1]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(spec["containers"][2]["imagePullPolicy"], "Always");
        assert_eq!(spec["restartPolicy"], "Always");
    }
}
