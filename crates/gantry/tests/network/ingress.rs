//! The ingress controller on every node: host and path routing to different Services, and TLS
//! with the certificate of the Ingress's `kubernetes.io/tls` Secret.

use std::process::Command;

use crate::harness::{Cluster, DEADLINE, curl, poll, service, web_deployment};

/// A self-signed certificate and key for `host` (PEM files in `dir`).
fn self_signed(dir: &std::path::Path, host: &str) -> (String, String) {
    let cert = dir.join(format!("{host}.crt"));
    let key = dir.join(format!("{host}.key"));
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", &format!("/CN={host}")])
        .args(["-addext", &format!("subjectAltName=DNS:{host}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
    )
}

const INGRESS: &str = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: routes
spec:
  tls:
  - hosts: [a.example.test]
    secretName: a-tls
  rules:
  - host: a.example.test
    http:
      paths:
      - path: /one
        pathType: Prefix
        backend: {service: {name: one, port: {number: 80}}}
      - path: /two
        pathType: Prefix
        backend: {service: {name: two, port: {number: 80}}}
  - host: b.example.test
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: three, port: {number: 80}}}
"#;

#[test]
fn ingress_routes_hosts_and_paths_and_serves_tls() {
    let cluster = Cluster::start(4, 2);
    for app in ["one", "two", "three"] {
        cluster.apply(&web_deployment(app, 1, ""));
        cluster.apply(&service(app, app, ""));
    }
    let certs = tempfile::tempdir().expect("a directory for the certificate");
    let (cert, key) = self_signed(certs.path(), "a.example.test");
    cluster.kubectl_ok(&[
        "create", "secret", "tls", "a-tls", "--cert", &cert, "--key", &key,
    ]);
    cluster.apply(INGRESS);
    for app in ["one", "two", "three"] {
        cluster.wait_ready_pods(&format!("app={app}"), 1);
    }

    // Every node routes the same way: (host, path) -> the Service whose pods answer.
    let cases = [
        ("a.example.test", "/one", "one"),
        ("a.example.test", "/two", "two"),
        ("b.example.test", "/", "three"),
        ("b.example.test", "/one", "three"),
    ];
    for i in 1..=2 {
        let ip = cluster.node_ip(i);
        for (host, path, app) in cases {
            let resolve = format!("{host}:80:{ip}");
            let url = format!("http://{host}{path}");
            let answer = poll(
                &format!("{url} through node {i}'s ingress answers from {app}"),
                DEADLINE,
                || cluster.diag("app"),
                || {
                    curl(&["--resolve", &resolve, &url])
                        .ok()
                        .filter(|a| a.starts_with(&format!("{app} ")))
                },
            );
            assert!(answer.starts_with(&format!("{app} {app}-")), "{answer:?}");
        }
        // A host without a rule is not routed to any Service.
        let resolve = format!("c.example.test:80:{ip}");
        let other = curl(&["--resolve", &resolve, "http://c.example.test/one"]);
        assert!(other.is_err(), "an unknown host got {other:?}");

        // TLS: the Secret's certificate, verified against itself as the only CA.
        let resolve = format!("a.example.test:443:{ip}");
        let answer = poll(
            &format!("https://a.example.test/two through node {i} with the Secret's certificate"),
            DEADLINE,
            || cluster.diag("app"),
            || {
                curl(&[
                    "--cacert",
                    &cert,
                    "--resolve",
                    &resolve,
                    "https://a.example.test/two",
                ])
                .ok()
            },
        );
        assert!(answer.starts_with("two two-"), "{answer:?}");
    }

    // The certificate the server presents is the Secret's (same fingerprint).
    let fingerprint = |pem: &[u8]| {
        let mut child = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("running openssl x509");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), pem)
            .expect("writing the certificate");
        let out = child.wait_with_output().expect("openssl x509");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let connect = format!("{}:443", cluster.node_ip(1));
    let out = Command::new("timeout")
        .args([
            "20",
            "openssl",
            "s_client",
            "-connect",
            &connect,
            "-servername",
            "a.example.test",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running openssl s_client");
    let presented = fingerprint(&out.stdout);
    let expected = fingerprint(&std::fs::read(&cert).expect("reading the certificate"));
    assert!(!expected.is_empty());
    assert_eq!(
        presented, expected,
        "the certificate served for a.example.test"
    );
}
