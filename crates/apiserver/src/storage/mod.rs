//! The generic store: create, get, update, delete, list and watch for every resource, with the
//! per-resource [`Strategy`](crate::registry::Strategy) supplying policy. This is the only code
//! that talks to the [`Store`].

mod delete;
mod list;
mod reservations;
mod watch;

use std::sync::{Arc, RwLock};

use gantry_store::{KeyValue, Store};
use serde_json::{Value, json};

pub use delete::DeleteOptions;
pub use list::ListPage;
pub use reservations::Pools;
pub use watch::WatchOptions;

use crate::crd::CustomRegistry;
use crate::decode::unknown_fields;
use crate::error::{ApiError, ApiResult, FieldError, Subject};
use crate::object::{self, meta_mut, meta_str, set_meta};
use crate::query::{FieldValidation, Query};
use crate::registry::{Registry, ResourceDef};
use crate::validation::validate_metadata;

/// An object after a write, with the warnings the client should see.
#[derive(Debug)]
pub struct Written {
    pub object: Value,
    pub warnings: Vec<String>,
    /// True when the write created the object (201 rather than 200).
    pub created: bool,
}

/// The registry plus the store: everything a request needs.
pub struct Storage {
    pub registry: Registry,
    custom: RwLock<Arc<CustomRegistry>>,
    pub store: Arc<dyn Store>,
    /// Where exclusive values (service IPs, node ports) come from.
    pub pools: Pools,
}

/// A resolved resource: built in (borrowed from the registry) or custom (shared).
pub enum DefRef<'a> {
    Builtin(&'a ResourceDef),
    Custom(Arc<ResourceDef>),
}

impl std::ops::Deref for DefRef<'_> {
    type Target = ResourceDef;
    fn deref(&self) -> &ResourceDef {
        match self {
            DefRef::Builtin(d) => d,
            DefRef::Custom(d) => d,
        }
    }
}

/// Metadata only the server sets; carried over from the stored object on update.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
];

pub fn subject(def: &ResourceDef, name: &str) -> Subject {
    Subject {
        group: def.group.to_string(),
        kind: def.kind.to_string(),
        plural: def.plural.to_string(),
        name: name.to_string(),
    }
}

pub(crate) fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4().as_bytes()[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The parts of an object that are neither metadata nor status (what `generation` tracks).
fn desired_state(obj: &Value) -> Value {
    let mut copy = obj.clone();
    if let Some(map) = copy.as_object_mut() {
        for key in ["metadata", "status", "apiVersion", "kind"] {
            map.remove(key);
        }
    }
    copy
}

impl Storage {
    pub fn new(registry: Registry, store: Arc<dyn Store>) -> Storage {
        Storage {
            registry,
            custom: RwLock::new(Arc::new(CustomRegistry::default())),
            store,
            pools: Pools::default(),
        }
    }

    /// The custom resources served right now.
    pub fn custom(&self) -> Arc<CustomRegistry> {
        self.custom
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Serves a new set of custom resources.
    pub fn replace_custom(&self, mut next: CustomRegistry) {
        let mut current = self.custom.write().unwrap_or_else(|p| p.into_inner());
        next.generation = current.generation + 1;
        *current = Arc::new(next);
    }

    /// Finds a resource by group, version and plural: built-in first, then custom.
    pub fn resolve(&self, group: &str, version: &str, plural: &str) -> Option<DefRef<'_>> {
        if let Some(def) = self.registry.get(group, version, plural) {
            return Some(DefRef::Builtin(def));
        }
        self.custom()
            .get(group, version, plural)
            .map(DefRef::Custom)
    }

    /// Every served resource, built-in then custom.
    pub fn all_defs(&self) -> Vec<DefRef<'_>> {
        let mut defs: Vec<DefRef<'_>> = self.registry.all().iter().map(DefRef::Builtin).collect();
        defs.extend(self.custom().all().into_iter().map(DefRef::Custom));
        defs
    }

    /// Reads an object and its revision.
    pub async fn read(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        name: &str,
    ) -> ApiResult<(Value, KeyValue)> {
        let key = def.object_key(ns, name);
        let (kv, _) = self
            .store
            .get(&key)
            .await
            .map_err(|e| ApiError::from_store(e, &subject(def, name)))?;
        let kv = kv.ok_or_else(|| ApiError::NotFound(subject(def, name)))?;
        Ok((def.decode(&kv.value, kv.mod_revision)?, kv))
    }

    pub async fn get(&self, def: &ResourceDef, ns: Option<&str>, name: &str) -> ApiResult<Value> {
        Ok(self.read(def, ns, name).await?.0)
    }

    /// Checks identity fields and decodes through the typed schema. Returns the normalized
    /// object and the unknown-field warnings (an error under `Strict`).
    fn normalize(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        mut body: Value,
        q: &Query,
    ) -> ApiResult<(Value, Vec<String>)> {
        let api_version = def.api_version();
        for (field, want) in [("apiVersion", api_version.as_str()), ("kind", def.kind)] {
            match body[field].as_str() {
                None | Some("") => body[field] = json!(want),
                Some(got) if got == want => {}
                Some(got) => {
                    return Err(ApiError::BadRequest(format!(
                        "the {field} of the provided object ({got}) does not match the {field} of the request ({want})"
                    )));
                }
            }
        }
        if def.namespaced {
            match (meta_str(&body, "namespace"), ns) {
                (Some(got), Some(want)) if !got.is_empty() && got != want => {
                    return Err(ApiError::BadRequest(
                        "the namespace of the provided object does not match the namespace sent on the request".into(),
                    ));
                }
                (_, Some(want)) => set_meta(&mut body, "namespace", json!(want)),
                (_, None) => {
                    return Err(ApiError::BadRequest(format!(
                        "{} must be addressed in a namespace",
                        def.plural
                    )));
                }
            }
        } else {
            meta_mut(&mut body).remove("namespace");
        }
        let typed = (def.codec)(&body).map_err(|e| {
            ApiError::BadRequest(format!(
                "{} in version \"{}\" cannot be handled as a {}: {e}",
                def.kind, def.version, def.kind
            ))
        })?;
        let unknown = if q.field_validation == FieldValidation::Ignore {
            Vec::new()
        } else {
            unknown_fields(&body, &typed)
        };
        if q.field_validation == FieldValidation::Strict && !unknown.is_empty() {
            let list: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect();
            return Err(ApiError::BadRequest(format!(
                "strict decoding error: {}",
                list.join(", ")
            )));
        }
        let warnings = unknown
            .into_iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        let mut typed = typed;
        def.strategy.default(&mut typed);
        Ok((typed, warnings))
    }

    fn validate(&self, def: &ResourceDef, obj: &Value, old: Option<&Value>) -> ApiResult<()> {
        let mut errors: Vec<FieldError> = validate_metadata(obj, def.strategy.name_rule());
        errors.extend(def.strategy.validate(obj));
        if let Some(old) = old {
            errors.extend(def.strategy.validate_update(obj, old));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(
                subject(def, meta_str(obj, "name").unwrap_or_default()),
                errors,
            ))
        }
    }

    /// Refuses namespaced writes into a namespace that is missing or terminating.
    async fn check_namespace(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        name: &str,
    ) -> ApiResult<()> {
        let (Some(ns), true) = (ns, def.namespaced) else {
            return Ok(());
        };
        let Some(ns_def) = self.registry.get("", "v1", "namespaces") else {
            return Ok(());
        };
        let namespace = match self.get(ns_def, None, ns).await {
            Ok(n) => n,
            Err(ApiError::NotFound(s)) => return Err(ApiError::NotFound(s)),
            Err(e) => return Err(e),
        };
        if namespace["status"]["phase"] == "Terminating" {
            return Err(ApiError::Forbidden(format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                def.plural,
            )));
        }
        Ok(())
    }

    pub async fn create(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        body: Value,
        q: &Query,
    ) -> ApiResult<Written> {
        if def.custom.as_ref().is_some_and(|c| c.terminating) {
            return Err(ApiError::MethodNotAllowed);
        }
        let (mut obj, warnings) = self.normalize(def, ns, body, q)?;
        let meta = meta_mut(&mut obj);
        if meta
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            if let Some(prefix) = meta
                .get("generateName")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
            {
                let name = format!("{prefix}{}", random_suffix());
                meta.insert("name".into(), json!(name));
            }
        }
        for key in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            meta.remove(key);
        }
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(object::now_rfc3339()));
        if def.strategy.tracks_generation() {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        def.strategy.prepare_create(&mut obj);
        crate::apply::track_update(def, None, &mut obj, None, q);
        self.validate(def, &obj, None)?;
        let name = meta_str(&obj, "name").unwrap_or_default().to_string();
        self.check_namespace(def, ns, &name).await?;
        let key = def.object_key(ns, &name);
        let reserved = match self
            .reserve(def, &mut obj, None, &key, &subject(def, &name), q.dry_run)
            .await
        {
            Ok(reserved) => reserved,
            // A duplicate holds the same values: it is the duplicate that matters.
            Err(e) => match self.store.get(&key).await {
                Ok((Some(_), _)) => return Err(ApiError::AlreadyExists(subject(def, &name))),
                _ => return Err(e),
            },
        };
        if q.dry_run {
            return Ok(Written {
                object: obj,
                warnings,
                created: true,
            });
        }
        let stored = def.encode(&obj)?;
        let kv = match self.store.create(&key, stored).await {
            Ok(kv) => kv,
            Err(e) => {
                self.release(&reserved).await;
                return Err(ApiError::from_store(e, &subject(def, &name)));
            }
        };
        set_meta(
            &mut obj,
            "resourceVersion",
            json!(kv.mod_revision.to_string()),
        );
        Ok(Written {
            object: obj,
            warnings,
            created: true,
        })
    }

    /// Replaces an object (PUT), or its status when `subresource` is `status`, or a namespace's
    /// finalizers when it is `finalize`.
    pub async fn update(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        name: &str,
        body: Value,
        subresource: Option<&str>,
        q: &Query,
    ) -> ApiResult<Written> {
        if let Some(body_name) = meta_str(&body, "name").filter(|n| !n.is_empty()) {
            if body_name != name {
                return Err(ApiError::BadRequest(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
        }
        let (mut new, warnings) = self.normalize(def, ns, body, q)?;
        set_meta(&mut new, "name", json!(name));
        let (old, kv) = self.read(def, ns, name).await?;
        if let Some(rv) = meta_str(&new, "resourceVersion").filter(|rv| !rv.is_empty()) {
            if rv != kv.mod_revision.to_string() {
                return Err(ApiError::from_store(
                    gantry_store::StoreError::Conflict {
                        key: kv.key.clone(),
                        current: None,
                    },
                    &subject(def, name),
                ));
            }
        }
        let mut new = self.merge_update(def, new, &old, subresource);
        crate::apply::track_update(def, Some(&old), &mut new, subresource, q);
        let mut written = self
            .write_update(def, ns, name, &mut new, &old, &kv, q)
            .await?;
        written.warnings = warnings;
        Ok(written)
    }

    /// Applies server ownership rules to an update: server metadata, status subresource.
    pub(crate) fn merge_update(
        &self,
        def: &ResourceDef,
        mut new: Value,
        old: &Value,
        subresource: Option<&str>,
    ) -> Value {
        if subresource == Some("status") {
            let mut merged = old.clone();
            merged["status"] = new["status"].take();
            // Labels and annotations may change through /status too, as upstream allows.
            return merged;
        }
        if subresource == Some("finalize") {
            // A namespace's /finalize changes its spec (the finalizers) and nothing else.
            let mut merged = old.clone();
            merged["spec"] = new["spec"].take();
            return merged;
        }
        let meta = meta_mut(&mut new);
        for key in SERVER_METADATA {
            match old["metadata"].get(*key) {
                Some(v) => meta.insert(key.to_string(), v.clone()),
                None => meta.remove(*key),
            };
        }
        if def.strategy.has_status() {
            match old.get("status") {
                Some(status) => new["status"] = status.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        if def.strategy.tracks_generation() && desired_state(&new) != desired_state(old) {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            set_meta(&mut new, "generation", json!(generation));
        }
        def.strategy.prepare_update(&mut new, old);
        new
    }

    /// Validates and writes `new` over `old` (compare-and-swap on `kv`), skipping no-op
    /// writes and completing deletion when the last finalizer goes.
    pub(crate) async fn write_update(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        name: &str,
        new: &mut Value,
        old: &Value,
        kv: &KeyValue,
        q: &Query,
    ) -> ApiResult<Written> {
        let key = def.object_key(ns, name);
        let sub = subject(def, name);
        let reserved = self
            .reserve(def, new, Some(old), &key, &sub, q.dry_run)
            .await?;
        self.validate(def, new, Some(old))?;
        let stored = def.encode(new)?;
        if stored == kv.value {
            return Ok(Written {
                object: old.clone(),
                warnings: Vec::new(),
                created: false,
            });
        }
        if q.dry_run {
            // Nothing was written: the object keeps the version it has, as upstream.
            set_meta(new, "resourceVersion", json!(kv.mod_revision.to_string()));
            return Ok(Written {
                object: new.clone(),
                warnings: Vec::new(),
                created: false,
            });
        }
        let terminating = new["metadata"]["deletionTimestamp"].is_string();
        let no_finalizers = new["metadata"]["finalizers"]
            .as_array()
            .is_none_or(Vec::is_empty);
        // A namespace also waits for its spec finalizers: the lifecycle empties it first.
        let is_namespace = def.group.is_empty() && def.plural == "namespaces";
        let no_spec_finalizers = !is_namespace
            || new["spec"]["finalizers"]
                .as_array()
                .is_none_or(Vec::is_empty);
        // Upstream's ShouldDeleteDuringUpdate: the last finalizer of an object whose grace
        // period is over (0) or that has none to wait for goes with the object.
        let grace_over = old["metadata"]["deletionGracePeriodSeconds"].as_i64() == Some(0);
        if terminating
            && no_finalizers
            && no_spec_finalizers
            && (grace_over || def.strategy.graceful_delete(new, None).is_none())
        {
            self.release(&reserved).await;
            let deleted = self
                .store
                .delete(&key, Some(kv.mod_revision))
                .await
                .map_err(|e| ApiError::from_store(e, &sub))?;
            self.release_dropped(def, old, None).await;
            set_meta(
                new,
                "resourceVersion",
                json!(deleted.mod_revision.to_string()),
            );
            return Ok(Written {
                object: new.clone(),
                warnings: Vec::new(),
                created: false,
            });
        }
        let written = match self.store.update(&key, stored, kv.mod_revision).await {
            Ok(written) => written,
            Err(e) => {
                self.release(&reserved).await;
                return Err(ApiError::from_store(e, &sub));
            }
        };
        self.release_dropped(def, old, Some(new)).await;
        set_meta(
            new,
            "resourceVersion",
            json!(written.mod_revision.to_string()),
        );
        Ok(Written {
            object: new.clone(),
            warnings: Vec::new(),
            created: false,
        })
    }

    /// Reads, changes with `mutate` and writes back, retrying on conflicts. Used for
    /// server-side changes (patches, graceful deletion, subresources).
    pub async fn guaranteed_update<F>(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        q: &Query,
        mut mutate: F,
    ) -> ApiResult<Written>
    where
        F: FnMut(&Value) -> ApiResult<Value>,
    {
        let mut attempts = 0;
        loop {
            let (old, kv) = self.read(def, ns, name).await?;
            let changed = mutate(&old)?;
            let expected_rv = meta_str(&changed, "resourceVersion").map(str::to_string);
            if expected_rv
                .as_deref()
                .is_some_and(|rv| rv != kv.mod_revision.to_string())
            {
                return Err(ApiError::from_store(
                    gantry_store::StoreError::Conflict {
                        key: kv.key.clone(),
                        current: None,
                    },
                    &subject(def, name),
                ));
            }
            let (normalized, warnings) = self.normalize(def, ns, changed, q)?;
            let mut new = self.merge_update(def, normalized, &old, subresource);
            set_meta(&mut new, "name", json!(name));
            crate::apply::track_update(def, Some(&old), &mut new, subresource, q);
            match self
                .write_update(def, ns, name, &mut new, &old, &kv, q)
                .await
            {
                Err(ApiError::Conflict(..)) if attempts < 5 && expected_rv.is_none() => {
                    attempts += 1
                }
                Ok(mut written) => {
                    written.warnings = warnings;
                    return Ok(written);
                }
                Err(e) => return Err(e),
            }
        }
    }
}
