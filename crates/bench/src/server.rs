//! The server under test: spawns the real `gantry server` on a free port in a temporary data
//! directory, times it to its first successful `/readyz`, reads its log and its memory from
//! /proc, and stops it with SIGTERM.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::{Method, StatusCode};
use tempfile::TempDir;

use crate::client::{Connector, Protocol};
use crate::kubeconfig::Endpoint;

const READY_DEADLINE: Duration = Duration::from_secs(30);
const STOP_DEADLINE: Duration = Duration::from_secs(10);
const LOG_TAIL: usize = 40;

/// What the server printed: its own "ready in N ms" and the last lines, for error reports.
#[derive(Default)]
struct Log {
    ready_ms: Option<u64>,
    tail: VecDeque<String>,
}

/// A running `gantry server`.
pub struct Server {
    child: Child,
    log: Arc<Mutex<Log>>,
    /// Wall time from spawn to the first `/readyz` that answered 200 over TLS.
    pub ready_wall: Duration,
    pub connector: Connector,
    /// Kept so the directory lives as long as the server.
    _data_dir: TempDir,
}

impl Server {
    /// Spawns `binary server` and waits until `/readyz` answers.
    pub async fn start(
        binary: &Path,
        protocol: Protocol,
        h2_connections: usize,
        extra_args: &[&str],
    ) -> anyhow::Result<Server> {
        let data_dir = tempfile::Builder::new()
            .prefix("gantry-bench-")
            .tempdir()
            .context("creating a temporary data dir")?;
        let port = free_port()?;
        let log = Arc::new(Mutex::new(Log::default()));
        let spawned = Instant::now();
        let mut child = Command::new(binary)
            .args(["server", "--data-dir"])
            .arg(data_dir.path())
            .args([
                "--https-port",
                &port.to_string(),
                "--bind-address",
                "127.0.0.1",
            ])
            .args(extra_args)
            .env("GANTRY_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        if let Some(out) = child.stdout.take() {
            read_log(out, log.clone());
        }
        if let Some(err) = child.stderr.take() {
            read_log(err, log.clone());
        }
        let kubeconfig = data_dir.path().join("kubeconfig.yaml");
        let connector = match wait_ready(&kubeconfig, protocol, h2_connections, &mut child).await {
            Ok(c) => c,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let tail = log
                    .lock()
                    .map(|l| l.tail.iter().cloned().collect::<Vec<_>>().join("\n"))
                    .unwrap_or_default();
                return Err(e.context(format!("server log:\n{tail}")));
            }
        };
        let ready_wall = spawned.elapsed();
        Ok(Server {
            child,
            log,
            ready_wall,
            connector,
            _data_dir: data_dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn data_dir(&self) -> PathBuf {
        self._data_dir.path().to_path_buf()
    }

    /// The "ready ... in N ms" the server logged itself; waits briefly for the log reader.
    pub async fn logged_ready_ms(&self) -> Option<u64> {
        let until = Instant::now() + Duration::from_secs(2);
        loop {
            if let Some(ms) = self.log.lock().ok().and_then(|l| l.ready_ms) {
                return Some(ms);
            }
            if Instant::now() > until {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A `Vm*` field of /proc/PID/status, in KiB (`VmRSS`, `VmHWM`).
    pub fn memory_kib(&self, field: &str) -> anyhow::Result<u64> {
        process_memory_kib(self.pid(), field)
    }

    /// SIGTERM, then waits for the exit (SIGKILL after a deadline).
    pub async fn stop(mut self) -> anyhow::Result<(ExitStatus, Duration)> {
        let pid = libc::pid_t::try_from(self.pid()).context("server pid")?;
        let asked = Instant::now();
        // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped).
        if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
            bail!(
                "sending SIGTERM to {pid}: {}",
                std::io::Error::last_os_error()
            );
        }
        while asked.elapsed() < STOP_DEADLINE {
            if let Some(status) = self.child.try_wait().context("waiting for the server")? {
                return Ok((status, asked.elapsed()));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.child.kill().context("killing the server")?;
        bail!("the server ignored SIGTERM for {STOP_DEADLINE:?}; killed it")
    }
}

pub fn free_port() -> anyhow::Result<u16> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(probe.local_addr().context("finding a free port")?.port())
}

async fn wait_ready(
    kubeconfig: &Path,
    protocol: Protocol,
    h2_connections: usize,
    child: &mut Child,
) -> anyhow::Result<Connector> {
    let until = Instant::now() + READY_DEADLINE;
    let mut connector = None;
    let mut last_error = None;
    while Instant::now() < until {
        if let Some(status) = child.try_wait().context("checking the server")? {
            bail!("the server exited before it was ready: {status}");
        }
        if connector.is_none() && kubeconfig.exists() {
            match Endpoint::load(kubeconfig, protocol.alpn()) {
                Ok(endpoint) => {
                    connector = Some(Connector::new(endpoint, protocol, h2_connections))
                }
                Err(e) => last_error = Some(e),
            }
        }
        if let Some(c) = &connector {
            let attempt = async {
                c.connect()
                    .await?
                    .expect(StatusCode::OK, Method::GET, "/readyz", None)
                    .await
            };
            match attempt.await {
                Ok(_) => return connector.context("connector"),
                Err(e) => last_error = Some(e),
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let e =
        last_error.unwrap_or_else(|| anyhow::anyhow!("{} never appeared", kubeconfig.display()));
    Err(e.context(format!(
        "the server was not ready within {READY_DEADLINE:?}"
    )))
}

fn read_log(pipe: impl Read + Send + 'static, log: Arc<Mutex<Log>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            let line = strip_ansi(&line);
            let Ok(mut log) = log.lock() else { return };
            if log.ready_ms.is_none() {
                log.ready_ms = ready_ms(&line);
            }
            if log.tail.len() == LOG_TAIL {
                log.tail.pop_front();
            }
            log.tail.push_back(line);
        }
    });
}

/// The N of "gantry server ready on https://... in N ms".
fn ready_ms(line: &str) -> Option<u64> {
    let rest = &line[line.find("ready on")?..];
    let after = &rest[rest.find(" in ")? + 4..];
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    if !after[digits.len()..].starts_with(" ms") {
        return None;
    }
    digits.parse().ok()
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A memory field of /proc/PID/status (`VmRSS`, `VmHWM`), in KiB.
pub fn process_memory_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    proc_status_kib(&status, field).with_context(|| format!("{path}: no {field}"))
}

fn proc_status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ready_line() {
        let line = "\u{1b}[2m2025-01-01T00:00:00Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m gantry server ready on https://127.0.0.1:6443 in 42 ms; kubeconfig: /x";
        assert_eq!(ready_ms(&strip_ansi(line)), Some(42));
        assert_eq!(ready_ms("shutting down"), None);
    }

    #[test]
    fn reads_vm_fields() {
        let status = "Name:\tgantry\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(proc_status_kib(status, "VmRSS"), Some(10240));
        assert_eq!(proc_status_kib(status, "VmHWM"), Some(20480));
        assert_eq!(proc_status_kib(status, "VmSwap"), None);
    }
}
