//! The API server's proxy to kubelets, driven by real kubectl (and a raw client for upgrades)
//! against the echo kubelet of [`crate::kubelet_echo`], which holds the kubelet's contract:
//! its serving certificate comes from the join endpoint, and it only accepts clients whose
//! certificates the cluster CA signed.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{Kubectl, Server};
use crate::join::join;
use crate::kubelet_echo::EchoKubelet;

/// No controllers or scheduler: the pods stay as created, bound by hand.
const ARGS: &[&str] = &["--disable-controller-manager", "--disable-scheduler"];

fn add_node(k: &Kubectl, name: &str, port: u16) {
    k.ok_stdin(
        &["apply", "-f", "-"],
        &format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n"),
    );
    let status = format!(
        r#"{{"status":{{"addresses":[{{"type":"InternalIP","address":"127.0.0.1"}},{{"type":"Hostname","address":"{name}"}}],"daemonEndpoints":{{"kubeletEndpoint":{{"Port":{port}}}}}}}}}"#
    );
    k.ok(&[
        "patch",
        "node",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status,
    ]);
}

fn add_pod(k: &Kubectl, name: &str, node: Option<&str>, containers: &[&str]) {
    let mut yaml = format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n");
    if let Some(node) = node {
        yaml.push_str(&format!("  nodeName: {node}\n"));
    }
    yaml.push_str("  containers:\n");
    for c in containers {
        yaml.push_str(&format!("  - name: {c}\n    image: busybox\n"));
    }
    k.ok_stdin(&["apply", "-f", "-"], &yaml);
}

/// Sends an upgrade request to the API server with the admin certificate over HTTP/1.1 and
/// returns the response head; on a 101, checks that bytes written come back.
async fn upgrade(server: &Server, path: &str, headers: &[(&str, &str)]) -> String {
    let tls_dir = server.data_dir().join("tls");
    let read = |f: &str| std::fs::read(tls_dir.join(f)).expect("reading admin credentials");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&read("ca.crt")) {
        roots.add(cert.expect("CA")).expect("adding the CA");
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read("admin.crt"))
        .collect::<Result<_, _>>()
        .expect("admin cert");
    let key = PrivateKeyDer::from_pem_slice(&read("admin.key")).expect("admin key");
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connecting");
    let name = ServerName::try_from("127.0.0.1").expect("server name");
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("tls");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: Upgrade\r\n",
        server.port
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    tls.write_all(request.as_bytes())
        .await
        .expect("writing the request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tls
            .read(&mut byte)
            .await
            .expect("reading the response head");
        assert!(
            n == 1,
            "connection closed in the head: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    if head.starts_with("HTTP/1.1 101") {
        tls.write_all(b"ping through the proxy")
            .await
            .expect("writing upgraded bytes");
        let mut echoed = [0u8; 22];
        tls.read_exact(&mut echoed)
            .await
            .expect("reading echoed bytes");
        assert_eq!(&echoed, b"ping through the proxy");
    }
    head.to_ascii_lowercase()
}

#[test]
fn logs_exec_attach_portforward_and_node_proxy_reach_the_kubelet() {
    let server = Server::start_with_args(ARGS);
    let k = Kubectl::new(&server, 32);
    let creds = join(&server, "kubelet-1");
    let kubelet = EchoKubelet::start(&creds);
    add_node(&k, "kubelet-1", kubelet.port);
    add_pod(&k, "web", Some("kubelet-1"), &["nginx"]);
    add_pod(&k, "two", Some("kubelet-1"), &["a", "b"]);

    // Logs: query parameters become the kubelet's; the API server presents its own certificate.
    let out = k.ok(&[
        "logs",
        "web",
        "--tail=5",
        "--timestamps",
        "--limit-bytes=100",
    ]);
    assert_eq!(
        out,
        "GET /containerLogs/default/web/nginx?timestamps=true&tailLines=5&limitBytes=100 apiserver-client=true\n"
    );
    let out = k.ok(&["logs", "two", "-c", "b", "--since=1h"]);
    assert_eq!(
        out,
        "GET /containerLogs/default/two/b?sinceSeconds=3600 apiserver-client=true\n"
    );
    let out = k.ok(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/pods/two/log?container=a&previous=true",
    ]);
    assert_eq!(
        out,
        "GET /containerLogs/default/two/a?previous=true apiserver-client=true\n"
    );

    // Following streams each chunk as the kubelet sends it.
    let follow = k.background(&["logs", "-f", "web"]);
    follow.wait_for("the first log line arrives while the stream is open", |s| {
        s.contains("line 1")
    });
    assert!(!follow.stdout().contains("line 2"));
    kubelet.release.notify_one();
    follow.wait_for("the second log line", |s| s.contains("line 2\n"));

    // Node proxy: the rest of the path and the query go to the kubelet's root.
    let out = k.ok(&[
        "get",
        "--raw",
        "/api/v1/nodes/kubelet-1/proxy/stats/summary?only_cpu_and_memory=true",
    ]);
    assert_eq!(
        out,
        "GET /stats/summary?only_cpu_and_memory=true apiserver-client=true\n"
    );

    // Upgrades: SPDY and WebSocket, 101 relayed with the kubelet's headers, then a byte pipe.
    kubelet.runtime.block_on(async {
        let head = upgrade(
            &server,
            "/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=echo%20hi&stdin=true&stdout=true&tty=true",
            &[
                ("Upgrade", "SPDY/3.1"),
                ("X-Stream-Protocol-Version", "v4.channel.k8s.io"),
                ("X-Stream-Protocol-Version", "v3.channel.k8s.io"),
            ],
        )
        .await;
        assert!(head.starts_with("http/1.1 101"), "{head}");
        assert!(head.contains("upgrade: spdy/3.1"), "{head}");
        assert!(head.contains("x-stream-protocol-version: v4.channel.k8s.io"), "{head}");
        assert!(head.contains("x-echo-protocols: v4.channel.k8s.io,v3.channel.k8s.io"), "{head}");
        assert!(
            head.contains("x-echo-target: /exec/default/web/nginx?input=1&output=1&tty=1&command=sh&command=-c&command=echo+hi"),
            "{head}"
        );
        assert!(head.contains("x-echo-apiserver-client: true"), "{head}");

        let head = upgrade(
            &server,
            "/api/v1/namespaces/default/pods/two/attach?container=b&stdout=true&stderr=true",
            &[
                ("Upgrade", "websocket"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Protocol", "v5.channel.k8s.io"),
            ],
        )
        .await;
        assert!(head.starts_with("http/1.1 101"), "{head}");
        assert!(head.contains("upgrade: websocket"), "{head}");
        assert!(head.contains("x-echo-target: /attach/default/two/b?output=1&error=1"), "{head}");
        assert!(head.contains("x-echo-websocket-key: dghlihnhbxbszsbub25jzq=="), "{head}");

        let head = upgrade(
            &server,
            "/api/v1/namespaces/default/pods/two/portforward?ports=8080,9090",
            &[("Upgrade", "SPDY/3.1"), ("X-Stream-Protocol-Version", "portforward.k8s.io")],
        )
        .await;
        assert!(head.contains("x-echo-target: /portforward/default/two?port=8080&port=9090"), "{head}");

        // An error before the kubelet is a Status, not an upgrade.
        let head = upgrade(
            &server,
            "/api/v1/namespaces/default/pods/two/exec?command=ls&stdout=true",
            &[("Upgrade", "SPDY/3.1")],
        )
        .await;
        assert!(head.starts_with("http/1.1 400"), "{head}");
    });
}

#[test]
fn kubelet_proxy_errors_are_upstreams() {
    let server = Server::start_with_args(ARGS);
    let k = Kubectl::new(&server, 32);
    add_pod(&k, "pending", None, &["c"]);
    add_pod(&k, "lost", Some("ghost"), &["c"]);
    add_pod(&k, "two", Some("ghost"), &["a", "b"]);

    let err = k.fails(&["logs", "nosuch"], None);
    assert!(err.contains(r#"pods "nosuch" not found"#), "{err}");
    let err = k.fails(&["exec", "nosuch", "--", "ls"], None);
    assert!(err.contains(r#"pods "nosuch" not found"#), "{err}");

    let err = k.fails(&["logs", "pending"], None);
    assert!(
        err.contains("pod pending does not have a host assigned"),
        "{err}"
    );
    let err = k.fails(&["exec", "pending", "--", "ls"], None);
    assert!(
        err.contains("pod pending does not have a host assigned"),
        "{err}"
    );

    let err = k.fails(&["logs", "lost"], None);
    assert!(err.contains(r#"nodes "ghost" not found"#), "{err}");
    let err = k.fails(&["exec", "lost", "--", "ls"], None);
    assert!(err.contains(r#"nodes "ghost" not found"#), "{err}");

    let err = k.fails(
        &["get", "--raw", "/api/v1/namespaces/default/pods/two/log"],
        None,
    );
    assert!(
        err.contains("a container name must be specified for pod two, choose one of: [a b]"),
        "{err}"
    );
    let err = k.fails(&["logs", "two", "-c", "zz"], None);
    assert!(
        err.contains("container zz is not valid for pod two"),
        "{err}"
    );

    // A node whose kubelet does not answer: 503 naming the backend.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
    let port = closed.local_addr().expect("probe address").port();
    drop(closed);
    add_node(&k, "down", port);
    add_pod(&k, "stranded", Some("down"), &["c"]);
    let out = k.run(&["logs", "stranded", "-v=6"]);
    assert!(!out.success);
    assert!(
        out.stderr.contains("error dialing backend"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(" 503 "), "{}", out.stderr);

    // Discovery lists the subresources where upstream does.
    let resources = k.ok(&["get", "--raw", "/api/v1"]);
    for sub in [
        "pods/log",
        "pods/exec",
        "pods/attach",
        "pods/portforward",
        "nodes/proxy",
    ] {
        assert!(
            resources.contains(&format!("\"{sub}\"")),
            "{sub} in discovery"
        );
    }
}
