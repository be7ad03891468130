//! Deletion: preconditions, finalizers, graceful deletion, namespaces and delete-collection.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Storage, subject};
use crate::error::{ApiError, ApiResult};
use crate::object::{self, meta_str, set_meta};
use crate::query::Query;
use crate::registry::ResourceDef;

/// The parts of a `DeleteOptions` body the server acts on.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    #[serde(default)]
    pub preconditions: Preconditions,
    #[serde(default)]
    pub dry_run: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

impl DeleteOptions {
    /// Options from the body (if any) with query parameters taking effect where the body is silent.
    pub fn from_request(body: &[u8], q: &Query) -> ApiResult<DeleteOptions> {
        let mut opts: DeleteOptions = if body.iter().all(u8::is_ascii_whitespace) {
            DeleteOptions::default()
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::BadRequest(format!("invalid DeleteOptions: {e}")))?
        };
        opts.grace_period_seconds = opts.grace_period_seconds.or(q.grace_period_seconds);
        if opts.propagation_policy.is_none() {
            opts.propagation_policy = q.propagation_policy.clone();
        }
        if let Some(p) = opts.propagation_policy.as_deref() {
            if !matches!(p, "Orphan" | "Background" | "Foreground") {
                return Err(ApiError::BadRequest(format!(
                    "propagationPolicy {p:?} is not one of Orphan, Background, Foreground"
                )));
            }
        }
        Ok(opts)
    }

    pub fn dry_run(&self, q: &Query) -> bool {
        q.dry_run || self.dry_run.iter().any(|d| d == "All")
    }
}

/// The finalizer that makes the garbage collector orphan an owner's dependents.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// The finalizer that makes the garbage collector delete an owner's blocking dependents first.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// The finalizers a delete with `policy` leaves on `obj` (upstream's
/// deletionFinalizersForGarbageCollection): `orphan` for Orphan, `foregroundDeletion` for
/// Foreground, neither for Background; without a policy, whichever the object already has.
/// `None` when they do not change.
fn gc_finalizers(obj: &Value, policy: Option<&str>) -> Option<Vec<Value>> {
    let old: Vec<&str> = obj["metadata"]["finalizers"]
        .as_array()
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let orphan = match policy {
        Some(p) => p == "Orphan",
        None => old.contains(&ORPHAN_FINALIZER),
    };
    let foreground = match policy {
        Some(p) => p == "Foreground",
        None => old.contains(&FOREGROUND_FINALIZER),
    };
    let mut new: Vec<&str> = old
        .iter()
        .copied()
        .filter(|f| *f != ORPHAN_FINALIZER && *f != FOREGROUND_FINALIZER)
        .collect();
    if orphan {
        new.push(ORPHAN_FINALIZER);
    }
    if foreground {
        new.push(FOREGROUND_FINALIZER);
    }
    let same = new.len() == old.len() && new.iter().all(|f| old.contains(f));
    (!same).then(|| new.into_iter().map(|f| json!(f)).collect())
}

fn add_seconds(secs: i64) -> String {
    let now = std::time::SystemTime::now();
    object::rfc3339(now + std::time::Duration::from_secs(secs.max(0) as u64))
}

impl Storage {
    /// Deletes one object. Returns the object as deleted, or as marked for deletion when
    /// finalizers or a grace period hold it.
    pub async fn delete(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
        q: &Query,
    ) -> ApiResult<Value> {
        let sub = subject(def, name);
        let mut attempts = 0;
        loop {
            let (obj, kv) = self.read(def, ns, name).await?;
            let pre = &opts.preconditions;
            if pre
                .uid
                .as_deref()
                .is_some_and(|uid| Some(uid) != meta_str(&obj, "uid"))
            {
                return Err(ApiError::Conflict(
                    sub,
                    format!(
                        "Precondition failed: UID in precondition: {}, UID in object meta: {}",
                        pre.uid.as_deref().unwrap_or_default(),
                        meta_str(&obj, "uid").unwrap_or_default()
                    ),
                ));
            }
            if pre
                .resource_version
                .as_deref()
                .is_some_and(|rv| rv != kv.mod_revision.to_string())
            {
                return Err(ApiError::Conflict(
                    sub,
                    format!(
                        "Precondition failed: ResourceVersion in precondition: {}, ResourceVersion in object meta: {}",
                        pre.resource_version.as_deref().unwrap_or_default(),
                        kv.mod_revision
                    ),
                ));
            }
            let gc_finalizers = gc_finalizers(&obj, opts.propagation_policy.as_deref());
            let finalizers = match &gc_finalizers {
                Some(list) => !list.is_empty(),
                None => obj["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty()),
            };
            let is_namespace = def.group.is_empty() && def.plural == "namespaces";
            let grace = def
                .strategy
                .graceful_delete(&obj, opts.grace_period_seconds);
            let mark = finalizers || is_namespace || grace.is_some();
            if !mark {
                if opts.dry_run(q) {
                    return Ok(obj);
                }
                match self.store.delete(&kv.key, Some(kv.mod_revision)).await {
                    Ok(deleted) => {
                        self.release_dropped(def, &obj, None).await;
                        let mut gone = obj;
                        set_meta(
                            &mut gone,
                            "resourceVersion",
                            json!(deleted.mod_revision.to_string()),
                        );
                        return Ok(gone);
                    }
                    Err(gantry_store::StoreError::Conflict { .. }) if attempts < 5 => {
                        attempts += 1;
                        continue;
                    }
                    Err(e) => return Err(ApiError::from_store(e, &sub)),
                }
            }
            let already = obj["metadata"]["deletionTimestamp"].is_string();
            // Once deleting, only an explicitly shorter grace period changes it (upstream's
            // rest.BeforeDelete), 0 included: a kubelet's final delete of a pod that
            // finalizers still hold.
            let current = obj["metadata"]["deletionGracePeriodSeconds"].as_i64();
            let shortened = already
                && opts
                    .grace_period_seconds
                    .is_some_and(|g| current.is_some_and(|c| g.max(0) < c));
            if gc_finalizers.is_none() && already && !shortened {
                // Already being deleted, and not shortened: nothing changes.
                return Ok(obj);
            }
            let mut marked = obj.clone();
            if let Some(list) = gc_finalizers {
                set_meta(&mut marked, "finalizers", json!(list));
            }
            if !already || shortened {
                let grace_seconds = if shortened {
                    opts.grace_period_seconds.unwrap_or(0).max(0)
                } else {
                    grace.unwrap_or(0)
                };
                set_meta(
                    &mut marked,
                    "deletionTimestamp",
                    json!(add_seconds(grace_seconds)),
                );
                set_meta(
                    &mut marked,
                    "deletionGracePeriodSeconds",
                    json!(grace_seconds),
                );
            }
            if is_namespace {
                marked["status"]["phase"] = json!("Terminating");
            }
            if opts.dry_run(q) {
                return Ok(marked);
            }
            let stored = def.encode(&marked)?;
            match self.store.update(&kv.key, stored, kv.mod_revision).await {
                Ok(written) => {
                    set_meta(
                        &mut marked,
                        "resourceVersion",
                        json!(written.mod_revision.to_string()),
                    );
                    return Ok(marked);
                }
                Err(gantry_store::StoreError::Conflict { .. }) if attempts < 5 => attempts += 1,
                Err(e) => return Err(ApiError::from_store(e, &sub)),
            }
        }
    }

    /// Deletes every object of a collection that matches the query's selectors.
    pub async fn delete_collection(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        opts: &DeleteOptions,
        q: &Query,
    ) -> ApiResult<Vec<Value>> {
        let mut deleted = Vec::new();
        for obj in self.list_objects(def, ns, q).await? {
            let name = meta_str(&obj, "name").unwrap_or_default().to_string();
            let obj_ns = meta_str(&obj, "namespace").map(str::to_string);
            match self.delete(def, obj_ns.as_deref(), &name, opts, q).await {
                Ok(o) => deleted.push(o),
                Err(ApiError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gc_finalizers_table() {
        let with = |f: &[&str]| json!({"metadata": {"finalizers": f}});
        let cases: &[(Value, Option<&str>, Option<Vec<&str>>)] = &[
            (json!({"metadata": {}}), None, None),
            (json!({"metadata": {}}), Some("Background"), None),
            (
                json!({"metadata": {}}),
                Some("Orphan"),
                Some(vec!["orphan"]),
            ),
            (
                json!({"metadata": {}}),
                Some("Foreground"),
                Some(vec!["foregroundDeletion"]),
            ),
            (
                with(&["a"]),
                Some("Foreground"),
                Some(vec!["a", "foregroundDeletion"]),
            ),
            (with(&["orphan"]), None, None),
            (
                with(&["orphan"]),
                Some("Foreground"),
                Some(vec!["foregroundDeletion"]),
            ),
            (
                with(&["foregroundDeletion", "a"]),
                Some("Background"),
                Some(vec!["a"]),
            ),
            (with(&["orphan"]), Some("Orphan"), None),
        ];
        for (obj, policy, want) in cases {
            let want = want
                .as_ref()
                .map(|w| w.iter().map(|f| json!(f)).collect::<Vec<_>>());
            assert_eq!(gc_finalizers(obj, *policy), want, "{obj} {policy:?}");
        }
    }
}
