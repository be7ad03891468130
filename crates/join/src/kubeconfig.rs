//! A kubeconfig for a joined node: the server URL, the cluster CA and the node's client
//! certificate, all inline as base64, ready for `kube::config::Kubeconfig::from_yaml`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Builds a kubeconfig YAML document for `server` (an `https://` URL) that authenticates with
/// `client_cert_pem`/`client_key_pem` and trusts `ca_pem`. `user` names the user entry (e.g.
/// `system:node:worker-1`).
pub fn kubeconfig_yaml(
    server: &str,
    ca_pem: &str,
    client_cert_pem: &str,
    client_key_pem: &str,
    user: &str,
) -> String {
    let b64 = |s: &str| STANDARD.encode(s.as_bytes());
    // Quoted, so that names with ':' stay one YAML scalar.
    let quoted = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gantry\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\ncontexts:\n- name: gantry\n  context:\n    cluster: gantry\n    user: {user}\ncurrent-context: gantry\n",
        server = quoted(server),
        ca = b64(ca_pem),
        cert = b64(client_cert_pem),
        key = b64(client_key_pem),
        user = quoted(user),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inlines_base64_and_quotes_names() {
        let yaml = kubeconfig_yaml(
            "https://10.0.0.1:6443",
            "CA",
            "CERT",
            "KEY",
            "system:node:a",
        );
        assert!(yaml.contains("server: \"https://10.0.0.1:6443\""), "{yaml}");
        assert!(yaml.contains(&format!(
            "certificate-authority-data: {}",
            STANDARD.encode("CA")
        )));
        assert!(yaml.contains(&format!(
            "client-certificate-data: {}",
            STANDARD.encode("CERT")
        )));
        assert!(yaml.contains(&format!("client-key-data: {}", STANDARD.encode("KEY"))));
        assert!(yaml.contains("user: \"system:node:a\""), "{yaml}");
    }
}
