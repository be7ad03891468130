//! OOM kills as the kernel reports them (the way cAdvisor does for upstream's kubelet):
//! containerd 1.6 sometimes records a container's exit before, or without, its OOM event, so
//! the kubelet also reads `/dev/kmsg` and remembers which memory cgroups had a task killed.
//! A container whose cgroup (`<pod cgroup>/<container id>`) is among them was OOM-killed.

use std::collections::VecDeque;
use std::io::{BufRead, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

/// How many OOM-killed cgroups are remembered.
const REMEMBERED: usize = 4096;

/// The memory cgroup of the killed task in a kernel `oom-kill:` line.
pub fn killed_memcg(line: &str) -> Option<&str> {
    let rest = line.split("oom-kill:").nth(1)?;
    rest.split(',')
        .find_map(|field| field.strip_prefix("task_memcg="))
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// Cgroups that had a task OOM-killed, newest last.
#[derive(Debug, Default, Clone)]
pub struct OomKills(Arc<Mutex<VecDeque<String>>>);

impl OomKills {
    fn record(&self, memcg: &str) {
        if let Ok(mut kills) = self.0.lock() {
            if kills.len() >= REMEMBERED {
                kills.pop_front();
            }
            kills.push_back(memcg.to_string());
        }
    }

    /// Whether container `id`'s cgroup had a task OOM-killed.
    pub fn killed(&self, id: &str) -> bool {
        let suffix = format!("/{id}");
        self.0
            .lock()
            .is_ok_and(|kills| kills.iter().any(|k| k.ends_with(&suffix)))
    }

    /// Follows the kernel log from now on, in a thread of its own (reads block).
    pub fn watch(&self) {
        let kills = self.clone();
        let spawned = std::thread::Builder::new()
            .name("oom-watch".into())
            .spawn(move || {
                let Ok(mut file) = std::fs::File::open("/dev/kmsg") else {
                    tracing::warn!(
                        "cannot read /dev/kmsg: OOM kills are known only from the runtime"
                    );
                    return;
                };
                let _ = file.seek(SeekFrom::End(0));
                // Each read of /dev/kmsg returns one record; a line reader sees one per line.
                let mut reader = std::io::BufReader::new(file);
                let mut line = String::new();
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) => return,
                        Ok(_) => {
                            if let Some(memcg) = killed_memcg(&line) {
                                kills.record(memcg);
                            }
                        }
                        // EPIPE: records were overwritten before we read them; go on.
                        Err(e) if e.raw_os_error() == Some(32) => continue,
                        Err(_) => return,
                    }
                }
            });
        if spawned.is_err() {
            tracing::warn!("cannot start the OOM watch thread");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_lines() {
        let cases = [
            (
                "6,1234,5678,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/gantry/n/burstable/podu/abc,task_memcg=/gantry/n/burstable/podu/abc,task=dd,pid=7,uid=0\n",
                Some("/gantry/n/burstable/podu/abc"),
            ),
            (
                "6,1,2,-;Memory cgroup out of memory: Killed process 7 (dd)\n",
                None,
            ),
            ("6,1,2,-;oom-kill:constraint=CONSTRAINT_NONE,task=x\n", None),
        ];
        for (line, want) in cases {
            assert_eq!(killed_memcg(line), want, "{line}");
        }
        let kills = OomKills::default();
        kills.record("/gantry/n/burstable/podu/abc");
        assert!(kills.killed("abc"));
        assert!(!kills.killed("ab"));
    }
}
