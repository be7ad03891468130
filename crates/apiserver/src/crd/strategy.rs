//! The strategy of CustomResourceDefinition objects themselves: names, versions and the
//! cleanup finalizer.

use serde_json::{Value, json};

use crate::error::FieldError;
use crate::registry::Strategy;

/// Held on every CRD until its custom resources are deleted.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

pub struct CrdStrategy;

impl Strategy for CrdStrategy {
    fn has_status(&self) -> bool {
        true
    }

    fn prepare_create(&self, obj: &mut Value) {
        let meta = crate::object::meta_mut(obj);
        let finalizers = meta.entry("finalizers").or_insert_with(|| json!([]));
        if let Some(list) = finalizers.as_array_mut() {
            if !list.iter().any(|f| f == CLEANUP_FINALIZER) {
                list.push(json!(CLEANUP_FINALIZER));
            }
        }
        obj["status"] = json!({"conditions": [], "acceptedNames": {"kind": "", "plural": ""}, "storedVersions": []});
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let spec = &obj["spec"];
        let mut errors = Vec::new();
        let group = spec["group"].as_str().unwrap_or_default();
        let plural = spec["names"]["plural"].as_str().unwrap_or_default();
        if group.is_empty() {
            errors.push(FieldError::required("spec.group"));
        } else if !group.contains('.') {
            errors.push(FieldError::invalid(
                "spec.group",
                format!("Invalid value: \"{group}\": should be a domain with at least one dot"),
            ));
        }
        if plural.is_empty() {
            errors.push(FieldError::required("spec.names.plural"));
        }
        if spec["names"]["kind"].as_str().is_none_or(str::is_empty) {
            errors.push(FieldError::required("spec.names.kind"));
        }
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
            errors.push(FieldError::invalid(
                "metadata.name",
                format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
            ));
        }
        if !matches!(spec["scope"].as_str(), Some("Namespaced" | "Cluster")) {
            errors.push(FieldError {
                reason: "FieldValueNotSupported",
                field: "spec.scope".into(),
                message: format!(
                    "Unsupported value: {}: supported values: \"Cluster\", \"Namespaced\"",
                    spec["scope"]
                ),
            });
        }
        let versions = spec["versions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if versions.is_empty() {
            errors.push(FieldError::required("spec.versions"));
        }
        let storage = versions
            .iter()
            .filter(|v| v["storage"] == json!(true))
            .count();
        if !versions.is_empty() && storage != 1 {
            errors.push(FieldError::invalid(
                "spec.versions",
                "Invalid value: must have exactly one version marked as storage version",
            ));
        }
        for (i, v) in versions.iter().enumerate() {
            if v["name"].as_str().is_none_or(str::is_empty) {
                errors.push(FieldError::required(format!("spec.versions[{i}].name")));
            }
            if !v["schema"]["openAPIV3Schema"].is_object() {
                errors.push(FieldError::required(format!(
                    "spec.versions[{i}].schema.openAPIV3Schema"
                )));
            }
        }
        errors
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for field in ["group", "scope"] {
            if new["spec"][field] != old["spec"][field] {
                errors.push(FieldError::invalid(
                    format!("spec.{field}"),
                    "field is immutable",
                ));
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(name: &str) -> Value {
        json!({"metadata": {"name": name}, "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}}]}})
    }

    #[test]
    fn crd_validation_table() {
        assert!(CrdStrategy.validate(&crd("widgets.example.com")).is_empty());
        let fields: Vec<String> = CrdStrategy
            .validate(&crd("widgets"))
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, vec!["metadata.name"]);
        let mut no_storage = crd("widgets.example.com");
        no_storage["spec"]["versions"][0]["storage"] = json!(false);
        assert_eq!(CrdStrategy.validate(&no_storage).len(), 1);
    }

    #[test]
    fn new_crds_hold_the_cleanup_finalizer() {
        let mut obj = crd("widgets.example.com");
        CrdStrategy.prepare_create(&mut obj);
        assert_eq!(obj["metadata"]["finalizers"], json!([CLEANUP_FINALIZER]));
    }
}
