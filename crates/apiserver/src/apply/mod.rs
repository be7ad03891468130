//! Server-side apply and field ownership (`metadata.managedFields`), as upstream's
//! structured-merge-diff: pure functions over JSON objects.
//!
//! - [`apply`]: an applied configuration merged into the live object; fields the applier no
//!   longer applies and nobody else owns are removed; changing a field another manager owns
//!   is a conflict unless forced.
//! - [`update`]: any other write (create, update, patch) gives its manager the fields it
//!   changed, taken from whoever owned them.
//!
//! The generic store calls [`track_update`]; PATCH with `application/apply-patch+yaml` calls
//! [`apply`]. Errors are [`ApplyError`], turned into API errors by [`ApplyError::into_api`].

mod compare;
mod fieldset;
mod managed;
mod merge;
mod schema;
#[cfg(test)]
mod tests;

use serde_json::{Value, json};

use crate::error::{ApiError, FieldError};
use crate::query::Query;
use crate::registry::ResourceDef;

pub use compare::{compare, to_fieldset};
pub use fieldset::FieldSet;
pub use managed::{Conflict, Entry, Writer};
pub use schema::Types;

/// kubectl's client-side apply annotation.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{}", managed::conflict_message(.0))]
    Conflicts(Vec<Conflict>),
    #[error("metadata.managedFields must be nil")]
    ManagedFieldsInConfig,
    #[error("the apply configuration must be an object")]
    NotAnObject,
    #[error("invalid managedFields: {0}")]
    FieldsV1(String),
}

impl ApplyError {
    pub fn into_api(self) -> ApiError {
        match self {
            ApplyError::Conflicts(conflicts) => {
                let message = managed::conflict_message(&conflicts);
                let causes = conflicts
                    .iter()
                    .map(|c| FieldError {
                        reason: "FieldManagerConflict",
                        field: fieldset::display(&c.path),
                        message: format!("conflict with {}", c.manager),
                    })
                    .collect();
                ApiError::ApplyConflict(message, causes)
            }
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

/// The resource a write is about and who makes it.
pub struct Target<'a> {
    pub types: &'a Types,
    pub writer: Writer<'a>,
    /// The resource has a status subresource: `status` is not owned through the main resource.
    pub has_status: bool,
}

/// Paths never owned (upstream's stripped metadata); kept when pruning.
const SERVER_PATHS: &[&str] = &[
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "clusterName",
    "generation",
    "managedFields",
    "resourceVersion",
];

/// Drops the fields nobody owns: identity, server metadata, and what the writer's endpoint
/// does not change (`status` through the main resource, everything else through /status).
fn strip(mut set: FieldSet, t: &Target) -> FieldSet {
    set.children.remove("f:apiVersion");
    set.children.remove("f:kind");
    if let Some(meta) = set.children.get_mut("f:metadata") {
        meta.member = false;
        for f in SERVER_PATHS {
            meta.children.remove(&fieldset::field(f));
        }
        if meta.is_empty() {
            set.children.remove("f:metadata");
        }
    }
    match t.writer.subresource {
        "" if t.has_status => {
            set.children.remove("f:status");
        }
        "status" => set
            .children
            .retain(|e, _| e == "f:status" || e == "f:metadata"),
        _ => {}
    }
    set
}

fn compare_stripped(old: &Value, new: &Value, t: &Target) -> compare::Comparison {
    stripped(compare(old, new, &t.types.root()), t)
}

fn stripped(c: compare::Comparison, t: &Target) -> compare::Comparison {
    compare::Comparison {
        added: strip(c.added, t),
        modified: strip(c.modified, t),
        removed: strip(c.removed, t),
    }
}

fn without_managed(obj: Option<&Value>) -> Value {
    let mut copy = obj.cloned().unwrap_or_else(|| json!({}));
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    copy
}

fn write_managed(obj: &mut Value, entries: &[Entry]) {
    let meta = crate::object::meta_mut(obj);
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), managed::encode(entries));
    }
}

/// Server-side apply of `config` onto `live` (`None`: the object is created). Returns the new
/// object with its managedFields.
pub fn apply(
    t: &Target,
    live: Option<&Value>,
    config: &Value,
    force: bool,
) -> Result<Value, ApplyError> {
    if !config.is_object() {
        return Err(ApplyError::NotAnObject);
    }
    if config["metadata"]
        .get("managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApplyError::ManagedFieldsInConfig);
    }
    let mut entries =
        managed::decode(live.and_then(|l| l["metadata"].get("managedFields"))).unwrap_or_default();
    let live = without_managed(live);
    let root = t.types.root();
    let mut merged = merge::merge(&live, config, &root);
    let applied = strip(to_fieldset(config, &root), t);
    let last = managed::set_applied(&mut entries, applied, &t.writer);
    if !last.is_empty() {
        let mut owned = entries
            .iter()
            .fold(FieldSet::default(), |all, e| all.union(&e.fields));
        for f in SERVER_PATHS {
            owned.insert(&[fieldset::field("metadata"), fieldset::field(f)]);
        }
        merge::prune(&mut merged, &last, Some(&owned));
    }
    let cmp = compare_stripped(&live, &merged, t);
    let changed = merged != live;
    let entries = match managed::apply(entries.clone(), &cmp, &t.writer, force, changed) {
        Ok(entries) => entries,
        Err(conflicts)
            if t.writer.manager == "kubectl" && allowed_by_last_applied(&live, &conflicts, t) =>
        {
            managed::apply(entries, &cmp, &t.writer, true, changed)
                .map_err(ApplyError::Conflicts)?
        }
        Err(conflicts) => return Err(ApplyError::Conflicts(conflicts)),
    };
    if t.writer.manager == "kubectl"
        && merged["metadata"]["annotations"]
            .get(LAST_APPLIED)
            .is_some()
    {
        // As upstream: kubectl's server-side apply keeps an existing client-side annotation in sync.
        let mut last_applied = config.clone();
        if let Some(a) = last_applied["metadata"]["annotations"].as_object_mut() {
            a.remove(LAST_APPLIED);
        }
        merged["metadata"]["annotations"][LAST_APPLIED] = json!(last_applied.to_string());
    }
    write_managed(&mut merged, &entries);
    Ok(merged)
}

/// Conflicts kubectl may override when migrating from client-side apply: fields of the
/// last-applied annotation whose live value is still the annotation's.
fn allowed_by_last_applied(live: &Value, conflicts: &[Conflict], t: &Target) -> bool {
    let Some(text) = live["metadata"]["annotations"][LAST_APPLIED].as_str() else {
        return false;
    };
    let Ok(last) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    let root = t.types.root();
    let allowed = to_fieldset(&last, &root).difference(&compare(&last, live, &root).modified);
    conflicts.iter().all(|c| allowed.has(&c.path))
}

/// Ownership for a non-apply write of `new` over `old` (`None` on create): managedFields the
/// client sent are used when present (`[]` or `[{}]` resets them), the live ones otherwise.
pub fn update(t: &Target, old: Option<&Value>, new: &mut Value) {
    let sent = new["metadata"].get("managedFields");
    let live = || {
        managed::decode(old.and_then(|o| o["metadata"].get("managedFields"))).unwrap_or_default()
    };
    let entries = match sent.and_then(Value::as_array) {
        _ if !t.writer.subresource.is_empty() => live(),
        Some(list)
            if list.is_empty()
                || (list.len() == 1 && list[0].as_object().is_some_and(|m| m.is_empty())) =>
        {
            Vec::new()
        }
        _ => match managed::decode(sent) {
            Ok(entries) if !entries.is_empty() => entries,
            _ => live(),
        },
    };
    let empty = json!({});
    let cmp = stripped(
        compare::compare_without_managed(old.unwrap_or(&empty), new, &t.types.root()),
        t,
    );
    let entries = managed::update(entries, &cmp, &t.writer);
    write_managed(new, &entries);
}

/// The types field ownership follows for a resource.
pub(crate) fn types(def: &ResourceDef) -> Types {
    match &def.custom {
        Some(c) => Types::Custom(c.schema.clone()),
        None => Types::Builtin(crate::patch::merge_schema(def)),
    }
}

/// The manager of a non-apply write: `fieldManager`, else the User-Agent's product
/// (`kubectl/v1.33.0 ...` is `kubectl`), else `unknown`. `None` for the server's own writes
/// (no request), which are not tracked.
pub(crate) fn update_manager(q: &Query) -> Option<String> {
    if let Some(m) = q.field_manager.as_ref().filter(|m| !m.is_empty()) {
        return Some(m.clone());
    }
    let agent = q.user_agent.as_deref()?;
    let product: String = agent
        .split('/')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(128)
        .collect();
    Some(if product.is_empty() {
        "unknown".into()
    } else {
        product
    })
}

/// Records the ownership of a create or update (the generic store's hook). Server-side
/// applies compute their own and are skipped.
pub(crate) fn track_update(
    def: &ResourceDef,
    old: Option<&Value>,
    new: &mut Value,
    subresource: Option<&str>,
    q: &Query,
) {
    if q.apply {
        return;
    }
    let Some(manager) = update_manager(q) else {
        return;
    };
    let types = types(def);
    let api_version = def.api_version();
    let now = crate::object::now_rfc3339();
    let target = Target {
        types: &types,
        writer: Writer {
            manager: &manager,
            api_version: &api_version,
            subresource: subresource.unwrap_or_default(),
            now: &now,
        },
        has_status: def.strategy.has_status(),
    };
    update(&target, old, new);
}
