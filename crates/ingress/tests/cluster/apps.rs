//! The test's applications: small HTTP/1.1 servers on 127.0.0.1 that answer with their name,
//! the path and the forwarding headers they received, and echo bytes after an upgrade.

use std::net::SocketAddr;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, std::convert::Infallible>;

/// The reply body: `key=value` lines.
fn describe(name: &str, request: &Request<Incoming>) -> String {
    let mut lines = vec![
        format!("name={name}"),
        format!(
            "path={}",
            request.uri().path_and_query().map_or("", |p| p.as_str())
        ),
    ];
    for header in [
        "host",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-port",
        "connection",
        "te",
    ] {
        if let Some(value) = request.headers().get(header).and_then(|v| v.to_str().ok()) {
            lines.push(format!("{header}={value}"));
        }
    }
    lines.join("\n")
}

async fn answer(name: String, mut request: Request<Incoming>) -> Result<Response<Body>> {
    if let Some(protocol) = request.headers().get(header::UPGRADE).cloned() {
        let upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            if let Ok(upgraded) = upgrade.await {
                let mut io = TokioIo::new(upgraded);
                let (mut reader, mut writer) = tokio::io::split(&mut io);
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            }
        });
        let response = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, protocol)
            .body(Full::new(Bytes::new()).boxed())?;
        return Ok(response);
    }
    let text = describe(&name, &request);
    // Read the request body through, so uploads stream end to end.
    let uploaded = request.into_body().collect().await?.to_bytes().len();
    let text = format!("{text}\nuploaded={uploaded}\n");
    Ok(Response::new(Full::new(Bytes::from(text)).boxed()))
}

/// Starts an app named `name` on a free 127.0.0.1 port; runs until the test ends.
pub async fn start(name: &str) -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let name = name.to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let name = name.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| answer(name.clone(), request));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    Ok(address)
}
