//! `POST .../serviceaccounts/NAME/token`: a TokenRequest answered with a signed token for the
//! service account, optionally bound to a Pod or a Secret, as upstream's token REST.

use std::time::{Duration, UNIX_EPOCH};

use k8s_openapi::api::authentication::v1::TokenRequest;
use serde_json::{Value, json};

use super::claims::{Claims, ObjectRef};
use super::{Tokens, lookup, now_seconds};
use crate::error::{ApiError, ApiResult, FieldError, Subject};
use crate::object::meta_str;
use crate::storage::Storage;

/// The lifetime of a token when the request names none.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// The shortest lifetime a client may ask for.
pub const MIN_EXPIRATION_SECONDS: i64 = 600;
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

fn subject(kind: &str, name: &str) -> Subject {
    Subject {
        group: "authentication.k8s.io".into(),
        kind: kind.into(),
        plural: kind.into(),
        name: name.into(),
    }
}

/// Checks the request's spec; returns the audiences and lifetime to use.
fn validate(tokens: &Tokens, req: &TokenRequest, name: &str) -> ApiResult<(Vec<String>, i64)> {
    let seconds = req
        .spec
        .expiration_seconds
        .unwrap_or(DEFAULT_EXPIRATION_SECONDS);
    let mut errors = Vec::new();
    if seconds < MIN_EXPIRATION_SECONDS {
        errors.push(FieldError::invalid(
            "spec.expirationSeconds",
            "may not specify a duration less than 10 minutes",
        ));
    } else if seconds > MAX_EXPIRATION_SECONDS {
        errors.push(FieldError::invalid(
            "spec.expirationSeconds",
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    if let Some(r) = &req.spec.bound_object_ref {
        if r.name.as_deref().is_none_or(str::is_empty) {
            errors.push(FieldError::required("spec.boundObjectRef.name"));
        }
        if r.api_version.as_deref().unwrap_or("v1") != "v1" {
            errors.push(FieldError::invalid(
                "spec.boundObjectRef.apiVersion",
                "must be v1",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(subject("TokenRequest", name), errors));
    }
    let audiences = if req.spec.audiences.is_empty() {
        tokens.audiences().to_vec()
    } else {
        req.spec.audiences.clone()
    };
    Ok((audiences, seconds))
}

fn object_ref(obj: &Value) -> ObjectRef {
    ObjectRef {
        name: meta_str(obj, "name").unwrap_or_default().to_string(),
        uid: meta_str(obj, "uid").unwrap_or_default().to_string(),
    }
}

/// Answers a TokenRequest for service account `name` in `ns` (201 with `status.token`).
pub async fn create_token(
    tokens: &Tokens,
    storage: &Storage,
    ns: &str,
    name: &str,
    mut body: Value,
) -> ApiResult<Value> {
    // Clients send an empty status (`expirationTimestamp: null`); the server owns it.
    if let Some(map) = body.as_object_mut() {
        map.remove("status");
    }
    let req: TokenRequest = serde_json::from_value(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "TokenRequest in version \"v1\" cannot be handled as a TokenRequest: {e}"
        ))
    })?;
    let (audiences, seconds) = validate(tokens, &req, name)?;
    let sa = lookup(storage, "serviceaccounts", Some(ns), name)
        .await?
        .ok_or_else(|| ApiError::NotFound(core_subject("serviceaccounts", name)))?;
    if !sa["metadata"]["deletionTimestamp"].is_null() {
        return Err(ApiError::BadRequest(format!(
            "cannot issue a token for service account {ns}/{name}: it is being deleted"
        )));
    }
    let now = now_seconds();
    let mut claims = Claims::new(
        tokens.issuer(),
        audiences.clone(),
        ns,
        object_ref(&sa),
        now,
        seconds,
    );
    if let Some(r) = &req.spec.bound_object_ref {
        let bound_name = r.name.clone().unwrap_or_default();
        let (plural, bound) = match r.kind.as_deref() {
            Some("Pod") => ("pods", true),
            Some("Secret") => ("secrets", false),
            other => {
                return Err(ApiError::BadRequest(format!(
                    "cannot bind token to object of type {}",
                    other.unwrap_or_default()
                )));
            }
        };
        let obj = lookup(storage, plural, Some(ns), &bound_name)
            .await?
            .ok_or_else(|| ApiError::NotFound(core_subject(plural, &bound_name)))?;
        let found = object_ref(&obj);
        if let Some(want) = r.uid.as_deref().filter(|u| !u.is_empty()) {
            if want != found.uid {
                return Err(ApiError::Conflict(
                    core_subject(plural, &bound_name),
                    format!(
                        "the UID in the bound object reference ({want}) does not match the UID in record. The object might have been deleted and then recreated"
                    ),
                ));
            }
        }
        if bound {
            let pod_sa = obj["spec"]["serviceAccountName"]
                .as_str()
                .unwrap_or("default");
            if pod_sa != name {
                return Err(ApiError::BadRequest(format!(
                    "cannot bind token for serviceaccount \"{name}\" to pod running with different serviceaccount name."
                )));
            }
            if let Some(node) = obj["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                claims.kubernetes.node = lookup(storage, "nodes", None, node)
                    .await?
                    .map(|n| object_ref(&n));
            }
            claims.kubernetes.pod = Some(found);
        } else {
            claims.kubernetes.secret = Some(found);
        }
    }
    let token = tokens.sign(&claims)?;
    let expires = UNIX_EPOCH + Duration::from_secs(u64::try_from(claims.exp).unwrap_or(0));
    let mut spec = json!({"audiences": audiences, "expirationSeconds": seconds});
    if let Some(r) = &req.spec.bound_object_ref {
        spec["boundObjectRef"] = serde_json::to_value(r).unwrap_or(Value::Null);
    }
    let mut metadata = serde_json::to_value(&req.metadata).unwrap_or_else(|_| json!({}));
    metadata["creationTimestamp"] = Value::Null;
    Ok(json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": metadata,
        "spec": spec,
        "status": {
            "token": token,
            "expirationTimestamp": crate::object::rfc3339(expires),
        },
    }))
}

fn core_subject(plural: &str, name: &str) -> Subject {
    Subject {
        group: String::new(),
        kind: String::new(),
        plural: plural.into(),
        name: name.into(),
    }
}
