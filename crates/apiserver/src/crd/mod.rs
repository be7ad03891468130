//! Custom resources: CustomResourceDefinitions turn into served resources at run time.
//!
//! The `controller` watches CRDs and keeps [`CustomRegistry`] current (what the handler
//! resolves custom resources in), sets CRD status conditions and deletes the objects of a
//! deleted CRD. `definition` builds one [`ResourceDef`] per served version; `structural`
//! validates, defaults and prunes objects by the version's schema.

pub mod controller;
mod definition;
mod intern;
pub mod printer;
pub mod strategy;
pub mod structural;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::registry::ResourceDef;

/// A printer column of a CRD version (`additionalPrinterColumns`).
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

/// Where a custom resource's scale subresource reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
}

/// What a custom resource's definition adds to a [`ResourceDef`].
#[derive(Clone, Debug)]
pub struct CustomInfo {
    /// The CRD's name (`plural.group`).
    pub crd: String,
    pub schema: Arc<Value>,
    pub printer_columns: Vec<PrinterColumn>,
    pub scale: Option<ScalePaths>,
    /// The CRD is being deleted: no new objects.
    pub terminating: bool,
}

/// The custom resources currently served, keyed by (group, version, plural).
#[derive(Default)]
pub struct CustomRegistry {
    defs: HashMap<(String, String, String), Arc<ResourceDef>>,
    /// Changes whenever the set changes (discovery is rebuilt when it sees a new value).
    pub generation: u64,
}

impl CustomRegistry {
    pub fn insert(&mut self, def: ResourceDef) {
        let key = (
            def.group.to_string(),
            def.version.to_string(),
            def.plural.to_string(),
        );
        self.defs.insert(key, Arc::new(def));
    }

    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceDef>> {
        self.defs
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// Every served custom resource, in a stable order.
    pub fn all(&self) -> Vec<Arc<ResourceDef>> {
        let mut defs: Vec<_> = self.defs.values().cloned().collect();
        defs.sort_by(|a, b| (a.group, a.version, a.plural).cmp(&(b.group, b.version, b.plural)));
        defs
    }

    /// One version of each custom resource (for work that spans all versions).
    pub fn one_per_resource(&self) -> Vec<Arc<ResourceDef>> {
        let mut seen = Vec::new();
        self.all()
            .into_iter()
            .filter(|d| {
                let key = (d.group, d.plural);
                let fresh = !seen.contains(&key);
                seen.push(key);
                fresh
            })
            .collect()
    }
}
