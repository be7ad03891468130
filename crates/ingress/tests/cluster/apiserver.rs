//! A real `gantry server` for the test: own data dir under /tmp, a port in 17300-17399,
//! controller manager and scheduler off, killed by PID when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Service;
use kube::{Api, Client};

const READY_DEADLINE: Duration = Duration::from_secs(60);

/// `$CARGO_TARGET_DIR/debug/gantry` (next to this test's `deps/`), or `$GANTRY_BIN`.
fn gantry_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("GANTRY_BIN") {
        return Ok(path.into());
    }
    let exe = std::env::current_exe()?;
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(|debug| debug.join("gantry"))
        .context("locating the target dir")
}

/// A free 127.0.0.1 TCP port in 17300-17399 at or after `from`.
pub fn free_port(from: u16) -> Result<u16> {
    (from..17400)
        .find(|port| TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .context("no free port in 17300-17399")
}

pub struct ApiServer {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl ApiServer {
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        // Our own child, by PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server and returns it with an admin client once the API answers.
pub async fn start() -> Result<(ApiServer, Client)> {
    let binary = gantry_binary()?;
    if !binary.exists() {
        bail!(
            "{} missing: run `cargo build -p gantry` first",
            binary.display()
        );
    }
    let dir = tempfile::Builder::new()
        .prefix("gantry-ingress-")
        .tempdir_in("/tmp")?;
    let port = free_port(17300)?;
    let log = std::fs::File::create(dir.path().join("server.log"))?;
    let child = Command::new(binary)
        .args(["server", "--data-dir"])
        .arg(dir.path())
        .args([
            "--https-port",
            &port.to_string(),
            "--bind-address",
            "127.0.0.1",
        ])
        .args(["--disable-controller-manager", "--disable-scheduler"])
        .env("NO_COLOR", "1")
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .context("starting gantry server")?;
    let server = ApiServer { child, dir, port };
    let kubeconfig = server.dir.path().join("kubeconfig.yaml");
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        if let Ok(yaml) = std::fs::read_to_string(&kubeconfig)
            && let Ok(config) = kube::config::Kubeconfig::from_yaml(&yaml)
            && let Ok(config) =
                kube::Config::from_custom_kubeconfig(config, &Default::default()).await
            && let Ok(client) = Client::try_from(config)
            && Api::<Service>::namespaced(client.clone(), "default")
                .get("kubernetes")
                .await
                .is_ok()
        {
            return Ok((server, client));
        }
        if Instant::now() > deadline {
            bail!("gantry server not ready in time:\n{}", server.log());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
