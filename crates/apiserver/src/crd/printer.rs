//! Table columns of custom resources from their CRD's `additionalPrinterColumns`: a JSONPath
//! subset (`.a.b`, `.a[0]`, `.a[*].b`, `.a[?(@.k=="v")].b`) evaluated on the object.

use serde_json::{Value, json};

use super::PrinterColumn;

#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    All,
    Filter { key: String, value: String },
}

fn parse(path: &str) -> Option<Vec<Step>> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut steps = Vec::new();
    let mut rest = path.strip_prefix('$').unwrap_or(path);
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            steps.push(Step::Field(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let inner = &after[..end];
            steps.push(if inner == "*" {
                Step::All
            } else if let Some(filter) =
                inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')'))
            {
                let (key, value) = filter.split_once("==")?;
                Step::Filter {
                    key: key.trim().to_string(),
                    value: value.trim().trim_matches(['"', '\'']).to_string(),
                }
            } else {
                Step::Index(inner.parse().ok()?)
            });
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

fn eval<'a>(steps: &[Step], v: &'a Value, out: &mut Vec<&'a Value>) {
    let Some((step, rest)) = steps.split_first() else {
        out.push(v);
        return;
    };
    match step {
        Step::Field(f) => {
            if let Some(child) = v.get(f) {
                eval(rest, child, out);
            }
        }
        Step::Index(i) => {
            if let Some(child) = v.get(*i) {
                eval(rest, child, out);
            }
        }
        Step::All => v
            .as_array()
            .into_iter()
            .flatten()
            .for_each(|c| eval(rest, c, out)),
        Step::Filter { key, value } => v
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| match &c[key.as_str()] {
                Value::String(s) => s == value,
                other => other.to_string() == *value,
            })
            .for_each(|c| eval(rest, c, out)),
    }
}

/// The values a JSONPath selects (empty when it selects nothing or does not parse).
pub fn select<'a>(path: &str, obj: &'a Value) -> Vec<&'a Value> {
    let mut out = Vec::new();
    if let Some(steps) = parse(path) {
        eval(&steps, obj, &mut out);
    }
    out
}

/// The cell of one column: typed values as upstream renders them, `null` when absent.
pub fn cell(column: &PrinterColumn, obj: &Value) -> Value {
    let values = select(&column.json_path, obj);
    let Some(first) = values.first() else {
        return Value::Null;
    };
    if values.len() > 1 {
        let joined: Vec<String> = values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
            .collect();
        return json!(joined.join(","));
    }
    match (column.type_.as_str(), first) {
        ("integer", Value::Number(n)) => json!(n.as_i64()),
        ("number", Value::Number(n)) => json!(n.as_f64()),
        ("boolean", Value::Bool(b)) => json!(b),
        ("string" | "date", Value::String(s)) => json!(s),
        (_, Value::String(s)) => json!(s),
        (_, other) => json!(other.to_string()),
    }
}

/// The column definitions of a custom resource's Table (NAME first).
pub fn column_definitions(columns: &[PrinterColumn]) -> Vec<Value> {
    let mut defs = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    for c in columns {
        defs.push(json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}));
    }
    defs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(type_: &str, json_path: &str) -> PrinterColumn {
        PrinterColumn {
            name: "c".into(),
            type_: type_.into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            json_path: json_path.into(),
        }
    }

    #[test]
    fn jsonpath_table() {
        let obj = json!({"spec": {"size": 3, "tags": ["a", "b"]}, "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]}});
        let cases = [
            (column("integer", ".spec.size"), json!(3)),
            (column("string", ".spec.tags[1]"), json!("b")),
            (column("string", ".spec.tags[*]"), json!("a,b")),
            (
                column("string", ".status.conditions[?(@.type==\"Ready\")].status"),
                json!("True"),
            ),
            (column("string", ".spec.missing"), Value::Null),
            (column("string", "not a path"), Value::Null),
        ];
        for (col, want) in cases {
            assert_eq!(cell(&col, &obj), want, "{}", col.json_path);
        }
    }
}
