//! Service account tokens, as upstream: a signing key, the `serviceaccounts/token`
//! subresource (TokenRequest), bearer-token authentication, the ServiceAccount admission of
//! pods and SelfSubjectReview.

pub mod admission;
pub mod claims;
pub mod jwt;
pub mod review;
#[cfg(test)]
mod tests;
mod token_request;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub use token_request::create_token;

use crate::caller::UserInfo;
use crate::error::ApiError;
use crate::object::meta_str;
use crate::storage::Storage;
use claims::{Claims, ClaimsError, ObjectRef};
use jwt::{JwtError, SigningKey};

/// The API server's issuer and default audience.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Why a bearer token does not authenticate anyone. Always answered with 401.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Jwt(#[from] JwtError),
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    #[error("{kind} {namespace}/{name} the token was issued for no longer exists")]
    Gone {
        kind: &'static str,
        namespace: String,
        name: String,
    },
    #[error("looking up {kind} {name}: {message}")]
    Lookup {
        kind: &'static str,
        name: String,
        message: String,
    },
}

/// Issues and verifies service account tokens.
pub struct Tokens {
    key: SigningKey,
    issuer: String,
    audiences: Vec<String>,
}

/// Seconds since the epoch.
pub fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Tokens {
    /// Tokens signed with `key`, issued by (and for) [`DEFAULT_ISSUER`].
    pub fn new(key: SigningKey) -> Tokens {
        Tokens {
            key,
            issuer: DEFAULT_ISSUER.into(),
            audiences: vec![DEFAULT_ISSUER.into()],
        }
    }

    /// The audiences the API server accepts (and gives tokens by default).
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Signs `claims`.
    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        let payload =
            serde_json::to_value(claims).map_err(|e| ApiError::Internal(e.to_string()))?;
        self.key
            .sign(&payload)
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// Checks signature and claims of `token` at `now`, without looking at any object.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let claims = Claims::from_payload(self.key.verify(token)?)?;
        claims.check(now, &self.issuer, &self.audiences)?;
        Ok(claims)
    }

    /// Authenticates a bearer token: a valid token of a service account that still exists
    /// (same uid), bound to objects that still exist.
    pub async fn authenticate(
        &self,
        storage: &Storage,
        token: &str,
    ) -> Result<UserInfo, TokenError> {
        let claims = self.verify(token, now_seconds())?;
        let k = &claims.kubernetes;
        let ns = k.namespace.as_str();
        still_exists(
            storage,
            "serviceaccounts",
            "ServiceAccount",
            ns,
            &k.serviceaccount,
        )
        .await?;
        let mut extra = BTreeMap::new();
        if let Some(pod) = &k.pod {
            still_exists(storage, "pods", "Pod", ns, pod).await?;
            extra.insert(
                "authentication.kubernetes.io/pod-name".into(),
                vec![pod.name.clone()],
            );
            extra.insert(
                "authentication.kubernetes.io/pod-uid".into(),
                vec![pod.uid.clone()],
            );
        }
        if let Some(secret) = &k.secret {
            still_exists(storage, "secrets", "Secret", ns, secret).await?;
        }
        if let Some(node) = &k.node {
            extra.insert(
                "authentication.kubernetes.io/node-name".into(),
                vec![node.name.clone()],
            );
            extra.insert(
                "authentication.kubernetes.io/node-uid".into(),
                vec![node.uid.clone()],
            );
        }
        extra.insert(
            "authentication.kubernetes.io/credential-id".into(),
            vec![format!("JTI={}", claims.jti)],
        );
        Ok(UserInfo {
            username: claims.sub.clone(),
            uid: k.serviceaccount.uid.clone(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
                "system:authenticated".into(),
            ],
            extra,
        })
    }
}

/// Reads a core/v1 object; `None` when it does not exist.
pub(crate) async fn lookup(
    storage: &Storage,
    plural: &'static str,
    ns: Option<&str>,
    name: &str,
) -> Result<Option<Value>, ApiError> {
    let def = storage
        .registry
        .get("", "v1", plural)
        .ok_or_else(|| ApiError::Internal(format!("{plural} are not served")))?;
    match storage.get(def, ns, name).await {
        Ok(obj) => Ok(Some(obj)),
        Err(ApiError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Fails unless the object `want` names exists with the same uid and is not being deleted.
async fn still_exists(
    storage: &Storage,
    plural: &'static str,
    kind: &'static str,
    ns: &str,
    want: &ObjectRef,
) -> Result<(), TokenError> {
    let found = lookup(storage, plural, Some(ns), &want.name)
        .await
        .map_err(|e| TokenError::Lookup {
            kind,
            name: want.name.clone(),
            message: e.to_string(),
        })?;
    let alive = found.is_some_and(|obj| {
        meta_str(&obj, "uid") == Some(want.uid.as_str())
            && (kind == "Pod" || obj["metadata"]["deletionTimestamp"].is_null())
    });
    if alive {
        Ok(())
    } else {
        Err(TokenError::Gone {
            kind,
            namespace: ns.to_string(),
            name: want.name.clone(),
        })
    }
}
