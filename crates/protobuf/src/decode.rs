//! Protobuf message bytes to Kubernetes JSON, driven by the generated field table.
//!
//! Conventions: fields absent from the wire are absent from the JSON; empty optional strings are
//! omitted (Go writes every non-pointer string, and `omitempty` drops the empty ones); zero numbers
//! and `false` are kept, because for Go pointer fields (`replicas: 0`) they carry meaning; fields
//! k8s-openapi always serializes get their zero value when absent. Unknown tags are skipped, as Go
//! does.

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use crate::error::DecodeError;
use crate::schema::{Card, Field, Message, Special, Type, message};
use crate::wellknown;
use crate::wire::{FIXED64, LEN, Reader, VARINT};

/// How deeply messages (and objects embedded in `RawExtension`s) may nest.
pub(crate) const MAX_DEPTH: usize = 100;

/// Optional strings for which `""` differs from absent (Go `*string` fields).
const MEANINGFUL_EMPTY: &[&str] = &["storageClassName"];

/// Decodes the bytes of `msg` into its JSON form; `None` means "omit" (a zero `Time`, an empty
/// `RawExtension`).
pub(crate) fn message_value(
    msg: &'static Message,
    bytes: &[u8],
    depth: usize,
) -> Result<Option<Value>, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep(MAX_DEPTH));
    }
    match msg.special {
        Special::Plain => {
            let mut object = Map::new();
            object_into(msg, bytes, depth, &mut object)?;
            Ok(Some(Value::Object(object)))
        }
        special => special_value(msg, special, bytes, depth),
    }
}

/// Decodes the fields of a plain message into `object` (inline members land in the same object).
fn object_into(
    msg: &'static Message,
    bytes: &[u8],
    depth: usize,
    object: &mut Map<String, Value>,
) -> Result<(), DecodeError> {
    let mut r = Reader::new(bytes, msg.name);
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        let Some(field) = msg.by_tag(tag) else {
            r.skip(wire)?;
            continue;
        };
        match field.card {
            Card::Opt | Card::Req => {
                if let Some(v) = value(msg, field, field.ty, wire, &mut r, depth)? {
                    let empty = v.as_str() == Some("")
                        && field.card == Card::Opt
                        && !MEANINGFUL_EMPTY.contains(&field.json);
                    if empty {
                        object.remove(field.json);
                    } else {
                        object.insert(field.json.to_string(), v);
                    }
                }
            }
            Card::Rep => {
                let entry = object
                    .entry(field.json)
                    .or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(items) = entry else {
                    return Err(malformed(msg, "repeated field clashes with another member"));
                };
                let packed =
                    wire == LEN && !matches!(field.ty, Type::Str | Type::Bytes | Type::M(_));
                if packed {
                    let mut inner = Reader::new(r.bytes()?, msg.name);
                    let element_wire = if field.ty == Type::F64 {
                        FIXED64
                    } else {
                        VARINT
                    };
                    while !inner.is_empty() {
                        let v = value(msg, field, field.ty, element_wire, &mut inner, depth)?;
                        items.push(v.unwrap_or(Value::Null));
                    }
                } else {
                    let v = value(msg, field, field.ty, wire, &mut r, depth)?;
                    items.push(v.unwrap_or(Value::Null));
                }
            }
            Card::Map => {
                expect_wire(msg, field, wire, LEN)?;
                let (k, v) = map_entry(msg, field, r.bytes()?, depth)?;
                let entry = object
                    .entry(field.json)
                    .or_insert_with(|| Value::Object(Map::new()));
                let Value::Object(map) = entry else {
                    return Err(malformed(msg, "map field clashes with another member"));
                };
                map.insert(k, v);
            }
            Card::Inline => {
                expect_wire(msg, field, wire, LEN)?;
                let bytes = r.bytes()?;
                let Type::M(i) = field.ty else {
                    return Err(malformed(msg, "inline field is not a message"));
                };
                let inner = message(i).ok_or_else(|| malformed(msg, "dangling message index"))?;
                if depth + 1 > MAX_DEPTH {
                    return Err(DecodeError::TooDeep(MAX_DEPTH));
                }
                object_into(inner, bytes, depth + 1, object)?;
            }
        }
    }
    for field in msg.fields.iter().filter(|f| f.card == Card::Req) {
        if !object.contains_key(field.json)
            && let Some(zero) = zero(field.ty)
        {
            object.insert(field.json.to_string(), zero);
        }
    }
    Ok(())
}

/// The value k8s-openapi writes for a required field that the wire left out.
fn zero(ty: Type) -> Option<Value> {
    Some(match ty {
        Type::Str => Value::String(String::new()),
        Type::Bytes => Value::String(String::new()),
        Type::Bool => Value::Bool(false),
        Type::I32 | Type::I64 => Value::from(0),
        Type::F64 => Value::from(0.0),
        Type::M(i) => match message(i)?.special {
            Special::Plain => Value::Object(Map::new()),
            Special::Quantity => Value::String("0".into()),
            Special::IntOrString => Value::from(0),
            Special::Strings => Value::Array(Vec::new()),
            _ => return None,
        },
    })
}

fn map_entry(
    msg: &'static Message,
    field: &'static Field,
    bytes: &[u8],
    depth: usize,
) -> Result<(String, Value), DecodeError> {
    let mut r = Reader::new(bytes, msg.name);
    let (mut key, mut val) = (String::new(), None);
    while !r.is_empty() {
        match r.key()? {
            (1, wire) => {
                if let Some(Value::String(k)) = value(msg, field, Type::Str, wire, &mut r, depth)? {
                    key = k;
                }
            }
            (2, wire) => val = value(msg, field, field.ty, wire, &mut r, depth)?,
            (_, wire) => r.skip(wire)?,
        }
    }
    let val = match val {
        Some(v) => v,
        None => zero(field.ty).unwrap_or(Value::Null),
    };
    Ok((key, val))
}

fn malformed(msg: &'static Message, reason: &'static str) -> DecodeError {
    DecodeError::Malformed {
        message: msg.name,
        reason,
    }
}

fn expect_wire(
    msg: &'static Message,
    field: &'static Field,
    wire: u8,
    expected: u8,
) -> Result<(), DecodeError> {
    if wire == expected {
        return Ok(());
    }
    Err(DecodeError::WireType {
        message: msg.name,
        field: field.json,
        wire,
        expected,
    })
}

/// Reads one value of type `ty` for `field` of `msg`.
fn value(
    msg: &'static Message,
    field: &'static Field,
    ty: Type,
    wire: u8,
    r: &mut Reader<'_>,
    depth: usize,
) -> Result<Option<Value>, DecodeError> {
    let expected = match ty {
        Type::Str | Type::Bytes | Type::M(_) => LEN,
        Type::Bool | Type::I32 | Type::I64 => VARINT,
        Type::F64 => FIXED64,
    };
    expect_wire(msg, field, wire, expected)?;
    Ok(Some(match ty {
        Type::Str => Value::String(utf8(msg, field, r.bytes()?)?),
        Type::Bytes => Value::String(base64::engine::general_purpose::STANDARD.encode(r.bytes()?)),
        Type::Bool => Value::Bool(r.varint()? != 0),
        Type::I32 => Value::from(r.varint()? as i64 as i32),
        Type::I64 => Value::from(r.varint()? as i64),
        Type::F64 => {
            let n = f64::from_bits(r.fixed64()?);
            Value::Number(Number::from_f64(n).ok_or(DecodeError::NonFinite {
                message: msg.name,
                field: field.json,
            })?)
        }
        Type::M(i) => {
            let inner = message(i).ok_or_else(|| malformed(msg, "dangling message index"))?;
            return message_value(inner, r.bytes()?, depth + 1);
        }
    }))
}

fn utf8(msg: &'static Message, field: &'static Field, bytes: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Utf8 {
        message: msg.name,
        field: field.json,
    })
}

/// The scalar fields of a special message, by tag: varints and length-delimited bytes.
#[derive(Default)]
struct Scalars<'a> {
    ints: [Option<u64>; 4],
    bytes: [Option<&'a [u8]>; 4],
}

fn scalars<'a>(msg: &'static Message, bytes: &'a [u8]) -> Result<Scalars<'a>, DecodeError> {
    let mut s = Scalars::default();
    let mut r = Reader::new(bytes, msg.name);
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        let slot = usize::try_from(tag).unwrap_or(usize::MAX);
        match wire {
            VARINT if slot < 4 => s.ints[slot] = Some(r.varint()?),
            LEN if slot < 4 => s.bytes[slot] = Some(r.bytes()?),
            _ => r.skip(wire)?,
        }
    }
    Ok(s)
}

/// The repeated strings of field 1 as a JSON array (other fields are skipped).
fn strings_value(msg: &'static Message, bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut items = Vec::new();
    let mut r = Reader::new(bytes, msg.name);
    while !r.is_empty() {
        match r.key()? {
            (1, LEN) => {
                let item =
                    String::from_utf8(r.bytes()?.to_vec()).map_err(|_| DecodeError::Utf8 {
                        message: msg.name,
                        field: "items",
                    })?;
                items.push(Value::String(item));
            }
            (_, wire) => r.skip(wire)?,
        }
    }
    Ok(Value::Array(items))
}

fn special_value(
    msg: &'static Message,
    special: Special,
    bytes: &[u8],
    depth: usize,
) -> Result<Option<Value>, DecodeError> {
    if special == Special::Strings {
        return strings_value(msg, bytes).map(Some);
    }
    let s = scalars(msg, bytes)?;
    let out_of_range = |reason: String| DecodeError::OutOfRange {
        message: msg.name,
        reason,
    };
    let text = |b: Option<&[u8]>| -> Result<String, DecodeError> {
        String::from_utf8(b.unwrap_or_default().to_vec()).map_err(|_| DecodeError::Utf8 {
            message: msg.name,
            field: "string",
        })
    };
    Ok(Some(match special {
        Special::Plain | Special::Strings => {
            return Err(malformed(msg, "not a scalar special message"));
        }
        Special::Time | Special::MicroTime if bytes.is_empty() => return Ok(None),
        Special::Time => {
            let seconds = s.ints[1].unwrap_or(0) as i64;
            Value::String(wellknown::format_time(seconds).map_err(out_of_range)?)
        }
        Special::MicroTime => {
            let seconds = s.ints[1].unwrap_or(0) as i64;
            let nanos = s.ints[2].unwrap_or(0) as i64 as i32;
            Value::String(wellknown::format_micro_time(seconds, nanos).map_err(out_of_range)?)
        }
        Special::Duration => {
            Value::String(wellknown::format_duration(s.ints[1].unwrap_or(0) as i64))
        }
        Special::Quantity => {
            let q = text(s.bytes[1])?;
            Value::String(if q.is_empty() { "0".into() } else { q })
        }
        Special::IntOrString => {
            if s.ints[1] == Some(1) {
                Value::String(text(s.bytes[3])?)
            } else {
                Value::from(s.ints[2].unwrap_or(0) as i64 as i32)
            }
        }
        Special::RawJson => {
            let raw = s.bytes[1].unwrap_or_default();
            if raw.is_empty() {
                return Ok(None);
            }
            if let Ok(v) = serde_json::from_slice::<Value>(raw) {
                v
            } else if raw.starts_with(&crate::MAGIC) {
                crate::envelope::decode_at(raw, depth + 1)?
            } else {
                return Err(DecodeError::RawObject { message: msg.name });
            }
        }
    }))
}
