//! Closed-loop load: N clients, each on its own `Conn`, take operation numbers from a shared
//! counter until a fixed count is done, sending one request at a time. The scenarios decide
//! what request operation `i` is; this file times them and counts failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hyper::{Method, StatusCode};

use crate::client::Conn;
use crate::latency::Latencies;
use crate::machine::{CpuSnapshot, CpuUsage};

/// One request of a load run.
pub struct Op {
    pub method: Method,
    pub path: String,
    pub body: Option<(&'static str, Bytes)>,
    pub expect: StatusCode,
}

/// What a load run measured.
pub struct LoadResult {
    pub done: usize,
    pub failed: usize,
    pub first_failure: Option<String>,
    pub elapsed: Duration,
    pub latencies: Latencies,
    pub cpu: CpuUsage,
}

impl LoadResult {
    /// Successful operations per second.
    pub fn rate(&self) -> f64 {
        (self.done - self.failed) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// "N ops in T s, K failed (first: ...)".
    pub fn describe(&mut self) -> String {
        let mut s = format!(
            "{} ops in {:.2} s; latency {}; {}",
            self.done,
            self.elapsed.as_secs_f64(),
            self.latencies.summary(),
            self.cpu
        );
        if self.failed > 0 {
            s.push_str(&format!(
                "; {} FAILED (first: {})",
                self.failed,
                self.first_failure.as_deref().unwrap_or("?")
            ));
        }
        s
    }
}

/// Runs `count` operations over `conns`; `op(i)` builds operation `i`.
pub async fn run<F>(
    conns: Vec<Conn>,
    count: usize,
    server_pid: u32,
    op: F,
) -> anyhow::Result<LoadResult>
where
    F: Fn(usize) -> Op + Send + Sync + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let op = Arc::new(op);
    let cpu = CpuSnapshot::take(server_pid);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(conns.len());
    for mut conn in conns {
        let next = next.clone();
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Latencies::with_capacity(count / 8 + 1);
            let (mut failed, mut first_failure) = (0usize, None);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let Op {
                    method,
                    path,
                    body,
                    expect,
                } = op(i);
                let t = Instant::now();
                let outcome = conn.expect(expect, method, &path, body).await;
                lat.push(t.elapsed());
                if let Err(e) = outcome {
                    failed += 1;
                    first_failure.get_or_insert_with(|| format!("{e:#}"));
                }
            }
            (lat, failed, first_failure)
        }));
    }
    let mut result = LoadResult {
        done: 0,
        failed: 0,
        first_failure: None,
        elapsed: Duration::ZERO,
        latencies: Latencies::with_capacity(count),
        cpu: CpuUsage {
            client_cores: 0.0,
            server_cores: 0.0,
        },
    };
    for task in tasks {
        let (lat, failed, first) = task.await.context("a load client panicked")?;
        result.done += lat.len();
        result.latencies.merge(lat);
        result.failed += failed;
        if result.first_failure.is_none() {
            result.first_failure = first;
        }
    }
    result.elapsed = started.elapsed();
    result.cpu = cpu.usage_since(server_pid);
    Ok(result)
}
