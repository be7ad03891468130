//! Service change to rules in effect: 1,000 selector-less Services, each with a hand-made
//! EndpointSlice pointing at a TCP listener this process runs on the node IP, then one more
//! Service + slice at a time, timed from its create to the first TCP connect to its ClusterIP
//! that the proxy's rules carry through to the listener.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use bytes::Bytes;
use hyper::{Method, StatusCode};
use tokio::net::{TcpListener, TcpStream};

use crate::client::{Conn, Connector};
use crate::latency::Latencies;

/// Longest one change may take to show before the run gives up on it.
const CHANGE_DEADLINE: Duration = Duration::from_secs(30);
/// Interval between connect attempts, and how long one attempt may wait.
const POLL: Duration = Duration::from_millis(5);
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(25);
/// The Services' port (each forwards to the bench's listener).
const SERVICE_PORT: u16 = 80;

/// What the run measured.
pub(crate) struct Churn {
    /// Wall time of creating the bulk Services and slices.
    pub(crate) bulk_created: Duration,
    /// From the first bulk create until the last bulk Service's ClusterIP connected.
    pub(crate) bulk_in_effect: Duration,
    pub(crate) changes: Latencies,
    /// Time the two creates of each change took (part of `changes`).
    pub(crate) api: Latencies,
}

/// A listener on `ip` that accepts and drops every connection.
pub(crate) async fn listener(ip: IpAddr) -> anyhow::Result<u16> {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0))
        .await
        .with_context(|| format!("listening on {ip}"))?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    Ok(port)
}

fn service(name: &str, target: u16) -> Bytes {
    Bytes::from(
        serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name},
            "spec": {"ports": [{"port": SERVICE_PORT, "targetPort": target, "protocol": "TCP"}]},
        })
        .to_string(),
    )
}

fn slice(name: &str, ip: IpAddr, port: u16) -> Bytes {
    Bytes::from(
        serde_json::json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("{name}-bench"), "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip.to_string()], "conditions": {"ready": true}}],
            "ports": [{"port": port, "protocol": "TCP"}],
        })
        .to_string(),
    )
}

/// Creates Service `name` and its slice; returns the ClusterIP.
async fn create(
    conn: &mut Conn,
    ns: &str,
    name: &str,
    ip: IpAddr,
    port: u16,
) -> anyhow::Result<IpAddr> {
    let path = format!("/api/v1/namespaces/{ns}/services");
    let body = conn
        .expect(
            StatusCode::CREATED,
            Method::POST,
            &path,
            Some(("application/json", service(name, port))),
        )
        .await?;
    let v: serde_json::Value = serde_json::from_slice(&body).context("decoding a Service")?;
    let cluster_ip = v["spec"]["clusterIP"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("Service {name} has no ClusterIP"))?;
    let path = format!("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices");
    conn.expect(
        StatusCode::CREATED,
        Method::POST,
        &path,
        Some(("application/json", slice(name, ip, port))),
    )
    .await?;
    Ok(cluster_ip)
}

/// Polls TCP connects to `ip:80` until one succeeds; the time from `since`.
async fn wait_connect(ip: IpAddr, since: Instant) -> anyhow::Result<Duration> {
    let addr = SocketAddr::new(ip, SERVICE_PORT);
    loop {
        if let Ok(Ok(_)) = tokio::time::timeout(ATTEMPT_TIMEOUT, TcpStream::connect(addr)).await {
            return Ok(since.elapsed());
        }
        ensure!(
            since.elapsed() < CHANGE_DEADLINE,
            "{addr} not connecting {} s after its Service was created",
            CHANGE_DEADLINE.as_secs()
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Creates `bulk` Services with `clients` connections, waits for the last one to connect, then
/// times `changes` single changes.
pub(crate) async fn run(
    connector: &Connector,
    ns: &str,
    node_ip: IpAddr,
    bulk: usize,
    clients: usize,
    changes: usize,
) -> anyhow::Result<Churn> {
    let port = listener(node_ip).await?;
    let conns = connector.clients(clients.max(1)).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(conns.len());
    for mut conn in conns {
        let (next, ns) = (next.clone(), ns.to_string());
        tasks.push(tokio::spawn(async move {
            let mut last = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= bulk {
                    return Ok::<_, anyhow::Error>(last);
                }
                let ip = create(&mut conn, &ns, &format!("bulk-{i:04}"), node_ip, port).await?;
                if i + 1 == bulk {
                    last = Some(ip);
                }
            }
        }));
    }
    let mut last_ip = None;
    for task in tasks {
        if let Some(ip) = task.await.context("a create worker panicked")?? {
            last_ip = Some(ip);
        }
    }
    let bulk_created = start.elapsed();
    let last_ip = last_ip.context("no Services were created")?;
    let bulk_in_effect = wait_connect(last_ip, start).await?;
    let mut conn = connector.connect().await?;
    let mut timed = Latencies::with_capacity(changes);
    let mut api = Latencies::with_capacity(changes);
    for i in 0..changes {
        let t0 = Instant::now();
        let ip = create(&mut conn, ns, &format!("change-{i:02}"), node_ip, port).await?;
        api.push(t0.elapsed());
        timed.push(wait_connect(ip, t0).await?);
        // Lets the proxy settle between changes, so each is timed on its own.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(Churn {
        bulk_created,
        bulk_in_effect,
        changes: timed,
        api,
    })
}
