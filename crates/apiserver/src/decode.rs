//! Request bodies: media types, decoding into JSON values, and the strict-decoding check that
//! finds fields the typed schema does not know.

use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// The largest request body accepted, as upstream.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    Json,
    Yaml,
    Protobuf,
    JsonPatch,
    MergePatch,
    StrategicMergePatch,
    ApplyPatch,
}

pub fn media_type(content_type: Option<&str>) -> ApiResult<MediaType> {
    let raw = content_type.unwrap_or("application/json");
    let essence = raw
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    Ok(match essence.as_str() {
        "application/json" | "" => MediaType::Json,
        "application/yaml" | "application/x-yaml" | "text/yaml" => MediaType::Yaml,
        "application/vnd.kubernetes.protobuf" => MediaType::Protobuf,
        "application/json-patch+json" => MediaType::JsonPatch,
        "application/merge-patch+json" => MediaType::MergePatch,
        "application/strategic-merge-patch+json" => MediaType::StrategicMergePatch,
        "application/apply-patch+yaml" => MediaType::ApplyPatch,
        _ => return Err(ApiError::UnsupportedMediaType(raw.to_string())),
    })
}

/// Decodes an object body (create/update) into JSON.
pub fn decode_object(body: &[u8], media: MediaType) -> ApiResult<Value> {
    let value = match media {
        MediaType::Json => serde_json::from_slice(body).map_err(|e| {
            ApiError::BadRequest(format!(
                "the body of the request could not be decoded as JSON: {e}"
            ))
        })?,
        MediaType::Yaml | MediaType::ApplyPatch => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::BadRequest("the YAML body is not UTF-8".into()))?;
            serde_saphyr::from_str::<Value>(text).map_err(|e| {
                ApiError::BadRequest(format!(
                    "the body of the request could not be decoded as YAML: {e}"
                ))
            })?
        }
        MediaType::Protobuf => gantry_protobuf::decode(body).map_err(|e| {
            ApiError::BadRequest(format!(
                "the body of the request could not be decoded as protobuf: {e}"
            ))
        })?,
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "{other:?} is not an object encoding"
            )));
        }
    };
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "the body of the request must be a JSON object".into(),
        ));
    }
    Ok(value)
}

/// Paths (`spec.foo`, `spec.containers[0].bar`) present in `input` but absent from `known`,
/// the typed round trip of the same object.
pub fn unknown_fields(input: &Value, known: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(input, known, "", &mut out);
    out
}

fn walk(input: &Value, known: &Value, path: &str, out: &mut Vec<String>) {
    match (input, known) {
        (Value::Object(i), Value::Object(k)) => {
            for (key, value) in i {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    Some(kv) => walk(value, kv, &child, out),
                    None if value.is_null() => {}
                    None => out.push(child),
                }
            }
        }
        (Value::Array(i), Value::Array(k)) => {
            for (n, (iv, kv)) in i.iter().zip(k).enumerate() {
                walk(iv, kv, &format!("{path}[{n}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn media_types_table() {
        let cases = [
            (None, Ok(MediaType::Json)),
            (Some("application/json; charset=utf-8"), Ok(MediaType::Json)),
            (Some("application/yaml"), Ok(MediaType::Yaml)),
            (
                Some("application/vnd.kubernetes.protobuf"),
                Ok(MediaType::Protobuf),
            ),
            (
                Some("application/merge-patch+json"),
                Ok(MediaType::MergePatch),
            ),
            (Some("text/plain"), Err(415)),
        ];
        for (ct, want) in cases {
            let got = media_type(ct).map_err(|e| e.code_reason().0);
            assert_eq!(got, want, "{ct:?}");
        }
    }

    #[test]
    fn decoding_rejects_garbage_and_non_objects() {
        assert_eq!(
            decode_object(b"{not json", MediaType::Json).map_err(|e| e.code_reason().0),
            Err(400)
        );
        assert_eq!(
            decode_object(b"[1,2]", MediaType::Json).map_err(|e| e.code_reason().0),
            Err(400)
        );
        assert_eq!(
            decode_object(b"a: [", MediaType::Yaml).map_err(|e| e.code_reason().0),
            Err(400)
        );
        assert_eq!(
            decode_object(b"kind: Pod\nmetadata: {name: x}\n", MediaType::Yaml).unwrap()["metadata"]
                ["name"],
            "x"
        );
    }

    #[test]
    fn unknown_fields_are_found_with_paths() {
        let input = json!({"spec": {"replicas": 1, "bogus": true, "containers": [{"name": "a", "imagee": "x"}]}, "extra": null});
        let known = json!({"spec": {"replicas": 1, "containers": [{"name": "a"}]}});
        assert_eq!(
            unknown_fields(&input, &known),
            vec![
                "spec.bogus".to_string(),
                "spec.containers[0].imagee".to_string()
            ]
        );
    }
}
