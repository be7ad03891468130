//! Joining a node to a gantry cluster, as k3s does with its node token.
//!
//! The server writes `DATA/token`: `K10<sha256 hex of the CA PEM>::node:<secret>`. An agent
//! holding that token calls [`join`]: it fetches the CA from `GET /cacerts` without trusting
//! the server's certificate, checks the CA's hash against the token, then (over TLS verified
//! by that CA) asks `POST /v1-gantry/node-credentials` with the token's secret for a node
//! client certificate and a kubelet serving certificate.
//!
//! The wire types ([`NodeCredentialsRequest`], [`NodeCredentials`]) and paths are shared with
//! the API server, which serves the two endpoints.

mod client;
mod kubeconfig;
mod token;
mod wire;

pub use client::{JoinError, join};
pub use kubeconfig::kubeconfig_yaml;
pub use token::{NodeToken, TokenError, ca_hash, generate_secret, secrets_match};
pub use wire::{CACERTS_PATH, NODE_CREDENTIALS_PATH, NodeCredentials, NodeCredentialsRequest};
