//! Images pulled from a registry: a local `docker-registry` over plain HTTP holds the busybox
//! image pushed with skopeo; a pod runs it, and a pod with a missing image reports the pull error.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::{
    Cluster, Options, POD_DEADLINE, busybox_archive, container_status, free_port, wait_until,
};

/// A `docker-registry serve` process; killed when dropped.
struct Registry {
    child: Child,
    port: u16,
}

impl Registry {
    fn start(dir: &Path) -> Registry {
        let port = free_port();
        let config = dir.join("registry.yml");
        let storage = dir.join("storage");
        std::fs::create_dir_all(&storage).expect("creating the registry storage");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.display()
            ),
        )
        .expect("writing the registry config");
        let log =
            std::fs::File::create(dir.join("registry.log")).expect("creating the registry log");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let mut registry = Registry { child, port };
        wait_until("the registry answers /v2/", Duration::from_secs(30), || {
            assert!(
                registry.child.try_wait().ok().flatten().is_none(),
                "docker-registry exited"
            );
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        registry
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pod(name: &str, image: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: main
    image: {image}
    command: ["sh", "-c", "echo pulled-and-running; exec sleep 3600"]
"#
    )
}

#[test]
fn image_pulled_from_a_local_registry_runs_and_a_missing_one_reports_the_error() {
    let dir = tempfile::Builder::new()
        .prefix("gantry-registry-")
        .tempdir()
        .expect("registry dir");
    let registry = Registry::start(dir.path());
    let image = format!("{}/busybox:v1", registry.host());
    let out = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("oci-archive:{}", busybox_archive().display()))
        .arg(format!("docker://{image}"))
        .output()
        .expect("running skopeo");
    assert!(
        out.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let cluster = Cluster::start_with(
        7,
        Options {
            insecure_registries: vec![registry.host()],
        },
    );
    cluster.apply(&pod("pulled", &image));
    let running = cluster.wait_running("pulled");
    assert_eq!(
        container_status(&running)["image"]
            .as_str()
            .map(|i| i.ends_with("busybox:v1")),
        Some(true),
        "{running}"
    );
    assert!(
        container_status(&running)["imageID"]
            .as_str()
            .is_some_and(|i| i.contains("sha256:")),
        "{running}"
    );
    wait_until(
        "the pulled container's output is in its log",
        POD_DEADLINE,
        || cluster.kubectl(&["logs", "pulled"]).stdout == b"pulled-and-running\n",
    );

    let missing = format!("{}/busybox:missing", registry.host());
    cluster.apply(&pod("absent", &missing));
    let pod = cluster.wait_pod("absent", "reports the failed pull", POD_DEADLINE, |p| {
        let reason = &container_status(p)["state"]["waiting"]["reason"];
        reason == "ErrImagePull" || reason == "ImagePullBackOff"
    });
    assert_eq!(pod["status"]["phase"], "Pending");
    let message = container_status(&pod)["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("busybox:missing") || message.contains("not found"),
        "{message}"
    );
}
