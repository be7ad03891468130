//! The network test harness: a real multi-node cluster (`gantry up --nodes N`, every agent in
//! its own network namespace on a bridge of the cluster's own) in a temporary data dir, with the
//! HTTPS port (which names the bridge, namespaces and veths), node subnet, pod CIDR and node
//! names unique to each test, so tests run in parallel beside each other and beside any other
//! cluster on the host.
//!
//! Nothing here sleeps to synchronise: every wait polls a condition against a deadline.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

pub use crate::support::{
    BUSYBOX, busybox_archive, gantry, is_running_ready, poll, stdout, tail, wait_until,
};

/// How long a cluster gets to start.
pub const START_DEADLINE: Duration = Duration::from_secs(120);
/// How long pods get to become Ready, or the network to converge.
pub const DEADLINE: Duration = Duration::from_secs(90);

/// Note for scripts run in pods: the host's busybox (Debian 1.35) crashes in `wget -T`; bound
/// requests with `timeout 3 wget ...` instead.
///

/// A free TCP port for a cluster's API. The port names the cluster's bridge and namespaces, so
/// it is never handed out twice by this process, nor while a bridge or namespace of that name
/// exists on the host (another run's cluster).
pub fn cluster_port() -> u16 {
    static TAKEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = TcpListener::bind("0.0.0.0:0")
            .and_then(|l| l.local_addr())
            .expect("binding a probe listener")
            .port();
        let in_use = Path::new(&format!("/sys/class/net/gbr{port}")).exists()
            || Path::new(&format!("/run/netns/gantry-{port}-1")).exists();
        if !in_use && TAKEN.lock().expect("the taken ports").insert(port) {
            return port;
        }
    }
}

/// Extra settings of one cluster.
#[derive(Default)]
pub struct Options {
    /// `--node-monitor-grace-period` of the control plane.
    pub node_monitor_grace_period: Option<&'static str>,
}

/// A running `gantry up --nodes N`; `gantry down` when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    /// The API's port; also the tag in the names of the bridge, namespaces and veths.
    pub https_port: u16,
    /// The test's number: subnet 172.31.k.0/24, pod CIDR 10.(100+k).0.0/16.
    pub k: u8,
    pub nodes: u8,
    /// Node names are `<prefix>-<i>`.
    pub prefix: String,
    child: Option<Child>,
    down_done: bool,
    /// Nodes cut off the network by the test, reconnected before `gantry down`.
    cut: Vec<u8>,
}

impl Cluster {
    /// Starts cluster number `k` (unique per test) with `nodes` agents.
    pub fn start(k: u8, nodes: u8) -> Cluster {
        Cluster::start_with(k, nodes, Options::default())
    }

    /// Like [`Cluster::start`] with extra settings.
    pub fn start_with(k: u8, nodes: u8, options: Options) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("gantry-net-")
            .tempdir()
            .expect("creating the data dir");
        let prefix = format!("nw{}k{k}", std::process::id() % 1000);
        for i in 1..=nodes {
            let images = dir.path().join(format!("nodes/{prefix}-{i}/images"));
            std::fs::create_dir_all(&images).expect("creating a node's images dir");
            std::fs::copy(busybox_archive(), images.join("busybox.tar"))
                .expect("copying the busybox archive");
        }
        let mut cluster = Cluster {
            dir,
            https_port: cluster_port(),
            k,
            nodes,
            prefix,
            child: None,
            down_done: false,
            cut: vec![],
        };
        cluster.spawn(&options);
        cluster
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir().join("kubeconfig.yaml")
    }

    /// Node `i`'s name (1-based).
    pub fn node(&self, i: u8) -> String {
        format!("{}-{i}", self.prefix)
    }

    /// Node `i`'s address on the bridge.
    pub fn node_ip(&self, i: u8) -> String {
        format!("172.31.{}.{}", self.k, 10 + i)
    }

    /// The bridge's address: where the API listens, and the host's address as the nodes see it.
    pub fn gateway(&self) -> String {
        format!("172.31.{}.1", self.k)
    }

    /// The nodes' bridge on the host.
    pub fn bridge(&self) -> String {
        format!("gbr{}", self.https_port)
    }

    /// Node `i`'s network namespace.
    pub fn netns(&self, i: u8) -> String {
        format!("gantry-{}-{i}", self.https_port)
    }

    /// The host end of node `i`'s veth.
    pub fn host_veth(&self, i: u8) -> String {
        format!("gv{}-{i}", self.https_port)
    }

    /// The number of the node called `name`.
    pub fn node_index(&self, name: &str) -> u8 {
        (1..=self.nodes)
            .find(|&i| self.node(i) == name)
            .unwrap_or_else(|| panic!("{name} is not a node of this cluster"))
    }

    fn log_path(&self) -> PathBuf {
        self.data_dir().join("up.log")
    }

    fn stdout_path(&self) -> PathBuf {
        self.data_dir().join("up.stdout")
    }

    /// The tails of the logs of `gantry up` and of every agent, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = format!(
            "--- gantry up log (tail):\n{}\n",
            tail(
                &std::fs::read_to_string(self.log_path()).unwrap_or_default(),
                30
            )
        );
        for i in 1..=self.nodes {
            let path = self
                .data_dir()
                .join(format!("nodes/{}/agent.log", self.node(i)));
            let text = std::fs::read_to_string(path).unwrap_or_default();
            // The reason an agent stopped, not only the end of its backtrace.
            if let Some(at) = text.find("panicked at").or_else(|| text.find("Error: ")) {
                let head: String = text[at..].lines().take(8).collect::<Vec<_>>().join("\n");
                out.push_str(&format!("--- agent {} stopped: {head}\n", self.node(i)));
            }
            out.push_str(&format!(
                "--- agent {} log (tail):\n{}\n",
                self.node(i),
                tail(&text, 20)
            ));
        }
        out
    }

    fn spawn(&mut self, options: &Options) {
        let log = std::fs::File::create(self.log_path()).expect("creating the log");
        let stdout = std::fs::File::create(self.stdout_path()).expect("creating the stdout file");
        let mut command = gantry();
        command
            .arg("up")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--https-port", &self.https_port.to_string()])
            .args(["--nodes", &self.nodes.to_string()])
            .args(["--node-subnet", &format!("172.31.{}.0", self.k)])
            .args(["--node-name", &self.prefix])
            .args(["--cluster-cidr", &format!("10.{}.0.0/16", 100 + self.k)]);
        if let Some(grace) = options.node_monitor_grace_period {
            command.args(["--node-monitor-grace-period", grace]);
        }
        let child = command
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log)
            .spawn()
            .expect("starting gantry up");
        let mut child = child;
        let exited = poll(
            "gantry up prints the kubeconfig export",
            START_DEADLINE,
            || self.logs(),
            || {
                if let Some(status) = child.try_wait().ok().flatten() {
                    return Some(Some(status));
                }
                std::fs::read_to_string(self.stdout_path())
                    .is_ok_and(|s| s.contains("export KUBECONFIG="))
                    .then_some(None)
            },
        );
        self.child = Some(child);
        assert!(
            exited.is_none(),
            "gantry up exited with {exited:?}:\n{}",
            self.logs()
        );
    }

    /// Runs kubectl (1.32) against the cluster.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_command()
            .args(args)
            .output()
            .expect("running kubectl")
    }

    /// A kubectl command bound to the cluster's kubeconfig, to spawn.
    pub fn kubectl_command(&self) -> Command {
        let mut command = Command::new("/usr/bin/kubectl");
        command.env("KUBECONFIG", self.kubeconfig());
        command
    }

    /// Runs kubectl and returns its stdout; panics with stderr on failure.
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
            .kubectl_command()
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

    /// The pods matching `selector` (in the default namespace) that are not being deleted.
    pub fn pods(&self, selector: &str) -> Vec<Value> {
        self.get_json(&["get", "pods", "-l", selector])
            .and_then(|l| l["items"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .collect()
    }

    /// Waits until exactly `n` pods match `selector`, all Running and Ready; returns them.
    pub fn wait_ready_pods(&self, selector: &str, n: usize) -> Vec<Value> {
        self.wait_ready_pods_where(selector, n, "", |_| true)
    }

    /// Like [`Cluster::wait_ready_pods`], with a further condition on the set of pods.
    pub fn wait_ready_pods_where(
        &self,
        selector: &str,
        n: usize,
        what: &str,
        condition: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        poll(
            &format!("{n} pods {selector} are Running and Ready {what}"),
            DEADLINE,
            || self.diag(selector),
            || {
                let pods = self.pods(selector);
                (pods.len() == n && pods.iter().all(is_running_ready) && condition(&pods))
                    .then_some(pods)
            },
        )
    }

    /// Pods, nodes and logs, for failure messages.
    pub fn diag(&self, selector: &str) -> String {
        let pods = self.kubectl(&["get", "pods", "-A", "-o", "wide"]);
        let nodes = self.kubectl(&["get", "nodes", "-o", "wide"]);
        let described = self.kubectl(&["describe", "pods", "-l", selector]);
        format!(
            "--- pods:\n{}\n--- nodes:\n{}\n--- describe {selector} (tail):\n{}\n{}",
            String::from_utf8_lossy(&pods.stdout),
            String::from_utf8_lossy(&nodes.stdout),
            tail(&String::from_utf8_lossy(&described.stdout), 40),
            self.logs()
        )
    }

    /// Starts a long-running busybox pod `name` on node `i` (by `nodeName`) with `labels`
    /// (`key: value` YAML flow entries) and waits until it is Ready.
    pub fn client_pod(&self, name: &str, i: u8, labels: &str) -> Value {
        self.apply(&format!(
            r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{role: client, {labels}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 0
  containers:
  - name: sh
    image: {BUSYBOX}
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
"#,
            node = self.node(i),
        ));
        poll(
            &format!("pod {name} is Running and Ready"),
            DEADLINE,
            || self.diag("role=client"),
            || {
                self.get_json(&["get", "pod", name])
                    .filter(is_running_ready)
            },
        )
    }

    /// `kubectl exec POD -- sh -c SCRIPT`.
    pub fn exec(&self, pod: &str, script: &str) -> Output {
        self.kubectl(&["exec", pod, "--", "sh", "-c", script])
    }

    /// Runs `program args` inside node `i`'s network namespace.
    pub fn in_node(&self, i: u8, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.netns(i), program])
            .args(args)
            .output()
            .expect("running ip netns exec")
    }

    /// A Service's field by JSON pointer (e.g. `/spec/clusterIP`), once it is set.
    pub fn service_field(&self, name: &str, pointer: &str) -> String {
        poll(
            &format!("service {name} has {pointer}"),
            DEADLINE,
            String::new,
            || {
                let svc = self.get_json(&["get", "service", name])?;
                let v = svc.pointer(pointer)?;
                match v {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }
            },
        )
    }

    /// Copies the logs of `gantry up` and the agents of a failed test to
    /// `CARGO_TARGET_TMPDIR/network-failures/<port>/` (the data dir itself is removed).
    fn keep_logs(&self) {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("network-failures")
            .join(self.https_port.to_string());
        if std::fs::create_dir_all(&dir).is_err() {
            return;
        }
        let _ = std::fs::copy(self.log_path(), dir.join("up.log"));
        for i in 1..=self.nodes {
            let log = self
                .data_dir()
                .join(format!("nodes/{}/agent.log", self.node(i)));
            let _ = std::fs::copy(log, dir.join(format!("{}.log", self.node(i))));
        }
        eprintln!("logs of the failed cluster kept in {}", dir.display());
    }

    /// Cuts node `i` off the network: the host end of its veth goes down.
    pub fn cut_off(&mut self, i: u8) {
        self.set_link(i, "down");
        self.cut.push(i);
    }

    fn set_link(&self, i: u8, state: &str) {
        let out = Command::new("ip")
            .args(["link", "set", &self.host_veth(i), state])
            .output()
            .expect("running ip link set");
        assert!(
            out.status.success(),
            "ip link set {} {state}: {}",
            self.host_veth(i),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Reconnects the nodes the test cut off, so that their agents end their connections and
    /// remove their pods cleanly (a namespace with half-closed connections outlives its name).
    fn reconnect(&mut self) {
        for i in std::mem::take(&mut self.cut) {
            let _ = Command::new("ip")
                .args(["link", "set", &self.host_veth(i), "up"])
                .output();
        }
    }

    /// Runs `gantry down` and asserts it succeeded.
    pub fn down(&mut self) {
        self.reconnect();
        let out = gantry()
            .arg("down")
            .arg("--data-dir")
            .arg(self.data_dir())
            .output()
            .expect("running gantry down");
        self.down_done = true;
        assert!(
            out.status.success(),
            "gantry down failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(mut child) = self.child.take() {
            wait_until("gantry up exits after gantry down", START_DEADLINE, || {
                child.try_wait().ok().flatten().is_some()
            });
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.keep_logs();
        }
        self.reconnect();
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

/// A Deployment `name` (label `app: name`) of busybox httpd on port 8080 that answers every
/// path with `name <pod hostname>` and logs each request's client address (`-vv`), Ready
/// once it listens. `spec_extra` is YAML indented for the pod spec (6 spaces), e.g. affinity.
pub fn web_deployment(name: &str, replicas: u32, spec_extra: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 0
{spec_extra}
      containers:
      - name: httpd
        image: {BUSYBOX}
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "mkdir -p /www && for f in index.html one two; do echo {name} $(hostname) > /www/$f; done && exec httpd -f -vv -p 8080 -h /www"]
        ports:
        - containerPort: 8080
        readinessProbe:
          tcpSocket: {{port: 8080}}
          periodSeconds: 1
"#
    )
}

/// Pod spec YAML (for [`web_deployment`]) keeping the pods off node `node`.
pub fn avoid_node(node: &str) -> String {
    format!(
        r#"      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - {{key: kubernetes.io/hostname, operator: NotIn, values: [{node}]}}"#
    )
}

/// Pod spec YAML (for [`web_deployment`]) putting the pods on node `node`.
pub fn on_node(node: &str) -> String {
    format!("      nodeSelector: {{kubernetes.io/hostname: {node}}}")
}

/// A Service `name` selecting `app: app`, port 80 to 8080, with extra spec lines (2 spaces).
pub fn service(name: &str, app: &str, spec_extra: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {app}}}
  ports:
  - {{name: http, port: 80, targetPort: 8080}}
{spec_extra}
"#
    )
}

/// `curl -sS --max-time 3 ARGS` from the host: its stdout on success, stderr on failure.
pub fn curl(args: &[&str]) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "3"])
        .args(args)
        .output()
        .expect("running curl");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The names of `pods`.
pub fn names(pods: &[Value]) -> BTreeSet<String> {
    pods.iter()
        .map(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The node a pod runs on.
pub fn node_of(pod: &Value) -> &str {
    pod["spec"]["nodeName"].as_str().unwrap_or_default()
}

/// The pod's IP.
pub fn pod_ip(pod: &Value) -> &str {
    pod["status"]["podIP"].as_str().unwrap_or_default()
}
