//! The fields an object sets ([`to_fieldset`], what an applier owns) and the fields that differ
//! between two objects ([`compare`], what an update takes over), as structured-merge-diff's
//! `ToFieldSet` and `Compare`.

use serde_json::Value;

use super::fieldset::{self, FieldSet};
use super::schema::Node;

/// The element naming one list item: by key for list-maps, by value for sets, else by index.
pub fn item_element(node: &Node, item: &Value, index: usize) -> String {
    match node {
        Node::ListMap(keys, _) => fieldset::key(item, keys).unwrap_or_else(|| format!("i:{index}")),
        Node::Set => fieldset::value(item),
        _ => format!("i:{index}"),
    }
}

/// Whether the node's lists are merged item by item.
fn granular_list(node: &Node) -> bool {
    matches!(node, Node::ListMap(..) | Node::Set)
}

/// Whether the node's objects are merged field by field.
fn granular_object(node: &Node) -> bool {
    matches!(node, Node::Struct(_) | Node::Map(_) | Node::Deduced)
}

/// Every field `v` sets: scalars, atomic values, list items, map entries, and struct fields
/// holding null or an empty object.
pub fn to_fieldset(v: &Value, node: &Node) -> FieldSet {
    let mut out = FieldSet::default();
    walk_set(v, node, &mut Vec::new(), &mut out);
    out
}

fn walk_set(v: &Value, node: &Node, path: &mut Vec<String>, out: &mut FieldSet) {
    match v {
        Value::Object(map) if granular_object(node) => {
            for (k, child) in map {
                let (child_node, named) = node.child_named(k);
                path.push(fieldset::field(k));
                walk_set(child, &child_node, path, out);
                let empty = child.is_null() || child.as_object().is_some_and(|m| m.is_empty());
                if empty || !named {
                    out.insert(path);
                }
                path.pop();
            }
        }
        Value::Array(items) if granular_list(node) => {
            let item_node = node.item();
            for (i, item) in items.iter().enumerate() {
                path.push(item_element(node, item, i));
                if matches!(node, Node::ListMap(..)) {
                    walk_set(item, &item_node, path, out);
                }
                out.insert(path);
                path.pop();
            }
        }
        _ if path.is_empty() => {}
        _ => out.insert(path),
    }
}

/// The fields added, modified and removed from `lhs` to `rhs`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl Comparison {
    /// Added or modified: what a writer takes ownership of.
    pub fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }
}

pub fn compare(lhs: &Value, rhs: &Value, node: &Node) -> Comparison {
    let mut c = Comparison::default();
    walk_cmp(Some(lhs), Some(rhs), node, &mut Vec::new(), &mut c, false);
    c
}

/// [`compare`] of two objects as if neither had `metadata.managedFields` (compares nothing
/// under that path, without copying the objects to drop it).
pub fn compare_without_managed(lhs: &Value, rhs: &Value, node: &Node) -> Comparison {
    let mut c = Comparison::default();
    let lhs = without_managed_view(lhs);
    let rhs = without_managed_view(rhs);
    walk_cmp(Some(&lhs), Some(&rhs), node, &mut Vec::new(), &mut c, true);
    c
}

/// `obj` with `metadata` emptied when `managedFields` is all it holds, so that the
/// comparison sees the same empty metadata a copy without managedFields would have.
fn without_managed_view(obj: &Value) -> std::borrow::Cow<'_, Value> {
    match obj["metadata"].as_object() {
        Some(meta) if meta.len() == 1 && meta.contains_key("managedFields") => {
            let mut copy = obj.clone();
            copy["metadata"] = Value::Object(Default::default());
            std::borrow::Cow::Owned(copy)
        }
        _ => std::borrow::Cow::Borrowed(obj),
    }
}

fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

fn walk_cmp<'v>(
    lhs: Option<&'v Value>,
    rhs: Option<&'v Value>,
    node: &Node,
    path: &mut Vec<String>,
    c: &mut Comparison,
    skip_managed: bool,
) {
    let (lhs, rhs) = (present(lhs), present(rhs));
    let objects = |v: Option<&Value>| v.is_none_or(Value::is_object);
    let arrays = |v: Option<&Value>| v.is_none_or(Value::is_array);
    let empty = |v: Option<&Value>| match v {
        None => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    };
    if empty(lhs) && empty(rhs) && (lhs.is_none() || rhs.is_none() || lhs == rhs) {
        return leaf(lhs, rhs, path, c);
    }
    if granular_object(node) && objects(lhs) && objects(rhs) {
        let mut keys: Vec<&String> = lhs
            .and_then(Value::as_object)
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        for k in rhs
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.keys())
        {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        // Only `metadata` (at the root) is walked with `skip_managed`.
        let skip = skip_managed && path.len() == 1 && path[0] == "f:metadata";
        for k in keys {
            if skip && k == "managedFields" {
                continue;
            }
            let (l, r) = (
                present(lhs.and_then(|v| v.get(k))),
                present(rhs.and_then(|v| v.get(k))),
            );
            let (child_node, named) = node.child_named(k);
            path.push(fieldset::field(k));
            walk_cmp(l, r, &child_node, path, c, skip_managed && path.len() == 1);
            // Named struct fields are containers, not owned themselves (upstream's Go zero
            // values make them always present); maps, lists and map entries are.
            if !(named && matches!(child_node, Node::Struct(_))) {
                item_hook(l, r, path, c);
            }
            path.pop();
        }
        return;
    }
    if granular_list(node) && arrays(lhs) && arrays(rhs) {
        let items = |v: Option<&'v Value>| -> Vec<(String, &'v Value)> {
            v.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .enumerate()
                        .map(|(i, item)| (item_element(node, item, i), item))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (left, right) = (items(lhs), items(rhs));
        let mut elements: Vec<&String> = left.iter().map(|(e, _)| e).collect();
        for (e, _) in &right {
            if !elements.contains(&e) {
                elements.push(e);
            }
        }
        let item_node = node.item();
        for e in elements {
            let l = left.iter().find(|(x, _)| x == e).map(|(_, v)| *v);
            let r = right.iter().find(|(x, _)| x == e).map(|(_, v)| *v);
            path.push(e.clone());
            if matches!(node, Node::ListMap(..)) {
                walk_cmp(l, r, &item_node, path, c, false);
            }
            item_hook(l, r, path, c);
            path.pop();
        }
        return;
    }
    leaf(lhs, rhs, path, c)
}

fn item_hook(l: Option<&Value>, r: Option<&Value>, path: &[String], c: &mut Comparison) {
    match (l, r) {
        (None, Some(_)) => c.added.insert(path),
        (Some(_), None) => c.removed.insert(path),
        _ => {}
    }
}

fn leaf(l: Option<&Value>, r: Option<&Value>, path: &[String], c: &mut Comparison) {
    if path.is_empty() {
        return;
    }
    match (l, r) {
        (None, Some(_)) => c.added.insert(path),
        (Some(_), None) => c.removed.insert(path),
        (Some(a), Some(b)) if a != b => c.modified.insert(path),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::schema::Types;
    use gantry_schema::Schema;
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;
    use std::sync::Arc;

    fn deployment() -> Types {
        Types::Builtin(Arc::new(Schema::for_type::<Deployment>()))
    }

    #[test]
    fn fieldset_of_an_applied_deployment() {
        let types = deployment();
        let config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["x"]},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "c", "image": "nginx",
                        "ports": [{"containerPort": 80}], "args": ["a"]}]}}}});
        let got = to_fieldset(&config, &types.root()).to_fields_v1();
        let c = r#"k:{"name":"c"}"#;
        let port = r#"k:{"containerPort":80,"protocol":"TCP"}"#;
        let want = json!({"f:apiVersion": {}, "f:kind": {},
            "f:metadata": {"f:name": {}, "f:labels": {"f:app": {}}, "f:finalizers": {"v:\"x\"": {}}},
            "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {"f:spec": {"f:containers": {
                c: {".": {}, "f:name": {}, "f:image": {}, "f:args": {},
                    "f:ports": {port: {".": {}, "f:containerPort": {}}}}}}}}});
        assert_eq!(got, want);
    }

    #[test]
    fn compare_table() {
        let types = deployment();
        let base = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1,
            "template": {"spec": {"containers": [{"name": "c", "image": "v1"}]}}}});
        let c = r#"k:{"name":"c"}"#;
        let d = r#"k:{"name":"d"}"#;
        let cases = [
            (
                json!({"spec": {"replicas": 3}}),
                json!({}),
                json!({"f:spec": {"f:replicas": {}}}),
                json!({}),
            ),
            (
                json!({"metadata": {"labels": {"b": "2"}}}),
                json!({"f:metadata": {"f:labels": {"f:b": {}}}}),
                json!({}),
                json!({}),
            ),
            (
                json!({"metadata": {"labels": null}}),
                json!({}),
                json!({}),
                json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}}),
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v1"}, {"name": "d", "image": "x"}]}}}}),
                json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {d: {".": {}, "f:name": {}, "f:image": {}}}}}}}),
                json!({}),
                json!({}),
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v2"}]}}}}),
                json!({}),
                json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {c: {"f:image": {}}}}}}}),
                json!({}),
            ),
        ];
        for (i, (patch, added, modified, removed)) in cases.into_iter().enumerate() {
            let mut new = base.clone();
            json_patch::merge(&mut new, &patch);
            let got = compare(&base, &new, &types.root());
            assert_eq!(got.added.to_fields_v1(), added, "added {i}");
            assert_eq!(got.modified.to_fields_v1(), modified, "modified {i}");
            assert_eq!(got.removed.to_fields_v1(), removed, "removed {i}");
        }
        assert!(compare(&base, &base, &types.root()).is_empty());
    }
}
