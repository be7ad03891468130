//! The node test harness: a real single-node cluster (`gantry up` with its own containerd) in
//! a temporary data dir, with ports, bridge, pod CIDR and node name unique to each test so tests
//! run in parallel beside each other and beside any other cluster on the host.
//!
//! Nothing here sleeps to synchronise: every wait polls a condition against a deadline.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

pub use crate::support::{
    BUSYBOX, busybox_archive, gantry, is_running_ready, poll, tail, wait_until,
};

/// How long a cluster gets to start or stop.
pub const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long a pod gets to reach a state.
pub const POD_DEADLINE: Duration = Duration::from_secs(60);

/// The kubectl binary of one minor version (1.32 is the system's default).
pub fn kubectl_binary(minor: u32) -> PathBuf {
    if minor == 32 {
        PathBuf::from("/usr/bin/kubectl")
    } else {
        PathBuf::from(format!("/usr/lib/google-cloud-sdk/bin/kubectl.1.{minor}"))
    }
}

/// A free TCP port on 127.0.0.1 (the listener is closed before the port is used).
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// `N` distinct free TCP ports on 127.0.0.1 (all probe listeners are open at once).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("binding a probe listener"))
        .collect();
    std::array::from_fn(|i| {
        listeners[i]
            .local_addr()
            .expect("probe listener address")
            .port()
    })
}

/// Extra settings of one cluster.
#[derive(Default)]
pub struct Options {
    /// `--insecure-registry` values.
    pub insecure_registries: Vec<String>,
}

/// A running `gantry up`; `gantry down` when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    pub https_port: u16,
    pub kubelet_port: u16,
    /// The node's DNS server port (its own per cluster: clusters share the host's address).
    pub dns_port: u16,
    /// The ingress controller's ports.
    pub ingress_ports: [u16; 2],
    pub bridge: String,
    pub cidr: String,
    pub node: String,
    args: Vec<String>,
    child: Option<Child>,
    down_done: bool,
}

impl Cluster {
    /// Starts cluster number `n` (unique per test: it picks the pod CIDR 10.(60+n).0.0/16).
    pub fn start(n: u8) -> Cluster {
        Cluster::start_with(n, Options::default())
    }

    /// Like [`Cluster::start`] with extra settings.
    pub fn start_with(n: u8, options: Options) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("gantry-node-")
            .tempdir()
            .expect("creating the data dir");
        let images = dir.path().join("agent/images");
        std::fs::create_dir_all(&images).expect("creating DATA/agent/images");
        std::fs::copy(busybox_archive(), images.join("busybox.tar"))
            .expect("copying the busybox archive");
        // Unique across tests (n) and across concurrent runs (the pid), at most 15 characters.
        let pid = std::process::id() % 100_000;
        let bridge = format!("gn{pid}t{n}");
        assert!(bridge.len() <= 15);
        let [https_port, kubelet_port, dns_port, http_port, tls_port] = free_ports();
        let mut cluster = Cluster {
            dir,
            https_port,
            kubelet_port,
            dns_port,
            ingress_ports: [http_port, tls_port],
            bridge,
            cidr: format!("10.{}.0.0/16", 60 + n),
            node: format!("gnode-{pid}-{n}"),
            args: options
                .insecure_registries
                .iter()
                .flat_map(|r| ["--insecure-registry".to_string(), r.clone()])
                .collect(),
            child: None,
            down_done: false,
        };
        cluster.spawn();
        cluster
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir().join("kubeconfig.yaml")
    }

    /// The containerd socket of the node.
    pub fn containerd_socket(&self) -> PathBuf {
        self.data_dir().join("agent/containerd/containerd.sock")
    }

    fn log_path(&self) -> PathBuf {
        self.data_dir().join("up.log")
    }

    fn stdout_path(&self) -> PathBuf {
        self.data_dir().join("up.stdout")
    }

    /// The output of `gantry up` so far (every start), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("opening the log");
        let _ = std::fs::remove_file(self.stdout_path());
        let stdout = std::fs::File::create(self.stdout_path()).expect("creating the stdout file");
        let child = gantry()
            .arg("up")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--https-port", &self.https_port.to_string()])
            .args(["--kubelet-port", &self.kubelet_port.to_string()])
            .args(["--dns-port", &self.dns_port.to_string()])
            .args(["--ingress-http-port", &self.ingress_ports[0].to_string()])
            .args(["--ingress-https-port", &self.ingress_ports[1].to_string()])
            .args(["--cni-bridge", &self.bridge])
            .args(["--cluster-cidr", &self.cidr])
            .args(["--node-name", &self.node])
            .args(&self.args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log)
            .spawn()
            .expect("starting gantry up");
        self.child = Some(child);
        let mut exited = None;
        wait_until(
            "gantry up prints the kubeconfig export",
            START_DEADLINE,
            || {
                if let Some(status) = self
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten())
                {
                    exited = Some(status);
                    return true;
                }
                std::fs::read_to_string(self.stdout_path())
                    .is_ok_and(|s| s.contains("export KUBECONFIG="))
            },
        );
        assert!(
            exited.is_none(),
            "gantry up exited with {exited:?}:\n{}",
            self.log()
        );
        let expected = format!("export KUBECONFIG={}", self.kubeconfig().display());
        let stdout = std::fs::read_to_string(self.stdout_path()).unwrap_or_default();
        assert_eq!(stdout.trim(), expected);
    }

    /// Stops `gantry up` with SIGTERM (pods keep running) and waits until it has exited.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("gantry up is running");
        // SAFETY: sending SIGTERM to our own child process.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let mut status = None;
        wait_until("gantry up exits after SIGTERM", START_DEADLINE, || {
            status = child.try_wait().expect("polling gantry up");
            status.is_some()
        });
        let status = status.expect("exit status");
        assert!(
            status.success(),
            "gantry up did not exit cleanly: {status:?}\n{}",
            self.log()
        );
    }

    /// Starts `gantry up` again on the same data dir, ports, bridge and CIDR.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the cluster first");
        self.spawn();
    }

    /// Runs `gantry down` and asserts it succeeded; the child must have exited afterwards.
    pub fn down(&mut self) {
        let out = gantry()
            .arg("down")
            .arg("--data-dir")
            .arg(self.data_dir())
            .output()
            .expect("running gantry down");
        self.down_done = true;
        assert!(
            out.status.success(),
            "gantry down failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        if let Some(mut child) = self.child.take() {
            let mut status = None;
            wait_until("gantry up exits after gantry down", START_DEADLINE, || {
                status = child.try_wait().expect("polling gantry up");
                status.is_some()
            });
        }
    }

    /// Runs the default kubectl (1.32) against the cluster.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_version(32, args)
    }

    /// Runs kubectl 1.`minor` against the cluster.
    pub fn kubectl_version(&self, minor: u32, args: &[&str]) -> Output {
        self.kubectl_command(minor)
            .args(args)
            .output()
            .expect("running kubectl")
    }

    /// A kubectl command bound to the cluster's kubeconfig, to spawn.
    pub fn kubectl_command(&self, minor: u32) -> Command {
        let mut command = Command::new(kubectl_binary(minor));
        command.env("KUBECONFIG", self.kubeconfig());
        command
    }

    /// Runs kubectl and returns its stdout; panics with stderr and the log on failure.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl apply -f -` with `manifest` on stdin.
    pub fn apply(&self, manifest: &str) {
        let mut child = self
            .kubectl_command(32)
            .args(["apply", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running kubectl apply");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(manifest.as_bytes())
            .expect("writing the manifest");
        let out = child.wait_with_output().expect("waiting for kubectl apply");
        assert!(
            out.status.success(),
            "kubectl apply failed: {}\n{manifest}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `kubectl get ARGS -o json`, parsed; `None` when kubectl fails (e.g. not found yet).
    pub fn get_json(&self, args: &[&str]) -> Option<Value> {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let out = self.kubectl(&all);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// The pod `name` in the default namespace.
    pub fn pod(&self, name: &str) -> Option<Value> {
        self.get_json(&["get", "pod", name])
    }

    /// Waits until `condition` holds for pod `name`; returns the pod that satisfied it.
    pub fn wait_pod(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        condition: impl Fn(&Value) -> bool,
    ) -> Value {
        let last = std::cell::RefCell::new(None);
        let diag = || {
            let seen = last
                .borrow()
                .as_ref()
                .map(|p: &Value| serde_json::to_string_pretty(&p["status"]).unwrap_or_default());
            format!(
                "last seen:\n{}\n--- gantry up log (tail):\n{}",
                seen.unwrap_or_default(),
                tail(&self.log(), 40)
            )
        };
        poll(&format!("pod {name} {what}"), timeout, diag, || {
            let pod = self.pod(name)?;
            if condition(&pod) {
                return Some(pod);
            }
            *last.borrow_mut() = Some(pod);
            None
        })
    }

    /// Waits until pod `name` is Running and Ready.
    pub fn wait_running(&self, name: &str) -> Value {
        self.wait_pod(name, "is Running and Ready", POD_DEADLINE, |p| {
            is_running_ready(p)
        })
    }

    /// The host PID of a running container's task (container ID without `containerd://`),
    /// from the node's containerd (`ctr tasks ls`).
    pub fn task_pid(&self, container_id: &str) -> Option<i32> {
        let out = Command::new("ctr")
            .arg("--address")
            .arg(self.containerd_socket())
            .args(["-n", "k8s.io", "tasks", "ls"])
            .output()
            .expect("running ctr");
        assert!(
            out.status.success(),
            "ctr tasks ls: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|line| {
                let mut fields = line.split_whitespace();
                let (id, pid, state) = (fields.next()?, fields.next()?, fields.next()?);
                (id == container_id && state == "RUNNING")
                    .then(|| pid.parse().ok())
                    .flatten()
            })
    }

    /// Whether the cluster's `gantry up` process is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.down_done {
            let _ = gantry()
                .arg("down")
                .arg("--data-dir")
                .arg(self.data_dir())
                .output();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The status of the first container of the pod.
pub fn container_status(pod: &Value) -> &Value {
    &pod["status"]["containerStatuses"][0]
}

/// The containerd ID of the first container of the pod (without `containerd://`).
pub fn container_id(pod: &Value) -> String {
    let id = container_status(pod)["containerID"]
        .as_str()
        .expect("a container ID");
    id.strip_prefix("containerd://")
        .expect("a containerd ID")
        .to_string()
}

/// The restart count of the first container of the pod.
pub fn restart_count(pod: &Value) -> u64 {
    container_status(pod)["restartCount"].as_u64().unwrap_or(0)
}

/// Whether an IPv4 address lies in a `/16` CIDR written `a.b.0.0/16`.
pub fn in_cidr16(ip: &str, cidr: &str) -> bool {
    let prefix: Vec<&str> = cidr.split('.').take(2).collect();
    let parts: Vec<&str> = ip.split('.').collect();
    parts.len() == 4 && parts[..2] == prefix[..]
}

/// Spawns a long-running command and waits until a line of its stdout contains `needle`;
/// returns the child and that line.
pub fn spawn_until_line(mut command: Command, needle: &str, timeout: Duration) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let needle = needle.to_string();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if line.contains(&needle) {
                let _ = tx.send(line);
            }
        }
    });
    match rx.recv_timeout(timeout) {
        Ok(line) => (child, line),
        Err(_) => {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collecting output");
            panic!(
                "no line containing the expected text; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
