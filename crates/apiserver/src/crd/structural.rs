//! Structural OpenAPI v3 schemas of custom resources: validation, defaulting and pruning of
//! unknown fields, as pure functions over JSON values.
//!
//! Supported: `type` (object, array, string, integer, number, boolean), `properties`,
//! `required`, `items`, `additionalProperties` (bool or schema), `enum`, `minimum`/`maximum`
//! (and the exclusive forms), `minLength`/`maxLength`, `pattern`, `minItems`/`maxItems`,
//! `minProperties`/`maxProperties`, `nullable`, `default`, `x-kubernetes-int-or-string`,
//! `x-kubernetes-preserve-unknown-fields`, `x-kubernetes-embedded-resource`.

use serde_json::{Map, Value};

use crate::error::FieldError;

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn preserves_unknown(schema: &Value) -> bool {
    schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true)
}

/// Removes fields the schema does not declare; returns their paths. At the root,
/// `apiVersion`, `kind` and `metadata` are kept.
pub fn prune(schema: &Value, obj: &mut Value) -> Vec<String> {
    let mut pruned = Vec::new();
    prune_at(schema, obj, "", true, &mut pruned);
    pruned
}

fn prune_at(schema: &Value, obj: &mut Value, path: &str, root: bool, pruned: &mut Vec<String>) {
    match obj {
        Value::Object(map) => {
            let props = schema["properties"].as_object();
            let additional = &schema["additionalProperties"];
            let embedded = schema["x-kubernetes-embedded-resource"] == Value::Bool(true);
            let keep_unknown = preserves_unknown(schema) || additional == &Value::Bool(true);
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let always = (root || embedded)
                    && matches!(key.as_str(), "apiVersion" | "kind" | "metadata");
                let child_schema = props
                    .and_then(|p| p.get(&key))
                    .or_else(|| additional.is_object().then_some(additional));
                match (child_schema, always) {
                    (Some(s), _) => {
                        if let Some(v) = map.get_mut(&key) {
                            prune_at(s, v, &join(path, &key), false, pruned);
                        }
                    }
                    (None, true) => {}
                    (None, false) if keep_unknown => {}
                    (None, false) => {
                        map.remove(&key);
                        pruned.push(join(path, &key));
                    }
                }
            }
        }
        Value::Array(items) => {
            if schema["items"].is_object() {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_at(
                        &schema["items"],
                        item,
                        &format!("{path}[{i}]"),
                        false,
                        pruned,
                    );
                }
            }
        }
        _ => {}
    }
}

/// Fills in `default`s of absent fields, recursively.
pub fn apply_defaults(schema: &Value, obj: &mut Value) {
    match obj {
        Value::Object(map) => {
            if let Some(props) = schema["properties"].as_object() {
                for (key, prop) in props {
                    if !map.contains_key(key) {
                        if let Some(default) = prop.get("default") {
                            map.insert(key.clone(), default.clone());
                        }
                    }
                    if let Some(v) = map.get_mut(key) {
                        apply_defaults(prop, v);
                    }
                }
            }
            if schema["additionalProperties"].is_object() {
                for v in map.values_mut() {
                    apply_defaults(&schema["additionalProperties"], v);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                apply_defaults(&schema["items"], item);
            }
        }
        _ => {}
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(want: &str, v: &Value) -> bool {
    let got = type_name(v);
    got == want || (want == "number" && got == "integer")
}

/// Validates `obj` against `schema`; errors carry field paths like `spec.replicas`.
pub fn validate(schema: &Value, obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    validate_at(schema, obj, "", &mut errors);
    errors
}

fn validate_at(schema: &Value, v: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let field = if path.is_empty() {
        "<root>".to_string()
    } else {
        path.to_string()
    };
    if v.is_null() {
        if schema["nullable"] != Value::Bool(true) && !path.is_empty() {
            errors.push(FieldError::invalid(
                field,
                "Invalid value: \"null\": fields must not be null unless nullable",
            ));
        }
        return;
    }
    let int_or_string = schema["x-kubernetes-int-or-string"] == Value::Bool(true);
    if int_or_string {
        if !matches!(type_name(v), "integer" | "string") {
            errors.push(FieldError::invalid(
                field,
                format!(
                    "Invalid value: \"{}\": must be an integer or a string",
                    type_name(v)
                ),
            ));
        }
        return;
    }
    if let Some(want) = schema["type"].as_str() {
        if !type_matches(want, v) {
            errors.push(FieldError::invalid(
                field,
                format!(
                    "Invalid value: \"{}\": {path} in body must be of type {want}: \"{}\"",
                    type_name(v),
                    type_name(v)
                ),
            ));
            return;
        }
    }
    if let Some(options) = schema["enum"].as_array() {
        if !options.contains(v) {
            let list: Vec<String> = options.iter().map(Value::to_string).collect();
            errors.push(FieldError {
                reason: "FieldValueNotSupported",
                field: field.clone(),
                message: format!(
                    "Unsupported value: {v}: supported values: {}",
                    list.join(", ")
                ),
            });
        }
    }
    match v {
        Value::Number(n) => check_number(schema, n.as_f64().unwrap_or(0.0), &field, errors),
        Value::String(s) => check_string(schema, s, &field, errors),
        Value::Array(items) => {
            check_len(
                schema,
                "minItems",
                "maxItems",
                items.len(),
                "items",
                &field,
                errors,
            );
            for (i, item) in items.iter().enumerate() {
                validate_at(&schema["items"], item, &format!("{path}[{i}]"), errors);
            }
        }
        Value::Object(map) => check_object(schema, map, path, &field, errors),
        _ => {}
    }
}

fn check_number(schema: &Value, n: f64, field: &str, errors: &mut Vec<FieldError>) {
    if let Some(min) = schema["minimum"].as_f64() {
        let exclusive = schema["exclusiveMinimum"] == Value::Bool(true);
        if n < min || (exclusive && n == min) {
            errors.push(FieldError::invalid(
                field,
                format!(
                    "Invalid value: {n}: {field} in body should be greater than or equal to {min}"
                ),
            ));
        }
    }
    if let Some(max) = schema["maximum"].as_f64() {
        let exclusive = schema["exclusiveMaximum"] == Value::Bool(true);
        if n > max || (exclusive && n == max) {
            errors.push(FieldError::invalid(
                field,
                format!(
                    "Invalid value: {n}: {field} in body should be less than or equal to {max}"
                ),
            ));
        }
    }
}

fn check_string(schema: &Value, s: &str, field: &str, errors: &mut Vec<FieldError>) {
    check_len(
        schema,
        "minLength",
        "maxLength",
        s.chars().count(),
        "chars long",
        field,
        errors,
    );
    if let Some(pattern) = schema["pattern"].as_str() {
        match regex::Regex::new(pattern) {
            Ok(re) if !re.is_match(s) => {
                errors.push(FieldError::invalid(
                    field,
                    format!("Invalid value: \"{s}\": {field} in body should match '{pattern}'"),
                ));
            }
            Ok(_) => {}
            Err(_) => errors.push(FieldError::invalid(
                field,
                format!("the schema's pattern {pattern:?} is not a valid regular expression"),
            )),
        }
    }
}

fn check_len(
    schema: &Value,
    min_key: &str,
    max_key: &str,
    len: usize,
    unit: &str,
    field: &str,
    errors: &mut Vec<FieldError>,
) {
    if schema[min_key]
        .as_u64()
        .is_some_and(|min| (len as u64) < min)
    {
        errors.push(FieldError::invalid(
            field,
            format!(
                "Invalid value: {len}: {field} in body should be at least {} {unit}",
                schema[min_key]
            ),
        ));
    }
    if schema[max_key]
        .as_u64()
        .is_some_and(|max| (len as u64) > max)
    {
        errors.push(FieldError {
            reason: "FieldValueTooLong",
            field: field.to_string(),
            message: format!("Too long: may not be more than {} {unit}", schema[max_key]),
        });
    }
}

fn check_object(
    schema: &Value,
    map: &Map<String, Value>,
    path: &str,
    field: &str,
    errors: &mut Vec<FieldError>,
) {
    for req in schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !map.contains_key(req) {
            errors.push(FieldError::required(join(path, req)));
        }
    }
    check_len(
        schema,
        "minProperties",
        "maxProperties",
        map.len(),
        "properties",
        field,
        errors,
    );
    let props = schema["properties"].as_object();
    for (key, value) in map {
        if path.is_empty() && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(s) = props.and_then(|p| p.get(key)) {
            validate_at(s, value, &join(path, key), errors);
        } else if schema["additionalProperties"].is_object() {
            validate_at(
                &schema["additionalProperties"],
                value,
                &join(path, key),
                errors,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["size"],
                    "properties": {
                        "size": {"type": "integer", "minimum": 1, "maximum": 10},
                        "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                        "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
                        "port": {"x-kubernetes-int-or-string": true},
                        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    },
                },
                "status": {"type": "object", "properties": {"ready": {"type": "boolean", "default": false}}},
            },
        })
    }

    #[test]
    fn validation_table() {
        let cases = [
            (json!({"spec": {"size": 3}}), vec![]),
            (json!({"spec": {}}), vec!["spec.size"]),
            (json!({"spec": {"size": "3"}}), vec!["spec.size"]),
            (json!({"spec": {"size": 0}}), vec!["spec.size"]),
            (json!({"spec": {"size": 11}}), vec!["spec.size"]),
            (
                json!({"spec": {"size": 1, "color": "green"}}),
                vec!["spec.color"],
            ),
            (
                json!({"spec": {"size": 1, "name": "Abc"}}),
                vec!["spec.name"],
            ),
            (
                json!({"spec": {"size": 1, "name": "abcdefghij"}}),
                vec!["spec.name"],
            ),
            (json!({"spec": {"size": 1, "port": 80}}), vec![]),
            (json!({"spec": {"size": 1, "port": "http"}}), vec![]),
            (
                json!({"spec": {"size": 1, "port": true}}),
                vec!["spec.port"],
            ),
            (
                json!({"spec": {"size": 1, "tags": ["a", "b", "c"]}}),
                vec!["spec.tags"],
            ),
            (
                json!({"spec": {"size": 1, "tags": ["a", 2]}}),
                vec!["spec.tags[1]"],
            ),
            (
                json!({"spec": {"size": 1, "labels": {"a": 1}}}),
                vec!["spec.labels.a"],
            ),
            (
                json!({"spec": {"size": 1, "free": {"anything": [1, {"x": null}]}}}),
                vec![],
            ),
        ];
        for (obj, want) in cases {
            let got: Vec<String> = validate(&schema(), &obj)
                .into_iter()
                .map(|e| e.field)
                .collect();
            assert_eq!(got, want, "{obj}");
        }
    }

    #[test]
    fn pruning_keeps_declared_and_preserved_fields() {
        let mut obj = json!({"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "a"}, "spec": {"size": 1, "bogus": 1, "free": {"kept": true}, "labels": {"any": "x"}}, "extra": 2});
        let pruned = prune(&schema(), &mut obj);
        assert_eq!(pruned, vec!["extra".to_string(), "spec.bogus".to_string()]);
        assert_eq!(obj["spec"]["free"]["kept"], true);
        assert_eq!(obj["spec"]["labels"]["any"], "x");
        assert_eq!(obj["metadata"]["name"], "a");
    }

    #[test]
    fn defaults_fill_absent_fields_only() {
        let mut obj = json!({"spec": {"size": 1}, "status": {}});
        apply_defaults(&schema(), &mut obj);
        assert_eq!(obj["spec"]["color"], "red");
        assert_eq!(obj["status"]["ready"], false);
        let mut blue = json!({"spec": {"size": 1, "color": "blue"}});
        apply_defaults(&schema(), &mut blue);
        assert_eq!(blue["spec"]["color"], "blue");
    }
}
