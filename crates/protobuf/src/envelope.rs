//! The `k8s\0` + `runtime.Unknown` envelope around every Kubernetes protobuf object.
//!
//! `Unknown` is `{1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding,
//! 4: contentType}`; `raw` is the object's own message, without `apiVersion`/`kind`.

use serde_json::Value;

use crate::decode::{self, MAX_DEPTH};
use crate::error::{DecodeError, EncodeError};
use crate::schema::{self, Special};
use crate::wire::{LEN, Reader, put_bytes};
use crate::{MAGIC, encode};

const CONTEXT: &str = "runtime.Unknown";

/// The fields of an envelope.
#[derive(Default)]
struct Unknown<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

fn text(bytes: &[u8], field: &'static str) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Utf8 {
        message: CONTEXT,
        field,
    })
}

fn parse(body: &[u8]) -> Result<Unknown<'_>, DecodeError> {
    let mut out = Unknown::default();
    let mut r = Reader::new(body, CONTEXT);
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        if wire != LEN {
            r.skip(wire)?;
            continue;
        }
        let bytes = r.bytes()?;
        match tag {
            1 => {
                let mut t = Reader::new(bytes, "runtime.TypeMeta");
                while !t.is_empty() {
                    match t.key()? {
                        (1, LEN) => out.api_version = text(t.bytes()?, "apiVersion")?,
                        (2, LEN) => out.kind = text(t.bytes()?, "kind")?,
                        (_, wire) => t.skip(wire)?,
                    }
                }
            }
            2 => out.raw = bytes,
            3 => out.content_encoding = text(bytes, "contentEncoding")?,
            4 => out.content_type = text(bytes, "contentType")?,
            _ => {}
        }
    }
    Ok(out)
}

/// Decodes an enveloped object, `depth` levels below the request body.
pub(crate) fn decode_at(body: &[u8], depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep(MAX_DEPTH));
    }
    let rest = body.strip_prefix(&MAGIC).ok_or(DecodeError::MissingMagic)?;
    let unknown = parse(rest)?;
    if !unknown.content_encoding.is_empty() {
        return Err(DecodeError::ContentEncoding(unknown.content_encoding));
    }
    if unknown.api_version.is_empty() {
        return Err(DecodeError::MissingTypeMeta("apiVersion"));
    }
    if unknown.kind.is_empty() {
        return Err(DecodeError::MissingTypeMeta("kind"));
    }
    let mut object =
        match unknown.content_type.as_str() {
            "" | crate::CONTENT_TYPE => {
                let msg = schema::message_for_kind(&unknown.api_version, &unknown.kind)
                    .ok_or_else(|| DecodeError::UnknownKind {
                        api_version: unknown.api_version.clone(),
                        kind: unknown.kind.clone(),
                    })?;
                decode::message_value(msg, unknown.raw, depth)?
                    .unwrap_or_else(|| Value::Object(Default::default()))
            }
            "application/json" => serde_json::from_slice(unknown.raw)
                .map_err(|_| DecodeError::RawObject { message: CONTEXT })?,
            other => return Err(DecodeError::ContentType(other.to_string())),
        };
    let Value::Object(map) = &mut object else {
        return Err(DecodeError::RawObject { message: CONTEXT });
    };
    map.insert("apiVersion".into(), Value::String(unknown.api_version));
    map.insert("kind".into(), Value::String(unknown.kind));
    Ok(object)
}

/// Encodes an object carrying `apiVersion` and `kind` into an envelope.
pub(crate) fn encode_at(value: &Value, depth: usize) -> Result<Vec<u8>, EncodeError> {
    let type_meta = |name: &'static str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(EncodeError::MissingTypeMeta(name))
    };
    let api_version = type_meta("apiVersion")?;
    let kind = type_meta("kind")?;
    let msg = schema::message_for_kind(api_version, kind)
        .filter(|m| m.special == Special::Plain)
        .ok_or_else(|| EncodeError::UnknownKind {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
        })?;
    let raw = encode::message_bytes(msg, value, depth)?;

    let mut tm = Vec::new();
    put_bytes(&mut tm, 1, api_version.as_bytes());
    put_bytes(&mut tm, 2, kind.as_bytes());
    let mut out = MAGIC.to_vec();
    put_bytes(&mut out, 1, &tm);
    put_bytes(&mut out, 2, &raw);
    put_bytes(&mut out, 3, b"");
    put_bytes(&mut out, 4, b"");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_errors() {
        assert_eq!(decode_at(b"{}", 0), Err(DecodeError::MissingMagic));
        assert_eq!(
            decode_at(b"k8s\0", 0),
            Err(DecodeError::MissingTypeMeta("apiVersion"))
        );
        let mut body = MAGIC.to_vec();
        put_bytes(
            &mut body,
            1,
            &[0x0a, 0x02, b'v', b'1', 0x12, 0x03, b'F', b'o', b'o'],
        );
        assert!(matches!(
            decode_at(&body, 0),
            Err(DecodeError::UnknownKind { .. })
        ));
        put_bytes(&mut body, 3, b"gzip");
        assert_eq!(
            decode_at(&body, 0),
            Err(DecodeError::ContentEncoding("gzip".into()))
        );
    }

    #[test]
    fn json_content_type_is_passed_through() {
        let mut body = MAGIC.to_vec();
        put_bytes(
            &mut body,
            1,
            &[0x0a, 0x02, b'v', b'1', 0x12, 0x03, b'F', b'o', b'o'],
        );
        put_bytes(&mut body, 2, br#"{"a":1}"#);
        put_bytes(&mut body, 4, b"application/json");
        let v = decode_at(&body, 0).expect("decodes");
        assert_eq!(
            v,
            serde_json::json!({"a": 1, "apiVersion": "v1", "kind": "Foo"})
        );
    }
}
