//! Served resources from a CRD: one [`ResourceDef`] per served version, with a strategy that
//! validates, defaults and prunes by that version's structural schema.

use std::sync::Arc;

use serde_json::Value;

use super::intern::{intern, intern_list};
use super::{CustomInfo, PrinterColumn, ScalePaths, structural};
use crate::error::FieldError;
use crate::registry::{ResourceDef, Strategy};

/// The policy of one custom resource version.
pub struct CustomStrategy {
    schema: Arc<Value>,
    has_status: bool,
}

impl Strategy for CustomStrategy {
    fn has_status(&self) -> bool {
        self.has_status
    }

    fn default(&self, obj: &mut Value) {
        structural::apply_defaults(&self.schema, obj);
    }

    fn prepare_create(&self, obj: &mut Value) {
        if self.has_status {
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
        }
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        structural::validate(&self.schema, obj)
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(String::from))
        .collect()
}

fn printer_columns(version: &Value) -> Vec<PrinterColumn> {
    version["additionalPrinterColumns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| PrinterColumn {
            name: c["name"].as_str().unwrap_or_default().to_string(),
            type_: c["type"].as_str().unwrap_or("string").to_string(),
            format: c["format"].as_str().unwrap_or_default().to_string(),
            description: c["description"].as_str().unwrap_or_default().to_string(),
            priority: c["priority"].as_i64().unwrap_or(0),
            json_path: c["jsonPath"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

fn scale_paths(version: &Value) -> Option<ScalePaths> {
    let scale = version["subresources"]["scale"].as_object()?;
    let path = |k: &str| {
        scale
            .get(k)
            .and_then(Value::as_str)
            .map(|p| p.trim_start_matches('.').to_string())
    };
    Some(ScalePaths {
        spec_replicas: path("specReplicasPath").unwrap_or_else(|| "spec.replicas".into()),
        status_replicas: path("statusReplicasPath").unwrap_or_else(|| "status.replicas".into()),
        label_selector: path("labelSelectorPath"),
    })
}

/// The resources a CRD serves (empty when it is not usable).
pub fn resource_defs(crd: &Value) -> Vec<ResourceDef> {
    let spec = &crd["spec"];
    let (Some(group), Some(plural), Some(kind)) = (
        spec["group"].as_str(),
        spec["names"]["plural"].as_str(),
        spec["names"]["kind"].as_str(),
    ) else {
        return Vec::new();
    };
    let singular = spec["names"]["singular"]
        .as_str()
        .map_or_else(|| kind.to_ascii_lowercase(), String::from);
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let terminating = crd["metadata"]["deletionTimestamp"].is_string();
    let crd_name = crd["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut defs = Vec::new();
    for version in spec["versions"].as_array().into_iter().flatten() {
        let Some(name) = version["name"].as_str() else {
            continue;
        };
        if version["served"] != Value::Bool(true) {
            continue;
        }
        let schema = Arc::new(version["schema"]["openAPIV3Schema"].clone());
        let has_status = version["subresources"]["status"].is_object();
        let scale = scale_paths(version);
        let mut subresources = Vec::new();
        if has_status {
            subresources.push("status".to_string());
        }
        if scale.is_some() {
            subresources.push("scale".to_string());
        }
        let codec_schema = schema.clone();
        defs.push(ResourceDef {
            group: intern(group),
            version: intern(name),
            kind: intern(kind),
            plural: intern(plural),
            singular: singular.clone(),
            short_names: intern_list(&strings(&spec["names"]["shortNames"])),
            categories: intern_list(&strings(&spec["names"]["categories"])),
            namespaced,
            subresources: intern_list(&subresources),
            codec: Box::new(move |obj: &Value| {
                let mut pruned = obj.clone();
                structural::prune(&codec_schema, &mut pruned);
                Ok(pruned)
            }),
            strategy: Box::new(CustomStrategy {
                schema: schema.clone(),
                has_status,
            }),
            view: None,
            openapi: Some(gantry_openapi::ResourceDoc {
                group: intern(group),
                version: intern(name),
                kind: intern(kind),
                plural: intern(plural),
                namespaced,
                subresources: intern_list(&subresources),
                schema: gantry_openapi::SchemaSource::Json(schema.clone()),
            }),
            custom: Some(CustomInfo {
                crd: crd_name.clone(),
                schema,
                printer_columns: printer_columns(version),
                scale,
                terminating,
            }),
        });
    }
    defs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_definition_per_served_version() {
        let crd = json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"], "categories": ["all"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}},
                     "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"}},
                     "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]},
                    {"name": "v1beta1", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "object"}}},
                    {"name": "v0", "served": false, "storage": false},
                ],
            },
        });
        let defs = resource_defs(&crd);
        assert_eq!(
            defs.iter().map(|d| d.version).collect::<Vec<_>>(),
            vec!["v1", "v1beta1"]
        );
        let v1 = &defs[0];
        assert_eq!(
            (v1.group, v1.kind, v1.plural, v1.singular.as_str()),
            ("example.com", "Widget", "widgets", "widget")
        );
        assert_eq!(v1.short_names, &["wd"]);
        assert_eq!(v1.subresources, &["status", "scale"]);
        let info = v1.custom.as_ref().unwrap();
        assert_eq!(info.scale.as_ref().unwrap().spec_replicas, "spec.size");
        assert_eq!(info.printer_columns[0].json_path, ".spec.size");
        assert!(defs[1].subresources.is_empty());
        assert!(resource_defs(&json!({"spec": {}})).is_empty());
    }
}
