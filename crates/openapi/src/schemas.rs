//! Collects the schemas of one document from k8s-openapi's `schemars` impls.
//!
//! A [`SchemaSet`] wraps a `schemars` generator whose definitions path is the
//! document's (`#/components/schemas` in v3, `#/definitions` in v2), so every
//! `$ref` k8s-openapi emits already points inside the document. On top of the
//! generated definitions it adds the list kinds (k8s-openapi has no schema
//! for `List<T>`), the `x-kubernetes-group-version-kind` extensions, and the
//! merge extensions of every field `gantry-schema` knows
//! (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`,
//! `x-kubernetes-list-type`, `x-kubernetes-list-map-keys`,
//! `x-kubernetes-map-type`), which kubectl's client-side apply reads to
//! compute strategic merge patches.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::model::Gvk;

/// Which kind of document the schemas are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// OpenAPI 3: `#/components/schemas/...`.
    V3,
    /// Swagger 2.0: `#/definitions/...`.
    V2,
}

impl Flavor {
    fn definitions_path(self) -> &'static str {
        match self {
            Flavor::V3 => "/components/schemas",
            Flavor::V2 => "/definitions",
        }
    }

    /// The prefix every `$ref` into the definitions starts with.
    pub fn ref_prefix(self) -> &'static str {
        match self {
            Flavor::V3 => "#/components/schemas/",
            Flavor::V2 => "#/definitions/",
        }
    }

    /// A `$ref` schema pointing at the named definition.
    pub fn reference(self, name: &str) -> Value {
        json!({ "$ref": format!("{}{}", self.ref_prefix(), name) })
    }
}

/// The definitions of one document being assembled.
pub(crate) struct SchemaSet {
    generator: SchemaGenerator,
    flavor: Flavor,
    /// Schemas defined here rather than by a `JsonSchema` impl.
    extra: BTreeMap<String, Value>,
    gvks: BTreeMap<String, BTreeSet<Gvk>>,
}

impl SchemaSet {
    pub fn new(flavor: Flavor) -> Self {
        let mut settings = SchemaSettings::openapi3();
        settings.definitions_path = flavor.definitions_path().into();
        settings.meta_schema = None;
        // k8s-openapi's schemas are already in OpenAPI's dialect; keep them
        // as written (a `$ref` with a sibling `description` included).
        settings.transforms.clear();
        SchemaSet {
            generator: SchemaGenerator::new(settings),
            flavor,
            extra: BTreeMap::new(),
            gvks: BTreeMap::new(),
        }
    }

    /// A `$ref` schema pointing at the named definition.
    pub fn reference(&self, name: &str) -> Value {
        self.flavor.reference(name)
    }

    /// Adds a schema produced by `schema`; returns its definition name.
    /// An inlined schema (no `$ref`) is stored under `fallback_name`.
    pub fn add_with(
        &mut self,
        schema: fn(&mut SchemaGenerator) -> Schema,
        fallback_name: &str,
    ) -> String {
        let produced = schema(&mut self.generator);
        let prefix = self.flavor.ref_prefix();
        match produced.get("$ref").and_then(Value::as_str) {
            Some(reference) if reference.starts_with(prefix) => {
                reference[prefix.len()..].to_owned()
            }
            _ => {
                self.extra
                    .insert(fallback_name.to_owned(), produced.to_value());
                fallback_name.to_owned()
            }
        }
    }

    /// Adds a custom resource's structural schema under `name`, with `apiVersion`, `kind`
    /// and `metadata` described as for every Kubernetes object; returns `name`.
    pub fn add_custom(&mut self, schema: &Value, name: &str) -> String {
        let meta = self.add::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>();
        let mut schema = schema.clone();
        if !schema.is_object() {
            schema = serde_json::json!({"type": "object"});
        }
        if !schema["properties"].is_object() {
            schema["properties"] = serde_json::json!({});
        }
        schema["properties"]["apiVersion"] = serde_json::json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."});
        schema["properties"]["kind"] = serde_json::json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."});
        schema["properties"]["metadata"] = self.reference(&meta);
        self.extra.insert(name.to_owned(), schema);
        name.to_owned()
    }

    /// Adds the schema of `T`; returns its definition name.
    pub fn add<T: JsonSchema>(&mut self) -> String {
        self.add_with(|g| g.subschema_for::<T>(), &T::schema_name())
    }

    /// Defines `<item>List` from the item's definition; returns its name.
    pub fn add_list(&mut self, item: &str, kind: &str, plural: &str) -> String {
        let name = format!("{item}List");
        if self.extra.contains_key(&name) {
            return name;
        }
        let list_meta = self.add::<ListMeta>();
        let mut metadata = self.reference(&list_meta);
        metadata["description"] = json!(
            "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
        );
        let schema = json!({
            "description": format!("{kind}List is a list of {kind} objects."),
            "type": "object",
            "properties": {
                "apiVersion": {
                    "description": "APIVersion defines the versioned schema of this representation of an object.",
                    "type": "string",
                },
                "items": {
                    "description": format!("List of {plural}."),
                    "type": "array",
                    "items": self.reference(item),
                },
                "kind": {
                    "description": "Kind is a string value representing the REST resource this object represents.",
                    "type": "string",
                },
                "metadata": metadata,
            },
            "required": ["items"],
        });
        self.extra.insert(name.clone(), schema);
        name
    }

    /// Marks the named definition as the schema of `gvk`.
    pub fn tag(&mut self, name: &str, gvk: Gvk) {
        self.gvks.entry(name.to_owned()).or_default().insert(gvk);
    }

    /// All definitions, with GVK extensions stamped on the tagged ones.
    pub fn finish(mut self) -> Map<String, Value> {
        let mut definitions = self.generator.take_definitions(false);
        definitions.extend(self.extra);
        annotate_merge_extensions(&mut definitions);
        for (name, gvks) in self.gvks {
            let Some(Value::Object(schema)) = definitions.get_mut(&name) else {
                continue;
            };
            let list: Vec<Value> = gvks.iter().map(Gvk::to_json).collect();
            schema.insert("x-kubernetes-group-version-kind".to_owned(), list.into());
            // k8s-openapi marks `metadata` required because it is not an
            // `Option`; the API does not require it from clients.
            if let Some(Value::Array(required)) = schema.get_mut("required") {
                required.retain(|field| field != "metadata");
                if required.is_empty() {
                    schema.remove("required");
                }
            }
        }
        definitions
    }
}

/// Stamps the merge extensions of known fields onto their property schemas.
fn annotate_merge_extensions(definitions: &mut Map<String, Value>) {
    for row in gantry_schema::table::rows() {
        let Some(Value::Object(properties)) = definitions
            .get_mut(row.schema)
            .and_then(|d| d.get_mut("properties"))
        else {
            continue;
        };
        let Some(Value::Object(property)) = properties.get_mut(row.field) else {
            continue;
        };
        for (name, value) in row.extensions() {
            property.insert(name.to_owned(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn refs_point_into_the_flavors_definitions() {
        for flavor in [Flavor::V2, Flavor::V3] {
            let mut set = SchemaSet::new(flavor);
            assert_eq!(set.add::<Pod>(), "io.k8s.api.core.v1.Pod");
            let text = Value::Object(set.finish()).to_string();
            assert!(text.contains(&format!(
                "{}io.k8s.api.core.v1.PodSpec",
                flavor.ref_prefix()
            )));
            assert!(!text.contains("#/$defs/"));
        }
    }

    #[test]
    fn merge_extensions_are_published() {
        let mut set = SchemaSet::new(Flavor::V2);
        set.add::<k8s_openapi::api::apps::v1::Deployment>();
        let definitions = set.finish();
        let pod_spec = &definitions["io.k8s.api.core.v1.PodSpec"]["properties"];
        assert_eq!(
            pod_spec["containers"]["x-kubernetes-patch-strategy"],
            "merge"
        );
        assert_eq!(
            pod_spec["containers"]["x-kubernetes-patch-merge-key"],
            "name"
        );
        assert_eq!(pod_spec["containers"]["x-kubernetes-list-type"], "map");
        assert_eq!(
            pod_spec["containers"]["x-kubernetes-list-map-keys"],
            json!(["name"])
        );
        assert_eq!(
            pod_spec["volumes"]["x-kubernetes-patch-strategy"],
            "merge,retainKeys"
        );
        assert_eq!(pod_spec["tolerations"]["x-kubernetes-list-type"], "atomic");
        assert!(
            pod_spec["tolerations"]
                .get("x-kubernetes-patch-strategy")
                .is_none()
        );
        let container = &definitions["io.k8s.api.core.v1.Container"]["properties"];
        assert_eq!(
            container["ports"]["x-kubernetes-patch-merge-key"],
            "containerPort"
        );
        assert_eq!(
            container["ports"]["x-kubernetes-list-map-keys"],
            json!(["containerPort", "protocol"])
        );
        let meta = &definitions["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"];
        assert_eq!(meta["finalizers"]["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(meta["finalizers"]["x-kubernetes-list-type"], "set");
        let strategy = &definitions["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
        assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
    }

    #[test]
    fn tagging_adds_the_extension_and_drops_required_metadata() {
        let mut set = SchemaSet::new(Flavor::V3);
        let pod = set.add::<Pod>();
        set.tag(&pod, Gvk::new("", "v1", "Pod"));
        let definitions = set.finish();
        let schema = &definitions["io.k8s.api.core.v1.Pod"];
        assert_eq!(
            schema["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "Pod", "version": "v1"}])
        );
        assert!(schema.get("required").is_none());
    }
}
