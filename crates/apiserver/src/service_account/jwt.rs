//! Compact JWS tokens signed with ES256 (ECDSA P-256, SHA-256) using ring: the service account
//! signing key (created once under `DATA_DIR/tls`), signing, and a parser that accepts nothing
//! it did not sign.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

/// The file, under `DATA_DIR/tls`, holding the signing key (PKCS#8 PEM).
pub const KEY_FILE: &str = "service-account.key";

/// Tokens longer than this are refused before any decoding.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] crate::pki::PkiError),
    #[error("generating the service account signing key")]
    Generate,
    #[error("{path} does not hold a PKCS#8 ECDSA P-256 key")]
    BadKey { path: PathBuf },
}

/// Why a token was refused by the parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("token is not a compact JWS")]
    Malformed,
    #[error("token header is invalid")]
    Header,
    #[error("token is signed with an unexpected algorithm or key")]
    Algorithm,
    #[error("token signature is invalid")]
    Signature,
    #[error("token payload is not a JSON object")]
    Payload,
    #[error("signing the token failed")]
    Sign,
}

/// The service account signing key and its key id.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    kid: String,
    rng: SystemRandom,
}

impl SigningKey {
    /// Loads `tls_dir/service-account.key`, creating it (mode 600) on first start.
    pub fn load_or_create(tls_dir: &Path) -> Result<SigningKey, KeyError> {
        let path = tls_dir.join(KEY_FILE);
        if !path.exists() {
            let rng = SystemRandom::new();
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| KeyError::Generate)?;
            crate::pki::write_private(&path, &pem("PRIVATE KEY", doc.as_ref()))?;
        }
        let text = std::fs::read(&path).map_err(|source| KeyError::Read {
            path: path.clone(),
            source,
        })?;
        let bad = || KeyError::BadKey { path: path.clone() };
        match PrivateKeyDer::from_pem_slice(&text).map_err(|_| bad())? {
            PrivateKeyDer::Pkcs8(der) => {
                SigningKey::from_pkcs8(der.secret_pkcs8_der()).ok_or_else(bad)
            }
            _ => Err(bad()),
        }
    }

    /// A fresh key that lives in memory only (tests).
    pub fn generate() -> Result<SigningKey, KeyError> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Generate)?;
        SigningKey::from_pkcs8(doc.as_ref()).ok_or(KeyError::Generate)
    }

    fn from_pkcs8(der: &[u8]) -> Option<SigningKey> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng).ok()?;
        let digest = ring::digest::digest(&ring::digest::SHA256, pair.public_key().as_ref());
        let kid = URL_SAFE_NO_PAD.encode(digest.as_ref());
        Some(SigningKey { pair, kid, rng })
    }

    /// The key id put in every token's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` into a compact JWS: `header.payload.signature`, base64url without padding.
    pub fn sign(&self, claims: &Value) -> Result<String, JwtError> {
        let header = json!({"alg": "ES256", "kid": self.kid});
        let encode = |v: &Value| serde_json::to_vec(v).map(|b| URL_SAFE_NO_PAD.encode(b));
        let signing_input = format!(
            "{}.{}",
            encode(&header).map_err(|_| JwtError::Sign)?,
            encode(claims).map_err(|_| JwtError::Sign)?
        );
        let signature = self
            .pair
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| JwtError::Sign)?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }

    /// Checks the header and signature of `token` and returns its payload (a JSON object).
    /// Claims are not looked at here.
    pub fn verify(&self, token: &str) -> Result<Value, JwtError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(JwtError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed);
        let header: Value =
            serde_json::from_slice(&decode(header)?).map_err(|_| JwtError::Header)?;
        if header.get("alg").and_then(Value::as_str) != Some("ES256") {
            return Err(JwtError::Algorithm);
        }
        if header
            .get("kid")
            .and_then(Value::as_str)
            .is_some_and(|kid| kid != self.kid)
        {
            return Err(JwtError::Algorithm);
        }
        let signed_len = token.len() - signature.len() - 1;
        let signing_input = token.get(..signed_len).ok_or(JwtError::Malformed)?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.pair.public_key().as_ref())
            .verify(signing_input.as_bytes(), &decode(signature)?)
            .map_err(|_| JwtError::Signature)?;
        let claims: Value =
            serde_json::from_slice(&decode(payload)?).map_err(|_| JwtError::Payload)?;
        if !claims.is_object() {
            return Err(JwtError::Payload);
        }
        Ok(claims)
    }
}

/// PEM text of `der` under `label`, 64 characters a line.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_and_rejects_tampering() {
        let key = SigningKey::generate().unwrap();
        let token = key.sign(&json!({"sub": "x"})).unwrap();
        assert_eq!(key.verify(&token).unwrap(), json!({"sub": "x"}));
        let other = SigningKey::generate().unwrap();
        assert_eq!(other.verify(&token), Err(JwtError::Algorithm));
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#);
        assert_eq!(key.verify(&parts.join(".")), Err(JwtError::Signature));
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#)
        );
        assert_eq!(key.verify(&none), Err(JwtError::Algorithm));
        for bad in [
            "",
            ".",
            "..",
            "a.b.c",
            "a.b.c.d",
            &"x".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert!(key.verify(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_persists_with_mode_600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = SigningKey::load_or_create(dir.path()).unwrap();
        let second = SigningKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first.kid(), second.kid());
        let token = first.sign(&json!({"a": 1})).unwrap();
        assert!(second.verify(&token).is_ok());
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
