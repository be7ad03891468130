//! What client-go reads from a protobuf API server, checked with prost and `k8s-pb`: watch
//! frames (raw `WatchEvent` + enveloped object), lists whose `ListMeta` keeps `continue` and
//! `resourceVersion`, `PartialObjectMetadata(List)` and `Status`.

use anyhow::{Context, Result, ensure};
use k8s_pb::api::core::v1::{Pod, PodList};
use k8s_pb::apimachinery::pkg::apis::meta::v1::{
    APIResourceList, PartialObjectMetadata, PartialObjectMetadataList, Status, WatchEvent,
};
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{Value, json};

/// Strips `k8s\0`, checks the envelope's type meta and decodes its `raw` as `M`.
fn unwrap<M: Message + Default>(body: &[u8], api_version: &str, kind: &str) -> Result<M> {
    let rest = body
        .strip_prefix(&gantry_protobuf::MAGIC)
        .context("magic")?;
    let unknown = Unknown::decode(rest)?;
    let tm = unknown.type_meta.context("type meta")?;
    ensure!(tm.api_version.as_deref() == Some(api_version), "{tm:?}");
    ensure!(tm.kind.as_deref() == Some(kind), "{tm:?}");
    Ok(M::decode(unknown.raw.unwrap_or_default().as_slice())?)
}

fn pod(name: &str, rv: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": rv, "labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        "status": {"phase": "Pending"}
    })
}

#[test]
fn watch_frames_decode_with_client_go_types() -> Result<()> {
    let mut stream = gantry_protobuf::encode_watch_frame("ADDED", &pod("a", "5"))?;
    stream.extend(gantry_protobuf::encode_watch_frame(
        "DELETED",
        &pod("b", "6"),
    )?);
    let mut rest = stream.as_slice();
    let mut seen = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into()?) as usize;
        let event = WatchEvent::decode(&rest[4..4 + len])?;
        rest = &rest[4 + len..];
        let raw = event.object.and_then(|o| o.raw).context("object.raw")?;
        let pod: Pod = unwrap(&raw, "v1", "Pod")?;
        let meta = pod.metadata.context("metadata")?;
        seen.push((
            event.r#type.unwrap_or_default(),
            meta.name.unwrap_or_default(),
            meta.resource_version.unwrap_or_default(),
        ));
    }
    let want = [("ADDED", "a", "5"), ("DELETED", "b", "6")];
    let want: Vec<_> = want
        .iter()
        .map(|(t, n, v)| (t.to_string(), n.to_string(), v.to_string()))
        .collect();
    assert_eq!(seen, want);
    Ok(())
}

#[test]
fn error_event_carries_a_status() -> Result<()> {
    let status = json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": 410,
        "reason": "Expired", "message": "too old resource version: 3", "metadata": {}});
    let frame = gantry_protobuf::encode_watch_frame("ERROR", &status)?;
    let (message, rest) = gantry_protobuf::split_frame(&frame)?.context("whole frame")?;
    assert!(rest.is_empty());
    let event = WatchEvent::decode(message)?;
    assert_eq!(event.r#type.as_deref(), Some("ERROR"));
    let raw = event.object.and_then(|o| o.raw).context("raw")?;
    let status: Status = unwrap(&raw, "v1", "Status")?;
    assert_eq!(
        (status.code, status.reason.as_deref()),
        (Some(410), Some("Expired"))
    );
    Ok(())
}

#[test]
fn list_meta_keeps_continue_and_resource_version() -> Result<()> {
    let list = json!({"apiVersion": "v1", "kind": "PodList",
        "metadata": {"resourceVersion": "42", "continue": "eyJ0b2tlbiI6MX0", "remainingItemCount": 3},
        "items": [pod("a", "40"), pod("b", "41")]});
    let list: PodList = unwrap(&gantry_protobuf::encode(&list)?, "v1", "PodList")?;
    let meta = list.metadata.context("list metadata")?;
    assert_eq!(meta.resource_version.as_deref(), Some("42"));
    assert_eq!(meta.r#continue.as_deref(), Some("eyJ0b2tlbiI6MX0"));
    assert_eq!(meta.remaining_item_count, Some(3));
    let names: Vec<_> = list
        .items
        .iter()
        .filter_map(|p| p.metadata.as_ref()?.name.clone())
        .collect();
    assert_eq!(names, ["a", "b"]);
    Ok(())
}

#[test]
fn partial_object_metadata_in_protobuf() -> Result<()> {
    let one = json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
        "metadata": {"name": "a", "namespace": "default", "resourceVersion": "9", "labels": {"app": "x"}}});
    let body = gantry_protobuf::encode(&one)?;
    let pom: PartialObjectMetadata = unwrap(&body, "meta.k8s.io/v1", "PartialObjectMetadata")?;
    let meta = pom.metadata.context("metadata")?;
    assert_eq!(meta.name.as_deref(), Some("a"));
    assert_eq!(meta.labels.get("app").map(String::as_str), Some("x"));
    assert_eq!(gantry_protobuf::decode(&body)?, one);

    let list = json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList",
        "metadata": {"resourceVersion": "10", "continue": "c"}, "items": [one]});
    let body = gantry_protobuf::encode(&list)?;
    let pl: PartialObjectMetadataList =
        unwrap(&body, "meta.k8s.io/v1", "PartialObjectMetadataList")?;
    assert_eq!(pl.items.len(), 1);
    assert_eq!(pl.metadata.and_then(|m| m.r#continue).as_deref(), Some("c"));
    Ok(())
}

/// `metav1.Verbs` is a Go `[]string` with its own message `{repeated string items = 1}`.
#[test]
fn discovery_verbs_are_a_message_on_the_wire() -> Result<()> {
    let list = json!({"apiVersion": "v1", "kind": "APIResourceList", "groupVersion": "v1",
        "resources": [{"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod",
            "verbs": ["get", "list", "watch"], "shortNames": ["po"]}]});
    let body = gantry_protobuf::encode(&list)?;
    let pb: APIResourceList = unwrap(&body, "v1", "APIResourceList")?;
    let verbs = pb.resources[0].verbs.clone().context("verbs")?;
    assert_eq!(verbs.items, ["get", "list", "watch"]);
    assert_eq!(gantry_protobuf::decode(&body)?, list);
    Ok(())
}

#[test]
fn every_list_kind_of_a_supported_kind_is_supported() {
    let kinds = [
        ("v1", "PodList"),
        ("v1", "ServiceList"),
        ("v1", "EventList"),
        ("apps/v1", "DeploymentList"),
        ("batch/v1", "JobList"),
        ("events.k8s.io/v1", "EventList"),
        ("rbac.authorization.k8s.io/v1", "RoleBindingList"),
        ("coordination.k8s.io/v1", "LeaseList"),
        ("meta.k8s.io/v1", "PartialObjectMetadataList"),
        ("v1", "Status"),
    ];
    for (v, k) in kinds {
        assert!(gantry_protobuf::supports(v, k), "{v} {k}");
    }
    // Table is JSON-only upstream (`+protobuf=false`), custom resources have no protobuf.
    assert!(!gantry_protobuf::supports("meta.k8s.io/v1", "Table"));
    assert!(!gantry_protobuf::supports("example.com/v1", "Widget"));
}
