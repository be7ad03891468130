//! Pods as a cache needs them: [`LeanPod`] reads a Pod from the API without
//! `metadata.managedFields`.
//!
//! managedFields are for server-side apply, which no informer reads (upstream's controller
//! manager drops them from its caches too), yet they are nearly half the bytes of a pod and by
//! far its dearest part to decode: every `FieldsV1` becomes a tree of JSON maps. Watching
//! `Api<LeanPod>` skips them while reading (serde passes over unknown fields without
//! building anything), so a pod event costs about half to decode and to keep.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde::{Deserialize, Deserializer};

/// A Pod read without its managedFields; `.0` is the ordinary k8s-openapi Pod.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeanPod(pub Pod);

impl LeanPod {
    pub fn into_inner(self) -> Pod {
        self.0
    }
}

/// Every field of a Pod but the ones listed in [`LeanMeta`]'s doc.
#[derive(Deserialize)]
struct RawPod {
    #[serde(default)]
    metadata: LeanMeta,
    spec: Option<PodSpec>,
    status: Option<PodStatus>,
}

/// ObjectMeta without `managedFields` (skipped as an unknown field).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct LeanMeta {
    annotations: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
    deletion_grace_period_seconds: Option<i64>,
    deletion_timestamp: Option<Time>,
    finalizers: Option<Vec<String>>,
    generate_name: Option<String>,
    generation: Option<i64>,
    labels: Option<BTreeMap<String, String>>,
    name: Option<String>,
    namespace: Option<String>,
    owner_references: Option<Vec<OwnerReference>>,
    resource_version: Option<String>,
    self_link: Option<String>,
    uid: Option<String>,
}

impl From<LeanMeta> for ObjectMeta {
    fn from(m: LeanMeta) -> ObjectMeta {
        ObjectMeta {
            annotations: m.annotations,
            creation_timestamp: m.creation_timestamp,
            deletion_grace_period_seconds: m.deletion_grace_period_seconds,
            deletion_timestamp: m.deletion_timestamp,
            finalizers: m.finalizers,
            generate_name: m.generate_name,
            generation: m.generation,
            labels: m.labels,
            managed_fields: None,
            name: m.name,
            namespace: m.namespace,
            owner_references: m.owner_references,
            resource_version: m.resource_version,
            self_link: m.self_link,
            uid: m.uid,
        }
    }
}

impl<'de> Deserialize<'de> for LeanPod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawPod::deserialize(d)?;
        Ok(LeanPod(Pod {
            metadata: raw.metadata.into(),
            spec: raw.spec,
            status: raw.status,
        }))
    }
}

impl k8s_openapi::Resource for LeanPod {
    const API_VERSION: &'static str = <Pod as k8s_openapi::Resource>::API_VERSION;
    const GROUP: &'static str = <Pod as k8s_openapi::Resource>::GROUP;
    const KIND: &'static str = <Pod as k8s_openapi::Resource>::KIND;
    const VERSION: &'static str = <Pod as k8s_openapi::Resource>::VERSION;
    const URL_PATH_SEGMENT: &'static str = <Pod as k8s_openapi::Resource>::URL_PATH_SEGMENT;
    type Scope = <Pod as k8s_openapi::Resource>::Scope;
}

impl k8s_openapi::Metadata for LeanPod {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.0.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.0.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod_json() -> serde_json::Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "web-1", "namespace": "default", "uid": "u1", "resourceVersion": "42",
                "generateName": "web-", "generation": 1,
                "creationTimestamp": "2026-11-26T00:00:00Z",
                "deletionTimestamp": "2026-11-26T00:01:00Z", "deletionGracePeriodSeconds": 30,
                "labels": {"app": "web"}, "annotations": {"a": "b"}, "finalizers": ["f"],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                    "uid": "rs1", "controller": true, "blockOwnerDeletion": true}],
                "managedFields": [{"manager": "m", "operation": "Update", "apiVersion": "v1",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:containers": {}}}}]
            },
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]},
            "status": {"phase": "Running", "podIP": "10.42.0.5"}
        })
    }

    #[test]
    fn reads_everything_but_managed_fields() {
        let value = pod_json();
        let lean: LeanPod = serde_json::from_value(value.clone()).expect("a lean pod");
        let mut full: Pod = serde_json::from_value(value).expect("a pod");
        assert!(full.metadata.managed_fields.is_some());
        full.metadata.managed_fields = None;
        assert_eq!(lean.into_inner(), full);
    }

    #[test]
    fn is_watched_as_pods() {
        use kube::Resource;
        assert_eq!(LeanPod::kind(&()), "Pod");
        assert_eq!(LeanPod::plural(&()), "pods");
        assert_eq!(LeanPod::api_version(&()), "v1");
        assert_eq!(
            LeanPod::url_path(&(), Some("default")),
            "/api/v1/namespaces/default/pods"
        );
    }
}
