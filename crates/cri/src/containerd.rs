//! A containerd that belongs to one agent: its config (every path under the agent's data dir, so
//! several agents share a host), the process, and a supervisor that restarts it when it dies.
//! Running pods survive a containerd restart: their shims keep running and are re-adopted.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::watch;

use crate::CriError;

/// Where a managed containerd keeps everything.
#[derive(Debug, Clone)]
pub struct ContainerdPaths {
    /// `DATA/containerd`: config, socket, root, state.
    pub dir: PathBuf,
    /// Directory of CNI network configs the CRI plugin reads.
    pub cni_conf_dir: PathBuf,
    /// Directory of CNI plugin binaries.
    pub cni_bin_dir: PathBuf,
    /// The image every sandbox runs (must be imported before the first pod).
    pub sandbox_image: String,
    /// Registries reached over plain HTTP (`HOST:PORT`), e.g. a test registry on 127.0.0.1.
    pub insecure_registries: Vec<String>,
}

impl ContainerdPaths {
    pub fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }
    pub fn config_file(&self) -> PathBuf {
        self.dir.join("config.toml")
    }
    fn hosts_dir(&self) -> PathBuf {
        self.dir.join("certs.d")
    }
}

fn p(path: &Path) -> String {
    path.display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
}

/// The config.toml of a private containerd (config version 2, CRI plugin with the settings this
/// kind of host needs: no OOM score adjustment, cgroupfs driver, no AppArmor, tolerated missing
/// hugetlb controller).
pub fn config_toml(paths: &ContainerdPaths) -> String {
    let d = &paths.dir;
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{sock}"

[ttrpc]
  address = "{sock}.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox}"
  restrict_oom_score_adj = true
  tolerate_missing_hugetlb_controller = true
  disable_apparmor = true
  systemd_cgroup = false
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  stream_idle_timeout = "4h"
  max_container_log_line_size = 16384
  enable_selinux = false

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{runc}"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{cni_conf}"
    max_conf_num = 1

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{hosts}"
"#,
        root = p(&d.join("root")),
        state = p(&d.join("state")),
        sock = p(&paths.socket()),
        opt = p(&d.join("opt")),
        sandbox = paths.sandbox_image,
        runc = p(&d.join("runc")),
        cni_bin = p(&paths.cni_bin_dir),
        cni_conf = p(&paths.cni_conf_dir),
        hosts = p(&paths.hosts_dir()),
    )
}

/// `hosts.toml` for a registry reached over plain HTTP.
fn insecure_hosts_toml(host: &str) -> String {
    format!(
        "server = \"http://{host}\"\n\n[host.\"http://{host}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  skip_verify = true\n"
    )
}

/// Writes the config and the registry host files.
pub fn write_config(paths: &ContainerdPaths) -> Result<(), CriError> {
    let io = |step: &'static str| move |source| CriError::Containerd { step, source };
    std::fs::create_dir_all(&paths.dir).map_err(io("create containerd dir"))?;
    std::fs::create_dir_all(&paths.cni_conf_dir).map_err(io("create CNI config dir"))?;
    std::fs::write(paths.config_file(), config_toml(paths))
        .map_err(io("write containerd config"))?;
    for host in &paths.insecure_registries {
        let dir = paths.hosts_dir().join(host);
        std::fs::create_dir_all(&dir).map_err(io("create registry hosts dir"))?;
        std::fs::write(dir.join("hosts.toml"), insecure_hosts_toml(host))
            .map_err(io("write registry hosts.toml"))?;
    }
    Ok(())
}

/// A running, supervised containerd. Dropping it stops the supervisor and the process (pods and
/// their shims stay, as with a containerd restart).
pub struct Containerd {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Containerd {
    /// Writes the config, starts containerd and waits until its CRI plugin answers; then keeps
    /// restarting it whenever it exits, with a short backoff.
    pub async fn start(paths: ContainerdPaths) -> Result<Self, CriError> {
        write_config(&paths)?;
        let log_path = paths.dir.join("containerd.log");
        let mut child = spawn(&paths, &log_path)?;
        crate::client::wait_ready(&paths.socket(), Duration::from_secs(20)).await?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    status = child.wait() => {
                        tracing::warn!(?status, "containerd exited; restarting it");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        match spawn(&paths, &log_path) {
                            Ok(c) => child = c,
                            Err(err) => {
                                tracing::error!(%err, "restarting containerd failed");
                                tokio::time::sleep(Duration::from_secs(2)).await;
                                continue;
                            }
                        }
                    }
                    _ = stopped.changed() => {
                        let _ = child.start_kill();
                        let _ = child.wait().await;
                        return;
                    }
                }
            }
        });
        Ok(Self { stop, task })
    }

    /// Stops containerd and waits for it to exit.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

fn spawn(paths: &ContainerdPaths, log: &Path) -> Result<tokio::process::Child, CriError> {
    let io = |step: &'static str| move |source| CriError::Containerd { step, source };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io("open containerd log"))?;
    let err = log.try_clone().map_err(io("open containerd log"))?;
    // A stale socket from a killed containerd would make the new one fail to listen.
    let _ = std::fs::remove_file(paths.socket());
    Command::new("containerd")
        .arg("--config")
        .arg(paths.config_file())
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err))
        .kill_on_drop(true)
        .spawn()
        .map_err(io("start containerd"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_under_the_data_dir() {
        let paths = ContainerdPaths {
            dir: "/data/a/containerd".into(),
            cni_conf_dir: "/data/a/cni".into(),
            cni_bin_dir: "/usr/lib/cni".into(),
            sandbox_image: "gantry.local/pause:1".into(),
            insecure_registries: vec![],
        };
        let toml = config_toml(&paths);
        for line in toml.lines().filter(|l| l.contains("\"/")) {
            assert!(
                line.contains("/data/a/") || line.contains("/usr/lib/cni"),
                "{line}"
            );
        }
        assert!(toml.contains("restrict_oom_score_adj = true"));
        assert!(toml.contains("netns_mounts_under_state_dir = true"));
    }
}
