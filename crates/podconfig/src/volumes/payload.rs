//! The files of `configMap`, `secret`, `downwardAPI` and `projected` volumes, computed from
//! already-read objects (pure): relative path -> bytes and mode.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, DownwardAPIVolumeFile, KeyToPath, Pod, ProjectedVolumeSource, Secret,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::VolumeError;
use crate::PodRuntimeInfo;
use crate::fieldref::{field_value, resource_value};
use crate::objects::Objects;

/// The mode of files whose volume sets no `defaultMode`.
pub const DEFAULT_MODE: u32 = 0o644;

/// One file of a volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProjection {
    pub data: Vec<u8>,
    pub mode: u32,
}

/// Relative path -> file.
pub type Payload = BTreeMap<String, FileProjection>;

/// The mode of one file: the item's mode, else the volume's `defaultMode`, else 0644; with a
/// pod `fsGroup` the group can always read it (upstream's ownership pass on read-only volumes).
pub fn file_mode(item_mode: Option<i32>, default_mode: Option<i32>, fs_group: Option<i64>) -> u32 {
    let mode = item_mode
        .or(default_mode)
        .map_or(DEFAULT_MODE, |m| (m as u32) & 0o777);
    if fs_group.is_some() {
        mode | 0o440
    } else {
        mode
    }
}

/// What a keyed source (ConfigMap or Secret) is, for messages and for its optional flag.
pub struct KeyedSource<'a> {
    pub volume: &'a str,
    pub kind: &'static str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub items: Option<&'a [KeyToPath]>,
    pub default_mode: Option<i32>,
    pub optional: bool,
    pub fs_group: Option<i64>,
}

/// The key -> bytes entries of a ConfigMap (`data` and `binaryData`).
pub fn config_map_entries(cm: &ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let text = cm
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()));
    let binary = cm
        .binary_data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()));
    text.chain(binary).collect()
}

/// The key -> bytes entries of a Secret.
pub fn secret_entries(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect()
}

/// The files of a ConfigMap or Secret (`entries` is `None` when the object does not exist):
/// every key under its own name, or only the listed items under their paths.
pub fn keyed_payload(
    source: &KeyedSource<'_>,
    entries: Option<&BTreeMap<String, Vec<u8>>>,
) -> Result<Payload, VolumeError> {
    let Some(entries) = entries else {
        if source.optional {
            return Ok(Payload::new());
        }
        return Err(VolumeError::ObjectNotFound {
            volume: source.volume.to_string(),
            kind: source.kind,
            namespace: source.namespace.to_string(),
            name: source.name.to_string(),
        });
    };
    let mode = |item: Option<i32>| file_mode(item, source.default_mode, source.fs_group);
    let mut payload = Payload::new();
    match source.items.filter(|items| !items.is_empty()) {
        None => {
            for (key, data) in entries {
                let file = FileProjection {
                    data: data.clone(),
                    mode: mode(None),
                };
                payload.insert(key.clone(), file);
            }
        }
        Some(items) => {
            for item in items {
                let Some(data) = entries.get(&item.key) else {
                    if source.optional {
                        continue;
                    }
                    return Err(VolumeError::KeyNotFound {
                        volume: source.volume.to_string(),
                        kind: source.kind,
                        namespace: source.namespace.to_string(),
                        name: source.name.to_string(),
                        key: item.key.clone(),
                    });
                };
                let file = FileProjection {
                    data: data.clone(),
                    mode: mode(item.mode),
                };
                payload.insert(item.path.clone(), file);
            }
        }
    }
    Ok(payload)
}

/// What downward API items need to know about the pod.
pub struct DownwardContext<'a> {
    pub pod: &'a Pod,
    pub info: &'a PodRuntimeInfo,
    pub allocatable: &'a BTreeMap<String, Quantity>,
}

/// The files of downward API items.
pub fn downward_payload(
    volume: &str,
    items: &[DownwardAPIVolumeFile],
    default_mode: Option<i32>,
    fs_group: Option<i64>,
    ctx: &DownwardContext<'_>,
) -> Result<Payload, VolumeError> {
    let mut payload = Payload::new();
    for item in items {
        let field_err = |source| VolumeError::Field {
            volume: volume.to_string(),
            path: item.path.clone(),
            source,
        };
        let value = if let Some(field) = &item.field_ref {
            field_value(ctx.pod, ctx.info, field).map_err(field_err)?
        } else if let Some(resource) = &item.resource_field_ref {
            resource_value(ctx.pod, None, resource, ctx.allocatable).map_err(field_err)?
        } else {
            String::new()
        };
        let file = FileProjection {
            data: value.into_bytes(),
            mode: file_mode(item.mode, default_mode, fs_group),
        };
        payload.insert(item.path.clone(), file);
    }
    Ok(payload)
}

/// The files of a projected volume: its sources in order, later paths replacing earlier ones.
pub fn projected_payload(
    volume: &str,
    source: &ProjectedVolumeSource,
    objects: &Objects,
    fs_group: Option<i64>,
    ctx: &DownwardContext<'_>,
) -> Result<Payload, VolumeError> {
    let default_mode = source.default_mode;
    let mut payload = Payload::new();
    for projection in source.sources.iter().flatten() {
        let part = if let Some(cm) = &projection.config_map {
            let keyed = KeyedSource {
                volume,
                kind: "configmap",
                namespace: &objects.namespace,
                name: &cm.name,
                items: cm.items.as_deref(),
                default_mode,
                optional: cm.optional == Some(true),
                fs_group,
            };
            let entries = objects.config_map(&cm.name).map(config_map_entries);
            keyed_payload(&keyed, entries.as_ref())?
        } else if let Some(secret) = &projection.secret {
            let keyed = KeyedSource {
                volume,
                kind: "secret",
                namespace: &objects.namespace,
                name: &secret.name,
                items: secret.items.as_deref(),
                default_mode,
                optional: secret.optional == Some(true),
                fs_group,
            };
            let entries = objects.secret(&secret.name).map(secret_entries);
            keyed_payload(&keyed, entries.as_ref())?
        } else if let Some(downward) = &projection.downward_api {
            let items = downward.items.as_deref().unwrap_or_default();
            downward_payload(volume, items, default_mode, fs_group, ctx)?
        } else if let Some(token) = &projection.service_account_token {
            match &ctx.info.service_account_token {
                Some(value) => Payload::from([(
                    token.path.clone(),
                    FileProjection {
                        data: value.clone().into_bytes(),
                        mode: file_mode(None, default_mode, fs_group),
                    },
                )]),
                None => {
                    tracing::warn!(volume, path = %token.path, "no service account token for the pod; skipping the projected token");
                    Payload::new()
                }
            }
        } else {
            tracing::warn!(volume, "skipping an unsupported projected volume source");
            Payload::new()
        };
        payload.extend(part);
    }
    Ok(payload)
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
