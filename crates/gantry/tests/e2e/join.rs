//! Node join: `gantry server` writes `DATA/token`; the join client fetches the CA, checks it
//! against the token and gets node credentials that work against the API; wrong tokens and bad
//! requests are refused with Kubernetes Status answers.

use std::os::unix::fs::PermissionsExt;

use gantry_join::{JoinError, NodeCredentials, NodeToken};

use crate::harness::{Kubectl, Server};

/// The server's node token, checked for its mode.
pub fn read_token(server: &Server) -> NodeToken {
    let path = server.data_dir().join("token");
    let mode = std::fs::metadata(&path)
        .expect("DATA/token exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "DATA/token is private");
    NodeToken::parse(&std::fs::read_to_string(&path).expect("reading DATA/token"))
        .expect("a valid token")
}

pub fn server_url(server: &Server) -> String {
    format!("https://127.0.0.1:{}", server.port)
}

/// Joins `server` as `node` with address 127.0.0.1.
pub fn join(server: &Server, node: &str) -> NodeCredentials {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let token = read_token(server);
    runtime
        .block_on(gantry_join::join(
            &server_url(server),
            &token,
            node,
            &["127.0.0.1".parse().expect("ip")],
        ))
        .unwrap_or_else(|e| panic!("joining as {node}: {e}"))
}

/// A kubeconfig that presents a bearer token and trusts any server certificate.
fn bearer_kubectl(server: &Server, label: &str, secret: &str) -> Kubectl {
    let dir = server.data_dir().join(label);
    std::fs::create_dir_all(&dir).expect("creating the bearer dir");
    let path = dir.join("kubeconfig.yaml");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gantry\n  cluster:\n    server: {}\n    insecure-skip-tls-verify: true\nusers:\n- name: joiner\n  user:\n    token: {secret}\ncontexts:\n- name: gantry\n  context:\n    cluster: gantry\n    user: joiner\ncurrent-context: gantry\n",
        server_url(server)
    );
    std::fs::write(&path, text).expect("writing the bearer kubeconfig");
    Kubectl::with_kubeconfig(32, path)
}

#[test]
fn join_issues_node_credentials_that_work_and_refuses_wrong_tokens() {
    let mut server = Server::start();
    let token = read_token(&server);
    let ca = std::fs::read(server.data_dir().join("tls/ca.crt")).expect("reading the CA");
    assert!(token.matches_ca(&ca), "the token names the cluster CA");

    let creds = join(&server, "worker-1");
    assert_eq!(creds.ca_pem.as_bytes(), ca.as_slice());
    for pem in [&creds.client_cert_pem, &creds.serving_cert_pem] {
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    }

    // A kube client with the node certificate lists nodes.
    let yaml = gantry_join::kubeconfig_yaml(
        &server_url(&server),
        &creds.ca_pem,
        &creds.client_cert_pem,
        &creds.client_key_pem,
        "system:node:worker-1",
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let names: Vec<String> = runtime.block_on(async {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&yaml).expect("kubeconfig parses");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("kube config");
        let client = kube::Client::try_from(config).expect("kube client");
        let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client);
        let list = nodes
            .list(&Default::default())
            .await
            .expect("listing nodes with the node certificate");
        list.items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect()
    });
    assert!(names.is_empty(), "no node registered yet: {names:?}");
    // And so does kubectl with that kubeconfig.
    let node_kubeconfig = server.data_dir().join("node").join("kubeconfig.yaml");
    std::fs::create_dir_all(node_kubeconfig.parent().expect("parent")).expect("node dir");
    std::fs::write(&node_kubeconfig, &yaml).expect("writing the node kubeconfig");
    let node_kubectl = Kubectl::with_kubeconfig(32, node_kubeconfig);
    node_kubectl.ok(&["get", "nodes"]);

    // A wrong secret: 401 with a Status, and the client says so.
    let wrong_secret = NodeToken {
        secret: "0".repeat(64),
        ..token.clone()
    };
    let err = runtime
        .block_on(gantry_join::join(
            &server_url(&server),
            &wrong_secret,
            "worker-2",
            &[],
        ))
        .expect_err("a wrong secret is refused");
    assert!(matches!(err, JoinError::Unauthorized(_)), "{err}");
    // A token for another CA: refused before any secret is sent.
    let wrong_ca = NodeToken::new(b"another CA", token.secret.clone());
    let err = runtime
        .block_on(gantry_join::join(
            &server_url(&server),
            &wrong_ca,
            "worker-2",
            &[],
        ))
        .expect_err("a token for another CA is refused");
    assert!(matches!(err, JoinError::CaMismatch { .. }), "{err}");

    // Bad requests through kubectl: 401, 400 and 422 Status answers.
    let body = server.data_dir().join("bearer-body.json");
    let post = |k: &Kubectl, json: &str| {
        std::fs::write(&body, json).expect("writing the body");
        k.fails(
            &[
                "create",
                "--raw",
                "/v1-gantry/node-credentials",
                "-f",
                body.to_str().expect("utf-8 path"),
            ],
            None,
        )
    };
    let good = bearer_kubectl(&server, "good-bearer", &token.secret);
    let bad = bearer_kubectl(&server, "bad-bearer", "not-the-secret");
    let err = post(&bad, r#"{"nodeName":"worker-3"}"#);
    assert!(
        err.contains("Unauthorized") || err.contains("provide credentials"),
        "{err}"
    );
    let err = post(&good, "{not json");
    assert!(
        err.contains("BadRequest") && err.contains("decoding the node credentials request"),
        "{err}"
    );
    let err = post(&good, r#"{"nodeName":"Not_A_Name"}"#);
    assert!(err.contains("Invalid") && err.contains("nodeName"), "{err}");
    let out = good.ok(&["get", "--raw", "/cacerts"]);
    assert_eq!(
        out.as_bytes(),
        ca.as_slice(),
        "/cacerts serves the CA unauthenticated"
    );

    // The token survives a restart.
    server.restart();
    assert_eq!(read_token(&server), token);
}
