//! The CRD controller inside the API server: keeps the served custom resources in step with
//! the stored CRDs (within one watch event of a change), marks CRDs NamesAccepted and
//! Established, and empties a deleted CRD before letting it go.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use super::strategy::CLEANUP_FINALIZER;
use super::{CustomRegistry, definition};
use crate::error::ApiError;
use crate::object::{self, meta_str};
use crate::query::Query;
use crate::storage::{DeleteOptions, Storage};

pub const CRD_GROUP: &str = "apiextensions.k8s.io";
pub const CRD_PLURAL: &str = "customresourcedefinitions";

/// What makes two CRD sets serve the same resources.
fn fingerprint(crds: &[Value]) -> Vec<String> {
    crds.iter()
        .map(|c| {
            format!(
                "{}|{}|{}",
                c["metadata"]["name"],
                c["spec"],
                c["metadata"]["deletionTimestamp"].is_string()
            )
        })
        .collect()
}

fn condition(type_: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": "True", "reason": reason, "message": message, "lastTransitionTime": object::now_rfc3339()})
}

fn is_established(crd: &Value) -> bool {
    crd["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Established" && c["status"] == "True")
}

/// Controller state: the last set of CRDs turned into the registry.
pub struct CrdController {
    storage: Arc<Storage>,
    last: Vec<String>,
}

impl CrdController {
    pub fn new(storage: Arc<Storage>) -> Self {
        CrdController {
            storage,
            last: Vec::new(),
        }
    }

    async fn sync(&mut self) -> Result<(), ApiError> {
        let storage = self.storage.clone();
        let crd_def = storage
            .registry
            .get(CRD_GROUP, "v1", CRD_PLURAL)
            .ok_or(ApiError::NoRoute)?;
        let crds = storage
            .list_objects(crd_def, None, &Query::default())
            .await?;
        let print = fingerprint(&crds);
        if print != self.last {
            let mut next = CustomRegistry::default();
            for crd in &crds {
                for def in definition::resource_defs(crd) {
                    next.insert(def);
                }
            }
            storage.replace_custom(next);
            self.last = print;
        }
        for crd in &crds {
            let name = meta_str(crd, "name").unwrap_or_default().to_string();
            let result = if crd["metadata"]["deletionTimestamp"].is_string() {
                self.clean_up(crd, &name).await
            } else if !is_established(crd) {
                self.establish(crd, &name).await
            } else {
                Ok(())
            };
            match result {
                Ok(()) | Err(ApiError::NotFound(_)) => {}
                Err(e) => tracing::warn!("custom resource definition {name}: {e}"),
            }
        }
        Ok(())
    }

    async fn establish(&self, crd: &Value, name: &str) -> Result<(), ApiError> {
        let storage = &self.storage;
        let crd_def = storage
            .registry
            .get(CRD_GROUP, "v1", CRD_PLURAL)
            .ok_or(ApiError::NoRoute)?;
        let names = crd["spec"]["names"].clone();
        let stored: Vec<Value> = crd["spec"]["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["storage"] == json!(true))
            .map(|v| v["name"].clone())
            .collect();
        storage
            .guaranteed_update(crd_def, None, name, Some("status"), &Query::default(), |old| {
                let mut new = old.clone();
                new["status"] = json!({
                    "acceptedNames": names,
                    "storedVersions": stored,
                    "conditions": [
                        condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                        condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                    ],
                });
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove("resourceVersion");
                }
                Ok(new)
            })
            .await?;
        Ok(())
    }

    /// Deletes every object of a terminating CRD, then drops its cleanup finalizer.
    async fn clean_up(&self, crd: &Value, name: &str) -> Result<(), ApiError> {
        let storage = &self.storage;
        let opts = DeleteOptions {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        let custom = storage.custom();
        for def in custom
            .one_per_resource()
            .iter()
            .filter(|d| d.custom.as_ref().is_some_and(|c| c.crd == name))
        {
            let left = storage
                .delete_collection(def, None, &opts, &Query::default())
                .await?;
            if !left
                .iter()
                .all(|o| !o["metadata"]["deletionTimestamp"].is_string())
            {
                return Ok(()); // finalizers of custom objects still hold some of them
            }
        }
        if !crd["metadata"]["finalizers"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f == CLEANUP_FINALIZER)
        {
            return Ok(());
        }
        let crd_def = storage
            .registry
            .get(CRD_GROUP, "v1", CRD_PLURAL)
            .ok_or(ApiError::NoRoute)?;
        storage
            .guaranteed_update(crd_def, None, name, None, &Query::default(), |old| {
                let mut new = old.clone();
                if let Some(list) = new["metadata"]["finalizers"].as_array_mut() {
                    list.retain(|f| f != CLEANUP_FINALIZER);
                }
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove("resourceVersion");
                }
                Ok(new)
            })
            .await?;
        Ok(())
    }

    /// Runs until the process ends, syncing on every CRD change (and every few seconds while
    /// a deleted CRD's objects are held by finalizers).
    pub async fn run(mut self) {
        let Some(crd_def) = self.storage.registry.get(CRD_GROUP, "v1", CRD_PLURAL) else {
            return;
        };
        let prefix = crd_def.collection_key(None);
        loop {
            let Ok((rev, _)) = self.storage.store.revisions().await else {
                return;
            };
            if let Err(e) = self.sync().await {
                tracing::warn!("syncing custom resource definitions: {e}");
            }
            let Ok(mut events) = self.storage.store.watch(&prefix, rev).await else {
                return;
            };
            let retry = tokio::time::sleep(Duration::from_secs(5));
            tokio::pin!(retry);
            tokio::select! {
                _ = events.next() => {}
                _ = &mut retry => {}
            }
        }
    }
}
