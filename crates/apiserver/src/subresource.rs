//! Subresources with their own kinds: `scale` (autoscaling/v1 Scale), `binding` (assigns a
//! pod to a node) and `eviction` (deletes a pod through the eviction API).

use serde_json::{Value, json};

use crate::decode::MediaType;
use crate::error::{ApiError, ApiResult};
use crate::object::meta_str;
use crate::query::Query;
use crate::registry::ResourceDef;
use crate::registry::strategies::workload::selector_from_object;
use crate::storage::{Storage, subject};

fn selector_string(obj: &Value) -> String {
    let selector = &obj["spec"]["selector"];
    if obj["kind"] == "ReplicationController" {
        let mut pairs: Vec<String> = selector
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        pairs.sort();
        return pairs.join(",");
    }
    let mut parts: Vec<String> = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    if selector_from_object(selector).is_some() {
        for e in selector["matchExpressions"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let key = e["key"].as_str().unwrap_or_default();
            let values: Vec<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            parts.push(match e["operator"].as_str().unwrap_or_default() {
                "In" => format!("{key} in ({})", values.join(",")),
                "NotIn" => format!("{key} notin ({})", values.join(",")),
                "Exists" => key.to_string(),
                _ => format!("!{key}"),
            });
        }
    }
    parts.join(",")
}

/// Where replicas live: custom resources say so in their CRD.
fn scale_paths(def: &ResourceDef) -> (String, String) {
    match def.custom.as_ref().and_then(|c| c.scale.as_ref()) {
        Some(p) => (p.spec_replicas.clone(), p.status_replicas.clone()),
        None => ("spec.replicas".into(), "status.replicas".into()),
    }
}

fn at_path<'a>(obj: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(obj, |v, k| &v[k])
}

fn set_path(obj: &mut Value, path: &str, value: Value) {
    let mut cur = obj;
    for key in path.split('.') {
        if !cur.is_object() {
            *cur = json!({});
        }
        cur = &mut cur[key];
    }
    *cur = value;
}

fn scale_of(def: &ResourceDef, obj: &Value) -> Value {
    let (spec_path, status_path) = scale_paths(def);
    let selector = match def
        .custom
        .as_ref()
        .and_then(|c| c.scale.as_ref())
        .and_then(|s| s.label_selector.as_deref())
    {
        Some(path) => at_path(obj, path).as_str().unwrap_or_default().to_string(),
        None => selector_string(obj),
    };
    let meta = &obj["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"], "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
        "spec": {"replicas": at_path(obj, &spec_path).as_i64().unwrap_or(0)},
        "status": {"replicas": at_path(obj, &status_path).as_i64().unwrap_or(0), "selector": selector},
    })
}

pub async fn get_scale(
    storage: &Storage,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
) -> ApiResult<Value> {
    Ok(scale_of(def, &storage.get(def, ns, name).await?))
}

/// Sets `spec.replicas` from a Scale object.
pub async fn put_scale(
    storage: &Storage,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    scale: Value,
    q: &Query,
) -> ApiResult<Value> {
    let replicas = scale["spec"]["replicas"]
        .as_i64()
        .filter(|r| *r >= 0)
        .ok_or_else(|| {
            ApiError::Invalid(
                subject(def, name),
                vec![crate::error::FieldError::invalid(
                    "spec.replicas",
                    "must be greater than or equal to 0",
                )],
            )
        })?;
    let (spec_path, _) = scale_paths(def);
    let precondition = meta_str(&scale, "resourceVersion")
        .filter(|rv| !rv.is_empty())
        .map(str::to_string);
    let written = storage
        .guaranteed_update(def, ns, name, None, q, |old| {
            let mut new = old.clone();
            set_path(&mut new, &spec_path, json!(replicas));
            match &precondition {
                Some(rv) => new["metadata"]["resourceVersion"] = json!(rv),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove("resourceVersion");
                    }
                }
            }
            Ok(new)
        })
        .await?;
    Ok(scale_of(def, &written.object))
}

pub async fn patch_scale(
    storage: &Storage,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    body: &[u8],
    media: MediaType,
    q: &Query,
) -> ApiResult<Value> {
    let current = scale_of(def, &storage.get(def, ns, name).await?);
    let mut patched = current.clone();
    match media {
        MediaType::JsonPatch => {
            let p: json_patch::Patch =
                serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
            json_patch::patch(&mut patched, &p).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        }
        MediaType::MergePatch | MediaType::StrategicMergePatch => {
            let p: Value =
                serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
            json_patch::merge(&mut patched, &p);
        }
        other => return Err(ApiError::UnsupportedMediaType(format!("{other:?}"))),
    }
    if patched["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"] {
        if let Some(m) = patched["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
    }
    put_scale(storage, def, ns, name, patched, q).await
}

/// Assigns a pod to a node: sets `spec.nodeName` and the PodScheduled condition. Like
/// upstream's binding storage this is a direct compare-and-swap, not a pod update (whose
/// validation forbids changing `nodeName`).
async fn bind(
    storage: &Storage,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    node: &str,
    q: &Query,
) -> ApiResult<()> {
    for _ in 0..5 {
        let (old, kv) = storage.read(def, ns, name).await?;
        if old["metadata"]["deletionTimestamp"].is_string() {
            return Err(ApiError::Conflict(
                subject(def, name),
                format!("pod {name} is being deleted, cannot be assigned to a host"),
            ));
        }
        if let Some(current) = old["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
            return Err(ApiError::Conflict(
                subject(def, name),
                format!("pod {name} is already assigned to node \"{current}\""),
            ));
        }
        let mut new = old.clone();
        new["spec"]["nodeName"] = json!(node);
        let condition = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": crate::object::now_rfc3339()});
        let conditions = new["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut conditions: Vec<Value> = conditions
            .into_iter()
            .filter(|c| c["type"] != "PodScheduled")
            .collect();
        conditions.push(condition);
        new["status"]["conditions"] = json!(conditions);
        if q.dry_run {
            return Ok(());
        }
        match storage
            .store
            .update(&kv.key, def.encode(&new)?, kv.mod_revision)
            .await
        {
            Ok(_) => return Ok(()),
            Err(gantry_store::StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(ApiError::from_store(e, &subject(def, name))),
        }
    }
    Err(ApiError::Conflict(
        subject(def, name),
        "the pod kept changing while being bound; try again".into(),
    ))
}

/// POST pods/NAME/binding and pods/NAME/eviction.
pub async fn post(
    storage: &Storage,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    sub: &str,
    body: Value,
    q: &Query,
) -> ApiResult<Value> {
    match sub {
        "binding" => {
            let node = body["target"]["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .ok_or_else(|| {
                    ApiError::Invalid(
                        subject(def, name),
                        vec![crate::error::FieldError::required("target.name")],
                    )
                })?;
            bind(storage, def, ns, name, &node, q).await?;
            Ok(
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            )
        }
        "eviction" => crate::eviction::evict(storage, def, ns, name, &body, q).await,
        _ => Err(ApiError::NoRoute),
    }
}
