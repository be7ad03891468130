//! exec and attach over WebSocket `v5.channel.k8s.io`, which containerd 1.6 refuses: the kubelet
//! server accepts it and translates to SPDY (`v4.channel.k8s.io`) with the runtime.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::harness::{Client, Node};

type Ws = WebSocketStream<TlsStream<TcpStream>>;

/// What came back on each channel, and how the server closed.
#[derive(Default, Debug)]
struct Output {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    status: String,
    close: Option<CloseCode>,
}

fn exec_path(command: &[&str], params: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for part in command {
        query.append_pair("command", part);
    }
    format!("/exec/default/p/c?{}&{params}", query.finish())
}

/// Opens a WebSocket offering `protocols`; returns it and the protocol the server chose.
async fn open(client: &Client, path: &str, protocols: &str) -> Result<(Ws, Option<String>)> {
    let url = format!("wss://{}{path}", client.addr);
    let mut request = url.as_str().into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocols.parse()?);
    let (ws, response) = tokio_tungstenite::client_async(request, client.connect().await?).await?;
    let protocol = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    Ok((ws, protocol))
}

/// Reads messages until the server closes the WebSocket.
async fn collect(ws: &mut Ws) -> Result<Output> {
    let mut out = Output::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let message = tokio::time::timeout(left, ws.next())
            .await
            .with_context(|| format!("v5 output so far: {out:?}"))?;
        match message {
            None => return Ok(out),
            Some(message) => match message? {
                Message::Binary(data) => match data.first() {
                    Some(1) => out.stdout.extend_from_slice(&data[1..]),
                    Some(2) => out.stderr.extend_from_slice(&data[1..]),
                    Some(3) => out.status.push_str(&String::from_utf8_lossy(&data[1..])),
                    other => bail!("unexpected channel {other:?}"),
                },
                Message::Close(frame) => {
                    out.close = frame.map(|f| f.code);
                    return Ok(out);
                }
                _ => {}
            },
        }
    }
}

pub async fn exec_v5(client: &Client, node: &Node) -> Result<()> {
    // stdin, stdout, stderr and a non-zero exit.
    let script = "read x; echo got $x; echo err >&2; exit 3";
    let path = exec_path(&["sh", "-c", script], "stdin=true&stdout=true&stderr=true");
    let (mut ws, protocol) = open(client, &path, "v5.channel.k8s.io").await?;
    assert_eq!(protocol.as_deref(), Some("v5.channel.k8s.io"));
    ws.send(Message::Binary(b"\x00hello\n".to_vec().into()))
        .await?;
    ws.send(Message::Binary(vec![255, 0].into())).await?;
    let out = collect(&mut ws).await?;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got hello\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    for want in [
        r#""status":"Failure""#,
        r#""reason":"NonZeroExitCode""#,
        r#""reason":"ExitCode""#,
        r#""message":"3""#,
    ] {
        ensure!(
            out.status.contains(want),
            "status {} lacks {want}",
            out.status
        );
    }
    assert_eq!(out.close, Some(CloseCode::Normal));

    // Offered beside v4 (kubectl offers only v5, other clients more): v5 wins.
    let path = exec_path(&["echo", "hi"], "stdout=true&stderr=true");
    let (mut ws, protocol) = open(client, &path, "v4.channel.k8s.io, v5.channel.k8s.io").await?;
    assert_eq!(protocol.as_deref(), Some("v5.channel.k8s.io"));
    let out = collect(&mut ws).await?;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    assert!(out.stderr.is_empty());
    ensure!(
        out.status.contains(r#""status":"Success""#),
        "status {}",
        out.status
    );
    assert_eq!(out.close, Some(CloseCode::Normal));

    // Output far beyond one SPDY window (64 KiB) and many frames.
    let path = exec_path(&["seq", "1", "60000"], "stdout=true");
    let (mut ws, _) = open(client, &path, "v5.channel.k8s.io").await?;
    let out = collect(&mut ws).await?;
    let want: String = (1..=60000).map(|i| format!("{i}\n")).collect();
    ensure!(
        out.stdout == want.as_bytes(),
        "seq: {} bytes, want {}",
        out.stdout.len(),
        want.len()
    );
    ensure!(out.status.contains("Success"), "status {}", out.status);

    // A terminal: the size sent on the resize channel reaches the process.
    let path = exec_path(
        &["sh", "-c", "read x; stty size"],
        "stdin=true&stdout=true&tty=true",
    );
    let (mut ws, _) = open(client, &path, "v5.channel.k8s.io").await?;
    let resize = br#"{"Width":100,"Height":30}"#;
    ws.send(Message::Binary([&[4u8][..], resize].concat().into()))
        .await?;
    ws.send(Message::Binary(b"\x00go\n".to_vec().into()))
        .await?;
    let out = collect(&mut ws).await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(stdout.contains("30 100"), "tty stdout {stdout:?}");
    ensure!(out.status.contains("Success"), "status {}", out.status);

    attach_v5(client, node).await
}

/// attach to the container's `sleep`: what it writes to its stdout arrives on channel 1.
async fn attach_v5(client: &Client, node: &Node) -> Result<()> {
    let (mut ws, protocol) = open(
        client,
        "/attach/default/p/c?stdout=true",
        "v5.channel.k8s.io",
    )
    .await?;
    assert_eq!(protocol.as_deref(), Some("v5.channel.k8s.io"));
    let script = "for p in /proc/[0-9]*; do if grep -q '^sleep' $p/cmdline; then echo attached > $p/fd/1; break; fi; done";
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !seen.ends_with(b"attached\n") {
        // Repeat the write until the runtime has attached (it attaches once the streams exist).
        node.exec_sync(&["sh", "-c", script]).await?;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        ensure!(!left.is_zero(), "attach saw only {seen:?}");
        match tokio::time::timeout(Duration::from_millis(500).min(left), ws.next()).await {
            Err(_) => continue,
            Ok(None) => bail!("attach closed early: {seen:?}"),
            Ok(Some(message)) => match message? {
                Message::Binary(data) if data.first() == Some(&1) => {
                    seen.extend_from_slice(&data[1..])
                }
                other => bail!("unexpected attach message {other:?}"),
            },
        }
    }
    ws.close(None).await?;
    Ok(())
}
