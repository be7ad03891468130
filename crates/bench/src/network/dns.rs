//! DNS load: hand-built A queries (12-byte header, QNAME labels, QTYPE A, QCLASS IN) sent over
//! UDP from `K` concurrent sockets, one query in flight per socket, for a fixed time. Each
//! answer must carry the query's ID, QR set, RCODE 0 and at least one answer record.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tokio::net::UdpSocket;

use crate::latency::Latencies;

/// Longest a query may wait for its answer before it counts as lost.
const QUERY_TIMEOUT: Duration = Duration::from_secs(1);

/// A standard recursive query for the A record of `name`.
pub(crate) fn query(id: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    q.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    q.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // AN, NS, AR counts
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len().min(63) as u8);
        q.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    q.push(0);
    q.extend_from_slice(&1u16.to_be_bytes()); // QTYPE A
    q.extend_from_slice(&1u16.to_be_bytes()); // QCLASS IN
    q
}

/// Checks an answer to query `id` and returns the address of its first A record.
pub(crate) fn check_answer(id: u16, packet: &[u8]) -> anyhow::Result<Ipv4Addr> {
    ensure!(packet.len() >= 12, "short answer ({} bytes)", packet.len());
    let got = u16::from_be_bytes([packet[0], packet[1]]);
    ensure!(got == id, "answer ID {got} for query {id}");
    let flags = u16::from_be_bytes([packet[2], packet[3]]);
    ensure!(flags & 0x8000 != 0, "QR not set");
    let rcode = flags & 0x000f;
    ensure!(rcode == 0, "RCODE {rcode}");
    let questions = u16::from_be_bytes([packet[4], packet[5]]);
    let answers = u16::from_be_bytes([packet[6], packet[7]]);
    ensure!(answers >= 1, "no answer records");
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(packet, at)? + 4;
    }
    for _ in 0..answers {
        at = skip_name(packet, at)?;
        let fixed = packet.get(at..at + 10).context("truncated record")?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data = packet
            .get(at + 10..at + 10 + len)
            .context("truncated record data")?;
        if rtype == 1 && len == 4 {
            return Ok(Ipv4Addr::new(data[0], data[1], data[2], data[3]));
        }
        at += 10 + len;
    }
    bail!("no A record among {answers} answer(s)")
}

/// The offset just past the (possibly compressed) name at `at`.
fn skip_name(packet: &[u8], mut at: usize) -> anyhow::Result<usize> {
    loop {
        let len = *packet.get(at).context("truncated name")?;
        match len {
            0 => return Ok(at + 1),
            l if l & 0xc0 == 0xc0 => return Ok(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

/// One query on a fresh socket, for waiting until the server answers.
pub(crate) async fn resolve(server: SocketAddr, name: &str) -> anyhow::Result<Ipv4Addr> {
    let socket = UdpSocket::bind("0.0.0.0:0")
        .await
        .context("binding a UDP socket")?;
    socket
        .connect(server)
        .await
        .context("connecting the UDP socket")?;
    let id = 0x4242;
    socket
        .send(&query(id, name))
        .await
        .context("sending a query")?;
    let mut buf = [0u8; 1500];
    let n = tokio::time::timeout(QUERY_TIMEOUT, socket.recv(&mut buf))
        .await
        .with_context(|| format!("no answer from {server}"))?
        .context("receiving an answer")?;
    check_answer(id, &buf[..n])
}

/// What one DNS load run measured.
pub(crate) struct DnsLoad {
    pub(crate) ok: u64,
    pub(crate) failed: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) elapsed: Duration,
    pub(crate) latencies: Latencies,
}

impl DnsLoad {
    pub(crate) fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// `sockets` concurrent sockets querying `name` at `server` for `duration`.
pub(crate) async fn run(
    server: SocketAddr,
    name: &str,
    sockets: usize,
    duration: Duration,
) -> anyhow::Result<DnsLoad> {
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = Vec::with_capacity(sockets);
    for worker in 0..sockets.max(1) {
        let socket = UdpSocket::bind("0.0.0.0:0")
            .await
            .context("binding a UDP socket")?;
        socket
            .connect(server)
            .await
            .context("connecting the UDP socket")?;
        let name = name.to_string();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            let mut failed = 0u64;
            let mut first_error = None::<String>;
            let mut latencies = Latencies::with_capacity(65_536);
            let mut buf = [0u8; 1500];
            let mut id = (worker as u16).wrapping_mul(7919);
            while Instant::now() < end {
                id = id.wrapping_add(1);
                let packet = query(id, &name);
                let t0 = Instant::now();
                let outcome = async {
                    socket.send(&packet).await.context("send")?;
                    // Answers to earlier, timed-out queries are skipped by their ID.
                    loop {
                        let n = socket.recv(&mut buf).await.context("recv")?;
                        if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) != id {
                            continue;
                        }
                        return check_answer(id, &buf[..n]);
                    }
                };
                match tokio::time::timeout(QUERY_TIMEOUT, outcome).await {
                    Ok(Ok(_)) => {
                        ok += 1;
                        latencies.push(t0.elapsed());
                    }
                    Ok(Err(e)) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                    Err(_) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| "timed out".into());
                    }
                }
            }
            (ok, failed, first_error, latencies)
        }));
    }
    let mut total = DnsLoad {
        ok: 0,
        failed: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        latencies: Latencies::with_capacity(262_144),
    };
    for task in tasks {
        let (ok, failed, first_error, latencies) = task.await.context("a DNS worker panicked")?;
        total.ok += ok;
        total.failed += failed;
        if total.first_error.is_none() {
            total.first_error = first_error;
        }
        total.latencies.merge(latencies);
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_answer() {
        let q = query(7, "web.ns.svc.cluster.local");
        assert_eq!(&q[..4], &[0, 7, 1, 0]);
        assert_eq!(q[12], 3);
        assert_eq!(&q[13..16], b"web");
        // The answer: the query echoed with QR and ANCOUNT 1, then a compressed A record.
        let mut a = q.clone();
        a[2] = 0x81;
        a[3] = 0x80;
        a[7] = 1;
        a.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 43, 0, 9]);
        assert_eq!(check_answer(7, &a).ok(), Some(Ipv4Addr::new(10, 43, 0, 9)));
        assert!(check_answer(8, &a).is_err());
        a[3] = 0x83;
        assert!(check_answer(7, &a).is_err());
    }
}
