//! Workload resources (Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs,
//! ReplicationControllers): defaults, selector/template validation and immutable selectors.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::pod::{default_pod_spec, validate_pod_spec};
use super::{child, default_field};
use crate::error::FieldError;
use crate::registry::Strategy;
use crate::selector::{LabelRequirement, LabelSelector};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ReplicationController,
}

pub struct WorkloadStrategy(pub Workload);

impl WorkloadStrategy {
    /// Where the pod template sits.
    fn template_path(&self) -> &'static [&'static str] {
        match self.0 {
            Workload::CronJob => &["spec", "jobTemplate", "spec", "template"],
            _ => &["spec", "template"],
        }
    }
}

fn at<'a>(obj: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(obj, |v, k| &v[*k])
}

fn at_mut<'a>(obj: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    path.iter().try_fold(obj, |v, k| v.get_mut(*k))
}

impl Strategy for WorkloadStrategy {
    fn has_status(&self) -> bool {
        true
    }

    fn prepare_create(&self, obj: &mut Value) {
        let uid = obj["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if self.0 == Workload::Job
            && obj["spec"]["manualSelector"] != json!(true)
            && obj["spec"]["selector"].is_null()
            && !uid.is_empty()
        {
            // Jobs get a selector on their own uid unless the user opts out.
            obj["spec"]["selector"] =
                json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
            if let Some(meta) = obj["spec"]
                .get_mut("template")
                .and_then(|t| child(t, "metadata"))
            {
                if let Some(labels) = child(meta, "labels") {
                    labels["batch.kubernetes.io/controller-uid"] = json!(uid);
                    labels["controller-uid"] = json!(uid);
                }
            }
        }
        obj["status"] = json!({});
    }

    fn default(&self, obj: &mut Value) {
        let kind = self.0;
        if let Some(spec) = child(obj, "spec") {
            match kind {
                Workload::Deployment => {
                    default_field(spec, "replicas", json!(1));
                    default_field(spec, "revisionHistoryLimit", json!(10));
                    default_field(spec, "progressDeadlineSeconds", json!(600));
                    if let Some(strategy) = child(spec, "strategy") {
                        default_field(strategy, "type", json!("RollingUpdate"));
                    }
                    if spec["strategy"]["type"] == "RollingUpdate" {
                        if let Some(strategy) = spec.get_mut("strategy") {
                            default_field(
                                strategy,
                                "rollingUpdate",
                                json!({"maxUnavailable": "25%", "maxSurge": "25%"}),
                            );
                        }
                    }
                }
                Workload::ReplicaSet => default_field(spec, "replicas", json!(1)),
                Workload::StatefulSet => {
                    default_field(spec, "replicas", json!(1));
                    default_field(spec, "podManagementPolicy", json!("OrderedReady"));
                    default_field(spec, "revisionHistoryLimit", json!(10));
                    default_field(
                        spec,
                        "updateStrategy",
                        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                    );
                }
                Workload::DaemonSet => {
                    default_field(spec, "revisionHistoryLimit", json!(10));
                    default_field(
                        spec,
                        "updateStrategy",
                        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
                    );
                }
                Workload::Job => {
                    default_field(spec, "parallelism", json!(1));
                    default_field(spec, "completions", json!(1));
                    default_field(spec, "backoffLimit", json!(6));
                    default_field(spec, "completionMode", json!("NonIndexed"));
                    default_field(spec, "suspend", json!(false));
                }
                Workload::CronJob => {
                    default_field(spec, "concurrencyPolicy", json!("Allow"));
                    default_field(spec, "suspend", json!(false));
                    default_field(spec, "successfulJobsHistoryLimit", json!(3));
                    default_field(spec, "failedJobsHistoryLimit", json!(1));
                }
                Workload::ReplicationController => {
                    default_field(spec, "replicas", json!(1));
                    // An absent selector defaults to the template's labels.
                    if spec["selector"].is_null() {
                        let labels = spec["template"]["metadata"]["labels"].clone();
                        if labels.is_object() {
                            spec["selector"] = labels;
                        }
                    }
                }
            }
        }
        if let Some(template_spec) =
            at_mut(obj, self.template_path()).and_then(|t| t.get_mut("spec"))
        {
            let restart = if matches!(kind, Workload::Job | Workload::CronJob) {
                "Never"
            } else {
                "Always"
            };
            default_field(template_spec, "restartPolicy", json!(restart));
            default_pod_spec(template_spec);
        }
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let template_path = self.template_path();
        let path = template_path.join(".");
        let template = at(obj, template_path);
        let mut errors = validate_pod_spec(&template["spec"], &format!("{path}.spec"));
        let restart = template["spec"]["restartPolicy"]
            .as_str()
            .unwrap_or("Always");
        match self.0 {
            Workload::Job | Workload::CronJob if !matches!(restart, "OnFailure" | "Never") => errors.push(FieldError {
                reason: "FieldValueNotSupported",
                field: format!("{path}.spec.restartPolicy"),
                message: format!("Unsupported value: \"{restart}\": supported values: \"OnFailure\", \"Never\""),
            }),
            Workload::Job | Workload::CronJob => {}
            _ if restart != "Always" => errors.push(FieldError {
                reason: "FieldValueNotSupported",
                field: format!("{path}.spec.restartPolicy"),
                message: format!("Unsupported value: \"{restart}\": supported values: \"Always\""),
            }),
            _ => {}
        }
        if self.0 == Workload::CronJob {
            if obj["spec"]["schedule"].as_str().is_none_or(str::is_empty) {
                errors.push(FieldError::required("spec.schedule"));
            }
            return errors;
        }
        let labels: BTreeMap<String, String> =
            serde_json::from_value(template["metadata"]["labels"].clone()).unwrap_or_default();
        let selector = &obj["spec"]["selector"];
        let parsed = if self.0 == Workload::ReplicationController {
            let pairs: BTreeMap<String, String> =
                serde_json::from_value(selector.clone()).unwrap_or_default();
            Some(LabelSelector(
                pairs
                    .into_iter()
                    .map(|(k, v)| LabelRequirement::Equals(k, v))
                    .collect(),
            ))
        } else {
            selector_from_object(selector)
        };
        match parsed {
            None => errors.push(FieldError::required("spec.selector")),
            Some(sel) if sel.is_empty() => errors.push(FieldError::invalid(
                "spec.selector",
                "Invalid value: empty selector is invalid for deployment",
            )),
            Some(sel) if !sel.matches(&labels) => errors.push(FieldError::invalid(
                format!("{path}.metadata.labels"),
                format!(
                    "Invalid value: {}: `selector` does not match template `labels`",
                    template["metadata"]["labels"]
                ),
            )),
            Some(_) => {}
        }
        for field in ["replicas", "parallelism", "completions"] {
            if obj["spec"][field].as_i64().is_some_and(|n| n < 0) {
                errors.push(FieldError::invalid(
                    format!("spec.{field}"),
                    "Invalid value: must be greater than or equal to 0",
                ));
            }
        }
        errors
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let immutable = !matches!(self.0, Workload::CronJob | Workload::ReplicationController);
        if immutable && new["spec"]["selector"] != old["spec"]["selector"] {
            return vec![FieldError::invalid("spec.selector", "field is immutable")];
        }
        Vec::new()
    }
}

/// Parses a `metav1.LabelSelector` object (matchLabels + matchExpressions); `None` if absent.
pub fn selector_from_object(selector: &Value) -> Option<LabelSelector> {
    if !selector.is_object() {
        return None;
    }
    let mut reqs = Vec::new();
    if let Some(labels) = selector["matchLabels"].as_object() {
        for (k, v) in labels {
            reqs.push(LabelRequirement::Equals(
                k.clone(),
                v.as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    for expr in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = expr["key"].as_str().unwrap_or_default().to_string();
        let values: Vec<String> = expr["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        reqs.push(match expr["operator"].as_str().unwrap_or_default() {
            "In" => LabelRequirement::In(key, values),
            "NotIn" => LabelRequirement::NotIn(key, values),
            "Exists" => LabelRequirement::Exists(key),
            _ => LabelRequirement::NotExists(key),
        });
    }
    Some(LabelSelector(reqs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(selector: Value, labels: Value) -> Value {
        json!({"metadata": {"name": "web", "uid": "u1"}, "spec": {"selector": selector, "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    }

    #[test]
    fn deployment_validation_table() {
        let s = WorkloadStrategy(Workload::Deployment);
        let cases = [
            (
                deployment(
                    json!({"matchLabels": {"app": "web"}}),
                    json!({"app": "web"}),
                ),
                vec![],
            ),
            (
                deployment(Value::Null, json!({"app": "web"})),
                vec!["spec.selector"],
            ),
            (
                deployment(json!({"matchLabels": {"app": "db"}}), json!({"app": "web"})),
                vec!["spec.template.metadata.labels"],
            ),
            (
                deployment(
                    json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}),
                    json!({"app": "web"}),
                ),
                vec![],
            ),
        ];
        for (mut obj, want) in cases {
            s.default(&mut obj);
            s.prepare_create(&mut obj);
            let got: Vec<String> = s.validate(&obj).into_iter().map(|e| e.field).collect();
            assert_eq!(got, want, "{obj}");
        }
    }

    #[test]
    fn defaults_are_applied() {
        let mut obj = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        );
        WorkloadStrategy(Workload::Deployment).default(&mut obj);
        assert_eq!(obj["spec"]["replicas"], 1);
        assert_eq!(obj["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        assert_eq!(obj["spec"]["template"]["spec"]["restartPolicy"], "Always");
    }

    #[test]
    fn jobs_select_their_own_uid() {
        let mut job = json!({"metadata": {"name": "j", "uid": "abc"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}}});
        let s = WorkloadStrategy(Workload::Job);
        s.default(&mut job);
        s.prepare_create(&mut job);
        assert_eq!(
            job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
            "abc"
        );
        assert!(s.validate(&job).is_empty(), "{:?}", s.validate(&job));
    }

    #[test]
    fn selector_is_immutable() {
        let s = WorkloadStrategy(Workload::Deployment);
        let old = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        );
        let new = deployment(json!({"matchLabels": {"app": "x"}}), json!({"app": "x"}));
        assert_eq!(s.validate_update(&new, &old).len(), 1);
        assert!(s.validate_update(&old, &old).is_empty());
    }
}
