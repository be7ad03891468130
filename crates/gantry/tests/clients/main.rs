//! Real client libraries against a real `gantry server`: kube-rs (typed and dynamic `Api`,
//! discovery, the runtime watchers) and the official Python client (PyPI `kubernetes`).
//!
//! One test binary (`cargo test -p gantry --test clients`); every test starts its own server
//! in its own data dir on its own port (the end-to-end harness), so tests run in parallel.
//! Nothing sleeps to synchronise: waits poll a condition against [`harness::DEADLINE`].

#[path = "../e2e/harness.rs"]
#[allow(dead_code)] // the kubectl helpers are for the e2e suite; this binary uses the server
mod harness;
#[path = "../support/mod.rs"]
#[allow(dead_code)] // shared by the suites; each uses part of it
mod support;

mod dynamic;
mod typed;
mod watch;

use std::future::Future;
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use harness::{DEADLINE, Server};

/// A kube-rs client built the way users build one: from the server's admin kubeconfig
/// (client-certificate authentication, embedded CA).
pub async fn connect(server: &Server) -> Client {
    Client::try_from(admin_config(server).await).expect("building the kube client")
}

/// The client configuration of the admin kubeconfig, before a client is built from it.
async fn admin_config(server: &Server) -> Config {
    // Only ring is compiled in, but say so explicitly: with two providers rustls would panic.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig =
        Kubeconfig::read_from(server.kubeconfig()).expect("reading the admin kubeconfig");
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube config from the kubeconfig")
}

/// A server for client-library tests: without the controller manager, so a namespace holds
/// exactly what the test created (no `kube-root-ca.crt` ConfigMap appearing on its own).
fn server() -> Server {
    Server::start_with_args(&["--disable-controller-manager"])
}

/// Starts a server (blocking: the harness polls with kubectl) and connects a client to it.
pub async fn start() -> (Server, Client) {
    let server = tokio::task::spawn_blocking(server)
        .await
        .expect("starting the server");
    let client = connect(&server).await;
    (server, client)
}

/// Creates namespace `name` and returns its name (each test works in its own namespace).
pub async fn namespace(client: &Client, name: &str) -> String {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))
        .expect("namespace object");
    api.create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
    name.to_string()
}

/// Polls the async `probe` until it returns `Some`; panics naming `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        // Back-off between polls, not synchronisation: the probe decides when to go on.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Awaits `fut` for at most [`DEADLINE`], panicking with `what` when it takes longer.
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {DEADLINE:?}: {what}"))
}

/// The status code of a kube API error, or a panic describing what else went wrong.
pub fn status_code<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> u16 {
    match result {
        Err(kube::Error::Api(status)) => status.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// The official Python client (`tests/clients/python/client_test.py`) against a real server:
/// create, list with label selectors, watch, strategic and merge patch, delete, 404.
#[test]
fn python_client() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", "import kubernetes"])
        .output()
        .expect("running python3");
    assert!(
        probe.status.success(),
        "the Python `kubernetes` package is missing (scripts/install-deps installs it):\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let server = server();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/python/client_test.py"
    );
    let started = Instant::now();
    let out = Command::new(&python)
        .arg(script)
        .arg(server.kubeconfig())
        .output()
        .expect("running client_test.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "client_test.py failed ({}) after {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server log\n{}",
        out.status,
        started.elapsed(),
        server.log()
    );
    assert!(
        stdout.contains("all python client checks passed"),
        "client_test.py did not finish:\n{stdout}"
    );
}

/// kube-rs over the kubeconfig's TLS settings: `/version` answers, the identity is the admin's
/// certificate, and the same CA without the client certificate gets 401 on every API call
/// (while `/version` stays public), as upstream with anonymous authentication disabled.
#[tokio::test]
async fn kube_client_authenticates_with_the_kubeconfig_certificate() {
    let (server, client) = start().await;
    let version = client.apiserver_version().await.expect("GET /version");
    assert_eq!(version.major, "1");
    assert!(
        version.git_version.starts_with("v1."),
        "gitVersion {}",
        version.git_version
    );
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&Default::default())
        .await
        .expect("list namespaces")
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    for system in ["default", "kube-system", "kube-public"] {
        assert!(
            names.iter().any(|n| n == system),
            "namespace {system} missing: {names:?}"
        );
    }

    let mut anonymous = admin_config(&server).await;
    anonymous.auth_info = Default::default();
    let anonymous = Client::try_from(anonymous).expect("client without a certificate");
    assert_eq!(
        anonymous
            .apiserver_version()
            .await
            .expect("/version is public")
            .major,
        "1"
    );
    let api: Api<Namespace> = Api::all(anonymous);
    assert_eq!(
        status_code(api.list(&Default::default()).await),
        401,
        "listing without a certificate"
    );
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "intruder"}}))
            .expect("namespace object");
    assert_eq!(
        status_code(api.create(&PostParams::default(), &ns).await),
        401,
        "creating without a certificate"
    );
    assert_eq!(
        namespaces
            .get_opt("intruder")
            .await
            .expect("get_opt intruder"),
        None,
        "a rejected create changed nothing"
    );
}
