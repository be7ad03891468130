//! What each node of an object is for field ownership: a scalar or atomic value, a struct
//! with named fields, a granular map, a list-map keyed by some fields, or a set.
//!
//! Built-in types read gantry-schema (list types, map types, patch strategies); custom
//! resources read their structural schema (`x-kubernetes-list-type`, `-list-map-keys`,
//! `-map-type`); anything unknown is "deduced" as upstream: objects are granular maps and
//! lists are atomic.

use std::sync::{Arc, OnceLock};

use gantry_schema::{Collection, FieldInfo, Schema, Shape};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// Struct types upstream marks `+structType=atomic`: owned and replaced as a whole.
const ATOMIC_STRUCTS: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
    "io.k8s.api.core.v1.TopologySelectorTerm",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.api.core.v1.TypedObjectReference",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ResourceFieldSelector",
];

/// The types of one resource: its built-in schema or its custom structural schema.
#[derive(Clone)]
pub enum Types {
    Builtin(Arc<Schema>),
    Custom(Arc<Value>),
}

/// What one node of an object is.
#[derive(Clone)]
pub enum Node<'a> {
    /// A scalar, or an atomic list, map or struct: owned as a whole.
    Leaf,
    /// No schema: objects are granular maps of deduced values, lists are atomic.
    Deduced,
    /// A struct with named fields.
    Struct(StructRef<'a>),
    /// A granular map whose values are of the inner node.
    Map(Box<Node<'a>>),
    /// A list of structs merged by the key fields.
    ListMap(Vec<String>, Box<Node<'a>>),
    /// A list of unique scalars.
    Set,
}

#[derive(Clone)]
pub enum StructRef<'a> {
    Builtin(&'a Schema, String),
    Custom(&'a Value, bool),
}

fn object_meta() -> &'static Schema {
    static META: OnceLock<Schema> = OnceLock::new();
    META.get_or_init(Schema::for_type::<ObjectMeta>)
}

impl Types {
    /// The node of a whole object.
    pub fn root(&self) -> Node<'_> {
        match self {
            Types::Builtin(s) if s.has_type(s.root()) => {
                Node::Struct(StructRef::Builtin(s, s.root().to_string()))
            }
            Types::Builtin(_) => Node::Deduced,
            Types::Custom(v) => Node::Struct(StructRef::Custom(v, true)),
        }
    }
}

impl<'a> Node<'a> {
    /// The node of field (or map entry) `name` of this node.
    pub fn child(&self, name: &str) -> Node<'a> {
        match self {
            Node::Struct(StructRef::Builtin(schema, ty)) => match schema.field(ty, name) {
                Some(info) => builtin_field(schema, &info),
                None => Node::Deduced,
            },
            Node::Struct(StructRef::Custom(schema, root)) => {
                if *root && name == "metadata" {
                    let meta = object_meta();
                    return Node::Struct(StructRef::Builtin(meta, meta.root().to_string()));
                }
                match schema["properties"].get(name) {
                    Some(prop) => custom(prop),
                    None if schema["additionalProperties"].is_object() => {
                        custom(&schema["additionalProperties"])
                    }
                    None => Node::Deduced,
                }
            }
            Node::Map(inner) => (**inner).clone(),
            _ => Node::Deduced,
        }
    }

    /// [`Node::child`] and [`Node::is_named`] of `name` together (one schema lookup).
    pub fn child_named(&self, name: &str) -> (Node<'a>, bool) {
        match self {
            Node::Struct(StructRef::Builtin(schema, ty)) => match schema.field(ty, name) {
                Some(info) => (builtin_field(schema, &info), true),
                None => (Node::Deduced, false),
            },
            _ => (self.child(name), self.is_named(name)),
        }
    }

    /// Whether `name` is a named field of a struct (not a map entry).
    pub fn is_named(&self, name: &str) -> bool {
        match self {
            Node::Struct(StructRef::Builtin(schema, ty)) => schema.field(ty, name).is_some(),
            Node::Struct(StructRef::Custom(schema, root)) => {
                (*root && name == "metadata") || schema["properties"].get(name).is_some()
            }
            _ => false,
        }
    }

    /// The node of the items of a list-map.
    pub fn item(&self) -> Node<'a> {
        match self {
            Node::ListMap(_, inner) => (**inner).clone(),
            _ => Node::Deduced,
        }
    }

    /// Whether a value at this node that is an object or a list is owned as a whole.
    pub fn is_atomic(&self) -> bool {
        matches!(self, Node::Leaf)
    }
}

fn builtin_shape<'a>(schema: &'a Schema, shape: &Shape) -> Node<'a> {
    match shape {
        Shape::Object(name) if ATOMIC_STRUCTS.contains(&name.as_str()) => Node::Leaf,
        Shape::Object(name) => Node::Struct(StructRef::Builtin(schema, name.clone())),
        Shape::Map(inner) => Node::Map(Box::new(builtin_shape(schema, inner))),
        Shape::List(_) | Shape::Scalar => Node::Leaf,
        Shape::Unknown => Node::Deduced,
    }
}

fn builtin_field<'a>(schema: &'a Schema, info: &FieldInfo) -> Node<'a> {
    let collection = info.row.map(|r| r.collection).unwrap_or(Collection::Plain);
    match (&info.shape, collection) {
        (_, Collection::ListAtomic | Collection::MapAtomic | Collection::StructAtomic) => {
            Node::Leaf
        }
        (Shape::List(inner), Collection::ListMap(keys)) => Node::ListMap(
            keys.iter().map(|k| k.to_string()).collect(),
            Box::new(builtin_shape(schema, inner)),
        ),
        (Shape::List(_), Collection::ListSet) => Node::Set,
        (Shape::List(inner), _) if info.merges() => match (info.merge_key(), &**inner) {
            (Some(k), Shape::Object(_)) => {
                Node::ListMap(vec![k.to_string()], Box::new(builtin_shape(schema, inner)))
            }
            (None, Shape::Scalar) => Node::Set,
            _ => Node::Leaf,
        },
        (shape, _) => builtin_shape(schema, shape),
    }
}

fn custom(schema: &Value) -> Node<'_> {
    if schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true)
        && schema.get("properties").is_none()
    {
        return Node::Deduced;
    }
    match schema["type"].as_str() {
        Some("object") if schema["x-kubernetes-map-type"] == "atomic" => Node::Leaf,
        Some("object") if schema.get("properties").is_some() => {
            Node::Struct(StructRef::Custom(schema, false))
        }
        Some("object") => match schema.get("additionalProperties") {
            Some(values @ Value::Object(_)) => Node::Map(Box::new(custom(values))),
            _ => Node::Deduced,
        },
        Some("array") => match schema["x-kubernetes-list-type"].as_str() {
            Some("set") => Node::Set,
            Some("map") => {
                let keys = schema["x-kubernetes-list-map-keys"]
                    .as_array()
                    .map(|ks| {
                        ks.iter()
                            .filter_map(|k| k.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                Node::ListMap(keys, Box::new(custom(&schema["items"])))
            }
            _ => Node::Leaf,
        },
        _ if schema["x-kubernetes-embedded-resource"] == Value::Bool(true) => Node::Deduced,
        _ => Node::Leaf,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;

    fn kind(node: &Node) -> String {
        match node {
            Node::Leaf => "leaf".into(),
            Node::Deduced => "deduced".into(),
            Node::Struct(_) => "struct".into(),
            Node::Map(_) => "map".into(),
            Node::ListMap(keys, _) => format!("listmap{keys:?}"),
            Node::Set => "set".into(),
        }
    }

    #[test]
    fn builtin_nodes_table() {
        let types = Types::Builtin(Arc::new(Schema::for_type::<Deployment>()));
        let root = types.root();
        let spec = root.child("spec");
        let pod = spec.child("template").child("spec");
        let container = pod.child("containers").item();
        let cases = [
            (spec.child("replicas"), "leaf"),
            (spec.child("selector"), "leaf"),
            (root.child("metadata").child("labels"), "map"),
            (root.child("metadata").child("finalizers"), "set"),
            (
                root.child("metadata").child("ownerReferences"),
                "listmap[\"uid\"]",
            ),
            (pod.child("containers"), "listmap[\"name\"]"),
            (
                container.child("ports"),
                "listmap[\"containerPort\", \"protocol\"]",
            ),
            (container.child("args"), "leaf"),
            (pod.child("tolerations"), "leaf"),
            (spec.child("template"), "struct"),
        ];
        for (i, (node, want)) in cases.iter().enumerate() {
            assert_eq!(kind(node), *want, "case {i}");
        }
        assert!(
            spec.is_named("replicas") && !root.child("metadata").child("labels").is_named("app")
        );
    }

    #[test]
    fn custom_nodes_table() {
        let schema = Arc::new(json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port"],
                          "items": {"type": "object", "properties": {"port": {"type": "integer"}}}},
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "args": {"type": "array", "items": {"type": "string"}},
                "env": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            }},
        }}));
        let types = Types::Custom(schema);
        let spec = types.root().child("spec");
        let cases = [
            (spec.child("ports"), "listmap[\"port\"]"),
            (spec.child("tags"), "set"),
            (spec.child("args"), "leaf"),
            (spec.child("env"), "map"),
            (spec.child("free"), "deduced"),
            (types.root().child("metadata").child("labels"), "map"),
        ];
        for (i, (node, want)) in cases.iter().enumerate() {
            assert_eq!(kind(node), *want, "case {i}");
        }
    }
}
