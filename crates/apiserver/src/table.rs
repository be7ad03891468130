//! `as=Table` responses: the columns kubectl prints. Every kind gets NAME and AGE; richer
//! per-kind columns come with the API machinery issue.

use serde_json::{Value, json};

use crate::registry::ResourceDef;
use crate::response::IncludeObject;

/// A duration in kubectl's short form: `45s`, `12m`, `5h`, `3d`, `2y`.
pub fn human_age(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{}m{}s", s / 60, s % 60),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 8 * 3600 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s if s < 8 * 86400 => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
        s if s < 365 * 86400 => format!("{}d", s / 86400),
        s => format!("{}y{}d", s / (365 * 86400), (s % (365 * 86400)) / 86400),
    }
}

fn age_of(obj: &Value, now: i64) -> String {
    obj["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
        .map(|t| human_age(now - t.as_second()))
        .unwrap_or_else(|| "<unknown>".into())
}

fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

/// Builds a `meta.k8s.io/v1` Table of `items`.
pub fn table(def: &ResourceDef, items: &[Value], include: IncludeObject, list_meta: Option<&Value>) -> Value {
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| {
            let mut row = json!({"cells": [obj["metadata"]["name"], age_of(obj, now)]});
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => row["object"] = partial_metadata(obj),
                IncludeObject::Object => row["object"] = obj.clone(),
            }
            row
        })
        .collect();
    let mut meta = json!({});
    if let Some(m) = list_meta {
        meta = m.clone();
    } else if let Some(rv) = items.first().map(|o| o["metadata"]["resourceVersion"].clone()) {
        meta["resourceVersion"] = rv;
    }
    let _ = def;
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0},
            {"name": "Age", "type": "string", "format": "", "description": "Time since the object was created.", "priority": 0},
        ],
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_like_kubectl() {
        let cases = [(5, "5s"), (119, "119s"), (150, "2m30s"), (3000, "50m"), (4 * 3600 + 60, "4h1m"), (20 * 3600, "20h"), (3 * 86400, "3d0h"), (30 * 86400, "30d"), (-3, "0s")];
        for (secs, want) in cases {
            assert_eq!(human_age(secs), want, "{secs}");
        }
    }
}
