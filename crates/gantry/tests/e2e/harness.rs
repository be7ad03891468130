//! The test harness: a real `gantry server` process on a free port in a temporary data dir,
//! a `kubectl` driver bound to its kubeconfig, background watchers, and waits for pods.
//!
//! Nothing here sleeps to synchronise: every wait goes through `support::poll`.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// How long a server gets to start or stop, and a watcher to see a change.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Every wait polls through the one loop the suites share.
pub use crate::support::wait_until;

/// The path of the kubectl binary of one minor version.
pub fn kubectl_binary(minor: u32) -> PathBuf {
    PathBuf::from(format!("/usr/lib/google-cloud-sdk/bin/kubectl.1.{minor}"))
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a probe listener");
    listener
        .local_addr()
        .expect("probe listener address")
        .port()
}

/// A running `gantry server`; killed when dropped.
pub struct Server {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    /// Extra command-line flags of the server, kept across restarts.
    args: Vec<String>,
}

impl Server {
    /// Starts a server in a fresh data dir and waits until it is ready.
    pub fn start() -> Server {
        Server::start_with_args(&[])
    }

    /// Like [`Server::start`] with extra `gantry server` flags (e.g. controller tunables).
    pub fn start_with_args(args: &[&str]) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("gantry-e2e-")
            .tempdir()
            .expect("creating the data dir");
        let args = args.iter().map(|a| a.to_string()).collect();
        let mut server = Server {
            dir,
            port: free_port(),
            child: None,
            args,
        };
        server.spawn();
        server
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir().join("kubeconfig.yaml")
    }

    fn log_path(&self) -> PathBuf {
        self.data_dir().join("server.log")
    }

    /// The server's log so far (stdout and stderr of every start), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("opening the server log");
        let child = Command::new(env!("CARGO_BIN_EXE_gantry"))
            .args(["server", "--data-dir"])
            .arg(self.data_dir())
            .args([
                "--https-port",
                &self.port.to_string(),
                "--bind-address",
                "127.0.0.1",
            ])
            .env("NO_COLOR", "1")
            .args(&self.args)
            // The ready line is tracing output: stdout today, stderr in the issue; keep both.
            .stdout(log.try_clone().expect("cloning the log handle"))
            .stderr(log)
            .spawn()
            .expect("starting gantry server");
        self.child = Some(child);
        let admin = Kubectl::new(self, 32);
        let mut exited = None;
        wait_until("the server answers /readyz", DEADLINE, || {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                exited = Some(status);
                return true;
            }
            self.kubeconfig().exists() && admin.run(&["get", "--raw", "/readyz"]).stdout == "ok"
        });
        assert!(
            exited.is_none(),
            "gantry server exited with {exited:?}:\n{}",
            self.log()
        );
        assert!(
            self.log().contains("gantry server ready on https://"),
            "no ready line in the log:\n{}",
            self.log()
        );
    }

    /// Sends SIGTERM and waits until the process has exited; returns its status.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -TERM failed");
        let mut status = None;
        wait_until("the server exits after SIGTERM", DEADLINE, || {
            status = child.try_wait().expect("polling the server process");
            status.is_some()
        });
        status.expect("exit status")
    }

    /// Stops the server cleanly and starts it again on the same data dir and port.
    pub fn restart(&mut self) {
        let status = self.stop();
        assert!(
            status.success(),
            "gantry server did not exit cleanly: {status:?}\n{}",
            self.log()
        );
        self.spawn();
    }
}

/// The last `lines` lines of `log`, printed when a test fails so its output shows what the
/// process was doing.
fn print_tail(what: &str, log: &str, lines: usize) {
    let all: Vec<&str> = log.lines().collect();
    let tail = &all[all.len().saturating_sub(lines)..];
    eprintln!(
        "---- last {} lines of {what} ----\n{}",
        tail.len(),
        tail.join("\n")
    );
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            print_tail("the server log", &self.log(), 80);
            // The data dir goes with the test; keep the whole log for a post-mortem.
            let kept = std::env::temp_dir().join(format!("gantry-e2e-failed-{}.log", self.port));
            if std::fs::copy(self.log_path(), &kept).is_ok() {
                eprintln!("the whole server log: {}", kept.display());
            }
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One `gantry sim` process running a group of simulated nodes; killed when dropped.
pub struct SimNodes {
    child: Child,
    log: PathBuf,
}

impl SimNodes {
    /// Starts `nodes` simulated nodes named `{prefix}0..` whose leases renew every second.
    pub fn start(server: &Server, prefix: &str, nodes: usize) -> SimNodes {
        let log = server.data_dir().join(format!("sim-{prefix}log"));
        let file = std::fs::File::create(&log).expect("creating the sim log");
        let child = Command::new(env!("CARGO_BIN_EXE_gantry"))
            .args(["sim", "--kubeconfig"])
            .arg(server.kubeconfig())
            .args([
                "--nodes",
                &nodes.to_string(),
                "--name-prefix",
                prefix,
                "--lease-interval-seconds",
                "1",
            ])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("cloning the log handle"))
            .stderr(file)
            .spawn()
            .expect("starting gantry sim");
        SimNodes { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the process like a machine dying and waits until it is gone.
    pub fn kill(&mut self) {
        self.child.kill().expect("killing gantry sim");
        self.child.wait().expect("waiting for gantry sim");
    }
}

impl Drop for SimNodes {
    fn drop(&mut self) {
        if std::thread::panicking() {
            print_tail("the sim log", &self.log(), 40);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server with `nodes` simulated nodes (named `{prefix}0..`) all Ready, and kubectl 1.`minor`.
pub fn sim_cluster(prefix: &str, nodes: usize, minor: u32) -> (Server, Kubectl, SimNodes) {
    let server = Server::start();
    let k = Kubectl::new(&server, minor);
    let sims = SimNodes::start(&server, prefix, nodes);
    wait_until(&format!("{nodes} nodes are Ready"), DEADLINE, || {
        ready_nodes(&k).len() == nodes
    });
    (server, k, sims)
}

/// The names of the Ready nodes.
pub fn ready_nodes(k: &Kubectl) -> Vec<String> {
    let nodes = k.json(&["get", "nodes"]);
    let items = nodes["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter(|n| {
            n["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        })
        .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

/// What one kubectl run printed.
#[derive(Debug)]
pub struct Output {
    pub success: bool,
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("kubectl printed no JSON ({e}):\n{}", self.stdout))
    }
}

/// One kubectl binary pointed at one server.
pub struct Kubectl {
    pub minor: u32,
    bin: PathBuf,
    kubeconfig: PathBuf,
}

impl Kubectl {
    pub fn new(server: &Server, minor: u32) -> Kubectl {
        Kubectl {
            minor,
            bin: kubectl_binary(minor),
            kubeconfig: server.kubeconfig(),
        }
    }

    /// A kubectl using another kubeconfig file (for authentication tests).
    pub fn with_kubeconfig(minor: u32, kubeconfig: PathBuf) -> Kubectl {
        Kubectl {
            minor,
            bin: kubectl_binary(minor),
            kubeconfig,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        // HOME holds kubectl's discovery cache: one per test, beside the kubeconfig.
        cmd.args(args).env("KUBECONFIG", &self.kubeconfig).env(
            "HOME",
            self.kubeconfig.parent().unwrap_or(Path::new("/tmp")),
        );
        cmd
    }

    /// Runs kubectl with `args` and, if given, `stdin`.
    pub fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.command(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.bin.display()));
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            use std::io::Write;
            pipe.write_all(input.as_bytes())
                .expect("writing kubectl stdin");
        }
        let out = child.wait_with_output().expect("waiting for kubectl");
        Output {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, None)
    }

    /// Runs kubectl, asserts success and returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.success,
            "kubectl 1.{} {args:?} failed:\n{}",
            self.minor, out.stderr
        );
        out.stdout
    }

    /// Like [`Kubectl::ok`] with `stdin`.
    pub fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_with(args, Some(stdin));
        assert!(
            out.success,
            "kubectl 1.{} {args:?} failed:\n{}",
            self.minor, out.stderr
        );
        out.stdout
    }

    /// Runs kubectl, asserts that it fails and returns stderr.
    pub fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run_with(args, stdin);
        assert!(
            !out.success,
            "kubectl 1.{} {args:?} succeeded but should fail:\n{}",
            self.minor, out.stdout
        );
        out.stderr
    }

    /// Runs kubectl with `-o json` appended and parses the result.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let out = self.run(&all);
        assert!(
            out.success,
            "kubectl 1.{} {all:?} failed:\n{}",
            self.minor, out.stderr
        );
        out.json()
    }

    /// Starts a long-running kubectl (e.g. `get -w`) whose stdout is collected.
    pub fn background(&self, args: &[&str]) -> Background {
        let mut child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting kubectl");
        let seen = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stdout.take().expect("kubectl stdout");
        let sink = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("watch buffer")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Background { child, seen }
    }
}

/// A kubectl running in the background; killed when dropped.
pub struct Background {
    child: Child,
    seen: Arc<Mutex<String>>,
}

impl Background {
    pub fn stdout(&self) -> String {
        self.seen.lock().expect("watch buffer").clone()
    }

    /// Waits until stdout satisfies `condition`; returns stdout.
    pub fn wait_for(&self, what: &str, mut condition: impl FnMut(&str) -> bool) -> String {
        wait_until(what, DEADLINE, || condition(&self.stdout()));
        self.stdout()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Declares, per `name => check`, a module `name` with one test per kubectl version issue 3 is
/// checked with (`kubectl_1_27`, `kubectl_1_32`, `kubectl_1_33`), each calling `check(minor)`.
#[macro_export]
macro_rules! per_kubectl {
    ($($name:ident => $check:ident;)*) => {$(
        mod $name {
            #[test]
            fn kubectl_1_27() {
                super::$check(27)
            }
            #[test]
            fn kubectl_1_32() {
                super::$check(32)
            }
            #[test]
            fn kubectl_1_33() {
                super::$check(33)
            }
        }
    )*};
}

/// The pods matching `selector` that are not being deleted.
pub fn live_pods(k: &Kubectl, selector: &str) -> Vec<Value> {
    let pods = k.json(&["get", "pods", "-l", selector]);
    let items = pods["items"].as_array().cloned().unwrap_or_default();
    items
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect()
}

/// Whether `pod` is Running with condition Ready=True.
pub fn pod_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
        && pod["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Waits until exactly `n` pods match `selector`, all Ready, none being deleted, and no other
/// pod of the selector lingers; returns them.
pub fn wait_for_ready_pods(k: &Kubectl, selector: &str, n: usize, timeout: Duration) -> Vec<Value> {
    let last = std::cell::RefCell::new(Vec::new());
    crate::support::poll(
        &format!("exactly {n} Ready pods match {selector}"),
        timeout,
        || format!("last seen: {}", pod_summary(&last.borrow())),
        || {
            let all = k.json(&["get", "pods", "-l", selector]);
            let pods = all["items"].as_array().cloned().unwrap_or_default();
            let settled = pods.len() == n
                && pods
                    .iter()
                    .all(|p| p["metadata"]["deletionTimestamp"].is_null() && pod_ready(p));
            last.replace(pods.clone());
            settled.then_some(pods)
        },
    )
}

/// One line per pod: name, node, phase, readiness and whether it is being deleted.
fn pod_summary(pods: &[Value]) -> String {
    let lines: Vec<String> = pods
        .iter()
        .map(|p| {
            format!(
                "{} node={} phase={} ready={} deleting={}",
                p["metadata"]["name"].as_str().unwrap_or("?"),
                p["spec"]["nodeName"].as_str().unwrap_or("-"),
                p["status"]["phase"].as_str().unwrap_or("-"),
                pod_ready(p),
                !p["metadata"]["deletionTimestamp"].is_null()
            )
        })
        .collect();
    format!("[{}]", lines.join("; "))
}
