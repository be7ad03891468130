//! Who is calling: the user a request was authenticated as, from a client certificate (the
//! common name is the user, the organizations its groups) or from a service account token.

use std::collections::BTreeMap;

use hyper::Request;
use hyper::body::Incoming;
use rustls::pki_types::CertificateDer;
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::route::Route;
use crate::service_account::Tokens;
use crate::storage::Storage;

/// An authenticated user, as upstream's `UserInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    pub groups: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

/// Who is calling. A client certificate is verified against the cluster CA during the TLS
/// handshake, so presenting one is being authenticated.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    pub authenticated: bool,
    /// The identity, when one was established.
    pub user: Option<UserInfo>,
}

impl Caller {
    pub fn from_certificates(certs: Option<&[CertificateDer<'_>]>) -> Caller {
        let Some(leaf) = certs.and_then(<[_]>::first) else {
            return Caller::default();
        };
        let user = webpki::EndEntityCert::try_from(leaf)
            .ok()
            .and_then(|cert| subject_user(cert.subject()));
        Caller {
            authenticated: true,
            user,
        }
    }

    /// A caller authenticated as `user`.
    pub fn user(user: UserInfo) -> Caller {
        Caller {
            authenticated: true,
            user: Some(user),
        }
    }
}

/// The caller of a request: its client certificate, else its bearer token (checked only on
/// routes that need authentication; public routes read their own credentials). No
/// credentials, or a token that does not verify, is 401.
pub async fn authenticate(
    req: &Request<Incoming>,
    caller: &Caller,
    target: &Route,
    tokens: Option<&Tokens>,
    storage: &Storage,
) -> ApiResult<Caller> {
    if caller.authenticated || target.is_public() {
        return Ok(caller.clone());
    }
    let bearer = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match (bearer, tokens) {
        (Some(token), Some(tokens)) => match tokens.authenticate(storage, token).await {
            Ok(user) => Ok(Caller::user(user)),
            Err(e) => {
                tracing::debug!("bearer token refused: {e}");
                Err(ApiError::Unauthorized)
            }
        },
        _ => Err(ApiError::Unauthorized),
    }
}

const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const OID_ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];

/// One DER element: its tag, its contents and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The user a certificate subject (the contents of the Name SEQUENCE) names: CN and O values.
fn subject_user(mut name: &[u8]) -> Option<UserInfo> {
    let mut user = UserInfo::default();
    while !name.is_empty() {
        let (_, mut set, rest) = element(name)?;
        name = rest;
        while !set.is_empty() {
            let (_, attribute, rest) = element(set)?;
            set = rest;
            let (_, oid, value) = element(attribute)?;
            let (_, text, _) = element(value)?;
            let text = String::from_utf8_lossy(text).into_owned();
            match oid {
                OID_COMMON_NAME => user.username = text,
                OID_ORGANIZATION => user.groups.push(text),
                _ => {}
            }
        }
    }
    if user.username.is_empty() {
        return None;
    }
    user.groups.push("system:authenticated".into());
    Some(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_common_name_and_organizations() {
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "system:node:n1");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "system:nodes");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let der = CertificateDer::from(cert.der().to_vec());
        let caller = Caller::from_certificates(Some(&[der]));
        assert!(caller.authenticated);
        let user = caller.user.unwrap();
        assert_eq!(user.username, "system:node:n1");
        assert_eq!(user.groups, ["system:nodes", "system:authenticated"]);
        assert!(!Caller::from_certificates(None).authenticated);
    }

    #[test]
    fn garbage_subjects_do_not_panic() {
        for input in [
            &[][..],
            &[0x31],
            &[0x31, 0x85, 1, 2, 3, 4, 5],
            &[0x31, 0x03, 0x30, 0x01],
        ] {
            let _ = subject_user(input);
        }
    }
}
