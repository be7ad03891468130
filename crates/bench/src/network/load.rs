//! Closed-loop HTTP load over raw TCP: `C` workers, each opening a new connection per request
//! (busybox httpd answers HTTP/1.0 and closes), sending `GET / HTTP/1.0` with a Host header and
//! reading to EOF, for a fixed time. A request counts only when the status line says 200.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

use crate::latency::Latencies;
use crate::report::number;

/// Longest a single request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// What one HTTP load run measured.
pub(crate) struct HttpLoad {
    pub(crate) ok: u64,
    pub(crate) failed: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) elapsed: Duration,
    pub(crate) latencies: Latencies,
}

impl HttpLoad {
    /// Successful requests per second.
    pub(crate) fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// "N requests in T s, latency p50 .. ; K failed (first: ...)".
    pub(crate) fn describe(&mut self) -> String {
        let mut s = format!(
            "{} requests in {:.2} s; latency {}",
            self.ok,
            self.elapsed.as_secs_f64(),
            self.latencies.summary()
        );
        if self.failed > 0 {
            s.push_str(&format!(
                "; {} FAILED (first: {})",
                self.failed,
                self.first_error.as_deref().unwrap_or("?")
            ));
        }
        s
    }
}

/// One request on a new connection (from `source` when given, else the address the route
/// picks); the body on a 200, an error otherwise.
pub(crate) async fn get(
    addr: SocketAddr,
    host: &str,
    source: Option<IpAddr>,
) -> anyhow::Result<Vec<u8>> {
    let exchange = async {
        let socket = TcpSocket::new_v4().context("creating a socket")?;
        if let Some(ip) = source {
            socket
                .bind(SocketAddr::new(ip, 0))
                .with_context(|| format!("binding to {ip}"))?;
        }
        let mut tcp = socket
            .connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        tcp.set_nodelay(true).context("setting TCP_NODELAY")?;
        let request = format!("GET / HTTP/1.0\r\nHost: {host}\r\nUser-Agent: gantry-bench\r\n\r\n");
        tcp.write_all(request.as_bytes())
            .await
            .context("sending the request")?;
        let mut response = Vec::with_capacity(512);
        tcp.read_to_end(&mut response)
            .await
            .context("reading the response")?;
        Ok::<_, anyhow::Error>(response)
    };
    let response = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .with_context(|| format!("no response from {addr} within {REQUEST_TIMEOUT:?}"))??;
    let status_line = response.split(|&b| b == b'\n').next().unwrap_or_default();
    let status_line = String::from_utf8_lossy(status_line);
    let mut words = status_line.split_whitespace();
    let (version, code) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if !version.starts_with("HTTP/1.") || code != "200" {
        bail!("{addr}: {}", status_line.trim());
    }
    let body = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(Vec::new(), |at| response[at + 4..].to_vec());
    Ok(body)
}

/// Retries `get` until it answers 200 with `expect` in the body, or fails after `deadline`.
pub(crate) async fn wait_http(
    addr: SocketAddr,
    host: &str,
    expect: &str,
    deadline: Duration,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    loop {
        let last = match get(addr, host, None).await {
            Ok(body) if String::from_utf8_lossy(&body).contains(expect) => {
                return Ok(start.elapsed());
            }
            Ok(body) => format!("unexpected body {:?}", String::from_utf8_lossy(&body)),
            Err(e) => format!("{e:#}"),
        };
        ensure!(
            start.elapsed() < deadline,
            "http://{addr}/ (Host {host}) not answering after {} s: {last}",
            deadline.as_secs()
        );
        // Poll interval against the deadline above.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `workers` closed-loop workers against `addr` for `duration`, from `source` if given.
pub(crate) async fn run(
    addr: SocketAddr,
    host: &str,
    source: Option<IpAddr>,
    workers: usize,
    duration: Duration,
) -> HttpLoad {
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers.max(1) {
        let host = host.to_string();
        tasks.push(tokio::spawn(async move {
            let mut mine = HttpLoad {
                ok: 0,
                failed: 0,
                first_error: None,
                elapsed: Duration::ZERO,
                latencies: Latencies::with_capacity(16_384),
            };
            while Instant::now() < end {
                let t0 = Instant::now();
                match get(addr, &host, source).await {
                    Ok(_) => {
                        mine.ok += 1;
                        mine.latencies.push(t0.elapsed());
                    }
                    Err(e) => {
                        mine.failed += 1;
                        mine.first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            mine
        }));
    }
    let mut total = HttpLoad {
        ok: 0,
        failed: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        latencies: Latencies::with_capacity(65_536),
    };
    for task in tasks {
        match task.await {
            Ok(mine) => {
                total.ok += mine.ok;
                total.failed += mine.failed;
                if total.first_error.is_none() {
                    total.first_error = mine.first_error;
                }
                total.latencies.merge(mine.latencies);
            }
            Err(e) => {
                total.failed += 1;
                total
                    .first_error
                    .get_or_insert_with(|| format!("worker panicked: {e}"));
            }
        }
    }
    total.elapsed = start.elapsed();
    total
}

/// "what N /s over direct M /s", the details of a ratio row.
pub(crate) fn ratio_detail(what: &str, rate: f64, base: f64) -> String {
    format!("{what} {} /s over direct {} /s", number(rate), number(base))
}
