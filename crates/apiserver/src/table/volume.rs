//! Printers of storage and quota kinds in the core group: persistent volumes, persistent volume
//! claims and resource quotas.

use k8s_openapi::api::core::v1 as core;
use serde_json::{Value, json};

use super::format::{access_modes, object, quantity, since, text};
use super::{Printer, age_column, column, doc, name_column};

pub fn printer(kind: &str) -> Option<Printer> {
    Some(match kind {
        "PersistentVolume" => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Capacity",
                        "string",
                        doc::<core::PersistentVolumeSpec>("capacity"),
                        0,
                    ),
                    column(
                        "Access Modes",
                        "string",
                        doc::<core::PersistentVolumeSpec>("accessModes"),
                        0,
                    ),
                    column(
                        "Reclaim Policy",
                        "string",
                        doc::<core::PersistentVolumeSpec>("persistentVolumeReclaimPolicy"),
                        0,
                    ),
                    column(
                        "Status",
                        "string",
                        doc::<core::PersistentVolumeStatus>("phase"),
                        0,
                    ),
                    column(
                        "Claim",
                        "string",
                        doc::<core::PersistentVolumeSpec>("claimRef"),
                        0,
                    ),
                    column("StorageClass", "string", "StorageClass of the pv", 0),
                    column(
                        "VolumeAttributesClass",
                        "string",
                        "VolumeAttributesClass of the pv",
                        0,
                    ),
                    column(
                        "Reason",
                        "string",
                        doc::<core::PersistentVolumeStatus>("reason"),
                        0,
                    ),
                    age_column(),
                    column(
                        "VolumeMode",
                        "string",
                        doc::<core::PersistentVolumeSpec>("volumeMode"),
                        1,
                    ),
                ]
            },
            persistent_volume,
        ),
        "PersistentVolumeClaim" => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Status",
                        "string",
                        doc::<core::PersistentVolumeClaimStatus>("phase"),
                        0,
                    ),
                    column(
                        "Volume",
                        "string",
                        doc::<core::PersistentVolumeClaimSpec>("volumeName"),
                        0,
                    ),
                    column(
                        "Capacity",
                        "string",
                        doc::<core::PersistentVolumeClaimStatus>("capacity"),
                        0,
                    ),
                    column(
                        "Access Modes",
                        "string",
                        doc::<core::PersistentVolumeClaimStatus>("accessModes"),
                        0,
                    ),
                    column("StorageClass", "string", "StorageClass of the pvc", 0),
                    column(
                        "VolumeAttributesClass",
                        "string",
                        "VolumeAttributesClass of the pvc",
                        0,
                    ),
                    age_column(),
                    column(
                        "VolumeMode",
                        "string",
                        doc::<core::PersistentVolumeClaimSpec>("volumeMode"),
                        1,
                    ),
                ]
            },
            persistent_volume_claim,
        ),
        "ResourceQuota" => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Request",
                        "string",
                        "Request represents a minimum amount of cpu/memory that a container may consume.",
                        0,
                    ),
                    column(
                        "Limit",
                        "string",
                        "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
                        0,
                    ),
                    age_column(),
                ]
            },
            resource_quota,
        ),
        _ => return None,
    })
}

fn persistent_volume(o: &Value, now: i64) -> Vec<Value> {
    let spec = &o["spec"];
    let claim = match spec["claimRef"].is_object() {
        true => format!(
            "{}/{}",
            text(&spec["claimRef"]["namespace"]),
            text(&spec["claimRef"]["name"])
        ),
        false => String::new(),
    };
    let phase = if o["metadata"]["deletionTimestamp"].is_null() {
        text(&o["status"]["phase"])
    } else {
        "Terminating"
    };
    let class = o["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"]
        .as_str()
        .unwrap_or_else(|| text(&spec["storageClassName"]));
    vec![
        o["metadata"]["name"].clone(),
        json!(quantity(&spec["capacity"]["storage"])),
        json!(access_modes(&spec["accessModes"])),
        json!(text(&spec["persistentVolumeReclaimPolicy"])),
        json!(phase),
        json!(claim),
        json!(class),
        json!(
            spec["volumeAttributesClassName"]
                .as_str()
                .unwrap_or("<unset>")
        ),
        json!(text(&o["status"]["reason"])),
        json!(since(&o["metadata"]["creationTimestamp"], now)),
        json!(spec["volumeMode"].as_str().unwrap_or("<unset>")),
    ]
}

fn persistent_volume_claim(o: &Value, now: i64) -> Vec<Value> {
    let spec = &o["spec"];
    let phase = if o["metadata"]["deletionTimestamp"].is_null() {
        text(&o["status"]["phase"])
    } else {
        "Terminating"
    };
    let bound = !text(&spec["volumeName"]).is_empty();
    let (capacity, modes) = match bound {
        true => (
            quantity(&o["status"]["capacity"]["storage"]),
            access_modes(&o["status"]["accessModes"]),
        ),
        false => (String::new(), String::new()),
    };
    let class = o["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"]
        .as_str()
        .unwrap_or_else(|| text(&spec["storageClassName"]));
    vec![
        o["metadata"]["name"].clone(),
        json!(phase),
        json!(text(&spec["volumeName"])),
        json!(capacity),
        json!(modes),
        json!(class),
        json!(
            spec["volumeAttributesClassName"]
                .as_str()
                .unwrap_or("<unset>")
        ),
        json!(since(&o["metadata"]["creationTimestamp"], now)),
        json!(spec["volumeMode"].as_str().unwrap_or("<unset>")),
    ]
}

fn resource_quota(o: &Value, now: i64) -> Vec<Value> {
    let hard = object(&o["status"]["hard"]);
    let mut names: Vec<&String> = hard.map(|h| h.keys().collect()).unwrap_or_default();
    names.sort();
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for name in names {
        let used = o["status"]["used"]
            .get(name.as_str())
            .map_or("0".to_string(), quantity);
        let entry = format!(
            "{name}: {used}/{}",
            quantity(&o["status"]["hard"][name.as_str()])
        );
        if name.split('.').count() > 1 && name.starts_with("limits.") {
            limits.push(entry)
        } else {
            requests.push(entry)
        }
    }
    vec![
        o["metadata"]["name"].clone(),
        json!(requests.join(", ")),
        json!(limits.join(", ")),
        json!(since(&o["metadata"]["creationTimestamp"], now)),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    // The core printer covers these kinds too (it falls back to this module).
    use crate::table::core::printer;
    use crate::table::tests::{ago, cells};

    fn check(kind: &str, obj: Value, want: Value) {
        let p = printer(kind).expect(kind);
        assert_eq!(Value::from(cells(&p, &obj)), want, "{kind}: {obj}");
    }

    #[test]
    fn config_and_storage_like_upstream() {
        let meta = json!({"name": "x", "creationTimestamp": ago(5)});
        check(
            "ConfigMap",
            json!({"metadata": meta, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
            json!(["x", 3, "5s"]),
        );
        check(
            "Secret",
            json!({"metadata": meta, "type": "Opaque", "data": {"a": "MQ=="}}),
            json!(["x", "Opaque", 1, "5s"]),
        );
        check(
            "ServiceAccount",
            json!({"metadata": meta}),
            json!(["x", 0, "5s"]),
        );
        check(
            "PersistentVolume",
            json!({"metadata": meta, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain", "claimRef": {"namespace": "default", "name": "data"}, "storageClassName": "local"}, "status": {"phase": "Bound"}}),
            json!([
                "x",
                "1Gi",
                "RWO",
                "Retain",
                "Bound",
                "default/data",
                "local",
                "<unset>",
                "",
                "5s",
                "<unset>"
            ]),
        );
        check(
            "PersistentVolumeClaim",
            json!({"metadata": meta, "spec": {"volumeName": "pv1", "storageClassName": "local", "volumeMode": "Filesystem"}, "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}}),
            json!([
                "x",
                "Bound",
                "pv1",
                "1Gi",
                "RWO",
                "local",
                "<unset>",
                "5s",
                "Filesystem"
            ]),
        );
        check(
            "PersistentVolumeClaim",
            json!({"metadata": meta, "spec": {"resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Pending"}}),
            json!(["x", "Pending", "", "", "", "", "<unset>", "5s", "<unset>"]),
        );
        check(
            "ResourceQuota",
            json!({"metadata": meta, "status": {"hard": {"pods": "10", "limits.cpu": "2", "requests.memory": "1Gi"}, "used": {"pods": "3"}}}),
            json!([
                "x",
                "pods: 3/10, requests.memory: 0/1Gi",
                "limits.cpu: 0/2",
                "5s"
            ]),
        );
        check(
            "ReplicationController",
            json!({"metadata": meta, "spec": {"replicas": 2, "selector": {"app": "r"}, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}, "status": {"replicas": 2, "readyReplicas": 1}}),
            json!(["x", 2, 2, 1, "5s", "c", "i", "app=r"]),
        );
        check(
            "PodTemplate",
            json!({"metadata": meta, "template": {"metadata": {"labels": {"app": "t"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}),
            json!(["x", "c", "i", "app=t"]),
        );
    }
}
