//! The structural walker: what each field of an object type holds (an object of type Y, a
//! list or map of Y, a scalar), read from the `schemars` schemas of k8s-openapi (`$ref`s
//! resolved), joined with the merge metadata of [`crate::table`].

use std::collections::HashMap;
use std::sync::OnceLock;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value};

use crate::table::{self, Row};

/// What a field holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// An object with known fields, by definition name (`io.k8s.api.core.v1.PodSpec`).
    Object(String),
    /// A list of items of the inner shape.
    List(Box<Shape>),
    /// A map from strings to values of the inner shape.
    Map(Box<Shape>),
    /// A string, number, boolean, or a string-encoded type (Quantity, Time, IntOrString).
    Scalar,
    /// Free-form JSON (`RawExtension`, `JSON`, preserve-unknown-fields): no structure known.
    Unknown,
}

/// One field of an object type: its shape and its merge metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldInfo {
    pub shape: Shape,
    /// The merge metadata row, `None` for fields without any (merged as plain fields).
    pub row: Option<&'static Row>,
}

impl FieldInfo {
    /// The patch merge key of a list field (`name` for containers), if its lists merge by key.
    pub fn merge_key(&self) -> Option<&'static str> {
        self.row.map(|r| r.merge_key).filter(|k| !k.is_empty())
    }

    /// Whether the field's patch strategy contains `merge` (lists merge instead of replace).
    pub fn merges(&self) -> bool {
        self.row.is_some_and(Row::merges)
    }

    /// Whether the field's patch strategy is `replace` (maps are replaced, not merged).
    pub fn replaces(&self) -> bool {
        self.row.is_some_and(Row::replaces)
    }

    /// The shape of a list's items or a map's values; the shape itself otherwise.
    pub fn element(&self) -> &Shape {
        match &self.shape {
            Shape::List(inner) | Shape::Map(inner) => inner,
            other => other,
        }
    }
}

/// The object types reachable from one root type, with the shape of each field.
#[derive(Debug, Default)]
pub struct Schema {
    root: String,
    types: HashMap<String, HashMap<String, Shape>>,
}

impl Schema {
    /// The schema of a k8s-openapi type and everything it references.
    pub fn for_type<T: JsonSchema>() -> Schema {
        Schema::from_generator(|g| g.subschema_for::<T>(), &T::schema_name())
    }

    /// The schema produced by `schema` (e.g. `|g| g.subschema_for::<Pod>()`) and everything it
    /// references; an inlined root is named `fallback_name`.
    pub fn from_generator(
        schema: fn(&mut SchemaGenerator) -> schemars::Schema,
        fallback_name: &str,
    ) -> Schema {
        let mut settings = SchemaSettings::openapi3();
        settings.meta_schema = None;
        settings.transforms.clear();
        let mut generator = SchemaGenerator::new(settings);
        let root = schema(&mut generator).to_value();
        let mut definitions = generator.take_definitions(true);
        match root.get("$ref").and_then(Value::as_str).map(ref_name) {
            Some(name) => Schema::from_definitions(name, &definitions),
            None => {
                definitions.insert(fallback_name.to_owned(), root);
                Schema::from_definitions(fallback_name, &definitions)
            }
        }
    }

    /// A schema from OpenAPI-style definitions (`name -> JSON schema`), rooted at `root`.
    /// Inline object schemas get synthetic names `<owner>.<field>`.
    pub fn from_definitions(root: &str, definitions: &Map<String, Value>) -> Schema {
        let mut schema = Schema {
            root: root.to_owned(),
            types: HashMap::new(),
        };
        for (name, definition) in definitions {
            if definition.get("properties").is_some() {
                schema.add_object(name, definition, definitions);
            }
        }
        schema
    }

    /// The root type's name, e.g. `io.k8s.api.apps.v1.Deployment`.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The field `json_field` of object type `type_name`; `None` when either is unknown.
    pub fn field(&self, type_name: &str, json_field: &str) -> Option<FieldInfo> {
        let shape = self.types.get(type_name)?.get(json_field)?.clone();
        Some(FieldInfo {
            shape,
            row: table::lookup(type_name, json_field),
        })
    }

    /// Whether `type_name` is an object type of this schema.
    pub fn has_type(&self, type_name: &str) -> bool {
        self.types.contains_key(type_name)
    }

    fn add_object(&mut self, name: &str, definition: &Value, definitions: &Map<String, Value>) {
        if self.types.contains_key(name) {
            return;
        }
        self.types.insert(name.to_owned(), HashMap::new());
        let mut fields = HashMap::new();
        if let Some(Value::Object(properties)) = definition.get("properties") {
            for (field, property) in properties {
                let shape = self.shape_of(property, &format!("{name}.{field}"), definitions);
                fields.insert(field.clone(), shape);
            }
        }
        self.types.insert(name.to_owned(), fields);
    }

    /// The shape of a property schema; inline objects are registered under `inline_name`.
    fn shape_of(
        &mut self,
        schema: &Value,
        inline_name: &str,
        definitions: &Map<String, Value>,
    ) -> Shape {
        if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
            return Shape::Unknown;
        }
        if let Some(name) = schema.get("$ref").and_then(Value::as_str).map(ref_name) {
            let Some(target) = definitions.get(name) else {
                return Shape::Unknown;
            };
            if target.get("properties").is_some() {
                self.add_object(name, target, definitions);
                return Shape::Object(name.to_owned());
            }
            return self.shape_of(target, name, definitions);
        }
        if let Some(Value::Array(all)) = schema.get("allOf")
            && let [only] = all.as_slice()
        {
            return self.shape_of(only, inline_name, definitions);
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("array") => match schema.get("items") {
                Some(items) => {
                    Shape::List(Box::new(self.shape_of(items, inline_name, definitions)))
                }
                None => Shape::List(Box::new(Shape::Unknown)),
            },
            Some("object") if schema.get("properties").is_some() => {
                self.add_object(inline_name, schema, definitions);
                Shape::Object(inline_name.to_owned())
            }
            Some("object") => match schema.get("additionalProperties") {
                Some(values @ Value::Object(_)) => {
                    Shape::Map(Box::new(self.shape_of(values, inline_name, definitions)))
                }
                _ => Shape::Unknown,
            },
            Some(_) => Shape::Scalar,
            None if schema.get("x-kubernetes-int-or-string").is_some() => Shape::Scalar,
            None => Shape::Unknown,
        }
    }
}

/// The definition name a `$ref` points at (its last path segment).
fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

/// A [`Schema`] built on first use, e.g. in a registry entry:
/// `LazySchema::new(Schema::for_type::<Pod>)`.
pub struct LazySchema {
    build: fn() -> Schema,
    cell: OnceLock<Schema>,
}

impl LazySchema {
    pub const fn new(build: fn() -> Schema) -> LazySchema {
        LazySchema {
            build,
            cell: OnceLock::new(),
        }
    }

    pub fn get(&self) -> &Schema {
        self.cell.get_or_init(self.build)
    }
}

impl std::fmt::Debug for LazySchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazySchema")
            .field("built", &self.cell.get().is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;

    fn shape(schema: &Schema, ty: &str, field: &str) -> Shape {
        schema
            .field(&format!("io.k8s.{ty}"), field)
            .map(|f| f.shape)
            .unwrap_or_else(|| panic!("{ty}.{field}"))
    }

    fn object(name: &str) -> Shape {
        Shape::Object(format!("io.k8s.{name}"))
    }

    #[test]
    fn walks_a_deployment() {
        let schema = Schema::for_type::<Deployment>();
        assert_eq!(schema.root(), "io.k8s.api.apps.v1.Deployment");
        let list = |s: Shape| Shape::List(Box::new(s));
        let map = |s: Shape| Shape::Map(Box::new(s));
        let cases = [
            (
                "api.apps.v1.Deployment",
                "spec",
                object("api.apps.v1.DeploymentSpec"),
            ),
            (
                "api.apps.v1.Deployment",
                "metadata",
                object("apimachinery.pkg.apis.meta.v1.ObjectMeta"),
            ),
            (
                "api.apps.v1.DeploymentSpec",
                "template",
                object("api.core.v1.PodTemplateSpec"),
            ),
            ("api.apps.v1.DeploymentSpec", "replicas", Shape::Scalar),
            (
                "api.core.v1.PodSpec",
                "containers",
                list(object("api.core.v1.Container")),
            ),
            ("api.core.v1.PodSpec", "nodeSelector", map(Shape::Scalar)),
            ("api.core.v1.PodSpec", "overhead", map(Shape::Scalar)),
            ("api.core.v1.Container", "args", list(Shape::Scalar)),
            (
                "api.core.v1.Container",
                "ports",
                list(object("api.core.v1.ContainerPort")),
            ),
            (
                "apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "labels",
                map(Shape::Scalar),
            ),
            (
                "apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "creationTimestamp",
                Shape::Scalar,
            ),
        ];
        for (ty, field, want) in cases {
            assert_eq!(shape(&schema, ty, field), want, "{ty}.{field}");
        }
        assert!(schema.field("io.k8s.api.core.v1.PodSpec", "nope").is_none());
    }

    #[test]
    fn joins_merge_metadata() {
        let schema = Schema::for_type::<Pod>();
        let containers = schema
            .field("io.k8s.api.core.v1.PodSpec", "containers")
            .expect("containers");
        assert!(containers.merges());
        assert_eq!(containers.merge_key(), Some("name"));
        assert_eq!(containers.element(), &object("api.core.v1.Container"));
        let tolerations = schema
            .field("io.k8s.api.core.v1.PodSpec", "tolerations")
            .expect("tolerations");
        assert!(!tolerations.merges());
        let finalizers = schema
            .field(
                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "finalizers",
            )
            .expect("finalizers");
        assert!(finalizers.merges() && finalizers.merge_key().is_none());
    }

    #[test]
    fn free_form_and_inline_objects() {
        let definitions = serde_json::json!({
            "Root": {"type": "object", "properties": {
                "raw": {"type": "object"},
                "keep": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "inline": {"type": "object", "properties": {"a": {"type": "string"}}},
                "missing": {"$ref": "#/definitions/Nope"},
            }},
        });
        let Value::Object(definitions) = definitions else {
            unreachable!()
        };
        let schema = Schema::from_definitions("Root", &definitions);
        assert_eq!(
            schema.field("Root", "raw").map(|f| f.shape),
            Some(Shape::Unknown)
        );
        assert_eq!(
            schema.field("Root", "keep").map(|f| f.shape),
            Some(Shape::Unknown)
        );
        assert_eq!(
            schema.field("Root", "missing").map(|f| f.shape),
            Some(Shape::Unknown)
        );
        assert_eq!(
            schema.field("Root", "inline").map(|f| f.shape),
            Some(Shape::Object("Root.inline".into()))
        );
        assert_eq!(
            schema.field("Root.inline", "a").map(|f| f.shape),
            Some(Shape::Scalar)
        );
    }
}
