//! What travels between a joining agent and the API server: the two paths and the JSON bodies
//! of the node-credentials exchange.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Serves the cluster CA certificate as PEM, without authentication.
pub const CACERTS_PATH: &str = "/cacerts";
/// Issues node credentials to a caller presenting the token secret as a bearer token.
pub const NODE_CREDENTIALS_PATH: &str = "/v1-gantry/node-credentials";

/// The body of `POST /v1-gantry/node-credentials`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeCredentialsRequest {
    /// The Node's name: the client certificate is `system:node:<name>`.
    pub node_name: String,
    /// The node's addresses, written into the kubelet serving certificate.
    #[serde(default)]
    pub node_ips: Vec<IpAddr>,
}

/// Everything a node needs to talk to the API server and to serve the kubelet API.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeCredentials {
    /// The cluster CA: verifies the API server, and the API server's kubelet client.
    pub ca_pem: String,
    /// CN=system:node:<name>, O=system:nodes: the kubelet's identity towards the API.
    pub client_cert_pem: String,
    pub client_key_pem: String,
    /// The kubelet's serving certificate: SANs are the node name, its IPs, 127.0.0.1 and
    /// localhost.
    pub serving_cert_pem: String,
    pub serving_key_pem: String,
}

impl std::fmt::Debug for NodeCredentials {
    /// Never prints private keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCredentials")
            .field("ca_pem", &self.ca_pem)
            .field("client_cert_pem", &self.client_cert_pem)
            .field("serving_cert_pem", &self.serving_cert_pem)
            .finish_non_exhaustive()
    }
}
