//! The error type the workload controllers share, and their common error policy.

use std::time::Duration;

use kube::runtime::controller::Action;

/// Why a workload reconcile failed; each variant names the step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A write or read against the API server failed.
    #[error("{step} {kind} {name}: {source}")]
    Api {
        step: &'static str,
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// An object lacks a field the controller needs (name, namespace, uid).
    #[error("{kind} is missing {field}")]
    Missing {
        kind: &'static str,
        field: &'static str,
    },
}

impl Error {
    /// Wraps an API error with the step and object it concerns.
    pub fn api(
        step: &'static str,
        kind: &'static str,
        name: &str,
    ) -> impl FnOnce(kube::Error) -> Self {
        let name = name.to_string();
        move |source| Error::Api {
            step,
            kind,
            name,
            source,
        }
    }
}

/// True when the API said the object is gone (404) or already exists (409 on create).
pub fn is_status(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == code)
}

/// The shared error policy: log and retry after a short pause.
pub fn retry_after(controller: &str, key: &str, error: &Error) -> Action {
    tracing::warn!(controller, key, %error, "reconcile failed");
    Action::requeue(Duration::from_secs(5))
}
