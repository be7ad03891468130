//! `meta.k8s.io/v1` conversions of API objects: `as=Table` (the columns upstream's printers
//! produce for every built-in kind, `includeObject`), `as=PartialObjectMetadata` and
//! `as=PartialObjectMetadataList`, and the per-event conversion of watches asking for either.
//!
//! Each kind's printer is a pair of pure functions: its column definitions and the cells of one
//! object. Like kube-apiserver, the server always returns the wide (`priority: 1`) cells too;
//! kubectl hides them unless `-o wide`.

mod apps;
mod core;
mod event;
mod format;
mod other;
mod pod;
mod volume;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};

use crate::crd::PrinterColumn;
use crate::registry::ResourceDef;
use crate::response::{Format, IncludeObject};

/// What a watch does to each event's object (the same type as the storage's watch hook).
pub type Convert = Arc<dyn Fn(&str, Value) -> Value + Send + Sync>;

/// The printer of one kind: its column definitions and the cells of one object at `now`
/// (seconds since the epoch).
#[derive(Clone, Copy)]
pub struct Printer {
    pub columns: fn() -> Vec<Value>,
    pub cells: fn(&Value, i64) -> Vec<Value>,
    /// Row conditions (pods report `Completed`).
    pub conditions: Option<fn(&Value) -> Option<Value>>,
}

impl Printer {
    const fn new(columns: fn() -> Vec<Value>, cells: fn(&Value, i64) -> Vec<Value>) -> Printer {
        Printer {
            columns,
            cells,
            conditions: None,
        }
    }
}

/// A column definition; `priority` 1 columns show only with `-o wide`.
pub(crate) fn column(name: &str, ty: &str, description: impl Into<String>, priority: u8) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": ty, "format": format, "description": description.into(), "priority": priority})
}

pub(crate) fn name_column() -> Value {
    column(
        "Name",
        "string",
        doc::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>("name"),
        0,
    )
}

pub(crate) fn age_column() -> Value {
    column(
        "Age",
        "string",
        doc::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>("creationTimestamp"),
        0,
    )
}

/// The API documentation of `field` of type `T` (upstream's `SwaggerDoc()[field]`).
pub(crate) fn doc<T: schemars::JsonSchema>(field: &str) -> String {
    let schema = schemars::SchemaGenerator::default().into_root_schema_for::<T>();
    schema.as_value()["properties"][field]["description"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn printer(def: &ResourceDef) -> Option<Printer> {
    match def.group {
        "" if def.kind == "Pod" => Some(pod::PRINTER),
        "" => core::printer(def.kind),
        "apps" | "batch" => apps::printer(def.kind),
        _ => other::printer(def.group, def.kind),
    }
}

/// Upstream's default table convertor for kinds without a printer: NAME and CREATED AT.
const DEFAULT: Printer = Printer::new(
    || {
        vec![
            name_column(),
            column(
                "Created At",
                "date",
                doc::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>(
                    "creationTimestamp",
                ),
                0,
            ),
        ]
    },
    |obj, _| {
        let created = obj["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or("0001-01-01T00:00:00Z");
        vec![obj["metadata"]["name"].clone(), json!(created)]
    },
);

/// How a resource's rows are made: a built-in printer, or a CRD's printer columns.
#[derive(Clone)]
enum Rows {
    Printer(Printer),
    Custom(Arc<Vec<PrinterColumn>>),
}

/// The row source and column definitions of a resource.
fn rows_for(def: &ResourceDef) -> (Rows, Arc<Vec<Value>>) {
    if let Some(custom) = &def.custom {
        let mut printer_columns = custom.printer_columns.clone();
        if printer_columns.is_empty() {
            // Upstream's default for custom resources: NAME and AGE.
            printer_columns.push(PrinterColumn {
                name: "Age".into(),
                type_: "date".into(),
                format: String::new(),
                description: doc::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>(
                    "creationTimestamp",
                ),
                priority: 0,
                json_path: ".metadata.creationTimestamp".into(),
            });
        }
        let definitions = Arc::new(crate::crd::printer::column_definitions(&printer_columns));
        return (Rows::Custom(Arc::new(printer_columns)), definitions);
    }
    let printer = printer(def).unwrap_or(DEFAULT);
    let definitions = columns(def, &printer);
    (Rows::Printer(printer), definitions)
}

fn custom_cells(columns: &[PrinterColumn], obj: &Value, now: i64) -> Vec<Value> {
    let mut cells = vec![obj["metadata"]["name"].clone()];
    for c in columns {
        let value = crate::crd::printer::cell(c, obj);
        // Date columns are shown as ages, as upstream's custom resource table does.
        cells.push(match (c.type_.as_str(), &value) {
            ("date", Value::String(_)) => json!(format::since(&value, now)),
            _ => value,
        });
    }
    cells
}

/// Column definitions are built once per kind (their descriptions come from the API schemas).
fn columns(def: &ResourceDef, printer: &Printer) -> Arc<Vec<Value>> {
    static CACHE: OnceLock<Mutex<HashMap<(&'static str, &'static str), Arc<Vec<Value>>>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut guard = cache.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .entry((def.group, def.kind))
        .or_insert_with(|| Arc::new((printer.columns)()))
        .clone()
}

fn now() -> i64 {
    k8s_openapi::jiff::Timestamp::now().as_second()
}

/// The row of one object.
fn row(rows: &Rows, obj: &Value, include: IncludeObject, now: i64) -> Value {
    let mut row = match rows {
        Rows::Printer(printer) => {
            let mut row = json!({"cells": (printer.cells)(obj, now)});
            if let Some(conditions) = printer.conditions.and_then(|f| f(obj)) {
                row["conditions"] = conditions;
            }
            row
        }
        Rows::Custom(columns) => json!({"cells": custom_cells(columns, obj, now)}),
    };
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => row["object"] = partial_metadata(obj),
        IncludeObject::Object => row["object"] = obj.clone(),
    }
    row
}

/// Builds a `meta.k8s.io/v1` Table of `items`; `list_meta` is the list's metadata (resource
/// version, continue token), or `None` for a single object.
pub fn table(
    def: &ResourceDef,
    items: &[Value],
    include: IncludeObject,
    list_meta: Option<&Value>,
) -> Value {
    let (source, definitions) = rows_for(def);
    let now = now();
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| row(&source, obj, include, now))
        .collect();
    let mut meta = json!({});
    match list_meta {
        Some(m) => {
            for key in ["resourceVersion", "continue", "remainingItemCount"] {
                if !m[key].is_null() {
                    meta[key] = m[key].clone();
                }
            }
        }
        None => {
            if let Some(rv) = items
                .first()
                .map(|o| &o["metadata"]["resourceVersion"])
                .filter(|rv| !rv.is_null())
            {
                meta["resourceVersion"] = rv.clone();
            }
        }
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": *definitions,
        "rows": rows,
    })
}

/// An object's metadata as a `PartialObjectMetadata`.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

/// A list's items as a `PartialObjectMetadataList`, keeping the list's version and continue token.
pub fn partial_metadata_list(items: &[Value], list_meta: &Value) -> Value {
    let mut meta = json!({});
    for key in ["resourceVersion", "continue", "remainingItemCount"] {
        if !list_meta[key].is_null() {
            meta[key] = list_meta[key].clone();
        }
    }
    let items: Vec<Value> = items.iter().map(partial_metadata).collect();
    json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items})
}

/// The conversion each watch event's object needs for `format`, or `None` for plain objects
/// (the watch then copies stored bytes untouched).
pub fn watch_conversion(
    def: &ResourceDef,
    format: &Format,
    include: Option<IncludeObject>,
) -> Option<Convert> {
    match format {
        Format::Table { include_object } => {
            let (source, columns) = rows_for(def);
            let include = include.unwrap_or(*include_object);
            Some(Arc::new(move |event: &str, obj: Value| {
                let rows = if event == "BOOKMARK" {
                    Vec::new()
                } else {
                    vec![row(&source, &obj, include, now())]
                };
                let rv = obj["metadata"]["resourceVersion"].clone();
                json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv}, "columnDefinitions": *columns, "rows": rows})
            }))
        }
        Format::PartialObjectMetadata | Format::PartialObjectMetadataList => {
            Some(Arc::new(|_: &str, obj: Value| partial_metadata(&obj)))
        }
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::registry::Registry;

    /// Seconds of 2024-01-01T00:00:00Z, the `now` of the printer tests.
    pub const NOW: i64 = 1_704_067_200;

    /// The RFC 3339 form of `NOW - secs_ago`.
    pub fn ago(secs_ago: i64) -> String {
        k8s_openapi::jiff::Timestamp::from_second(NOW - secs_ago)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    /// Checks that `printer` has as many cells as columns and returns the cells.
    pub fn cells(printer: &Printer, obj: &Value) -> Vec<Value> {
        let cells = (printer.cells)(obj, NOW);
        assert_eq!(
            cells.len(),
            (printer.columns)().len(),
            "cells vs columns for {obj}"
        );
        cells
    }

    #[test]
    fn every_registered_kind_has_matching_columns_and_cells() {
        let registry = Registry::builtin();
        for def in registry.all() {
            let printer = printer(def).unwrap_or(DEFAULT);
            let obj =
                json!({"kind": def.kind, "metadata": {"name": "x", "creationTimestamp": ago(30)}});
            let t = table(def, &[obj], IncludeObject::None, None);
            let cols = t["columnDefinitions"].as_array().map(Vec::len);
            assert_eq!(
                t["rows"][0]["cells"].as_array().map(Vec::len),
                cols,
                "{}",
                def.kind
            );
            assert!(
                (printer.columns)()
                    .iter()
                    .all(|c| !c["description"].as_str().unwrap_or("").is_empty()),
                "{} lacks descriptions",
                def.kind
            );
        }
    }

    #[test]
    fn kinds_without_printers_get_name_and_created_at() {
        let registry = Registry::builtin();
        let def = registry
            .get("rbac.authorization.k8s.io", "v1", "roles")
            .expect("roles");
        let obj = json!({"metadata": {"name": "r", "creationTimestamp": "2024-01-01T00:00:00Z", "resourceVersion": "7"}});
        let t = table(def, &[obj], IncludeObject::Metadata, None);
        assert_eq!(t["columnDefinitions"][1]["name"], "Created At");
        assert_eq!(t["columnDefinitions"][1]["type"], "date");
        assert_eq!(t["rows"][0]["cells"], json!(["r", "2024-01-01T00:00:00Z"]));
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["metadata"]["resourceVersion"], "7");
    }

    #[test]
    fn partial_metadata_lists_keep_continue_tokens() {
        let items = [json!({"kind": "Pod", "metadata": {"name": "a"}, "spec": {}})];
        let list =
            partial_metadata_list(&items, &json!({"resourceVersion": "9", "continue": "abc"}));
        assert_eq!(list["kind"], "PartialObjectMetadataList");
        assert_eq!(
            list["metadata"],
            json!({"resourceVersion": "9", "continue": "abc"})
        );
        assert_eq!(
            list["items"][0],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {"name": "a"}})
        );
    }

    #[test]
    fn watch_conversions_only_when_asked() {
        let registry = Registry::builtin();
        let def = registry.get("", "v1", "configmaps").expect("configmaps");
        assert!(watch_conversion(def, &Format::Json, None).is_none());
        let convert = watch_conversion(
            def,
            &Format::Table {
                include_object: IncludeObject::Metadata,
            },
            None,
        )
        .expect("table");
        let t = convert(
            "ADDED",
            json!({"metadata": {"name": "c", "resourceVersion": "5"}, "data": {"a": "1"}}),
        );
        assert_eq!(t["rows"][0]["cells"][1], 1);
        assert_eq!(t["metadata"]["resourceVersion"], "5");
        let convert =
            watch_conversion(def, &Format::PartialObjectMetadata, None).expect("metadata");
        assert_eq!(
            convert("MODIFIED", json!({"metadata": {"name": "c"}, "data": {}}))["kind"],
            "PartialObjectMetadata"
        );
    }
}
