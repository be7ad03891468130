//! What the test suites (e2e, clients, node, network) share: the one polling loop every wait
//! goes through (a condition against a deadline, never a sleep as synchronisation), the gantry
//! binary, the busybox image archive the node suites import, and small readers of pod JSON and
//! logs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Time between two looks at a condition.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The name under which the busybox archive is imported.
pub const BUSYBOX: &str = "gantry.local/busybox:latest";

/// Polls `probe` until it returns `Some`; panics naming `what` (with `diag()`) after `timeout`.
pub fn poll<T>(
    what: &str,
    timeout: Duration,
    diag: impl Fn() -> String,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out after {timeout:?} waiting until {what}\n{}",
                diag()
            );
        }
        // Back-off between polls, not synchronisation: the probe decides when to go on.
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Polls `condition` until it holds; panics naming `what` when `timeout` passes first.
pub fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    poll(what, timeout, String::new, || condition().then_some(()));
}

/// The gantry binary under test.
pub fn gantry() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gantry"))
}

/// The busybox image archive, built once per test binary with `gantry image busybox`.
pub fn busybox_archive() -> &'static Path {
    static ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join("tests-busybox.tar");
        // Written under a private name and renamed: concurrent test binaries never see half a file.
        let partial = dir.join(format!("tests-busybox.{}.tar", std::process::id()));
        let out = gantry()
            .args(["image", "busybox"])
            .arg(&partial)
            .args(["--name", BUSYBOX])
            .output()
            .expect("running gantry image busybox");
        assert!(
            out.status.success(),
            "gantry image busybox: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::rename(&partial, &path).expect("renaming the busybox archive");
        path
    })
}

/// Whether the pod is Running and its Ready condition is True.
pub fn is_running_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
        && pod["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// stdout of `out` as a string.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}
