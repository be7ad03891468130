//! The generic registry: every served resource is a [`ResourceDef`] (its type, names and
//! [`Strategy`]); one generic store ([`crate::storage`]) serves them all.
//!
//! Adding a resource = its k8s-openapi type + a strategy + one line in [`builtin`].

mod builtin;
pub(crate) mod strategies;
pub mod strategy;
pub mod view;

use std::collections::HashMap;

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

pub use strategy::{NameRule, Strategy};

/// Decodes a JSON object into the resource's typed form and back: unknown fields are dropped
/// and types checked. Errors name the offending field path.
pub type Codec = Box<dyn Fn(&Value) -> Result<Value, String> + Send + Sync>;

fn roundtrip<T: Serialize + DeserializeOwned>(value: &Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

fn schema_of<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    generator.subschema_for::<T>()
}

/// Names and scope of one resource, and how to treat its objects.
pub struct ResourceDef {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: String,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub namespaced: bool,
    pub subresources: &'static [&'static str],
    pub codec: Codec,
    pub strategy: Box<dyn Strategy>,
    /// The OpenAPI entry of a built-in type (custom resources publish their CRD schema).
    pub openapi: Option<gantry_openapi::ResourceDoc>,
    /// What a custom resource adds; `None` for built-in types.
    pub custom: Option<crate::crd::CustomInfo>,
    /// Set when the resource is served from another resource's storage.
    pub view: Option<&'static view::View>,
}

impl ResourceDef {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The storage key prefix of this resource (all namespaces).
    pub fn key_prefix(&self) -> String {
        let group = match self.view {
            Some(view) => view.storage_group,
            None if self.group.is_empty() => "core",
            None => self.group,
        };
        format!("/registry/{group}/{}/", self.plural)
    }

    /// The key prefix of a namespace's objects, or of all objects.
    pub fn collection_key(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/", self.key_prefix()),
            _ => self.key_prefix(),
        }
    }

    pub fn object_key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/{name}", self.key_prefix()),
            _ => format!("{}{name}", self.key_prefix()),
        }
    }

    /// A stored object as served through this resource: resource version spliced in, and
    /// for custom resources the served version as `apiVersion`.
    pub fn render(&self, stored: &[u8], rv: i64) -> Vec<u8> {
        let bytes = crate::object::with_version(stored, rv);
        match (&self.custom, self.view) {
            (Some(_), _) => crate::object::with_api_version(&bytes, &self.api_version()),
            (None, Some(view)) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(stored) => serde_json::to_vec(&(view.from_storage)(&stored)).unwrap_or(bytes),
                Err(_) => bytes,
            },
            (None, None) => bytes,
        }
    }

    /// The stored form of an object of this resource.
    pub fn encode(&self, obj: &Value) -> crate::error::ApiResult<bytes::Bytes> {
        match self.view {
            Some(view) => crate::object::to_stored(&(view.to_storage)(obj)),
            None => crate::object::to_stored(obj),
        }
    }

    /// Appends [`ResourceDef::render`]'s bytes to `out` (no copy for built-in resources).
    pub fn render_into(&self, out: &mut Vec<u8>, stored: &[u8], rv: i64) {
        match (&self.custom, self.view) {
            (None, None) => crate::object::write_with_version(out, stored, rv),
            _ => out.extend_from_slice(&self.render(stored, rv)),
        }
    }

    /// A stored object parsed, as served through this resource.
    pub fn decode(&self, stored: &[u8], rv: i64) -> crate::error::ApiResult<Value> {
        let mut obj = crate::object::from_stored(stored, rv)?;
        if self.custom.is_some() {
            obj["apiVersion"] = Value::String(self.api_version());
        }
        if let Some(view) = self.view {
            obj = (view.from_storage)(&obj);
        }
        Ok(obj)
    }

    pub fn verbs(&self) -> &'static [&'static str] {
        &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}

/// Per-resource options of a registration line.
#[derive(Default)]
pub struct Names {
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [&'static str],
}

/// All served resources, looked up by group, version and plural.
#[derive(Default)]
pub struct Registry {
    defs: Vec<ResourceDef>,
    index: HashMap<(String, String, String), usize>,
}

impl Registry {
    /// The registry of built-in Kubernetes resources.
    pub fn builtin() -> Registry {
        let mut registry = Registry::default();
        builtin::register(&mut registry);
        registry
    }

    pub fn add<T>(&mut self, names: Names, strategy: impl Strategy + 'static)
    where
        T: k8s_openapi::Resource
            + k8s_openapi::ListableResource
            + Serialize
            + DeserializeOwned
            + schemars::JsonSchema
            + 'static,
    {
        let namespaced = std::any::type_name::<T::Scope>().ends_with("NamespaceResourceScope");
        let def = ResourceDef {
            group: T::GROUP,
            version: T::VERSION,
            kind: T::KIND,
            plural: T::URL_PATH_SEGMENT,
            singular: T::KIND.to_ascii_lowercase(),
            short_names: names.short_names,
            categories: names.categories,
            namespaced,
            subresources: names.subresources,
            codec: Box::new(roundtrip::<T>),
            strategy: Box::new(strategy),
            custom: None,
            view: None,
            openapi: Some(gantry_openapi::ResourceDoc {
                group: T::GROUP,
                version: T::VERSION,
                kind: T::KIND,
                plural: T::URL_PATH_SEGMENT,
                namespaced,
                subresources: names.subresources,
                schema: gantry_openapi::SchemaSource::Typed(schema_of::<T>),
            }),
        };
        let key = (
            def.group.to_string(),
            def.version.to_string(),
            def.plural.to_string(),
        );
        self.index.insert(key, self.defs.len());
        self.defs.push(def);
    }

    /// Serves the resource registered last from another resource's storage.
    pub fn view_last(&mut self, view: &'static view::View) {
        if let Some(def) = self.defs.last_mut() {
            def.view = Some(view);
        }
    }

    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceDef> {
        self.index
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .map(|&i| &self.defs[i])
    }

    pub fn all(&self) -> &[ResourceDef] {
        &self.defs
    }

    /// Groups with their versions, in registration order (core first).
    pub fn group_versions(&self) -> Vec<(&'static str, &'static str)> {
        let mut out: Vec<(&'static str, &'static str)> = Vec::new();
        for d in &self.defs {
            if !out.contains(&(d.group, d.version)) {
                out.push((d.group, d.version));
            }
        }
        out
    }

    pub fn in_group_version<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a ResourceDef> + 'a {
        self.defs
            .iter()
            .filter(move |d| d.group == group && d.version == version)
    }
}
