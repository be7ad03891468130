//! Namespace lifecycle inside the API server: the system namespaces exist from the first
//! start. Emptying and finalizing a terminating namespace is the namespace controller's job
//! (`gantry-controllers`, an API client).

use serde_json::json;

use crate::error::ApiError;
use crate::query::Query;
use crate::storage::Storage;

pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates the system namespaces that are missing.
pub async fn ensure_system_namespaces(storage: &Storage) -> Result<(), ApiError> {
    let def = storage
        .registry
        .get("", "v1", "namespaces")
        .ok_or(ApiError::NoRoute)?;
    for name in SYSTEM_NAMESPACES {
        match storage
            .create(
                def,
                None,
                json!({"metadata": {"name": name}}),
                &Query::default(),
            )
            .await
        {
            Ok(_) | Err(ApiError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
