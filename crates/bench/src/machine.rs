//! The machine under the benchmark: CPU time spent by the bench client and by the server
//! (both read from /proc, so a scenario can tell which side was busy), and the fsync latency
//! of the disk holding the data dir (the floor of a durable write).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use crate::latency::Latencies;

/// CPU seconds (user + system) of this process and of the server at one instant.
#[derive(Clone, Copy, Debug)]
pub struct CpuSnapshot {
    at: Instant,
    client: f64,
    server: f64,
}

impl CpuSnapshot {
    pub fn take(server_pid: u32) -> CpuSnapshot {
        CpuSnapshot {
            at: Instant::now(),
            client: cpu_seconds("self").unwrap_or(0.0),
            server: cpu_seconds(&server_pid.to_string()).unwrap_or(0.0),
        }
    }

    /// Average cores used by client and server since `self`, e.g. "client 0.62 / server 1.31 cores".
    pub fn usage_since(&self, server_pid: u32) -> CpuUsage {
        let now = CpuSnapshot::take(server_pid);
        let wall = now.at.duration_since(self.at).as_secs_f64().max(1e-9);
        CpuUsage {
            client_cores: (now.client - self.client) / wall,
            server_cores: (now.server - self.server) / wall,
        }
    }
}

/// Average cores in use over an interval.
#[derive(Clone, Copy, Debug)]
pub struct CpuUsage {
    pub client_cores: f64,
    pub server_cores: f64,
}

impl std::fmt::Display for CpuUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cpu: client {:.2} / server {:.2} cores",
            self.client_cores, self.server_cores
        )
    }
}

/// CPU time (user + system) process `pid` has used so far, in seconds.
pub fn process_cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    cpu_seconds(&pid.to_string())
}

/// utime + stime of /proc/WHO/stat, in seconds.
fn cpu_seconds(who: &str) -> anyhow::Result<f64> {
    let path = format!("/proc/{who}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let (utime, stime) = stat_times(&stat).with_context(|| format!("{path}: unexpected format"))?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
    Ok((utime + stime) as f64 / ticks)
}

/// Fields 14 and 15 (utime, stime) of a stat line; the command name may hold spaces.
fn stat_times(stat: &str) -> Option<(u64, u64)> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace().skip(11);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// Latency of `rounds` 4 KiB appends each followed by fdatasync, in a file under `dir`.
pub fn fsync_latency(dir: &Path, rounds: usize) -> anyhow::Result<Latencies> {
    let path = dir.join("bench-fsync-probe");
    let mut file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let block = [0x5au8; 4096];
    let mut lat = Latencies::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        file.write_all(&block)
            .with_context(|| format!("writing {}", path.display()))?;
        file.sync_data()
            .with_context(|| format!("syncing {}", path.display()))?;
        lat.push(t.elapsed());
    }
    drop(file);
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    Ok(lat)
}

/// The device and filesystem type of the mount holding `dir` (the longest matching mount
/// point in /proc/mounts), e.g. "/dev/vda ext4".
pub fn filesystem(dir: &Path) -> Option<String> {
    let dir = dir.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?, f.next()?, f.next()?))
        })
        .filter(|(_, point, _)| dir.starts_with(point))
        .max_by_key(|(_, point, _)| point.len())
        .map(|(dev, _, fs)| format!("{dev} {fs}"))
}

/// Online CPUs, for the report header.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_times_past_a_command_with_spaces() {
        let stat = "1234 (gantry server) S 1 1234 1234 0 -1 4194560 500 0 0 0 37 12 0 0 20 0 4 0 100 1000 200";
        assert_eq!(stat_times(stat), Some((37, 12)));
    }

    #[test]
    fn finds_the_root_filesystem() {
        assert!(filesystem(Path::new("/")).is_some());
    }

    #[test]
    fn counts_our_own_cpu() {
        assert!(cpu_seconds("self").is_ok());
    }
}
