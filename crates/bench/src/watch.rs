//! Scenario: watch delivery latency. N watchers follow the pods of a namespace from a known
//! resourceVersion while one writer creates, then patches, objects as fast as the server
//! acknowledges them. Every write carries its send time (taken just before the request goes
//! out) in an annotation; each watcher stamps each event on arrival of the chunk holding it.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use http_body_util::BodyExt;
use hyper::{Method, StatusCode};
use tokio::sync::watch;

use crate::client::Connector;
use crate::create::pod_name;
use crate::latency::Latencies;
use crate::list;
use crate::machine::{CpuSnapshot, CpuUsage};
use crate::pod::{self, PodTemplate};

/// How long watchers may lag behind the writer before the missing events count as lost.
const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// What the watch scenario measured.
pub struct WatchResult {
    pub delivery: Latencies,
    pub watchers: usize,
    pub expected: usize,
    pub delivered: usize,
    pub writes: Latencies,
    pub write_elapsed: Duration,
    pub cpu: CpuUsage,
}

impl WatchResult {
    pub fn describe(&mut self) -> String {
        let rate = self.writes.len() as f64 / self.write_elapsed.as_secs_f64().max(1e-9);
        format!(
            "{} watchers x {} writes, {} of {} events delivered; delivery {}; writer {:.0} writes/s, write latency {}; {}",
            self.watchers,
            self.writes.len(),
            self.delivered,
            self.expected,
            self.delivery.summary(),
            rate,
            self.writes.summary(),
            self.cpu
        )
    }
}

/// Runs `watchers` watches on `namespace` during `writes` writes (half creates of pods named
/// `{prefix}-{i}`, half merge patches of them).
pub async fn run(
    connector: &Connector,
    namespace: &str,
    prefix: &str,
    watchers: usize,
    writes: usize,
    epoch: Instant,
    server_pid: u32,
) -> anyhow::Result<WatchResult> {
    let rv = list::current_version(connector, namespace).await?;
    let path = format!("/api/v1/namespaces/{namespace}/pods?watch=1&resourceVersion={rv}");
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut readers = Vec::with_capacity(watchers);
    let mut conns = connector.clients(watchers).await?;
    // Open every watch and wait for its response head before the first write.
    for conn in &mut conns {
        let resp = conn.request(Method::GET, &path, None).await?;
        ensure!(
            resp.status() == StatusCode::OK,
            "watch {path}: {}",
            resp.status()
        );
        readers.push(tokio::spawn(read_events(
            resp.into_body(),
            writes,
            epoch,
            stop_rx.clone(),
        )));
    }

    let cpu = CpuSnapshot::take(server_pid);
    let mut writer = connector.connect().await?;
    let template = PodTemplate::new(namespace);
    let creates = writes.div_ceil(2);
    let mut write_lat = Latencies::with_capacity(writes);
    let started = Instant::now();
    for i in 0..writes {
        let name = pod_name(prefix, i % creates);
        let sent = epoch.elapsed().as_micros() as u64;
        let t = Instant::now();
        if i < creates {
            let body = template.render(&name, sent);
            writer
                .expect(
                    StatusCode::CREATED,
                    Method::POST,
                    &format!("/api/v1/namespaces/{namespace}/pods"),
                    Some(("application/json", body)),
                )
                .await?;
        } else {
            let body = pod::restamp_patch(sent);
            let path = format!("/api/v1/namespaces/{namespace}/pods/{name}");
            writer
                .expect(
                    StatusCode::OK,
                    Method::PATCH,
                    &path,
                    Some(("application/merge-patch+json", body)),
                )
                .await?;
        }
        write_lat.push(t.elapsed());
    }
    let write_elapsed = started.elapsed();

    // Stop stragglers after a deadline; readers that saw everything have returned already.
    tokio::spawn(async move {
        tokio::time::sleep(DRAIN_DEADLINE).await;
        let _ = stop_tx.send(true);
    });
    let mut delivery = Latencies::with_capacity(watchers * writes);
    let mut delivered = 0;
    for reader in readers {
        let lat = reader.await.context("a watcher panicked")??;
        delivered += lat.len();
        delivery.merge(lat);
    }
    let cpu = cpu.usage_since(server_pid);
    drop(conns);
    Ok(WatchResult {
        delivery,
        watchers,
        expected: watchers * writes,
        delivered,
        writes: write_lat,
        write_elapsed,
        cpu,
    })
}

/// Reads newline-delimited watch events until `expected` stamped ones arrived or `stop`.
async fn read_events(
    mut body: hyper::body::Incoming,
    expected: usize,
    epoch: Instant,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Latencies> {
    let mut lat = Latencies::with_capacity(expected);
    let mut pending: Vec<u8> = Vec::with_capacity(16 * 1024);
    while lat.len() < expected {
        let frame = tokio::select! {
            frame = body.frame() => frame,
            _ = stop.changed() => break,
        };
        let Some(frame) = frame else { break };
        let arrived = epoch.elapsed();
        let Ok(data) = frame.context("reading a watch stream")?.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        let mut start = 0;
        while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
            let line = &pending[start..start + end];
            if let Some(sent) = pod::find_sent_us(line) {
                lat.push(arrived.saturating_sub(Duration::from_micros(sent)));
            }
            start += end + 1;
        }
        pending.drain(..start);
    }
    Ok(lat)
}
