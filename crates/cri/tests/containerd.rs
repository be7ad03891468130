//! The CRI crate against a real containerd: start a managed containerd in a temporary data dir,
//! import the pause image and a busybox image built from the host's static busybox, run a
//! sandbox and a container, read its log file, and clean up.

use std::path::PathBuf;
use std::time::Duration;

use gantry_cri::Cri;
use gantry_cri::api;
use gantry_cri::containerd::{Containerd, ContainerdPaths};
use gantry_cri::import::{PAUSE_IMAGE, import_spec, pause_image};
use gantry_cri::oci::{ImageSpec, busybox_entries};

#[tokio::test]
async fn a_container_runs_in_a_managed_containerd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = ContainerdPaths {
        dir: dir.path().join("containerd"),
        cni_conf_dir: dir.path().join("cni"),
        cni_bin_dir: PathBuf::from("/usr/lib/cni"),
        sandbox_image: PAUSE_IMAGE.into(),
        insecure_registries: vec![],
    };
    let containerd = Containerd::start(paths.clone())
        .await
        .expect("start containerd");
    let cri = Cri::connect(&paths.socket()).expect("connect");
    assert!(
        cri.version()
            .await
            .expect("version")
            .starts_with("containerd://")
    );

    import_spec(&paths.socket(), &pause_image(), dir.path())
        .await
        .expect("import pause");
    let busybox = ImageSpec {
        name: "gantry.local/busybox:test".into(),
        entries: busybox_entries(std::path::Path::new("/bin/busybox")).expect("busybox"),
        cmd: vec!["sh".into()],
        ..Default::default()
    };
    import_spec(&paths.socket(), &busybox, dir.path())
        .await
        .expect("import busybox");

    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs dir");
    let sandbox_config = api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: "p".into(),
            uid: "u1".into(),
            namespace: "default".into(),
            attempt: 0,
        }),
        log_directory: logs.display().to_string(),
        linux: Some(api::LinuxPodSandboxConfig {
            security_context: Some(api::LinuxSandboxSecurityContext {
                namespace_options: Some(api::NamespaceOption {
                    network: api::NamespaceMode::Node as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut rt = cri.runtime.clone();
    let sandbox = rt
        .run_pod_sandbox(api::RunPodSandboxRequest {
            config: Some(sandbox_config.clone()),
            runtime_handler: String::new(),
        })
        .await
        .expect("run sandbox")
        .into_inner()
        .pod_sandbox_id;
    let container = rt
        .create_container(api::CreateContainerRequest {
            pod_sandbox_id: sandbox.clone(),
            config: Some(api::ContainerConfig {
                metadata: Some(api::ContainerMetadata {
                    name: "c".into(),
                    attempt: 0,
                }),
                image: Some(api::ImageSpec {
                    image: "gantry.local/busybox:test".into(),
                    ..Default::default()
                }),
                command: vec!["sh".into(), "-c".into(), "echo hello from busybox".into()],
                log_path: "c/0.log".into(),
                ..Default::default()
            }),
            sandbox_config: Some(sandbox_config),
        })
        .await
        .expect("create container")
        .into_inner()
        .container_id;
    rt.start_container(api::StartContainerRequest {
        container_id: container.clone(),
    })
    .await
    .expect("start");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        let s = rt
            .container_status(api::ContainerStatusRequest {
                container_id: container.clone(),
                verbose: false,
            })
            .await
            .expect("status")
            .into_inner()
            .status
            .expect("status body");
        if s.state == api::ContainerState::ContainerExited as i32
            || tokio::time::Instant::now() > deadline
        {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.state, api::ContainerState::ContainerExited as i32);
    assert_eq!(status.exit_code, 0);
    let log = std::fs::read_to_string(logs.join("c/0.log")).expect("log file");
    assert!(log.contains(" stdout F hello from busybox"), "{log}");

    rt.stop_pod_sandbox(api::StopPodSandboxRequest {
        pod_sandbox_id: sandbox.clone(),
    })
    .await
    .expect("stop sandbox");
    rt.remove_pod_sandbox(api::RemovePodSandboxRequest {
        pod_sandbox_id: sandbox,
    })
    .await
    .expect("remove sandbox");
    containerd.stop().await;
}
