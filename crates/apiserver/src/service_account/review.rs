//! `POST /apis/authentication.k8s.io/v1/selfsubjectreviews` (what `kubectl auth whoami`
//! asks): the caller's own user info.

use hyper::body::Incoming;
use hyper::{Method, Request};
use serde_json::{Value, json};

use crate::caller::Caller;
use crate::decode::{decode_object, media_type};
use crate::error::{ApiError, ApiResult};
use crate::response::{self, Response};
use crate::route::ResourcePath;

/// The group and version SelfSubjectReview is served in.
pub const GROUP: &str = "authentication.k8s.io";
pub const PLURAL: &str = "selfsubjectreviews";

/// Serves a request to the `selfsubjectreviews` collection: only `POST` (201).
pub async fn serve(
    req: Request<Incoming>,
    p: &ResourcePath,
    caller: &Caller,
) -> ApiResult<Response> {
    if req.method() != Method::POST || p.name.is_some() || p.namespace.is_some() {
        return Err(ApiError::MethodNotAllowed);
    }
    let media = media_type(
        req.headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )?;
    let body = decode_object(&crate::handler::read_body(req).await?, media)?;
    self_subject_review(caller, &p.version, &body).map(|v| response::json(201, &v))
}

/// Answers a SelfSubjectReview (any body with the right kind; the status is the caller).
pub fn self_subject_review(caller: &Caller, version: &str, body: &Value) -> ApiResult<Value> {
    if !matches!(version, "v1" | "v1beta1") {
        return Err(ApiError::NoRoute);
    }
    if let Some(kind) = body["kind"].as_str().filter(|k| !k.is_empty()) {
        if kind != "SelfSubjectReview" {
            return Err(ApiError::BadRequest(format!(
                "the kind of the provided object ({kind}) does not match SelfSubjectReview"
            )));
        }
    }
    let user = caller.user.clone().unwrap_or_default();
    let user = serde_json::to_value(user).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json!({
        "kind": "SelfSubjectReview",
        "apiVersion": format!("{GROUP}/{version}"),
        "metadata": {"creationTimestamp": crate::object::now_rfc3339()},
        "status": {"userInfo": user},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::UserInfo;

    #[test]
    fn answers_with_the_caller() {
        let caller = Caller::user(UserInfo {
            username: "system:serviceaccount:default:default".into(),
            uid: "u".into(),
            groups: vec!["system:serviceaccounts".into()],
            extra: Default::default(),
        });
        let review = self_subject_review(&caller, "v1", &json!({})).unwrap();
        assert_eq!(
            review["status"]["userInfo"]["username"],
            "system:serviceaccount:default:default"
        );
        assert_eq!(review["status"]["userInfo"]["uid"], "u");
        assert!(self_subject_review(&caller, "v2", &json!({})).is_err());
        assert!(self_subject_review(&caller, "v1", &json!({"kind": "Pod"})).is_err());
    }
}
