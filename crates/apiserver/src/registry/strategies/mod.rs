//! Strategies of the built-in resources that need more than the defaults.

pub mod core;
pub mod pod;
pub mod workload;

use serde_json::Value;

/// Sets `obj[key]` to `value` when it is absent or null.
pub(crate) fn default_field(obj: &mut Value, key: &str, value: Value) {
    if let Some(map) = obj.as_object_mut() {
        let slot = map.entry(key.to_string()).or_insert(Value::Null);
        if slot.is_null() {
            *slot = value;
        }
    }
}

/// The object at `obj[key]`, created empty when absent.
pub(crate) fn child<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let map = obj.as_object_mut()?;
    let slot = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Default::default()));
    if slot.is_null() {
        *slot = Value::Object(Default::default());
    }
    Some(slot)
}
