//! The claims of a service account token, as upstream writes them, and the checks that need
//! nothing but the claims and the clock (time window, issuer, audience, subject).

use serde::{Deserialize, Serialize};

/// How far `exp`, `nbf` and `iat` may be off, in seconds (clock skew between components).
pub const LEEWAY_SECONDS: i64 = 60;

/// An object a token is tied to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub name: String,
    pub uid: String,
}

/// The private `kubernetes.io` claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaims {
    pub namespace: String,
    pub serviceaccount: ObjectRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
}

/// Every claim of a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
}

/// Why the claims of a correctly signed token are not acceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error("token claims are malformed")]
    Malformed,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token was issued by {0:?}")]
    Issuer(String),
    #[error("token audiences {0:?} do not include the API server's")]
    Audience(Vec<String>),
    #[error("token subject {0:?} does not match its service account")]
    Subject(String),
}

/// The user name of a service account.
pub fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

impl Claims {
    /// Claims for a token of service account `sa` in `namespace`, issued at `now` (seconds
    /// since the epoch), valid for `lifetime` seconds.
    pub fn new(
        issuer: &str,
        audiences: Vec<String>,
        namespace: &str,
        sa: ObjectRef,
        now: i64,
        lifetime: i64,
    ) -> Claims {
        Claims {
            iss: issuer.to_string(),
            sub: username(namespace, &sa.name),
            aud: audiences,
            exp: now.saturating_add(lifetime),
            iat: now,
            nbf: now,
            jti: uuid::Uuid::new_v4().to_string(),
            kubernetes: KubernetesClaims {
                namespace: namespace.to_string(),
                serviceaccount: sa,
                pod: None,
                secret: None,
                node: None,
            },
        }
    }

    /// Parses the payload of a verified token.
    pub fn from_payload(payload: serde_json::Value) -> Result<Claims, ClaimsError> {
        serde_json::from_value(payload).map_err(|_| ClaimsError::Malformed)
    }

    /// Checks the time window at `now`, the issuer, that one audience is among `audiences`,
    /// and that the subject names the service account of the private claim.
    pub fn check(&self, now: i64, issuer: &str, audiences: &[String]) -> Result<(), ClaimsError> {
        if self.iss != issuer {
            return Err(ClaimsError::Issuer(self.iss.clone()));
        }
        if now > self.exp.saturating_add(LEEWAY_SECONDS) {
            return Err(ClaimsError::Expired);
        }
        if now < self.nbf.saturating_sub(LEEWAY_SECONDS)
            || now < self.iat.saturating_sub(LEEWAY_SECONDS)
        {
            return Err(ClaimsError::NotYetValid);
        }
        if !self.aud.iter().any(|a| audiences.contains(a)) {
            return Err(ClaimsError::Audience(self.aud.clone()));
        }
        let k = &self.kubernetes;
        if self.sub != username(&k.namespace, &k.serviceaccount.name) {
            return Err(ClaimsError::Subject(self.sub.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISS: &str = "https://kubernetes.default.svc.cluster.local";

    fn claims() -> Claims {
        let sa = ObjectRef {
            name: "default".into(),
            uid: "u1".into(),
        };
        Claims::new(ISS, vec![ISS.into()], "ns1", sa, 1_000_000, 3600)
    }

    #[test]
    fn upstream_shape() {
        let mut c = claims();
        c.kubernetes.pod = Some(ObjectRef {
            name: "p".into(),
            uid: "pu".into(),
        });
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["sub"], "system:serviceaccount:ns1:default");
        assert_eq!(v["aud"], json!([ISS]));
        assert_eq!(v["exp"], 1_003_600);
        assert_eq!(v["iat"], v["nbf"]);
        assert_eq!(
            v["kubernetes.io"],
            json!({"namespace": "ns1", "serviceaccount": {"name": "default", "uid": "u1"},
                   "pod": {"name": "p", "uid": "pu"}})
        );
        assert_eq!(Claims::from_payload(v).unwrap(), c);
        assert_eq!(
            Claims::from_payload(json!({"sub": 1})),
            Err(ClaimsError::Malformed)
        );
    }

    #[test]
    fn checks() {
        let aud = vec![ISS.to_string()];
        let base = claims();
        let with = |f: fn(&mut Claims)| {
            let mut c = claims();
            f(&mut c);
            c
        };
        let cases: Vec<(&str, Claims, i64, Result<(), ClaimsError>)> = vec![
            ("fresh", base.clone(), 1_000_000, Ok(())),
            ("within leeway after exp", base.clone(), 1_003_650, Ok(())),
            (
                "expired",
                base.clone(),
                1_003_661,
                Err(ClaimsError::Expired),
            ),
            ("skewed clock", base.clone(), 999_950, Ok(())),
            (
                "not yet valid",
                base.clone(),
                999_000,
                Err(ClaimsError::NotYetValid),
            ),
            (
                "wrong audience",
                with(|c| c.aud = vec!["vault".into()]),
                1_000_000,
                Err(ClaimsError::Audience(vec!["vault".into()])),
            ),
            (
                "one of several audiences",
                with(|c| c.aud = vec!["vault".into(), ISS.into()]),
                1_000_000,
                Ok(()),
            ),
            (
                "other issuer",
                with(|c| c.iss = "https://evil".into()),
                1_000_000,
                Err(ClaimsError::Issuer("https://evil".into())),
            ),
            (
                "subject of another account",
                with(|c| c.sub = "system:serviceaccount:kube-system:admin".into()),
                1_000_000,
                Err(ClaimsError::Subject(
                    "system:serviceaccount:kube-system:admin".into(),
                )),
            ),
        ];
        for (name, c, now, want) in cases {
            assert_eq!(c.check(now, ISS, &aud), want, "{name}");
        }
    }
}
