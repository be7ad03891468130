//! Kubernetes JSON to protobuf message bytes, driven by the generated field table.
//!
//! Fields are written in tag order, map entries in key order (as Go does); JSON members the
//! message does not know (including `apiVersion`/`kind` at the top) and `null`s are left out.

use base64::Engine as _;
use serde_json::Value;

use crate::error::EncodeError;
use crate::schema::{Card, Field, Message, Special, Type, message};
use crate::wellknown;
use crate::wire::{FIXED64, VARINT, put_bytes, put_key, put_varint};

/// How deeply messages may nest.
const MAX_DEPTH: usize = 100;

/// Encodes `value` as the bytes of `msg`.
pub(crate) fn message_bytes(
    msg: &'static Message,
    value: &Value,
    depth: usize,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    message_into(msg, value, depth, &mut out)?;
    Ok(out)
}

fn type_error(msg: &'static Message, field: &'static str, expected: &'static str) -> EncodeError {
    EncodeError::Type {
        message: msg.name,
        field,
        expected,
    }
}

fn value_error(
    msg: &'static Message,
    field: &'static str,
    value: &str,
    reason: String,
) -> EncodeError {
    EncodeError::Value {
        message: msg.name,
        field,
        value: value.chars().take(64).collect(),
        reason,
    }
}

fn message_into(
    msg: &'static Message,
    value: &Value,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    if depth > MAX_DEPTH {
        return Err(EncodeError::TooDeep(MAX_DEPTH));
    }
    if msg.special != Special::Plain {
        return special_into(msg, value, out);
    }
    let object = value.as_object().ok_or(type_error(msg, "", "an object"))?;
    for field in msg.fields {
        if field.card == Card::Inline {
            let Type::M(i) = field.ty else { continue };
            let inner = message(i).ok_or(type_error(msg, field.json, "a known message"))?;
            let bytes = message_bytes(inner, value, depth + 1)?;
            put_bytes(out, field.tag, &bytes);
            continue;
        }
        let Some(v) = object.get(field.json).filter(|v| !v.is_null()) else {
            continue;
        };
        match field.card {
            Card::Rep => {
                let items = v
                    .as_array()
                    .ok_or(type_error(msg, field.json, "an array"))?;
                for item in items.iter().filter(|i| !i.is_null()) {
                    scalar_into(msg, field, field.ty, field.tag, item, depth, out)?;
                }
            }
            Card::Map => {
                let map = v
                    .as_object()
                    .ok_or(type_error(msg, field.json, "an object"))?;
                for (k, item) in map {
                    let mut entry = Vec::new();
                    put_bytes(&mut entry, 1, k.as_bytes());
                    if !item.is_null() {
                        scalar_into(msg, field, field.ty, 2, item, depth, &mut entry)?;
                    }
                    put_bytes(out, field.tag, &entry);
                }
            }
            Card::Opt | Card::Req | Card::Inline => {
                scalar_into(msg, field, field.ty, field.tag, v, depth, out)?;
            }
        }
    }
    Ok(())
}

/// Writes one value of type `ty` under `tag`.
fn scalar_into(
    msg: &'static Message,
    field: &'static Field,
    ty: Type,
    tag: u32,
    v: &Value,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let name = field.json;
    match ty {
        Type::Str => {
            let s = v.as_str().ok_or(type_error(msg, name, "a string"))?;
            put_bytes(out, tag, s.as_bytes());
        }
        Type::Bytes => {
            let s = v.as_str().ok_or(type_error(msg, name, "a base64 string"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| value_error(msg, name, s, e.to_string()))?;
            put_bytes(out, tag, &bytes);
        }
        Type::Bool => {
            let b = v.as_bool().ok_or(type_error(msg, name, "a boolean"))?;
            put_key(out, tag, VARINT);
            put_varint(out, u64::from(b));
        }
        Type::I32 => {
            let n = v.as_i64().and_then(|n| i32::try_from(n).ok());
            let n = n.ok_or(type_error(msg, name, "a 32-bit integer"))?;
            put_key(out, tag, VARINT);
            put_varint(out, i64::from(n) as u64);
        }
        Type::I64 => {
            let n = v
                .as_i64()
                .ok_or(type_error(msg, name, "a 64-bit integer"))?;
            put_key(out, tag, VARINT);
            put_varint(out, n as u64);
        }
        Type::F64 => {
            let n = v.as_f64().ok_or(type_error(msg, name, "a number"))?;
            put_key(out, tag, FIXED64);
            out.extend_from_slice(&n.to_bits().to_le_bytes());
        }
        Type::M(i) => {
            let inner = message(i).ok_or(type_error(msg, name, "a known message"))?;
            let bytes = message_bytes(inner, v, depth + 1).map_err(|e| match e {
                EncodeError::Type {
                    field: "",
                    expected,
                    ..
                } => type_error(msg, name, expected),
                EncodeError::Value {
                    field: "",
                    value,
                    reason,
                    ..
                } => value_error(msg, name, &value, reason),
                other => other,
            })?;
            put_bytes(out, tag, &bytes);
        }
    }
    Ok(())
}

fn put_int(out: &mut Vec<u8>, tag: u32, n: i64) {
    put_key(out, tag, VARINT);
    put_varint(out, n as u64);
}

/// Writes the fields of a special message from its JSON form; errors name field `""`, which the
/// caller replaces with the field holding the value.
fn special_into(
    msg: &'static Message,
    value: &Value,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let text = || value.as_str().ok_or(type_error(msg, "", "a string"));
    match msg.special {
        Special::Plain => return Err(type_error(msg, "", "a special message")),
        Special::Time | Special::MicroTime => {
            let s = text()?;
            let (seconds, nanos) =
                wellknown::parse_time(s).map_err(|e| value_error(msg, "", s, e))?;
            put_int(out, 1, seconds);
            let nanos = if msg.special == Special::Time {
                0
            } else {
                nanos / 1000 * 1000
            };
            put_int(out, 2, i64::from(nanos));
        }
        Special::Duration => {
            let s = text()?;
            let nanos = wellknown::parse_duration(s).map_err(|e| value_error(msg, "", s, e))?;
            put_int(out, 1, nanos);
        }
        Special::Quantity => {
            let s = match value {
                Value::Number(n) => n.to_string(),
                _ => text()?.to_string(),
            };
            put_bytes(out, 1, s.as_bytes());
        }
        Special::IntOrString => match value {
            Value::Number(n) => {
                let n = n.as_i64().and_then(|n| i32::try_from(n).ok());
                let n = n.ok_or(type_error(msg, "", "a 32-bit integer or a string"))?;
                put_int(out, 1, 0);
                put_int(out, 2, i64::from(n));
                put_bytes(out, 3, b"");
            }
            Value::String(s) => {
                put_int(out, 1, 1);
                put_int(out, 2, 0);
                put_bytes(out, 3, s.as_bytes());
            }
            _ => return Err(type_error(msg, "", "an integer or a string")),
        },
        Special::Strings => {
            let items = value.as_array().ok_or(type_error(msg, "", "an array"))?;
            for item in items.iter().filter(|i| !i.is_null()) {
                let s = item
                    .as_str()
                    .ok_or(type_error(msg, "", "an array of strings"))?;
                put_bytes(out, 1, s.as_bytes());
            }
        }
        Special::RawJson => {
            let raw =
                serde_json::to_vec(value).map_err(|e| value_error(msg, "", "", e.to_string()))?;
            put_bytes(out, 1, &raw);
        }
    }
    Ok(())
}
