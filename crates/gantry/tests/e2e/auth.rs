//! Authentication: without the admin client certificate every API request gets 401
//! Unauthorized, while `/healthz`, `/readyz`, `/livez` and `/version` stay public.

use crate::harness::{Kubectl, Server};

/// A kubeconfig for the same server that trusts any certificate and presents none. With no
/// credentials at all kubectl would prompt for a password, so it carries a token the server
/// does not know (gantry authenticates client certificates only).
fn anonymous_kubeconfig(server: &Server) -> std::path::PathBuf {
    let path = server.data_dir().join("anonymous").join("kubeconfig.yaml");
    std::fs::create_dir_all(path.parent().expect("parent dir"))
        .expect("creating the anonymous dir");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gantry\n  cluster:\n    server: https://127.0.0.1:{}\n    insecure-skip-tls-verify: true\nusers:\n- name: nobody\n  user:\n    token: not-a-known-token\ncontexts:\n- name: gantry\n  context:\n    cluster: gantry\n    user: nobody\ncurrent-context: gantry\n",
        server.port
    );
    std::fs::write(&path, text).expect("writing the anonymous kubeconfig");
    path
}

#[test]
fn unauthenticated_requests_get_401_but_health_and_version_are_public() {
    let server = Server::start();
    let admin = Kubectl::new(&server, 32);
    let anonymous = Kubectl::with_kubeconfig(32, anonymous_kubeconfig(&server));

    for args in [
        &["get", "namespaces"][..],
        &["get", "--raw", "/api/v1/namespaces"],
        &["get", "--raw", "/apis"],
        &["create", "namespace", "intruder"],
    ] {
        let err = anonymous.fails(args, None);
        // Discovery failures read "the server has asked for the client to provide credentials", as upstream.
        assert!(
            err.contains("Unauthorized") || err.contains("provide credentials"),
            "{args:?} without a certificate: {err}"
        );
    }
    let out = anonymous.run(&["get", "--raw", "/api/v1/namespaces", "-v=6"]);
    assert!(
        out.stderr.contains(" 401 Unauthorized"),
        "expected a 401 status:\n{}",
        out.stderr
    );

    for path in ["/healthz", "/readyz", "/livez"] {
        assert_eq!(
            anonymous.ok(&["get", "--raw", path]),
            "ok",
            "{path} is public"
        );
    }
    let version: serde_json::Value =
        serde_json::from_str(&anonymous.ok(&["get", "--raw", "/version"]))
            .expect("/version is JSON");
    assert_eq!(version["major"], "1");

    let names = admin.ok(&["get", "namespaces", "-o", "name"]);
    assert!(
        !names.contains("intruder"),
        "an unauthenticated create changed nothing:\n{names}"
    );
    assert!(names.contains("namespace/default"), "{names}");

    // The same without kubectl, where curl is installed.
    let url = format!("https://127.0.0.1:{}/api/v1/namespaces", server.port);
    if let Ok(curl) = std::process::Command::new("curl")
        .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}", &url])
        .output()
        && curl.status.success()
    {
        assert_eq!(
            String::from_utf8_lossy(&curl.stdout),
            "401",
            "curl without a certificate"
        );
    }
}
