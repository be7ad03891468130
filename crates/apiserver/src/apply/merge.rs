//! Merging an applied configuration into the live object ([`merge`]) and removing what an
//! applier stopped applying and nobody else owns ([`prune`]).

use serde_json::{Map, Value};

use super::compare::item_element;
use super::fieldset::{self, FieldSet};
use super::schema::Node;

/// `rhs` merged into `lhs`: structs and maps field by field, list-maps by key, sets by value,
/// everything else (scalars, atomic values) replaced. A null in `rhs` removes the field.
pub fn merge(lhs: &Value, rhs: &Value, node: &Node) -> Value {
    match (lhs, rhs) {
        (Value::Object(l), Value::Object(r))
            if !node.is_atomic() && !matches!(node, Node::ListMap(..) | Node::Set) =>
        {
            let mut out = l.clone();
            for (k, rv) in r {
                if rv.is_null() {
                    out.remove(k);
                    continue;
                }
                let merged = match l.get(k) {
                    Some(lv) => merge(lv, rv, &node.child(k)),
                    None => rv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(r)) if matches!(node, Node::ListMap(..) | Node::Set) => {
            Value::Array(merge_items(l, r, node))
        }
        _ => rhs.clone(),
    }
}

/// Items of both lists: shared items in `rhs`'s order and merged, `lhs`-only items kept in
/// place, `rhs`-only items inserted where `rhs` has them.
fn merge_items(l: &[Value], r: &[Value], node: &Node) -> Vec<Value> {
    let left: Vec<String> = l
        .iter()
        .enumerate()
        .map(|(i, v)| item_element(node, v, i))
        .collect();
    let right: Vec<String> = r
        .iter()
        .enumerate()
        .map(|(i, v)| item_element(node, v, i + l.len()))
        .collect();
    let item_node = node.item();
    let mut out = Vec::with_capacity(l.len() + r.len());
    let mut emitted = vec![false; l.len()];
    let (mut i, mut j) = (0, 0);
    while i < l.len() || j < r.len() {
        if i < l.len() && emitted[i] {
            i += 1;
            continue;
        }
        if i < l.len() && !right.contains(&left[i]) {
            out.push(l[i].clone());
            emitted[i] = true;
            i += 1;
            continue;
        }
        if j >= r.len() {
            break;
        }
        match left.iter().position(|e| *e == right[j]) {
            Some(at) => {
                let merged = match node {
                    Node::ListMap(..) => merge(&l[at], &r[j], &item_node),
                    _ => r[j].clone(),
                };
                out.push(merged);
                emitted[at] = true;
            }
            None => out.push(r[j].clone()),
        }
        j += 1;
    }
    out
}

/// Removes from `obj` what the applier's previous set `last` covers and nobody owns any
/// more (`owned`: every manager's set, the applier's new one included). A node with owned
/// descendants stays and is pruned inside; list-map items keep their key fields.
pub fn prune(obj: &mut Value, last: &FieldSet, owned: Option<&FieldSet>) {
    prune_at(obj, last, owned, &[]);
}

fn prune_at(obj: &mut Value, last: &FieldSet, owned: Option<&FieldSet>, keys: &[String]) {
    for (e, last_child) in &last.children {
        let owned_child = owned.and_then(|o| o.children.get(e));
        if let Some(name) = e.strip_prefix("f:") {
            let Value::Object(map) = obj else { continue };
            if keys.iter().any(|k| k == name) || !map.contains_key(name) {
                continue;
            }
            match owned_child {
                None => {
                    map.remove(name);
                }
                Some(o) => {
                    if let Some(child) = map.get_mut(name) {
                        prune_at(child, last_child, Some(o), &[]);
                    }
                }
            }
            continue;
        }
        let Value::Array(items) = obj else { continue };
        let item_keys: Vec<String> = e
            .strip_prefix("k:")
            .and_then(|k| serde_json::from_str::<Map<String, Value>>(k).ok())
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let Some(at) = items
            .iter()
            .enumerate()
            .position(|(i, item)| element_of(e, &item_keys, item, i))
        else {
            continue;
        };
        match owned_child {
            None => {
                items.remove(at);
            }
            Some(o) => prune_at(&mut items[at], last_child, Some(o), &item_keys),
        }
    }
}

fn element_of(e: &str, keys: &[String], item: &Value, index: usize) -> bool {
    match &e[..2.min(e.len())] {
        "k:" => fieldset::key(item, keys).is_some_and(|k| k == e),
        "v:" => fieldset::value(item) == e,
        _ => format!("i:{index}") == e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::compare::to_fieldset;
    use crate::apply::schema::Types;
    use gantry_schema::Schema;
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn merge_table() {
        let types = Types::Builtin(Arc::new(Schema::for_type::<Deployment>()));
        let live = json!({"metadata": {"labels": {"a": "1"}, "finalizers": ["x"]}, "spec": {"replicas": 1,
            "selector": {"matchLabels": {"a": "1", "b": "2"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "v1", "args": ["p", "q"]}, {"name": "d", "image": "d"}]}}}});
        let cases = [
            (
                json!({"metadata": {"labels": {"b": "2"}}}),
                "/metadata/labels",
                json!({"a": "1", "b": "2"}),
            ),
            (
                json!({"metadata": {"labels": {"a": null}}}),
                "/metadata/labels",
                json!({}),
            ),
            (
                json!({"metadata": {"finalizers": ["y", "x"]}}),
                "/metadata/finalizers",
                json!(["y", "x"]),
            ),
            (
                json!({"spec": {"selector": {"matchLabels": {"a": "1"}}}}),
                "/spec/selector",
                json!({"matchLabels": {"a": "1"}}),
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": [{"name": "e", "image": "e"}, {"name": "c", "image": "v2", "args": ["r"]}]}}}}),
                "/spec/template/spec/containers",
                json!([{"name": "e", "image": "e"}, {"name": "c", "image": "v2", "args": ["r"]}, {"name": "d", "image": "d"}]),
            ),
        ];
        for (i, (config, pointer, want)) in cases.into_iter().enumerate() {
            let got = merge(&live, &config, &types.root());
            assert_eq!(got.pointer(pointer), Some(&want), "case {i}");
        }
    }

    #[test]
    fn prune_keeps_what_others_own() {
        let types = Types::Builtin(Arc::new(Schema::for_type::<Deployment>()));
        let root = types.root();
        let obj = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 3, "paused": true,
            "template": {"spec": {"containers": [{"name": "c", "image": "v1", "tty": true}, {"name": "d", "image": "d"}]}}}});
        let last = to_fieldset(&obj, &root);
        let cases = [
            // Nobody owns anything any more: everything the applier had goes.
            (json!({}), json!({}), json!({})),
            // The applier keeps container c's image and label a; another owns replicas.
            (
                json!({"metadata": {"labels": {"a": "1"}}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v1"}]}}}}),
                json!({"spec": {"replicas": 3}}),
                json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "c", "image": "v1"}]}}}}),
            ),
            // Another manager owns only d's tty-less image: d stays, keyed by its name.
            (
                json!({}),
                json!({"spec": {"template": {"spec": {"containers": [{"name": "d", "image": "d"}]}}}}),
                json!({"spec": {"template": {"spec": {"containers": [{"name": "d", "image": "d"}]}}}}),
            ),
        ];
        for (i, (mine, other, want)) in cases.into_iter().enumerate() {
            let owned = to_fieldset(&mine, &root).union(&to_fieldset(&other, &root));
            let mut got = obj.clone();
            prune(&mut got, &last, Some(&owned));
            assert_eq!(got, want, "case {i}");
        }
    }
}
