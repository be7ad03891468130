//! `metadata.managedFields`: entries per (manager, operation, apiVersion for updates,
//! subresource), their decoding and encoding in upstream's order, and the ownership changes
//! of an update and of an apply (conflicts included).

use serde_json::{Value, json};

use super::ApplyError;
use super::compare::Comparison;
use super::fieldset::{self, FieldSet};

/// At most this many `Update` entries are kept; older ones merge into `ancient-changes`.
pub const MAX_UPDATE_MANAGERS: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

/// One managedFields entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: String,
    pub fields: FieldSet,
}

/// Who a write is made by.
#[derive(Clone, Debug)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub subresource: &'a str,
    pub now: &'a str,
}

impl Entry {
    /// Upstream's manager identifier: appliers are one entry whatever their apiVersion.
    fn is(
        &self,
        manager: &str,
        operation: Operation,
        api_version: &str,
        subresource: &str,
    ) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource
            && (operation == Operation::Apply || self.api_version == api_version)
    }

    /// How conflicts name this entry: `"kubectl-client-side-apply" using apps/v1`.
    pub fn describe(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            out.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }
}

/// Decodes `metadata.managedFields` (absent is empty).
pub fn decode(list: Option<&Value>) -> Result<Vec<Entry>, ApplyError> {
    let Some(list) = list.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let items = list
        .as_array()
        .ok_or_else(|| ApplyError::FieldsV1("managedFields must be a list".into()))?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let text = |k: &str| item[k].as_str().unwrap_or_default().to_string();
        let operation = match item["operation"].as_str() {
            Some("Apply") => Operation::Apply,
            Some("Update") => Operation::Update,
            other => return Err(ApplyError::FieldsV1(format!("unknown operation {other:?}"))),
        };
        if item["fieldsType"].as_str().is_some_and(|t| t != "FieldsV1") {
            return Err(ApplyError::FieldsV1(format!(
                "unknown fieldsType {}",
                item["fieldsType"]
            )));
        }
        let fields = FieldSet::from_fields_v1(item.get("fieldsV1").unwrap_or(&json!({})))?;
        out.push(Entry {
            manager: text("manager"),
            operation,
            api_version: text("apiVersion"),
            time: item["time"].as_str().map(str::to_string),
            subresource: text("subresource"),
            fields,
        });
    }
    Ok(out)
}

/// Encodes entries sorted as upstream: operation, time, manager, apiVersion, subresource.
pub fn encode(entries: &[Entry]) -> Value {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| {
        (
            a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    let list = sorted.into_iter().map(|e| {
        let mut v = json!({
            "manager": e.manager,
            "operation": format!("{:?}", e.operation),
            "apiVersion": e.api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": e.fields.to_fields_v1(),
        });
        if let Some(t) = &e.time {
            v["time"] = json!(t);
        }
        if !e.subresource.is_empty() {
            v["subresource"] = json!(e.subresource);
        }
        v
    });
    Value::Array(list.collect())
}

/// Ownership after an update by `w`: it takes what changed from everyone, removed fields are
/// nobody's, and its entry (new or merged into its previous one) is stamped `now`.
pub fn update(mut entries: Vec<Entry>, cmp: &Comparison, w: &Writer) -> Vec<Entry> {
    let changed = cmp.changed();
    for e in &mut entries {
        e.fields = e.fields.difference(&changed).difference(&cmp.removed);
    }
    if !changed.is_empty() {
        match entries
            .iter_mut()
            .find(|e| e.is(w.manager, Operation::Update, w.api_version, w.subresource))
        {
            Some(e) => {
                e.fields = e.fields.union(&changed);
                e.time = Some(w.now.to_string());
            }
            None => entries.push(Entry {
                manager: w.manager.to_string(),
                operation: Operation::Update,
                api_version: w.api_version.to_string(),
                time: Some(w.now.to_string()),
                subresource: w.subresource.to_string(),
                fields: changed,
            }),
        }
    }
    entries.retain(|e| !e.fields.is_empty());
    cap_updates(&mut entries);
    entries
}

/// Sets the applier's entry to `applied` (returns its previous set).
pub fn set_applied(entries: &mut Vec<Entry>, applied: FieldSet, w: &Writer) -> FieldSet {
    match entries
        .iter_mut()
        .find(|e| e.is(w.manager, Operation::Apply, "", w.subresource))
    {
        Some(e) => {
            e.api_version = w.api_version.to_string();
            std::mem::replace(&mut e.fields, applied)
        }
        None => {
            entries.push(Entry {
                manager: w.manager.to_string(),
                operation: Operation::Apply,
                api_version: w.api_version.to_string(),
                time: None,
                subresource: w.subresource.to_string(),
                fields: applied,
            });
            FieldSet::default()
        }
    }
}

/// One field another manager owns with a different value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub manager: String,
    pub path: Vec<String>,
}

/// Ownership after an apply whose entry [`set_applied`] already holds: fields changed that
/// others own conflict (taken from them under `force`), removed fields are nobody's.
pub fn apply(
    mut entries: Vec<Entry>,
    cmp: &Comparison,
    w: &Writer,
    force: bool,
    changed_object: bool,
) -> Result<Vec<Entry>, Vec<Conflict>> {
    let changed = cmp.changed();
    let mine = |e: &Entry| e.is(w.manager, Operation::Apply, "", w.subresource);
    let mut conflicts = Vec::new();
    for e in entries.iter().filter(|e| !mine(e)) {
        for path in e.fields.intersection(&changed).paths() {
            conflicts.push(Conflict {
                manager: e.describe(),
                path,
            });
        }
    }
    if !conflicts.is_empty() && !force {
        conflicts.sort_by(|a, b| (&a.manager, &a.path).cmp(&(&b.manager, &b.path)));
        return Err(conflicts);
    }
    for e in entries.iter_mut().filter(|e| !mine(e)) {
        e.fields = e.fields.difference(&changed).difference(&cmp.removed);
    }
    for e in entries.iter_mut().filter(|e| mine(e)) {
        if changed_object || e.time.is_none() {
            e.time = Some(w.now.to_string());
        }
    }
    entries.retain(|e| !e.fields.is_empty());
    cap_updates(&mut entries);
    Ok(entries)
}

/// Upstream's conflict message.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager,
            fieldset::display(&only.path)
        );
    }
    let mut lines = Vec::new();
    let mut last: Option<&str> = None;
    for c in conflicts {
        if last != Some(c.manager.as_str()) {
            lines.push(format!("conflicts with {}:", c.manager));
            last = Some(&c.manager);
        }
        lines.push(format!("- {}", fieldset::display(&c.path)));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Merges the oldest `Update` entries into `ancient-changes` (one per apiVersion) until at
/// most [`MAX_UPDATE_MANAGERS`] remain.
fn cap_updates(entries: &mut Vec<Entry>) {
    loop {
        let mut updates: Vec<usize> = (0..entries.len())
            .filter(|&i| entries[i].operation == Operation::Update)
            .collect();
        if updates.len() <= MAX_UPDATE_MANAGERS {
            return;
        }
        updates.sort_by(|&a, &b| {
            (&entries[a].time, &entries[a].manager).cmp(&(&entries[b].time, &entries[b].manager))
        });
        let Some(&at) = updates
            .iter()
            .find(|&&i| entries[i].manager != "ancient-changes")
        else {
            return;
        };
        let oldest = entries.remove(at);
        let bucket = entries.iter_mut().find(|e| {
            e.is(
                "ancient-changes",
                Operation::Update,
                &oldest.api_version,
                "",
            )
        });
        match bucket {
            Some(b) => {
                b.fields = b.fields.union(&oldest.fields);
                if oldest.time > b.time {
                    b.time = oldest.time;
                }
            }
            None => entries.push(Entry {
                manager: "ancient-changes".into(),
                subresource: String::new(),
                ..oldest
            }),
        }
    }
}
