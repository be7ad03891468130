//! Node join: the node token in `DATA_DIR/token`, `GET /cacerts` (the CA PEM, unauthenticated)
//! and `POST /v1-gantry/node-credentials`, which hands a client certificate
//! (`system:node:<name>`, group `system:nodes`) and a kubelet serving certificate to a caller
//! presenting the token's secret as a bearer token.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use gantry_join::{NodeCredentials, NodeCredentialsRequest, NodeToken, TokenError};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request};

use crate::error::{ApiError, FieldError, Subject};
use crate::pki::{Leaf, Pki, PkiError};
use crate::response::{self, Response};

/// Largest accepted node-credentials request body.
const MAX_REQUEST: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} does not hold a node token: {source}")]
    Parse { path: PathBuf, source: TokenError },
    #[error("generating the node token secret: no randomness available")]
    Random,
    #[error(transparent)]
    Write(#[from] PkiError),
}

/// Reads `data_dir/token`, or creates it with a fresh secret. The secret persists; the CA hash
/// is rewritten when it no longer matches `ca_pem` (a regenerated CA).
pub fn load_or_create_token(data_dir: &Path, ca_pem: &str) -> Result<NodeToken, TokenFileError> {
    let path = data_dir.join("token");
    let secret = match std::fs::read_to_string(&path) {
        Ok(text) => {
            NodeToken::parse(&text)
                .map_err(|source| TokenFileError::Parse {
                    path: path.clone(),
                    source,
                })?
                .secret
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            gantry_join::generate_secret().map_err(|_| TokenFileError::Random)?
        }
        Err(source) => return Err(TokenFileError::Read { path, source }),
    };
    let token = NodeToken::new(ca_pem.as_bytes(), secret);
    let text = format!("{token}\n");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        crate::pki::write_private(&path, &text)?;
    }
    Ok(token)
}

/// The join endpoints' state.
pub struct NodeJoin {
    token: NodeToken,
    pki: Arc<Pki>,
}

impl NodeJoin {
    pub fn new(token: NodeToken, pki: Arc<Pki>) -> NodeJoin {
        NodeJoin { token, pki }
    }

    /// `GET /cacerts`: the cluster CA as PEM.
    pub fn cacerts(&self, method: &Method) -> Response {
        if method != Method::GET && method != Method::HEAD {
            return response::error(&ApiError::MethodNotAllowed);
        }
        hyper::Response::builder()
            .status(200)
            .header(hyper::header::CONTENT_TYPE, "application/x-pem-file")
            .body(Full::new(Bytes::from(self.pki.ca_pem.clone())).boxed())
            .unwrap_or_else(|e| response::error(&ApiError::Internal(e.to_string())))
    }

    /// `POST /v1-gantry/node-credentials`.
    pub async fn node_credentials(&self, req: Request<Incoming>) -> Response {
        match self.issue(req).await {
            Ok(creds) => match serde_json::to_value(&creds) {
                Ok(v) => response::json(200, &v),
                Err(e) => response::error(&ApiError::Internal(e.to_string())),
            },
            Err(e) => {
                tracing::info!("node join refused: {e}");
                response::error(&e)
            }
        }
    }

    async fn issue(&self, req: Request<Incoming>) -> Result<NodeCredentials, ApiError> {
        let presented = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if !presented.is_some_and(|s| gantry_join::secrets_match(s, &self.token.secret)) {
            return Err(ApiError::Unauthorized);
        }
        if req.method() != Method::POST {
            return Err(ApiError::MethodNotAllowed);
        }
        let body = Limited::new(req.into_body(), MAX_REQUEST)
            .collect()
            .await
            .map_err(|e| ApiError::BadRequest(format!("reading the request body: {e}")))?
            .to_bytes();
        let request: NodeCredentialsRequest = serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!("decoding the node credentials request: {e}"))
        })?;
        validate(&request)?;
        let name = &request.node_name;
        let user = format!("system:node:{name}");
        let (client_cert_pem, client_key_pem) = self
            .pki
            .issue(Leaf::Client {
                common_name: &user,
                organizations: &["system:nodes"],
            })
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let names = serving_names(&request);
        let (serving_cert_pem, serving_key_pem) = self
            .pki
            .issue(Leaf::Serving {
                common_name: name,
                names: &names,
            })
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        tracing::info!("issued node credentials to {user} for {names:?}");
        Ok(NodeCredentials {
            ca_pem: self.pki.ca_pem.clone(),
            client_cert_pem,
            client_key_pem,
            serving_cert_pem,
            serving_key_pem,
        })
    }
}

/// The node name must be a Node name (a DNS-1123 subdomain).
fn validate(request: &NodeCredentialsRequest) -> Result<(), ApiError> {
    let name = &request.node_name;
    let causes = match name.is_empty() {
        true => vec![FieldError::required("nodeName")],
        false if !crate::validation::is_dns1123_subdomain(name) => vec![FieldError::invalid(
            "nodeName",
            format!(
                "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            ),
        )],
        false => return Ok(()),
    };
    Err(ApiError::Invalid(
        Subject {
            group: String::new(),
            kind: "Node".into(),
            plural: "nodes".into(),
            name: name.clone(),
        },
        causes,
    ))
}

/// The kubelet serving certificate's names: the node name, its IPs, 127.0.0.1 and localhost.
fn serving_names(request: &NodeCredentialsRequest) -> Vec<String> {
    let mut names = vec![request.node_name.clone()];
    names.extend(request.node_ips.iter().map(ToString::to_string));
    names.extend(["127.0.0.1".to_string(), "localhost".to_string()]);
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_is_created_once_and_follows_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_token(dir.path(), "CA1").unwrap();
        let again = load_or_create_token(dir.path(), "CA1").unwrap();
        assert_eq!(first, again);
        let text = std::fs::read_to_string(dir.path().join("token")).unwrap();
        assert_eq!(NodeToken::parse(&text).unwrap(), first);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let rotated = load_or_create_token(dir.path(), "CA2").unwrap();
        assert_eq!(rotated.secret, first.secret);
        assert!(rotated.matches_ca(b"CA2"));

        std::fs::write(dir.path().join("token"), "garbage").unwrap();
        assert!(matches!(
            load_or_create_token(dir.path(), "CA2"),
            Err(TokenFileError::Parse { .. })
        ));
    }

    #[test]
    fn validation_and_names() {
        let req = |name: &str| NodeCredentialsRequest {
            node_name: name.into(),
            node_ips: vec!["10.0.0.5".parse().unwrap()],
        };
        assert!(validate(&req("worker-1")).is_ok());
        for bad in ["", "Worker", "a_b", "-a"] {
            let err = validate(&req(bad)).unwrap_err();
            assert_eq!(err.code_reason().0, 422, "{bad:?}");
        }
        assert_eq!(
            serving_names(&req("w1")),
            ["w1", "10.0.0.5", "127.0.0.1", "localhost"]
        );
    }
}
