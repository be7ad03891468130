//! Liveness, readiness and startup probes (exec through CRI, httpGet, tcpSocket) and the
//! bookkeeping that turns their results into "ready", "started" and "unhealthy": thresholds,
//! initial delays and periods as upstream. Probes run in tasks and report back to the pod's
//! worker, so a slow probe never blocks a sync.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gantry_cri::{Cri, api};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Startup,
    Liveness,
    Readiness,
}

/// A finished probe run, sent back to the worker.
#[derive(Debug)]
pub struct Outcome {
    pub container_id: String,
    pub kind: Kind,
    pub ok: bool,
    pub message: String,
}

/// Per container and kind: consecutive results and the derived verdict.
#[derive(Debug, Default, Clone)]
struct Track {
    successes: i32,
    failures: i32,
    /// Verdict: None until thresholds decide.
    passed: Option<bool>,
    last_run: Option<Instant>,
    running: bool,
}

fn period(p: &Probe) -> Duration {
    Duration::from_secs(p.period_seconds.unwrap_or(10).max(1) as u64)
}

/// The probe of `kind` in `c`, if any.
pub fn probe_of(c: &Container, kind: Kind) -> Option<&Probe> {
    match kind {
        Kind::Startup => c.startup_probe.as_ref(),
        Kind::Liveness => c.liveness_probe.as_ref(),
        Kind::Readiness => c.readiness_probe.as_ref(),
    }
}

/// Probe bookkeeping of one pod.
#[derive(Debug, Default)]
pub struct Probes {
    tracks: HashMap<(String, Kind), Track>,
}

impl Probes {
    /// Probes due now for a running container started at `started` (instant on our clock).
    pub fn due(
        &mut self,
        id: &str,
        c: &Container,
        started: Instant,
        now: Instant,
    ) -> Vec<(Kind, Probe)> {
        let mut out = vec![];
        let startup_done =
            c.startup_probe.is_none() || self.passed(id, Kind::Startup) == Some(true);
        for kind in [Kind::Startup, Kind::Liveness, Kind::Readiness] {
            let Some(p) = probe_of(c, kind) else { continue };
            if kind != Kind::Startup && !startup_done {
                continue;
            }
            if kind == Kind::Startup && startup_done {
                continue;
            }
            let delay = Duration::from_secs(p.initial_delay_seconds.unwrap_or(0).max(0) as u64);
            if now < started + delay {
                continue;
            }
            let t = self.tracks.entry((id.to_string(), kind)).or_default();
            if t.running || t.last_run.is_some_and(|l| now < l + period(p)) {
                continue;
            }
            t.running = true;
            t.last_run = Some(now);
            out.push((kind, p.clone()));
        }
        out
    }

    /// Records a result and updates the verdict by the probe's thresholds.
    pub fn record(&mut self, o: &Outcome, probe: Option<&Probe>) {
        let t = self
            .tracks
            .entry((o.container_id.clone(), o.kind))
            .or_default();
        t.running = false;
        let success_threshold = probe.and_then(|p| p.success_threshold).unwrap_or(1).max(1);
        let failure_threshold = probe.and_then(|p| p.failure_threshold).unwrap_or(3).max(1);
        if o.ok {
            t.successes += 1;
            t.failures = 0;
            if t.successes >= success_threshold {
                t.passed = Some(true);
            }
        } else {
            t.failures += 1;
            t.successes = 0;
            if t.failures >= failure_threshold {
                t.passed = Some(false);
            }
        }
    }

    pub fn passed(&self, id: &str, kind: Kind) -> Option<bool> {
        self.tracks
            .get(&(id.to_string(), kind))
            .and_then(|t| t.passed)
    }

    /// Whether the container must be killed: its liveness or startup probe failed.
    pub fn unhealthy(&self, id: &str) -> bool {
        self.passed(id, Kind::Liveness) == Some(false)
            || self.passed(id, Kind::Startup) == Some(false)
    }

    /// Forgets containers that no longer exist.
    pub fn retain(&mut self, live: &[String]) {
        self.tracks.retain(|(id, _), _| live.contains(id));
    }
}

fn port(port: &IntOrString, c: &Container) -> Option<u16> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .or_else(|| name.parse().ok()),
    }
}

/// Runs one probe against container `id` (in a pod reachable at `pod_ip`).
pub async fn run(
    cri: Cri,
    probe: Probe,
    c: Container,
    id: String,
    pod_ip: String,
) -> (bool, String) {
    let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
    if let Some(exec) = &probe.exec {
        let req = api::ExecSyncRequest {
            container_id: id,
            cmd: exec.command.clone().unwrap_or_default(),
            timeout: timeout.as_secs() as i64,
        };
        return match tokio::time::timeout(
            timeout + Duration::from_secs(2),
            cri.runtime.clone().exec_sync(req),
        )
        .await
        {
            Ok(Ok(r)) => {
                let r = r.into_inner();
                let out = String::from_utf8_lossy(&r.stdout).trim().to_string();
                (
                    r.exit_code == 0,
                    if r.exit_code == 0 {
                        out
                    } else {
                        format!("command exited with {}: {out}", r.exit_code)
                    },
                )
            }
            Ok(Err(status)) => (false, format!("exec probe: {}", status.message())),
            Err(_) => (
                false,
                format!("command timed out after {}s", timeout.as_secs()),
            ),
        };
    }
    if let Some(tcp) = &probe.tcp_socket {
        let Some(port) = port(&tcp.port, &c) else {
            return (false, "tcpSocket probe: unknown port".into());
        };
        let host = tcp.host.clone().unwrap_or(pod_ip);
        return match tokio::time::timeout(
            timeout,
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(_)) => (true, String::new()),
            Ok(Err(e)) => (false, format!("dial tcp {host}:{port}: {e}")),
            Err(_) => (false, format!("dial tcp {host}:{port}: i/o timeout")),
        };
    }
    if let Some(http) = &probe.http_get {
        let Some(port) = port(&http.port, &c) else {
            return (false, "httpGet probe: unknown port".into());
        };
        let host = http.host.clone().unwrap_or(pod_ip);
        let path = http.path.clone().unwrap_or_else(|| "/".into());
        let headers: Vec<(String, String)> = http
            .http_headers
            .iter()
            .flatten()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect();
        return match tokio::time::timeout(timeout, http_get(&host, port, &path, &headers)).await {
            Ok(Ok(code)) if (200..400).contains(&code) => (true, String::new()),
            Ok(Ok(code)) => (false, format!("HTTP probe failed with statuscode: {code}")),
            Ok(Err(e)) => (false, format!("Get \"http://{host}:{port}{path}\": {e}")),
            Err(_) => (
                false,
                format!("Get \"http://{host}:{port}{path}\": context deadline exceeded"),
            ),
        };
    }
    if probe.grpc.is_some() {
        return (false, "grpc probes are not supported".into());
    }
    (true, String::new())
}

/// A plain HTTP/1.1 GET; returns the status code.
pub async fn http_get(
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = hyper::Request::get(path)
        .header("Host", format!("{host}:{port}"))
        .header("User-Agent", "kube-probe/1.33");
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let code = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn thresholds_decide() {
        let probe: Probe = serde_json::from_value(
            json!({"failureThreshold": 2, "successThreshold": 1, "periodSeconds": 1}),
        )
        .expect("probe");
        let mut p = Probes::default();
        let o = |ok| Outcome {
            container_id: "c".into(),
            kind: Kind::Liveness,
            ok,
            message: String::new(),
        };
        p.record(&o(false), Some(&probe));
        assert!(!p.unhealthy("c"), "one failure is below the threshold");
        p.record(&o(false), Some(&probe));
        assert!(p.unhealthy("c"));
        p.record(&o(true), Some(&probe));
        assert!(!p.unhealthy("c"));
    }

    #[test]
    fn startup_gates_the_others() {
        let c: Container = serde_json::from_value(json!({"name": "a", "startupProbe": {"exec": {"command": ["true"]}}, "readinessProbe": {"exec": {"command": ["true"]}, "initialDelaySeconds": 0}})).expect("c");
        let mut p = Probes::default();
        let t0 = Instant::now();
        let due: Vec<Kind> = p
            .due("id", &c, t0, t0)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(due, vec![Kind::Startup]);
        p.record(
            &Outcome {
                container_id: "id".into(),
                kind: Kind::Startup,
                ok: true,
                message: String::new(),
            },
            c.startup_probe.as_ref(),
        );
        let due: Vec<Kind> = p
            .due("id", &c, t0, t0 + Duration::from_secs(1))
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(due, vec![Kind::Readiness]);
        assert!(
            p.due("id", &c, t0, t0 + Duration::from_secs(2)).is_empty(),
            "still running"
        );
    }
}
