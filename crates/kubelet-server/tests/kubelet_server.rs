//! The kubelet server against a real managed containerd: logs (all, tail, timestamps, limit,
//! follow), errors, authentication, exec over WebSocket (v4 passed through, v5 translated to SPDY),
//! SPDY upgrades passed through for exec and port-forward, and WebSocket port-forward tunnelled
//! onto SPDY.

mod exec_v5;
mod harness;

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use futures::{SinkExt, StreamExt};
use gantry_kubelet_server::{ServerTls, serve};
use harness::{Certs, Client, Node};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubelet_api_against_containerd() {
    let node = harness::node().await.expect("start containerd and the pod");
    let result = checks(&node).await;
    node.stop().await;
    if let Err(err) = result {
        panic!("{err:?}");
    }
}

async fn checks(node: &Node) -> Result<()> {
    let certs = harness::certs()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let tls = ServerTls {
        cert_pem: certs.server.0.clone(),
        key_pem: certs.server.1.clone(),
        client_ca_pem: certs.ca_pem.clone(),
    };
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(serve(listener, tls, node.cri.clone(), shutdown));
    let client = Client::new(addr, &certs, true)?;

    auth(&client, &certs).await?;
    logs(&client, node).await?;
    exec_websocket(&client).await?;
    exec_v5::exec_v5(&client, node).await?;
    spdy_upgrades(&client).await?;
    port_forward_tunnel(&client).await?;

    stop.send(true)?;
    tokio::time::timeout(Duration::from_secs(10), server).await???;
    Ok(())
}

async fn auth(client: &Client, certs: &Certs) -> Result<()> {
    let anonymous = Client::new(client.addr, certs, false)?;
    assert_eq!(anonymous.get("/healthz").await?.0, 200);
    let (status, body) = anonymous.get("/containerLogs/default/p/c").await?;
    ensure!(status == 401, "anonymous logs: {status} {body}");
    assert_eq!(client.get("/healthz").await?, (200, "ok\n".to_string()));
    Ok(())
}

async fn wait_for_lines(client: &Client) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = client.get("/containerLogs/default/p/c").await?;
        if status == 200 && body.contains("line 3") {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("logs never showed line 3: {status} {body:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn logs(client: &Client, node: &Node) -> Result<()> {
    wait_for_lines(client).await?;
    let get = |path: &'static str| async move { client.get(path).await };
    assert_eq!(
        get("/containerLogs/default/p/c").await?,
        (200, "line 1\nline 2\nline 3\n".into())
    );
    assert_eq!(
        get("/containerLogs/default/p/u1/c").await?.0,
        404,
        "uid in logs paths is not a kubelet path"
    );
    assert_eq!(
        get("/containerLogs/default/p/c?tailLines=1").await?,
        (200, "line 3\n".into())
    );
    assert_eq!(
        get("/containerLogs/default/p/c?limitBytes=8").await?,
        (200, "line 1\nl".into())
    );
    assert_eq!(
        get("/containerLogs/default/p/c?sinceSeconds=3600").await?.1,
        "line 1\nline 2\nline 3\n"
    );
    assert_eq!(
        get("/containerLogs/default/p/c?sinceTime=2999-01-01T00:00:00Z").await?,
        (200, String::new())
    );

    let (status, body) = get("/containerLogs/default/p/c?timestamps=true").await?;
    ensure!(status == 200, "timestamps: {status} {body}");
    let lines: Vec<&str> = body.lines().collect();
    ensure!(lines.len() == 3, "timestamps: {body:?}");
    for (i, line) in lines.iter().enumerate() {
        let (time, rest) = line.split_once(' ').context("timestamp prefix")?;
        ensure!(
            gantry_kubelet_server::logs::parse::parse_time(time).is_some(),
            "bad timestamp in {line:?}"
        );
        assert_eq!(rest, format!("line {}", i + 1));
    }

    let (status, body) = get("/containerLogs/default/p/c?previous=true").await?;
    assert_eq!(
        (status, body.as_str()),
        (400, "previous terminated container c in pod p not found\n")
    );
    assert_eq!(get("/containerLogs/default/p/nope").await?.0, 404);
    assert_eq!(get("/containerLogs/default/nope/c").await?.0, 404);
    assert_eq!(get("/containerLogs/default/p/c?tailLines=x").await?.0, 400);

    // follow: the existing lines, then one written later.
    let response = client
        .get_stream("/containerLogs/default/p/c?follow=true&tailLines=1")
        .await?;
    ensure!(response.status() == 200, "follow: {}", response.status());
    let mut body = response.into_body();
    let mut seen = String::new();
    let mut wrote = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !seen.contains("later\n") {
        if seen.contains("line 3\n") && !wrote {
            // The pod shares the pause process's PID namespace, and the shell exec'd its last
            // command: write to the stdout of the container's `sleep`.
            let script = "for p in /proc/[0-9]*; do if grep -q '^sleep' $p/cmdline; then echo later > $p/fd/1; break; fi; done";
            node.exec_sync(&["sh", "-c", script]).await?;
            wrote = true;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Ok(frame) = tokio::time::timeout(left, body.frame()).await else {
            let now = client.get("/containerLogs/default/p/c").await?;
            bail!("follow got only {seen:?}; the log now holds {now:?}");
        };
        let Some(frame) = frame else {
            bail!("follow ended early: {seen:?}")
        };
        if let Ok(data) = frame?.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert_eq!(seen, "line 3\nlater\n");
    Ok(())
}

/// exec over WebSocket: containerd's streaming server speaks `v4.channel.k8s.io`, passed through.
async fn exec_websocket(client: &Client) -> Result<()> {
    let url = format!(
        "wss://{}/exec/default/p/c?command=echo&command=hi&stdout=true&stderr=true",
        client.addr
    );
    let mut request = url.as_str().into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "v4.channel.k8s.io".parse()?);
    let (mut ws, response) =
        tokio_tungstenite::client_async(request, client.connect().await?).await?;
    let protocol = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok());
    assert_eq!(protocol, Some("v4.channel.k8s.io"));
    let (mut stdout, mut status) = (Vec::new(), Vec::new());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while status.is_empty() || !stdout.ends_with(b"\n") {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let message = tokio::time::timeout(left, ws.next())
            .await
            .context("exec output")?;
        match message.context("exec stream ended")?? {
            Message::Binary(data) if data.len() > 1 => match data[0] {
                1 => stdout.extend_from_slice(&data[1..]),
                3 => status.extend_from_slice(&data[1..]),
                _ => {}
            },
            Message::Close(_) => break,
            _ => {}
        }
    }
    assert_eq!(String::from_utf8_lossy(&stdout), "hi\n");
    let status = String::from_utf8_lossy(&status);
    ensure!(status.contains("Success"), "exec status {status}");

    Ok(())
}

/// An SPDY PING frame (SPDY/3, id 1): the runtime's SPDY server echoes it.
const SPDY_PING: [u8; 12] = [
    0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01,
];

async fn spdy_upgrades(client: &Client) -> Result<()> {
    let cases = [
        (
            "POST /exec/default/p/c?command=echo&command=hi&stdout=true",
            "v4.channel.k8s.io",
        ),
        ("POST /attach/default/p/c?stdout=true", "v4.channel.k8s.io"),
        ("POST /portForward/default/p", "portforward.k8s.io"),
    ];
    for (request_line, protocol) in cases {
        let request = format!(
            "{request_line} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\
X-Stream-Protocol-Version: {protocol}\r\nX-Stream-Protocol-Version: channel.k8s.io\r\nContent-Length: 0\r\n\r\n"
        );
        let (mut tls, head) = client.raw(&request).await?;
        let lower = head.to_ascii_lowercase();
        ensure!(lower.starts_with("http/1.1 101"), "{request_line}: {head}");
        ensure!(
            lower.contains("upgrade: spdy/3.1"),
            "{request_line}: {head}"
        );
        ensure!(
            lower.contains(&format!("x-stream-protocol-version: {protocol}")),
            "{request_line}: {head}"
        );
        tls.write_all(&SPDY_PING).await?;
        let mut pong = [0u8; 12];
        tokio::time::timeout(Duration::from_secs(10), tls.read_exact(&mut pong)).await??;
        assert_eq!(pong, SPDY_PING, "{request_line}: SPDY ping echoed");
    }
    Ok(())
}

/// kubectl >= 1.31: SPDY inside WebSocket binary messages, unwrapped onto SPDY to containerd.
async fn port_forward_tunnel(client: &Client) -> Result<()> {
    let url = format!("wss://{}/portForward/default/p", client.addr);
    let mut request = url.as_str().into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "SPDY/3.1+portforward.k8s.io".parse()?,
    );
    let (mut ws, response) =
        tokio_tungstenite::client_async(request, client.connect().await?).await?;
    let protocol = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok());
    assert_eq!(protocol, Some("SPDY/3.1+portforward.k8s.io"));
    ws.send(Message::Binary(SPDY_PING.to_vec().into())).await?;
    let mut got = Vec::new();
    while got.len() < SPDY_PING.len() {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .context("tunnel ping")?;
        match message.context("tunnel closed")?? {
            Message::Binary(data) => got.extend_from_slice(&data),
            other => bail!("unexpected tunnel message {other:?}"),
        }
    }
    assert_eq!(got, SPDY_PING);
    ws.close(None).await?;
    Ok(())
}
