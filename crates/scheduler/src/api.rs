//! The scheduler's writes to the API: the binding (`pods/binding`), and for a pod that fits
//! nowhere a `FailedScheduling` Event plus the `PodScheduled=False` condition.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Binding, Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::pod::PodInfo;

/// How a binding ended.
#[derive(Debug)]
pub enum BindOutcome {
    Bound,
    /// The pod is gone or was bound by someone else: drop it.
    Gone,
    /// Another error: retry behind the backoff.
    Failed(kube::Error),
}

/// Binds `pod` to `node` through the binding subresource.
pub async fn bind(client: kube::Client, pod: &PodInfo, node: &str) -> BindOutcome {
    let api: Api<Pod> = Api::namespaced(client, &pod.namespace);
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(pod.name.clone()),
            namespace: Some(pod.namespace.clone()),
            uid: Some(pod.uid.clone()).filter(|u| !u.is_empty()),
            ..ObjectMeta::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.to_owned()),
            ..ObjectReference::default()
        },
    };
    match api
        .create_subresource::<Binding, serde_json::Value>(
            "binding",
            &pod.name,
            &PostParams::default(),
            &binding,
        )
        .await
    {
        Ok(_) => BindOutcome::Bound,
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {
            BindOutcome::Gone
        }
        Err(e) => BindOutcome::Failed(e),
    }
}

/// One FailedScheduling report: the event to create or bump, and whether the condition changed.
#[derive(Debug, Clone)]
pub struct Failure {
    pub message: String,
    /// The event's name; the event exists already when `count > 1`.
    pub event_name: String,
    pub count: i32,
    pub first_seen: Timestamp,
    pub update_condition: bool,
}

/// Records a FailedScheduling Event (bumping `count` of the previous one when the message is
/// unchanged) and sets the pod's `PodScheduled` condition to False/Unschedulable.
pub async fn report_failure(
    client: kube::Client,
    reporter: &str,
    pod: &PodInfo,
    failure: &Failure,
) -> Result<(), kube::Error> {
    let now = Timestamp::now();
    let events: Api<Event> = Api::namespaced(client.clone(), &pod.namespace);
    let bumped = if failure.count > 1 {
        let patch = serde_json::json!({ "count": failure.count, "lastTimestamp": Time(now) });
        events
            .patch(
                &failure.event_name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .is_ok()
    } else {
        false
    };
    if !bumped {
        let event = Event {
            metadata: ObjectMeta {
                name: Some(failure.event_name.clone()),
                namespace: Some(pod.namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some(pod.name.clone()),
                namespace: Some(pod.namespace.clone()),
                uid: Some(pod.uid.clone()).filter(|u| !u.is_empty()),
                ..ObjectReference::default()
            },
            type_: Some("Warning".into()),
            reason: Some("FailedScheduling".into()),
            message: Some(failure.message.clone()),
            action: Some("Scheduling".into()),
            count: Some(failure.count),
            first_timestamp: Some(Time(failure.first_seen)),
            last_timestamp: Some(Time(now)),
            source: Some(EventSource {
                component: Some(reporter.to_owned()),
                host: None,
            }),
            reporting_component: Some(reporter.to_owned()),
            reporting_instance: Some(reporter.to_owned()),
            ..Event::default()
        };
        events.create(&PostParams::default(), &event).await?;
    }
    if failure.update_condition {
        let pods: Api<Pod> = Api::namespaced(client, &pod.namespace);
        let condition = BTreeMap::from([
            ("type", serde_json::json!("PodScheduled")),
            ("status", serde_json::json!("False")),
            ("reason", serde_json::json!("Unschedulable")),
            ("message", serde_json::json!(failure.message)),
            ("lastProbeTime", serde_json::Value::Null),
            ("lastTransitionTime", serde_json::json!(Time(now))),
        ]);
        let patch = serde_json::json!({ "status": { "conditions": [condition] } });
        pods.patch_status(
            &pod.name,
            &PatchParams::default(),
            &Patch::Strategic(&patch),
        )
        .await?;
    }
    Ok(())
}
