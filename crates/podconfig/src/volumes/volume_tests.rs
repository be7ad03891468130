//! Tests of volume planning (table over volume kinds) and of preparing and cleaning volumes
//! on disk, including a memory-backed emptyDir when running as root.

use std::collections::BTreeMap;
use std::fs;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use serde_json::json;

use super::*;

fn pod(volumes: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "web-0", "namespace": "shop", "uid": "u1"},
        "spec": {"containers": [{"name": "app"}], "volumes": volumes}
    }))
    .unwrap()
}

fn objects() -> Objects {
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "cfg"}, "data": {"k": "v"}})).unwrap();
    let secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": "creds"}, "data": {"p": "cA=="}}))
            .unwrap();
    let mut objects = Objects {
        namespace: "shop".into(),
        ..Objects::default()
    };
    objects.config_maps.insert("cfg".into(), Some(cm));
    objects.secrets.insert("creds".into(), Some(secret));
    objects.config_maps.insert("gone".into(), None);
    objects
}

/// Plans the first volume of a pod with `volumes`, returning the plan or the error message.
fn plan(volumes: serde_json::Value) -> Result<(Plan, PreparedVolume), String> {
    let pod = pod(volumes);
    let info = PodRuntimeInfo::default();
    let alloc = BTreeMap::new();
    let ctx = DownwardContext {
        pod: &pod,
        info: &info,
        allocatable: &alloc,
    };
    let claims = BTreeMap::from([(
        "db".to_string(),
        ClaimTarget {
            path: "/srv/pv1".into(),
            host_path_type: "DirectoryOrCreate".into(),
        },
    )]);
    let volume = &pod.spec.as_ref().unwrap().volumes.as_ref().unwrap()[0];
    plan_volume(volume, Path::new("/pods/u1"), &objects(), &claims, &ctx).map_err(|e| e.to_string())
}

fn file(data: &str, mode: u32) -> payload::FileProjection {
    payload::FileProjection {
        data: data.as_bytes().to_vec(),
        mode,
    }
}

#[test]
fn plans_by_volume_kind() {
    let ready = |p: &str, read_only| PreparedVolume {
        host_path: p.into(),
        read_only,
    };
    let files = |plugin: &str, name: &str, entries: &[(&str, &str)]| Plan::Files {
        dir: Path::new("/pods/u1/volumes").join(plugin).join(name),
        payload: entries
            .iter()
            .map(|(k, v)| (k.to_string(), file(v, 0o644)))
            .collect(),
        gid: None,
    };
    let cases = [
        (
            json!([{"name": "scratch", "emptyDir": {}}]),
            Ok((
                Plan::EmptyDir {
                    dir: "/pods/u1/volumes/kubernetes.io~empty-dir/scratch".into(),
                    tmpfs: None,
                },
                ready("/pods/u1/volumes/kubernetes.io~empty-dir/scratch", false),
            )),
        ),
        (
            json!([{"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}]),
            Ok((
                Plan::EmptyDir {
                    dir: "/pods/u1/volumes/kubernetes.io~empty-dir/shm".into(),
                    tmpfs: Some(Some(64 << 20)),
                },
                ready("/pods/u1/volumes/kubernetes.io~empty-dir/shm", false),
            )),
        ),
        (
            json!([{"name": "logs", "hostPath": {"path": "/var/log", "type": "Directory"}}]),
            Ok((
                Plan::HostPath {
                    volume: "logs".into(),
                    path: "/var/log".into(),
                    type_: "Directory".into(),
                },
                ready("/var/log", false),
            )),
        ),
        (
            json!([{"name": "conf", "configMap": {"name": "cfg"}}]),
            Ok((
                files("kubernetes.io~configmap", "conf", &[("k", "v")]),
                ready("/pods/u1/volumes/kubernetes.io~configmap/conf", true),
            )),
        ),
        (
            json!([{"name": "creds", "secret": {"secretName": "creds"}}]),
            Ok((
                files("kubernetes.io~secret", "creds", &[("p", "p")]),
                ready("/pods/u1/volumes/kubernetes.io~secret/creds", true),
            )),
        ),
        (
            json!([{"name": "info", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}}]),
            Ok((
                files("kubernetes.io~downward-api", "info", &[("n", "web-0")]),
                ready("/pods/u1/volumes/kubernetes.io~downward-api/info", true),
            )),
        ),
        (
            json!([{"name": "db", "persistentVolumeClaim": {"claimName": "data", "readOnly": true}}]),
            Ok((
                Plan::HostPath {
                    volume: "db".into(),
                    path: "/srv/pv1".into(),
                    type_: "DirectoryOrCreate".into(),
                },
                ready("/srv/pv1", true),
            )),
        ),
        (
            json!([{"name": "conf", "configMap": {"name": "gone"}}]),
            Err("volume conf: configmap shop/gone not found"),
        ),
        (
            json!([{"name": "conf", "configMap": {"name": "cfg", "items": [{"key": "k", "path": "../k"}]}}]),
            Err("volume conf: invalid path \"../k\": must not contain '..'"),
        ),
        (
            json!([{"name": "nfs", "nfs": {"server": "s", "path": "/e"}}]),
            Err("volume nfs: unsupported volume source"),
        ),
        (
            json!([{"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "lots"}}]),
            Err("volume shm: sizeLimit: invalid quantity \"lots\""),
        ),
    ];
    for (volumes, want) in cases {
        assert_eq!(
            plan(volumes.clone()),
            want.map_err(str::to_string),
            "volumes {volumes}"
        );
    }
}

#[test]
fn fs_group_owns_files() {
    let mut pod =
        pod(json!([{"name": "conf", "configMap": {"name": "cfg", "defaultMode": 0o600}}]));
    pod.spec.as_mut().unwrap().security_context =
        Some(serde_json::from_value(json!({"fsGroup": 2000})).unwrap());
    let info = PodRuntimeInfo::default();
    let alloc = BTreeMap::new();
    let ctx = DownwardContext {
        pod: &pod,
        info: &info,
        allocatable: &alloc,
    };
    let volume = &pod.spec.as_ref().unwrap().volumes.as_ref().unwrap()[0];
    let (plan, _) =
        plan_volume(volume, Path::new("/p"), &objects(), &BTreeMap::new(), &ctx).unwrap();
    let Plan::Files { payload, gid, .. } = plan else {
        panic!("not a files plan: {plan:?}")
    };
    assert_eq!(gid, Some(2000));
    assert_eq!(payload["k"].mode, 0o640);
}

#[test]
fn references_include_projected_sources() {
    let pod = pod(json!([
        {"name": "a", "configMap": {"name": "cm1"}},
        {"name": "b", "secret": {"secretName": "s1"}},
        {"name": "c", "projected": {"sources": [{"configMap": {"name": "cm2"}}, {"secret": {"name": "s2"}}]}}
    ]));
    let refs = volume_references(&pod);
    assert_eq!(
        refs.config_maps.into_iter().collect::<Vec<_>>(),
        ["cm1", "cm2"]
    );
    assert_eq!(refs.secrets.into_iter().collect::<Vec<_>>(), ["s1", "s2"]);
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[tokio::test]
async fn prepare_apply_and_cleanup_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let pod_dir = tmp.path().join("pods/u1");
    let host = tmp.path().join("host/data");
    let memory = is_root();
    let mut plans = vec![
        Plan::EmptyDir {
            dir: pod_dir.join("volumes/kubernetes.io~empty-dir/cache"),
            tmpfs: None,
        },
        Plan::HostPath {
            volume: "data".into(),
            path: host.clone(),
            type_: "DirectoryOrCreate".into(),
        },
        Plan::Files {
            dir: pod_dir.join("volumes/kubernetes.io~configmap/conf"),
            payload: [("k".to_string(), file("v", 0o644))].into(),
            gid: None,
        },
    ];
    let shm = pod_dir.join("volumes/kubernetes.io~empty-dir/shm");
    if memory {
        plans.push(Plan::EmptyDir {
            dir: shm.clone(),
            tmpfs: Some(Some(1 << 20)),
        });
    }
    for plan in &plans {
        apply(plan).unwrap();
        apply(plan).unwrap(); // idempotent
    }
    assert!(host.is_dir());
    assert_eq!(
        fs::read_to_string(pod_dir.join("volumes/kubernetes.io~configmap/conf/k")).unwrap(),
        "v"
    );
    if memory {
        let canonical = shm.canonicalize().unwrap();
        let count = emptydir::mount_points()
            .unwrap()
            .iter()
            .filter(|p| **p == canonical)
            .count();
        assert_eq!(count, 1, "tmpfs mounted once at {canonical:?}");
        let stat = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let line = stat
            .lines()
            .find(|l| l.split(' ').nth(4) == canonical.to_str())
            .unwrap()
            .to_string();
        assert!(
            line.contains(" - tmpfs ") && line.contains("size=1024k"),
            "{line}"
        );
        fs::write(shm.join("f"), "in memory").unwrap();
    }
    cleanup_pod(&pod_dir).await.unwrap();
    assert!(!pod_dir.join("volumes").exists());
    assert!(host.is_dir(), "cleanup must not touch host paths");
    if memory {
        let gone = emptydir::mount_points()
            .unwrap()
            .into_iter()
            .all(|p| !p.starts_with(tmp.path()));
        assert!(gone, "tmpfs still mounted");
    }
    cleanup_pod(&pod_dir).await.unwrap(); // idempotent
}
