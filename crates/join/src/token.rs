//! The node join token: `K10<sha256 hex of the CA certificate PEM>::node:<secret>`, its parsing,
//! formatting and the checks made with it (CA hash, secret comparison).

use std::fmt;

/// The prefix of a token that carries a CA hash (k3s' "secure" token format).
const PREFIX: &str = "K10";
/// The only user a node token names.
const NODE_USER: &str = "node";
/// Length of a sha256 digest in hex.
const HASH_LEN: usize = 64;

/// Why a token could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is empty")]
    Empty,
    #[error("the token does not start with {PREFIX:?}")]
    MissingPrefix,
    #[error("the token has no \"::\" between the CA hash and the credentials")]
    MissingSeparator,
    #[error("the CA hash of the token is not 64 hex digits")]
    BadCaHash,
    #[error("the token's credentials are not \"node:<secret>\"")]
    BadCredentials,
    #[error("the token's user is {0:?}, expected \"node\"")]
    WrongUser(String),
    #[error("the token's secret is empty or holds whitespace")]
    BadSecret,
}

/// A parsed node token.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeToken {
    /// sha256 of the CA certificate PEM bytes, lowercase hex.
    pub ca_hash: String,
    /// The shared secret that authenticates a joining node.
    pub secret: String,
}

impl fmt::Debug for NodeToken {
    /// Never prints the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeToken")
            .field("ca_hash", &self.ca_hash)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl fmt::Display for NodeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}::{NODE_USER}:{}", self.ca_hash, self.secret)
    }
}

impl NodeToken {
    /// A token for the CA in `ca_pem` with `secret`.
    pub fn new(ca_pem: &[u8], secret: impl Into<String>) -> NodeToken {
        NodeToken {
            ca_hash: ca_hash(ca_pem),
            secret: secret.into(),
        }
    }

    /// Parses a token; surrounding whitespace (a trailing newline of the file) is ignored.
    pub fn parse(text: &str) -> Result<NodeToken, TokenError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TokenError::Empty);
        }
        let rest = text.strip_prefix(PREFIX).ok_or(TokenError::MissingPrefix)?;
        let (hash, credentials) = rest.split_once("::").ok_or(TokenError::MissingSeparator)?;
        if hash.len() != HASH_LEN || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TokenError::BadCaHash);
        }
        let (user, secret) = credentials
            .split_once(':')
            .ok_or(TokenError::BadCredentials)?;
        if user != NODE_USER {
            return Err(TokenError::WrongUser(user.to_string()));
        }
        if secret.is_empty() || secret.chars().any(char::is_whitespace) {
            return Err(TokenError::BadSecret);
        }
        Ok(NodeToken {
            ca_hash: hash.to_ascii_lowercase(),
            secret: secret.to_string(),
        })
    }

    /// Whether `ca_pem` is the CA this token was made for.
    pub fn matches_ca(&self, ca_pem: &[u8]) -> bool {
        secrets_match(&ca_hash(ca_pem), &self.ca_hash)
    }
}

/// sha256 of `pem`, lowercase hex.
pub fn ca_hash(pem: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, pem).as_ref())
}

/// A fresh random secret: 32 bytes as 64 hex digits.
pub fn generate_secret() -> Result<String, ring::error::Unspecified> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)?;
    Ok(hex(&bytes))
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn secrets_match(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn check(input: &str, want: Result<(&str, &str), TokenError>) {
        let got = NodeToken::parse(input);
        let got = got
            .as_ref()
            .map(|t| (t.ca_hash.as_str(), t.secret.as_str()))
            .map_err(Clone::clone);
        assert_eq!(got, want, "{input:?}");
    }

    #[test]
    fn parse_table() {
        let good = format!("K10{HASH}::node:s3cret");
        check(&good, Ok((HASH, "s3cret")));
        check(&format!("{good}\n"), Ok((HASH, "s3cret")));
        check(&format!("  {good}  "), Ok((HASH, "s3cret")));
        // Upper-case hex is accepted and normalised.
        let upper = format!("K10{}::node:x", HASH.to_uppercase());
        check(&upper, Ok((HASH, "x")));
        // A secret may contain colons (everything after the user is the secret).
        check(&format!("K10{HASH}::node:a:b"), Ok((HASH, "a:b")));

        check("", Err(TokenError::Empty));
        check("  \n", Err(TokenError::Empty));
        check("s3cret", Err(TokenError::MissingPrefix));
        check(
            &format!("K11{HASH}::node:s"),
            Err(TokenError::MissingPrefix),
        );
        check(
            &format!("K10{HASH}:node:s"),
            Err(TokenError::MissingSeparator),
        );
        check(&format!("K10{HASH}"), Err(TokenError::MissingSeparator));
        check("K10abc::node:s", Err(TokenError::BadCaHash));
        check(
            &format!("K10{}::node:s", &HASH[1..]),
            Err(TokenError::BadCaHash),
        );
        check(
            &format!("K10{}g::node:s", &HASH[1..]),
            Err(TokenError::BadCaHash),
        );
        check(&format!("K10{HASH}::node"), Err(TokenError::BadCredentials));
        check(
            &format!("K10{HASH}::server:s"),
            Err(TokenError::WrongUser("server".into())),
        );
        check(&format!("K10{HASH}::node:"), Err(TokenError::BadSecret));
        check(&format!("K10{HASH}::node:a b"), Err(TokenError::BadSecret));
    }

    #[test]
    fn format_round_trips() {
        let token = NodeToken::new(b"-----BEGIN CERTIFICATE-----\n", "abc");
        let text = token.to_string();
        assert!(text.starts_with("K10"), "{text}");
        assert!(text.ends_with("::node:abc"), "{text}");
        assert_eq!(NodeToken::parse(&text), Ok(token.clone()));
        assert!(
            !format!("{token:?}").contains("abc"),
            "Debug hides the secret"
        );
    }

    #[test]
    fn ca_hash_is_sha256_hex() {
        // sha256("abc"), a published test vector.
        assert_eq!(
            ca_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = NodeToken::new(b"abc", "s");
        assert!(token.matches_ca(b"abc"));
        assert!(!token.matches_ca(b"abd"));
    }

    #[test]
    fn secrets_are_random_and_compared_exactly() {
        let (a, b) = (generate_secret().unwrap(), generate_secret().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(secrets_match(&a, &a.clone()));
        assert!(!secrets_match(&a, &b));
        assert!(!secrets_match(&a, &a[1..]));
    }
}
