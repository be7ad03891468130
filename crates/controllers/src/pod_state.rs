//! Pure predicates over pods and pod templates that every workload controller uses: whether a pod
//! is active, ready or available, and how a pod is built from a template for an owner.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;

/// A pod that counts toward its owner: not terminating and not finished.
pub fn is_active(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase(pod), "Succeeded" | "Failed")
}

/// The pod's phase, "Pending" when it has none yet.
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// When the pod's Ready condition turned True, if it is True.
pub fn ready_since(pod: &Pod) -> Option<Option<Timestamp>> {
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    let ready = conditions.iter().find(|c| c.type_ == "Ready")?;
    (ready.status == "True").then(|| ready.last_transition_time.as_ref().map(|t| t.0))
}

/// The pod's Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Ready for at least `min_ready_seconds` at `now` (a Ready pod without a transition time counts).
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_since(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(None) => true,
        Some(Some(since)) => since.as_second() + i64::from(min_ready_seconds) <= now.as_second(),
    }
}

/// Seconds until a ready pod becomes available, if it is ready but not yet available.
pub fn seconds_to_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> Option<u64> {
    let since = ready_since(pod)??;
    let left = since.as_second() + i64::from(min_ready_seconds) - now.as_second();
    (left > 0).then_some(left as u64)
}

/// Total container restarts of the pod.
pub fn restarts(pod: &Pod) -> i32 {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref());
    statuses
        .map(|v| v.iter().map(|c| c.restart_count).sum())
        .unwrap_or(0)
}

/// The pod's labels (empty when it has none).
pub fn labels(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

/// A pod for `owner` from `template`: labels, annotations and spec from the template, the owner
/// as controller, and either a fixed `name` or `generate_name` (upstream's `<owner>-` prefix).
pub fn pod_from_template(
    template: &PodTemplateSpec,
    namespace: &str,
    owner: OwnerReference,
    name: PodName,
    extra_labels: &BTreeMap<String, String>,
) -> Pod {
    let tmeta = template.metadata.clone().unwrap_or_default();
    let mut labels = tmeta.labels.unwrap_or_default();
    labels.extend(extra_labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    let (name, generate_name) = match name {
        PodName::Fixed(n) => (Some(n), None),
        PodName::Generate(prefix) => (None, Some(format!("{prefix}-"))),
    };
    Pod {
        metadata: ObjectMeta {
            name,
            generate_name,
            namespace: Some(namespace.to_string()),
            labels: Some(labels),
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// How a new pod is named.
pub enum PodName {
    /// Exactly this name (StatefulSet ordinals).
    Fixed(String),
    /// `generateName: <prefix>-`, the server appends 5 random characters.
    Generate(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pod(phase: &str, ready_at: Option<i64>) -> Pod {
        let conditions = ready_at.map(|t| {
            vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Time(Timestamp::from_second(t).unwrap_or_default())),
                ..Default::default()
            }]
        });
        Pod {
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn availability_table() {
        let now = Timestamp::from_second(1000).unwrap_or_default();
        let cases = [
            (pod("Running", None), 0, false),
            (pod("Running", Some(990)), 0, true),
            (pod("Running", Some(990)), 10, true),
            (pod("Running", Some(995)), 10, false),
        ];
        for (p, min, want) in cases {
            assert_eq!(is_available(&p, min, now), want, "min {min}");
        }
        assert_eq!(
            seconds_to_available(&pod("Running", Some(995)), 10, now),
            Some(5)
        );
    }

    #[test]
    fn active_table() {
        assert!(is_active(&pod("Running", None)));
        assert!(is_active(&pod("Pending", None)));
        assert!(!is_active(&pod("Succeeded", None)));
        assert!(!is_active(&pod("Failed", None)));
        let mut terminating = pod("Running", None);
        terminating.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert!(!is_active(&terminating));
    }

    #[test]
    fn template_to_pod() {
        let template = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "x".to_string())].into()),
                ..Default::default()
            }),
            spec: None,
        };
        let owner = OwnerReference {
            name: "rs".into(),
            ..Default::default()
        };
        let extra = [("h".to_string(), "1".to_string())].into();
        let p = pod_from_template(
            &template,
            "ns",
            owner,
            PodName::Generate("rs".into()),
            &extra,
        );
        assert_eq!(p.metadata.generate_name.as_deref(), Some("rs-"));
        assert_eq!(p.metadata.labels.unwrap_or_default().len(), 2);
    }
}
