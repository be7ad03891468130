//! Objects as the store holds them: JSON with `apiVersion`, `kind` and `metadata` first and no
//! `metadata.resourceVersion` (the store's revision is the resource version; it is spliced in
//! on the way out, so lists and watches never re-parse what they send).

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

const METADATA_OPEN: &[u8] = b"\"metadata\":{";

/// Serializes an object for storage.
pub fn to_stored(obj: &Value) -> ApiResult<Bytes> {
    let map = obj
        .as_object()
        .ok_or_else(|| ApiError::Internal("object is not a JSON object".into()))?;
    let mut out = Vec::with_capacity(1024);
    out.push(b'{');
    let mut first = true;
    for key in ["apiVersion", "kind"] {
        if let Some(v) = map.get(key) {
            write_member(&mut out, &mut first, key, v)?;
        }
    }
    let empty = Map::new();
    let meta = map
        .get("metadata")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    write_member(&mut out, &mut first, "metadata", &WithoutVersion(meta))?;
    for (key, value) in map {
        if !matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            write_member(&mut out, &mut first, key, value)?;
        }
    }
    out.push(b'}');
    Ok(Bytes::from(out))
}

/// Appends `"key":value` (after a comma unless it is the first member) to `out`.
fn write_member(
    out: &mut Vec<u8>,
    first: &mut bool,
    key: &str,
    value: &impl serde::Serialize,
) -> ApiResult<()> {
    if !*first {
        out.push(b',');
    }
    *first = false;
    serde_json::to_writer(&mut *out, key).map_err(|e| ApiError::Internal(e.to_string()))?;
    out.push(b':');
    serde_json::to_writer(&mut *out, value).map_err(|e| ApiError::Internal(e.to_string()))
}

/// Metadata serialized as its map without `resourceVersion` (the bytes of a copy without it).
struct WithoutVersion<'a>(&'a Map<String, Value>);

impl serde::Serialize for WithoutVersion<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let len = self.0.len() - usize::from(self.0.contains_key("resourceVersion"));
        let mut m = s.serialize_map(Some(len))?;
        for (k, v) in self.0 {
            if k != "resourceVersion" {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

/// The stored bytes with `metadata.resourceVersion` set to `rv`.
pub fn with_version(stored: &[u8], rv: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(stored.len() + 32);
    write_with_version(&mut out, stored, rv);
    out
}

/// Appends the stored bytes with `metadata.resourceVersion` set to `rv` to `out`.
pub fn write_with_version(out: &mut Vec<u8>, stored: &[u8], rv: i64) {
    match stored
        .windows(METADATA_OPEN.len())
        .position(|w| w == METADATA_OPEN)
    {
        Some(pos) => {
            let split = pos + METADATA_OPEN.len();
            out.extend_from_slice(&stored[..split]);
            out.extend_from_slice(b"\"resourceVersion\":\"");
            out.extend_from_slice(rv.to_string().as_bytes());
            out.push(b'"');
            if stored.get(split) != Some(&b'}') {
                out.push(b',');
            }
            out.extend_from_slice(&stored[split..]);
        }
        None => out.extend_from_slice(stored),
    }
}

/// Stored bytes (which start with `{"apiVersion":"...",`) with another `apiVersion`; used to
/// serve a custom resource stored in one version through another (None conversion).
pub fn with_api_version(stored: &[u8], api_version: &str) -> Vec<u8> {
    const PREFIX: &[u8] = b"{\"apiVersion\":\"";
    let Some(rest) = stored.strip_prefix(PREFIX) else {
        return stored.to_vec();
    };
    let Some(end) = rest.iter().position(|b| *b == b'"') else {
        return stored.to_vec();
    };
    let mut out = Vec::with_capacity(stored.len() + api_version.len());
    out.extend_from_slice(PREFIX);
    out.extend_from_slice(api_version.as_bytes());
    out.extend_from_slice(&rest[end..]);
    out
}

/// Parses stored bytes into an object carrying its resource version.
pub fn from_stored(stored: &[u8], rv: i64) -> ApiResult<Value> {
    let mut obj: Value = serde_json::from_slice(stored)
        .map_err(|e| ApiError::Internal(format!("stored object is not JSON: {e}")))?;
    set_meta(&mut obj, "resourceVersion", Value::String(rv.to_string()));
    Ok(obj)
}

/// The `metadata` map, created when absent.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj["metadata"].is_object() {
        obj["metadata"] = Value::Object(Map::new());
    }
    match obj["metadata"].as_object_mut() {
        Some(m) => m,
        None => unreachable!("metadata was just made an object"),
    }
}

pub fn set_meta(obj: &mut Value, key: &str, value: Value) {
    meta_mut(obj).insert(key.to_string(), value);
}

pub fn meta_str<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj["metadata"][key].as_str()
}

/// The labels of an object (empty when absent).
pub fn labels(obj: &Value) -> std::collections::BTreeMap<String, String> {
    obj["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The current time in the RFC 3339 form Kubernetes uses (seconds precision, `Z`).
pub fn now_rfc3339() -> String {
    rfc3339(std::time::SystemTime::now())
}

pub fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    k8s_openapi::jiff::Timestamp::from_second(secs)
        .map(|ts| ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_form_puts_identity_first_and_drops_version() {
        let obj = json!({"data": {"a": "1"}, "metadata": {"name": "x", "resourceVersion": "9"}, "kind": "ConfigMap", "apiVersion": "v1"});
        let stored = to_stored(&obj).unwrap();
        assert!(
            stored.starts_with(b"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{")
        );
        assert!(!String::from_utf8_lossy(&stored).contains("resourceVersion"));
        let back: Value = serde_json::from_slice(&with_version(&stored, 42)).unwrap();
        assert_eq!(back["metadata"]["resourceVersion"], "42");
        assert_eq!(back["metadata"]["name"], "x");
        assert_eq!(back["data"]["a"], "1");
        assert_eq!(from_stored(&stored, 42).unwrap(), back);
    }

    #[test]
    fn api_version_is_replaced_in_place() {
        let stored = to_stored(
            &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
        )
        .unwrap();
        let back: Value =
            serde_json::from_slice(&with_api_version(&stored, "example.com/v2")).unwrap();
        assert_eq!(back["apiVersion"], "example.com/v2");
        assert_eq!(back["metadata"]["name"], "w");
    }

    #[test]
    fn splicing_into_empty_metadata() {
        let stored = to_stored(&json!({"apiVersion": "v1", "kind": "X"})).unwrap();
        let back: Value = serde_json::from_slice(&with_version(&stored, 7)).unwrap();
        assert_eq!(back["metadata"], json!({"resourceVersion": "7"}));
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
    }
}
