//! API errors and their one translation into Kubernetes `Status` objects.
//!
//! Every failure a request can meet ends up as an [`ApiError`]; [`ApiError::status`] is the only
//! place that decides the HTTP code, `reason` and `details` a client sees.

use gantry_store::StoreError;
use serde_json::{Value, json};

/// One invalid field, reported as a `StatusCause`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, `FieldValueDuplicate`, ...
    pub reason: &'static str,
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: message.into(),
        }
    }
    pub fn required(field: impl Into<String>) -> Self {
        FieldError {
            reason: "FieldValueRequired",
            field: field.into(),
            message: "Required value".into(),
        }
    }
    pub fn forbidden(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            reason: "FieldValueForbidden",
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The resource an error is about, for `details`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    pub group: String,
    pub kind: String,
    pub plural: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("Unauthorized")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{} \"{}\" not found", resource_label(.0), .0.name)]
    NotFound(Subject),
    #[error("the server could not find the requested resource")]
    NoRoute,
    #[error("{} \"{}\" already exists", resource_label(.0), .0.name)]
    AlreadyExists(Subject),
    #[error("Operation cannot be fulfilled on {} \"{}\": {}", resource_label(.0), .0.name, .1)]
    Conflict(Subject, String),
    /// A server-side apply conflict: upstream's message and one cause per conflicting field.
    #[error("{0}")]
    ApplyConflict(String, Vec<FieldError>),
    #[error("{} \"{}\" is invalid: {}", .0.kind, .0.name, join_causes(.1))]
    Invalid(Subject, Vec<FieldError>),
    #[error("{0}")]
    Gone(String),
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    #[error("the body of the request was too large ({0} bytes); the limit is 3145728")]
    TooLarge(usize),
    #[error("the server does not support media type {0:?}")]
    UnsupportedMediaType(String),
    #[error(
        "only the following media types are accepted: application/json, application/vnd.kubernetes.protobuf"
    )]
    NotAcceptable,
    #[error("{0}")]
    Internal(String),
    #[error("the server is shutting down")]
    Unavailable,
    #[error("{0}")]
    Timeout(String),
    /// 429: the request would break a limit that may lift later (a disruption budget); one
    /// cause per limit, with a reason and a message but no field.
    #[error("{0}")]
    TooManyRequests(String, Vec<FieldError>),
}

fn resource_label(s: &Subject) -> String {
    if s.group.is_empty() {
        s.plural.clone()
    } else {
        format!("{}.{}", s.plural, s.group)
    }
}

fn join_causes(causes: &[FieldError]) -> String {
    let parts: Vec<String> = causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    if parts.len() == 1 {
        parts.join("")
    } else {
        format!("[{}]", parts.join(", "))
    }
}

impl ApiError {
    /// The HTTP code and the `reason` of the Status.
    pub fn code_reason(&self) -> (u16, &'static str) {
        match self {
            ApiError::BadRequest(_) => (400, "BadRequest"),
            ApiError::Unauthorized => (401, "Unauthorized"),
            ApiError::Forbidden(_) => (403, "Forbidden"),
            ApiError::NotFound(_) | ApiError::NoRoute => (404, "NotFound"),
            ApiError::AlreadyExists(_) => (409, "AlreadyExists"),
            ApiError::Conflict(..) | ApiError::ApplyConflict(..) => (409, "Conflict"),
            ApiError::Invalid(..) => (422, "Invalid"),
            ApiError::Gone(_) => (410, "Expired"),
            ApiError::MethodNotAllowed => (405, "MethodNotAllowed"),
            ApiError::TooLarge(_) => (413, "RequestEntityTooLarge"),
            ApiError::UnsupportedMediaType(_) => (415, "UnsupportedMediaType"),
            ApiError::NotAcceptable => (406, "NotAcceptable"),
            ApiError::Internal(_) => (500, "InternalError"),
            ApiError::Unavailable => (503, "ServiceUnavailable"),
            ApiError::Timeout(_) => (504, "Timeout"),
            ApiError::TooManyRequests(..) => (429, "TooManyRequests"),
        }
    }

    /// The `Status` object for this error.
    pub fn status(&self) -> Value {
        let (code, reason) = self.code_reason();
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": reason,
            "code": code,
        });
        let subject = match self {
            ApiError::NotFound(s)
            | ApiError::AlreadyExists(s)
            | ApiError::Conflict(s, _)
            | ApiError::Invalid(s, _) => Some(s),
            _ => None,
        };
        if let ApiError::ApplyConflict(_, causes) = self {
            let causes: Vec<Value> = causes
                .iter()
                .map(|c| json!({ "reason": c.reason, "message": c.message, "field": c.field }))
                .collect();
            status["details"] = json!({ "causes": causes });
        }
        if let ApiError::TooManyRequests(_, causes) = self {
            let causes: Vec<Value> = causes
                .iter()
                .map(|c| json!({ "reason": c.reason, "message": c.message }))
                .collect();
            status["details"] = json!({ "causes": causes });
        }
        if let Some(s) = subject {
            let mut details = json!({ "name": s.name, "group": s.group, "kind": if matches!(self, ApiError::Invalid(..)) { &s.kind } else { &s.plural } });
            if let ApiError::Invalid(_, causes) = self {
                details["causes"] = causes
                    .iter()
                    .map(|c| json!({ "reason": c.reason, "message": c.message, "field": c.field }))
                    .collect();
            }
            status["details"] = details;
        }
        status
    }

    /// Translates a store failure about `subject`.
    pub fn from_store(err: StoreError, subject: &Subject) -> ApiError {
        match err {
            StoreError::AlreadyExists { .. } => ApiError::AlreadyExists(subject.clone()),
            StoreError::NotFound { .. } => ApiError::NotFound(subject.clone()),
            StoreError::Conflict { .. } => ApiError::Conflict(
                subject.clone(),
                "the object has been modified; please apply your changes to the latest version and try again".into(),
            ),
            StoreError::Compacted { requested, .. } => {
                ApiError::Gone(format!("too old resource version: {requested}"))
            }
            StoreError::FutureRevision { requested, current } => ApiError::Internal(format!(
                "Too large resource version: {requested}, current: {current}"
            )),
            StoreError::Closed => ApiError::Unavailable,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject {
            group: "apps".into(),
            kind: "Deployment".into(),
            plural: "deployments".into(),
            name: "web".into(),
        }
    }

    #[test]
    fn statuses_carry_code_reason_and_details() {
        let cases: Vec<(ApiError, u16, &str, &str)> = vec![
            (
                ApiError::NotFound(subject()),
                404,
                "NotFound",
                "deployments.apps \"web\" not found",
            ),
            (
                ApiError::AlreadyExists(subject()),
                409,
                "AlreadyExists",
                "deployments.apps \"web\" already exists",
            ),
            (ApiError::BadRequest("bad".into()), 400, "BadRequest", "bad"),
            (
                ApiError::TooLarge(4_000_000),
                413,
                "RequestEntityTooLarge",
                "the body of the request was too large (4000000 bytes); the limit is 3145728",
            ),
            (
                ApiError::Gone("too old resource version: 3".into()),
                410,
                "Expired",
                "too old resource version: 3",
            ),
        ];
        for (err, code, reason, message) in cases {
            let s = err.status();
            assert_eq!(s["code"], code, "{err:?}");
            assert_eq!(s["reason"], reason, "{err:?}");
            assert_eq!(s["message"], message, "{err:?}");
        }
    }

    #[test]
    fn invalid_lists_field_causes() {
        let err = ApiError::Invalid(
            subject(),
            vec![
                FieldError::required("spec.selector"),
                FieldError::invalid("metadata.name", "bad name"),
            ],
        );
        let s = err.status();
        assert_eq!(s["code"], 422);
        assert_eq!(s["details"]["kind"], "Deployment");
        assert_eq!(s["details"]["causes"][0]["field"], "spec.selector");
        assert_eq!(s["details"]["causes"][0]["reason"], "FieldValueRequired");
        assert_eq!(s["details"]["causes"][1]["message"], "bad name");
        assert_eq!(
            s["message"],
            "Deployment \"web\" is invalid: [spec.selector: Required value, metadata.name: bad name]"
        );
    }
}
