//! The downward API: values of `fieldRef` and `resourceFieldRef` selectors, shared by env
//! vars and `downwardAPI` volume items.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ObjectFieldSelector, Pod, ResourceFieldSelector};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::PodRuntimeInfo;
use crate::quantity::{Amount, InvalidQuantity, ceil_div};

/// A selector the downward API cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("unsupported field path {0:?}")]
    UnsupportedFieldPath(String),
    #[error("unsupported container resource {0:?}")]
    UnsupportedResource(String),
    #[error("resourceFieldRef names container {0:?}, which the pod does not have")]
    ContainerNotFound(String),
    #[error("resourceFieldRef {resource}: {source}")]
    Quantity {
        resource: String,
        source: InvalidQuantity,
    },
}

/// Resources whose limits default to the node's allocatable when the container sets none.
const DEFAULTED_LIMITS: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];

/// The value of a `fieldRef` for `pod` running with `info`.
pub fn field_value(
    pod: &Pod,
    info: &PodRuntimeInfo,
    selector: &ObjectFieldSelector,
) -> Result<String, FieldError> {
    let path = selector.field_path.as_str();
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let value = match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(meta.labels.as_ref()),
        "metadata.annotations" => format_map(meta.annotations.as_ref()),
        "spec.nodeName" => spec
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| info.node_name.clone()),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => info.host_ip.clone(),
        "status.podIP" => info.pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => info.pod_ips.join(","),
        other => {
            if let Some(key) = subscript(other, "metadata.labels") {
                map_get(meta.labels.as_ref(), key)
            } else if let Some(key) = subscript(other, "metadata.annotations") {
                map_get(meta.annotations.as_ref(), key)
            } else {
                return Err(FieldError::UnsupportedFieldPath(other.to_string()));
            }
        }
    };
    Ok(value)
}

/// `metadata.labels['key']` -> `key`.
fn subscript<'a>(path: &'a str, field: &str) -> Option<&'a str> {
    path.strip_prefix(field)?
        .strip_prefix("['")?
        .strip_suffix("']")
}

fn map_get(map: Option<&BTreeMap<String, String>>, key: &str) -> String {
    map.and_then(|m| m.get(key)).cloned().unwrap_or_default()
}

/// `key="value"` lines in key order, values quoted like Go's `%q` (upstream's `FormatMap`).
pub fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    let Some(map) = map else {
        return String::new();
    };
    map.iter()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn go_quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The value of a `resourceFieldRef`. `default_container` answers an empty `containerName`
/// (env vars); volumes name the container. Limits the container does not set default to the
/// node's `allocatable`; requests it does not set default to its limit (as API defaulting
/// does), else zero.
pub fn resource_value(
    pod: &Pod,
    default_container: Option<&Container>,
    selector: &ResourceFieldSelector,
    allocatable: &BTreeMap<String, Quantity>,
) -> Result<String, FieldError> {
    let container = match selector.container_name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => pod
            .spec
            .iter()
            .flat_map(|s| {
                s.containers
                    .iter()
                    .chain(s.init_containers.iter().flatten())
            })
            .find(|c| c.name == name)
            .ok_or_else(|| FieldError::ContainerNotFound(name.to_string()))?,
        None => default_container.ok_or_else(|| FieldError::ContainerNotFound(String::new()))?,
    };
    let resource = selector.resource.as_str();
    let (kind, name) = resource
        .split_once('.')
        .ok_or_else(|| FieldError::UnsupportedResource(resource.to_string()))?;
    if !DEFAULTED_LIMITS.contains(&name) && !name.starts_with("hugepages-") {
        return Err(FieldError::UnsupportedResource(resource.to_string()));
    }
    let resources = container.resources.as_ref();
    let limit = resources
        .and_then(|r| r.limits.as_ref())
        .and_then(|m| m.get(name));
    let request = resources
        .and_then(|r| r.requests.as_ref())
        .and_then(|m| m.get(name));
    let chosen = match kind {
        "limits" => limit.or_else(|| {
            DEFAULTED_LIMITS
                .contains(&name)
                .then(|| allocatable.get(name))
                .flatten()
        }),
        "requests" => request.or(limit),
        _ => return Err(FieldError::UnsupportedResource(resource.to_string())),
    };
    let parse = |q: &str| {
        Amount::parse(q).map_err(|source| FieldError::Quantity {
            resource: resource.to_string(),
            source,
        })
    };
    let amount = match chosen {
        Some(q) => parse(&q.0)?,
        None => parse("0")?,
    };
    let divisor = match selector.divisor.as_ref() {
        Some(q) => parse(&q.0)?,
        None => parse("1")?,
    };
    let divisor = if divisor.is_zero() {
        parse("1")?
    } else {
        divisor
    };
    Ok(scaled(name, amount, divisor).to_string())
}

/// CPU divides in millicores, everything else in whole units, both rounded up.
fn scaled(name: &str, amount: Amount, divisor: Amount) -> i128 {
    if name == "cpu" {
        ceil_div(amount.milli_value(), divisor.milli_value().max(1))
    } else {
        ceil_div(amount.value(), divisor.value().max(1))
    }
}
