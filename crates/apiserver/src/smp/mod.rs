//! Strategic merge patch, schema-aware, with upstream's semantics (apimachinery's
//! `strategicpatch`, server side): maps merge recursively and `null` deletes; lists whose field
//! has patch strategy `merge` merge by their patch merge key (objects) or as sets (scalars);
//! other lists, and maps with strategy `replace`, are replaced. Directives: `$patch:
//! replace|delete|merge` on maps and in list items, `$setElementOrder/<field>`,
//! `$deleteFromPrimitiveList/<field>` and `$retainKeys`.
//!
//! The field metadata comes from [`gantry_schema::Schema`]; where the schema knows nothing
//! (free-form JSON, unknown fields) maps merge and lists are replaced.

mod list;
#[cfg(test)]
mod tests;

use gantry_schema::{Schema, Shape};
use serde_json::{Map, Value};

/// Why a strategic merge patch could not be applied (all are the client's fault).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SmpError {
    #[error("unknown patch type: {0} in map")]
    BadPatchType(String),
    #[error("map: {item} does not contain declared merge key: {key}")]
    NoMergeKey { item: String, key: String },
    #[error("invalid patch format: {0}")]
    BadFormat(&'static str),
    #[error(
        "doesn't satisfy strategic merge patch format: all keys in the patch must be present in $retainKeys"
    )]
    RetainKeys,
    #[error("the order in the patch list doesn't match $setElementOrder list of {0}")]
    ElementOrder(String),
    #[error("list element types of {0} are not identical")]
    ElementTypes(String),
    #[error("lists of lists are not supported")]
    ListOfLists,
    #[error("merging lists cannot yet be specified in the patch")]
    MergeList,
}

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Applies `patch` to `original`, an object of the schema's root type.
pub fn apply(
    schema: &Schema,
    original: &Value,
    patch: &Map<String, Value>,
) -> Result<Value, SmpError> {
    let original = match original {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    let at = Shape::Object(schema.root().to_owned());
    Ok(Value::Object(Merger { schema }.merge_map(
        original,
        patch.clone(),
        &at,
    )?))
}

/// What the patch needs to know about one field.
pub(crate) struct Field {
    /// The shape of the field's value.
    shape: Shape,
    /// Lists merge (patch strategy contains `merge`).
    merges: bool,
    /// Maps are replaced (patch strategy `replace`).
    replaces: bool,
    merge_key: Option<&'static str>,
}

impl Field {
    /// The shape of a list's items or a map's values.
    fn element(&self) -> &Shape {
        match &self.shape {
            Shape::List(inner) | Shape::Map(inner) => inner,
            other => other,
        }
    }
}

struct Merger<'a> {
    schema: &'a Schema,
}

impl Merger<'_> {
    /// The field `key` of a value of shape `at`.
    fn field(&self, at: &Shape, key: &str) -> Field {
        let plain = |shape| Field {
            shape,
            merges: false,
            replaces: false,
            merge_key: None,
        };
        match at {
            Shape::Object(name) => match self.schema.field(name, key) {
                Some(info) => Field {
                    merges: info.merges(),
                    replaces: info.replaces(),
                    merge_key: info.merge_key(),
                    shape: info.shape,
                },
                None => plain(Shape::Unknown),
            },
            Shape::Map(values) => plain((**values).clone()),
            _ => plain(Shape::Unknown),
        }
    }

    fn merge_map(
        &self,
        mut original: Map<String, Value>,
        mut patch: Map<String, Value>,
        at: &Shape,
    ) -> Result<Map<String, Value>, SmpError> {
        if let Some(directive) = patch.remove(DIRECTIVE) {
            match directive.as_str() {
                Some("replace") => return Ok(strip_map(patch)),
                Some("delete") => return Ok(Map::new()),
                // Accepted as the explicit default (upstream rejects it on maps).
                Some("merge") => {}
                _ => return Err(SmpError::BadPatchType(directive.to_string())),
            }
        }
        retain_keys(&mut original, &mut patch)?;
        self.set_element_orders(&mut original, &mut patch, at)?;
        for (key, value) in patch {
            let (key, delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
                Some(field) => (field.to_owned(), true),
                None => (key, false),
            };
            if value.is_null() {
                original.remove(&key);
                continue;
            }
            let both_maps = matches!(
                (original.get(&key), &value),
                (Some(Value::Object(_)), Value::Object(_))
            );
            let both_lists = matches!(
                (original.get(&key), &value),
                (Some(Value::Array(_)), Value::Array(_))
            );
            if !both_maps && !both_lists {
                // New fields, scalars and changes of type take the patch's value.
                if delete_list {
                    continue;
                }
                let mut value = value;
                discard_nulls(&mut value);
                match strip(value) {
                    Some(v) => original.insert(key, v),
                    None => original.remove(&key),
                };
                continue;
            }
            let field = self.field(at, &key);
            let merged = match (original.remove(&key), value) {
                (Some(Value::Object(_)), Value::Object(p)) if field.replaces => {
                    Value::Object(strip_map(p))
                }
                (Some(Value::Object(o)), Value::Object(p)) => {
                    Value::Object(self.merge_map(o, p, &field.shape)?)
                }
                (Some(Value::Array(o)), Value::Array(p)) => {
                    Value::Array(self.merge_list_field(o, p, &field, &key, delete_list)?)
                }
                (_, p) => p,
            };
            original.insert(key, merged);
        }
        Ok(original)
    }
}

/// `$retainKeys`: drops the original's keys not listed; every key the patch sets must be listed.
fn retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), SmpError> {
    let Some(keep) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(keep) = keep else {
        return Err(SmpError::RetainKeys);
    };
    let listed = |k: &str| keep.iter().any(|v| v.as_str() == Some(k));
    for (key, value) in patch.iter() {
        let directive =
            key.starts_with(DELETE_FROM_PRIMITIVE_LIST) || key.starts_with(SET_ELEMENT_ORDER);
        if !value.is_null() && !directive && !listed(key) {
            return Err(SmpError::RetainKeys);
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// Drops `null` entries of maps, recursively (a `null` for a field the original lacks).
fn discard_nulls(value: &mut Value) {
    match value {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(discard_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// Removes directives from a value taken from the patch; `None` when the value is itself a
/// map carrying `$patch` (it is then not kept).
fn strip(value: Value) -> Option<Value> {
    match value {
        Value::Object(m) if m.contains_key(DIRECTIVE) => None,
        Value::Object(m) => Some(Value::Object(strip_map(m))),
        Value::Array(a) => Some(Value::Array(a.into_iter().filter_map(strip).collect())),
        other => Some(other),
    }
}

/// A map without its directive keys, values stripped.
fn strip_map(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(k, _)| {
            k != DIRECTIVE
                && k != RETAIN_KEYS
                && !k.starts_with(SET_ELEMENT_ORDER)
                && !k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
        })
        .filter_map(|(k, v)| strip(v).map(|v| (k, v)))
        .collect()
}
