//! PATCH: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch,
//! applied to the current object and written back with retries on conflicts.
//!
//! Strategic merge patches follow the resource's schema ([`merge_schema`]): built once per
//! resource from its OpenAPI type, empty for custom resources (maps merge, lists replace).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use gantry_schema::Schema;
use serde_json::Value;

use crate::decode::MediaType;
use crate::error::{ApiError, ApiResult};
use crate::object::meta_mut;
use crate::query::Query;
use crate::registry::ResourceDef;
use crate::smp;
use crate::storage::{Storage, Written};

enum Patch {
    Json(json_patch::Patch),
    Merge(Value),
    Strategic(Value),
    /// Server-side apply: the manager's intended configuration.
    Apply(Value),
}

fn parse(body: &[u8], media: MediaType) -> ApiResult<Patch> {
    let bad =
        |e: serde_json::Error| ApiError::BadRequest(format!("the patch could not be decoded: {e}"));
    match media {
        MediaType::JsonPatch => Ok(Patch::Json(serde_json::from_slice(body).map_err(bad)?)),
        MediaType::MergePatch | MediaType::Json => {
            Ok(Patch::Merge(serde_json::from_slice(body).map_err(bad)?))
        }
        MediaType::StrategicMergePatch => {
            Ok(Patch::Strategic(serde_json::from_slice(body).map_err(bad)?))
        }
        MediaType::ApplyPatch => Ok(Patch::Apply(crate::decode::decode_object(body, media)?)),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "{other:?} is not a supported patch type"
        ))),
    }
}

/// The merge schema of a resource's type, built on first use and kept for the process.
pub fn merge_schema(def: &ResourceDef) -> Arc<Schema> {
    type Cache = Mutex<HashMap<(&'static str, &'static str, &'static str), Arc<Schema>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let Some(gantry_openapi::ResourceDoc {
        schema: gantry_openapi::SchemaSource::Typed(typed),
        ..
    }) = &def.openapi
    else {
        return Arc::new(Schema::default());
    };
    let doc = (def.group, def.version, def.kind);
    let key = doc;
    let cache = CACHE.get_or_init(Default::default);
    if let Some(schema) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return schema;
    }
    let schema = Arc::new(Schema::from_generator(*typed, def.kind));
    if let Ok(mut c) = cache.lock() {
        c.insert(key, schema.clone());
    }
    schema
}

/// Applies a patch to an object (pure).
fn apply(patch: &Patch, old: &Value, schema: &Schema) -> ApiResult<Value> {
    let mut doc = old.clone();
    match patch {
        Patch::Json(p) => json_patch::patch(&mut doc, p).map_err(|e| {
            ApiError::Invalid(
                Default::default(),
                vec![crate::error::FieldError::invalid("patch", e.to_string())],
            )
        })?,
        Patch::Merge(p) => {
            if !p.is_object() {
                return Err(ApiError::BadRequest(
                    "a merge patch must be a JSON object".into(),
                ));
            }
            json_patch::merge(&mut doc, p)
        }
        Patch::Strategic(p) => {
            let Value::Object(p) = p else {
                return Err(ApiError::BadRequest(
                    "a strategic merge patch must be a JSON object".into(),
                ));
            };
            doc = smp::apply(schema, &doc, p).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        }
        Patch::Apply(_) => {
            return Err(ApiError::Internal(
                "apply patches go through server_side_apply".into(),
            ));
        }
    }
    // A patch that left the resource version alone is not a precondition: drop it so that
    // a conflicting concurrent write just means "apply again to the newer object".
    if doc["metadata"]["resourceVersion"] == old["metadata"]["resourceVersion"] {
        meta_mut(&mut doc).remove("resourceVersion");
    }
    Ok(doc)
}

#[allow(clippy::too_many_arguments)]
pub async fn patch(
    storage: &Storage,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    subresource: Option<&str>,
    body: &[u8],
    media: MediaType,
    q: &Query,
) -> ApiResult<Written> {
    if media == MediaType::StrategicMergePatch && def.custom.is_some() {
        // As upstream: custom resources have no patch strategies to merge by.
        return Err(ApiError::UnsupportedMediaType(
            "strategic merge patch is not supported for custom resources; use a JSON merge patch or JSON patch".into(),
        ));
    }
    let patch = parse(body, media)?;
    if let Patch::Apply(config) = patch {
        return server_side_apply(storage, def, ns, name, subresource, config, q).await;
    }
    let schema = match patch {
        Patch::Strategic(_) => merge_schema(def),
        _ => Arc::new(Schema::default()),
    };
    let result = storage
        .guaranteed_update(def, ns, name, subresource, q, |old| {
            apply(&patch, old, &schema)
        })
        .await;
    match result {
        Err(ApiError::Invalid(s, causes)) if s.name.is_empty() => Err(ApiError::Invalid(
            crate::storage::subject(def, name),
            causes,
        )),
        other => other,
    }
}

/// PATCH with `application/apply-patch+yaml`: merges the manager's configuration with field
/// ownership ([`crate::apply`]); creates the object when it does not exist.
async fn server_side_apply(
    storage: &Storage,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    subresource: Option<&str>,
    mut config: Value,
    q: &Query,
) -> ApiResult<Written> {
    let Some(manager) = q.field_manager.as_deref().filter(|m| !m.is_empty()) else {
        return Err(ApiError::BadRequest(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(),
        ));
    };
    match crate::object::meta_str(&config, "name") {
        None | Some("") => crate::object::set_meta(&mut config, "name", serde_json::json!(name)),
        Some(n) if n == name => {}
        Some(n) => {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
    }
    let types = crate::apply::types(def);
    let api_version = def.api_version();
    let now = crate::object::now_rfc3339();
    let target = crate::apply::Target {
        types: &types,
        writer: crate::apply::Writer {
            manager,
            api_version: &api_version,
            subresource: subresource.unwrap_or_default(),
            now: &now,
        },
        has_status: def.strategy.has_status(),
    };
    let result = storage
        .guaranteed_update(def, ns, name, subresource, q, |old| {
            let mut doc = crate::apply::apply(&target, Some(old), &config, q.force)
                .map_err(|e| e.into_api())?;
            if doc["metadata"]["resourceVersion"] == old["metadata"]["resourceVersion"] {
                meta_mut(&mut doc).remove("resourceVersion");
            }
            Ok(doc)
        })
        .await;
    match result {
        Err(ApiError::NotFound(_)) if subresource.is_none() => {
            let obj =
                crate::apply::apply(&target, None, &config, q.force).map_err(|e| e.into_api())?;
            storage.create(def, ns, obj, q).await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patches_table() {
        let old = json!({"metadata": {"name": "a", "resourceVersion": "5", "labels": {"x": "1"}}, "data": {"k": "v"}});
        let cases = [
            (
                MediaType::MergePatch,
                json!({"metadata": {"labels": {"y": "2"}}}),
                json!({"x": "1", "y": "2"}),
            ),
            (
                MediaType::MergePatch,
                json!({"metadata": {"labels": {"x": null}}}),
                json!({}),
            ),
            (
                MediaType::JsonPatch,
                json!([{"op": "add", "path": "/metadata/labels/z", "value": "3"}]),
                json!({"x": "1", "z": "3"}),
            ),
            (
                MediaType::StrategicMergePatch,
                json!({"metadata": {"labels": {"x": "9"}}}),
                json!({"x": "9"}),
            ),
        ];
        for (media, body, want) in cases {
            let p = parse(body.to_string().as_bytes(), media).unwrap();
            let got = apply(&p, &old, &Schema::default()).unwrap();
            assert_eq!(got["metadata"]["labels"], want, "{body}");
            assert!(
                got["metadata"]["resourceVersion"].is_null(),
                "unchanged version is dropped"
            );
        }
    }

    #[test]
    fn explicit_resource_version_is_kept_and_bad_patches_fail() {
        let old = json!({"metadata": {"name": "a", "resourceVersion": "5"}});
        let p = parse(
            br#"{"metadata":{"resourceVersion":"4"}}"#,
            MediaType::MergePatch,
        )
        .unwrap();
        assert_eq!(
            apply(&p, &old, &Schema::default()).unwrap()["metadata"]["resourceVersion"],
            "4"
        );
        let test_fails = parse(
            br#"[{"op":"test","path":"/metadata/name","value":"b"}]"#,
            MediaType::JsonPatch,
        )
        .unwrap();
        assert_eq!(
            apply(&test_fails, &old, &Schema::default())
                .map_err(|e| e.code_reason().0)
                .err(),
            Some(422)
        );
        assert_eq!(
            parse(b"{nope", MediaType::MergePatch)
                .map(|_| ())
                .map_err(|e| e.code_reason().0),
            Err(400)
        );
        assert_eq!(
            parse(b"[1]", MediaType::ApplyPatch)
                .map(|_| ())
                .map_err(|e| e.code_reason().0),
            Err(400)
        );
    }
}
