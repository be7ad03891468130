//! Strategic merge patch, the subset kubectl relies on: maps merge recursively, `null`
//! deletes, lists of objects merge by their Kubernetes merge key (containers by name, ports by
//! port, ...), and the `$patch`, `$setElementOrder`, `$deleteFromPrimitiveList` and
//! `$retainKeys` directives. Lists without a known merge key are replaced.
//! (Merge keys come from a fixed table here; schema-driven keys are future work.)

use serde_json::{Map, Value};

/// The merge key of a list field, by field name.
fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers" | "initContainers" | "ephemeralContainers" | "env" | "volumes" | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "ports" => "__port__",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "resourceClaims" => "name",
        _ => return None,
    })
}

/// Lists of strings that merge as sets.
fn is_merged_primitive_list(field: &str) -> bool {
    field == "finalizers"
}

pub fn apply(original: &Value, patch: &Value) -> Value {
    match (original, patch) {
        (Value::Object(o), Value::Object(p)) => Value::Object(merge_maps(o, p)),
        (_, p) => strip_directives(p),
    }
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter().filter(|(k, _)| !k.starts_with('$') && !k.starts_with("$setElementOrder/")).map(|(k, v)| (k.clone(), strip_directives(v))).collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

fn merge_maps(original: &Map<String, Value>, patch: &Map<String, Value>) -> Map<String, Value> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => return strip_directives(&Value::Object(patch.clone())).as_object().cloned().unwrap_or_default(),
        Some("delete") => return Map::new(),
        _ => {}
    }
    let mut out = original.clone();
    if let Some(keep) = patch.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        out.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(remove)) = (out.get_mut(field), value.as_array()) {
                list.retain(|item| !remove.contains(item));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        match value {
            Value::Null => {
                out.remove(key);
            }
            Value::Object(p) => {
                let merged = match out.get(key) {
                    Some(Value::Object(o)) => merge_maps(o, p),
                    _ => merge_maps(&Map::new(), p),
                };
                if p.get("$patch").and_then(Value::as_str) == Some("delete") {
                    out.remove(key);
                } else {
                    out.insert(key.clone(), Value::Object(merged));
                }
            }
            Value::Array(p) => {
                let merged = match out.get(key) {
                    Some(Value::Array(o)) => merge_list(key, o, p),
                    _ => strip_directives(value).as_array().cloned().unwrap_or_default().into_iter().filter(|i| !is_delete(i)).collect(),
                };
                out.insert(key.clone(), Value::Array(merged));
            }
            other => {
                out.insert(key.clone(), other.clone());
            }
        }
    }
    out
}

fn is_delete(item: &Value) -> bool {
    item.get("$patch").and_then(Value::as_str) == Some("delete")
}

fn key_of(item: &Value, key: &str) -> Option<Value> {
    if key == "__port__" {
        // Container ports merge by containerPort, service ports by port.
        return item.get("containerPort").or_else(|| item.get("port")).cloned();
    }
    item.get(key).cloned()
}

fn merge_list(field: &str, original: &[Value], patch: &[Value]) -> Vec<Value> {
    if patch.iter().any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace")) {
        return patch.iter().filter(|i| i.get("$patch").is_none()).map(strip_directives).collect();
    }
    if is_merged_primitive_list(field) {
        let mut out = original.to_vec();
        for item in patch {
            if !out.contains(item) {
                out.push(item.clone());
            }
        }
        return out;
    }
    let Some(key) = merge_key(field) else {
        return patch.iter().map(strip_directives).collect();
    };
    let mut out = original.to_vec();
    for item in patch {
        let Some(k) = key_of(item, key) else {
            out.push(strip_directives(item));
            continue;
        };
        let pos = out.iter().position(|o| key_of(o, key).as_ref() == Some(&k));
        match (pos, is_delete(item)) {
            (Some(i), true) => {
                out.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => out[i] = apply(&out[i], item),
            (None, false) => out.push(strip_directives(item)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merge_table() {
        let deploy = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x:1", "env": [{"name": "E", "value": "1"}]}, {"name": "b", "image": "y:1"}]}}}, "metadata": {"finalizers": ["f1"]}});
        let cases = [
            (
                json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "y:2"}]}}}}),
                json!([{"name": "a", "image": "x:1", "env": [{"name": "E", "value": "1"}]}, {"name": "b", "image": "y:2"}]),
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}}),
                json!([{"name": "b", "image": "y:1"}]),
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "z"}], "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}}}),
                json!([{"name": "a", "image": "x:1", "env": [{"name": "E", "value": "1"}]}, {"name": "b", "image": "y:1"}, {"name": "c", "image": "z"}]),
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "env": [{"name": "F", "value": "2"}]}]}}}}),
                json!([{"name": "a", "image": "x:1", "env": [{"name": "E", "value": "1"}, {"name": "F", "value": "2"}]}, {"name": "b", "image": "y:1"}]),
            ),
        ];
        for (patch, want) in cases {
            let got = apply(&deploy, &patch);
            assert_eq!(got["spec"]["template"]["spec"]["containers"], want, "{patch}");
        }
    }

    #[test]
    fn directives_on_maps_and_primitive_lists() {
        let obj = json!({"metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["f1", "f2"]}, "spec": {"tolerations": [{"key": "k"}]}});
        let got = apply(&obj, &json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}, "$deleteFromPrimitiveList/finalizers": ["f1"]}}));
        assert_eq!(got["metadata"]["labels"], json!({"c": "3"}));
        assert_eq!(got["metadata"]["finalizers"], json!(["f2"]));
        let got = apply(&obj, &json!({"spec": {"tolerations": [{"key": "other"}]}}));
        assert_eq!(got["spec"]["tolerations"], json!([{"key": "other"}]), "lists without a merge key are replaced");
        let got = apply(&obj, &json!({"metadata": {"labels": {"a": null}}}));
        assert_eq!(got["metadata"]["labels"], json!({"b": "2"}));
    }
}
