//! Namespace lifecycle inside the API server: the system namespaces exist from the first
//! start, and a terminating namespace is emptied and then removed.
//!
//! (The namespace controller moves to the controller manager, as an API client, when that
//! component exists.)

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use crate::error::ApiError;
use crate::query::Query;
use crate::storage::{DeleteOptions, Storage};

pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates the system namespaces that are missing.
pub async fn ensure_system_namespaces(storage: &Storage) -> Result<(), ApiError> {
    let def = storage.registry.get("", "v1", "namespaces").ok_or(ApiError::NoRoute)?;
    for name in SYSTEM_NAMESPACES {
        match storage.create(def, None, json!({"metadata": {"name": name}}), &Query::default()).await {
            Ok(_) | Err(ApiError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Deletes everything in `ns`; returns true once nothing is left.
async fn empty_namespace(storage: &Storage, ns: &str) -> Result<bool, ApiError> {
    let mut remaining = 0;
    let opts = DeleteOptions { grace_period_seconds: Some(0), ..Default::default() };
    for def in storage.all_defs().iter().filter(|d| d.namespaced) {
        let deleted = storage.delete_collection(def, Some(ns), &opts, &Query::default()).await?;
        // Objects held by finalizers are still there.
        remaining += deleted.iter().filter(|o| o["metadata"]["deletionTimestamp"].is_string()).count();
    }
    Ok(remaining == 0)
}

/// Finalizes one terminating namespace if it is empty.
async fn finalize(storage: &Storage, name: &str) -> Result<(), ApiError> {
    let def = storage.registry.get("", "v1", "namespaces").ok_or(ApiError::NoRoute)?;
    if !empty_namespace(storage, name).await? {
        return Ok(());
    }
    storage
        .guaranteed_update(def, None, name, Some("finalize"), &Query::default(), |old| {
            let mut new = old.clone();
            new["spec"]["finalizers"] = json!([]);
            if let Some(m) = new["metadata"].as_object_mut() {
                m.remove("resourceVersion");
            }
            Ok(new)
        })
        .await?;
    let (ns, kv) = storage.read(def, None, name).await?;
    let spec_empty = ns["spec"]["finalizers"].as_array().is_none_or(Vec::is_empty);
    let meta_empty = ns["metadata"]["finalizers"].as_array().is_none_or(Vec::is_empty);
    if spec_empty && meta_empty {
        storage.store.delete(&kv.key, Some(kv.mod_revision)).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    Ok(())
}

async fn sweep(storage: &Storage) {
    let Some(def) = storage.registry.get("", "v1", "namespaces") else { return };
    let terminating = match storage.list_objects(def, None, &Query::default()).await {
        Ok(all) => all.into_iter().filter(|n| n["metadata"]["deletionTimestamp"].is_string()),
        Err(e) => {
            tracing::warn!("namespace sweep: listing namespaces: {e}");
            return;
        }
    };
    for ns in terminating.collect::<Vec<_>>() {
        let name = ns["metadata"]["name"].as_str().unwrap_or_default().to_string();
        match finalize(storage, &name).await {
            Ok(()) | Err(ApiError::NotFound(_)) => {}
            Err(e) => tracing::warn!("finalizing namespace {name}: {e}"),
        }
    }
}

/// Runs until the process ends: finalizes namespaces when they change, and retries every few
/// seconds for namespaces whose content is held by finalizers.
pub async fn run(storage: Arc<Storage>) {
    let Some(def) = storage.registry.get("", "v1", "namespaces") else { return };
    let prefix = def.collection_key(None);
    loop {
        sweep(&storage).await;
        let Ok((rev, _)) = storage.store.revisions().await else { return };
        let Ok(mut events) = storage.store.watch(&prefix, rev).await else { return };
        let retry = tokio::time::sleep(Duration::from_secs(5));
        tokio::pin!(retry);
        tokio::select! {
            _ = events.next() => {}
            _ = &mut retry => {}
        }
    }
}
