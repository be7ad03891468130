//! Facts about the host the node reports: CPUs, memory, disk, PIDs, OS and kernel, and the
//! pressure conditions derived from them.

use std::path::Path;

/// What the host offers and how much is free.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    pub cpus: usize,
    pub memory_bytes: u64,
    pub memory_available: u64,
    pub disk_bytes: u64,
    pub disk_available: u64,
    pub pid_max: u64,
    pub pids_in_use: u64,
    pub os_image: String,
    pub kernel: String,
    pub machine_id: String,
    pub boot_id: String,
}

fn meminfo(field: &str, text: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn statvfs(path: &Path) -> (u64, u64) {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return (0, 0);
    };
    let mut s = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: statvfs writes a `struct statvfs` into the buffer we pass.
    let rc = unsafe { libc::statvfs(c.as_ptr(), s.as_mut_ptr()) };
    if rc != 0 {
        return (0, 0);
    }
    // SAFETY: rc == 0 means the struct was filled.
    let s = unsafe { s.assume_init() };
    (s.f_blocks * s.f_frsize, s.f_bavail * s.f_frsize)
}

/// Reads the host's facts; `data_dir` is where pods' data lives (its filesystem is the node's
/// ephemeral storage).
pub fn read_facts(data_dir: &Path) -> HostFacts {
    let mem = read("/proc/meminfo");
    let (disk_bytes, disk_available) = statvfs(data_dir);
    let os_image = read("/etc/os-release")
        .lines()
        .find_map(|l| {
            l.strip_prefix("PRETTY_NAME=")
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into());
    let pids_in_use = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .count() as u64
        })
        .unwrap_or(0);
    HostFacts {
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        memory_bytes: meminfo("MemTotal:", &mem),
        memory_available: meminfo("MemAvailable:", &mem),
        disk_bytes,
        disk_available,
        pid_max: read("/proc/sys/kernel/pid_max").parse().unwrap_or(32768),
        pids_in_use,
        os_image,
        kernel: read("/proc/sys/kernel/osrelease"),
        machine_id: read("/etc/machine-id"),
        boot_id: read("/proc/sys/kernel/random/boot_id"),
    }
}

/// Pressure conditions by upstream's default hard eviction thresholds: memory.available <
/// 100Mi, nodefs.available < 10%, and PIDs (less than 10% left).
pub fn pressures(f: &HostFacts) -> (bool, bool, bool) {
    let memory = f.memory_bytes > 0 && f.memory_available < 100 * 1024 * 1024;
    let disk = f.disk_bytes > 0 && f.disk_available * 10 < f.disk_bytes;
    let pid = f.pid_max > 0 && f.pids_in_use * 10 > f.pid_max * 9;
    (memory, disk, pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_fields() {
        let text = "MemTotal:       24000000 kB\nMemFree:  1 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(meminfo("MemTotal:", text), 24_000_000 * 1024);
        assert_eq!(meminfo("MemAvailable:", text), 20_000_000 * 1024);
        assert_eq!(meminfo("Nope:", text), 0);
    }

    #[test]
    fn pressure_thresholds() {
        let base = HostFacts {
            memory_bytes: 1 << 34,
            memory_available: 1 << 33,
            disk_bytes: 100,
            disk_available: 50,
            pid_max: 1000,
            pids_in_use: 10,
            ..Default::default()
        };
        assert_eq!(pressures(&base), (false, false, false));
        assert_eq!(
            pressures(&HostFacts {
                memory_available: 50 << 20,
                ..base.clone()
            }),
            (true, false, false)
        );
        assert_eq!(
            pressures(&HostFacts {
                disk_available: 5,
                ..base.clone()
            }),
            (false, true, false)
        );
        assert_eq!(
            pressures(&HostFacts {
                pids_in_use: 950,
                ..base.clone()
            }),
            (false, false, true)
        );
        let real = read_facts(Path::new("/"));
        assert!(
            real.cpus >= 1 && real.memory_bytes > 0 && real.disk_bytes > 0,
            "{real:?}"
        );
    }
}
