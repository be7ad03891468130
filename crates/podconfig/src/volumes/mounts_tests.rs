//! Tests of container mounts: sub path rules and propagation (tables), and sub path
//! resolution on a temp dir.

use std::collections::BTreeMap;
use std::fs;

use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::*;
use crate::volumes::PreparedVolume;

#[test]
fn sub_path_rules() {
    let cases = [
        ("logs", Ok(())),
        ("a/b/c", Ok(())),
        ("a/./b", Ok(())),
        ("..data", Ok(())),
        ("/etc", Err("must be a relative path")),
        ("..", Err("must not contain '..'")),
        ("a/../../b", Err("must not contain '..'")),
    ];
    for (sub, want) in cases {
        assert_eq!(
            check_sub_path(sub),
            want.map_err(str::to_string),
            "sub path {sub:?}"
        );
    }
}

#[test]
fn propagation_modes() {
    use MountPropagation as P;
    let cases = [
        (None, false, Ok(P::PropagationPrivate)),
        (Some("None"), false, Ok(P::PropagationPrivate)),
        (
            Some("HostToContainer"),
            false,
            Ok(P::PropagationHostToContainer),
        ),
        (Some("Bidirectional"), true, Ok(P::PropagationBidirectional)),
        (
            Some("Bidirectional"),
            false,
            Err("Bidirectional mount propagation is available only to privileged containers"),
        ),
        (
            Some("Sideways"),
            true,
            Err("invalid mount propagation mode \"Sideways\""),
        ),
    ];
    for (mode, privileged, want) in cases {
        assert_eq!(
            propagation(mode, privileged),
            want.map_err(str::to_string),
            "mode {mode:?}"
        );
    }
}

fn pod(mounts: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "app", "volumeMounts": mounts}]}
    }))
    .unwrap()
}

fn run(
    mounts: serde_json::Value,
    volumes: &PreparedVolumes,
    env: &[(String, String)],
) -> Result<Vec<(String, String, bool)>, String> {
    let pod = pod(mounts);
    let container = &pod.spec.as_ref().unwrap().containers[0];
    container_mounts_with_env(&pod, container, volumes, env)
        .map(|ms| {
            ms.into_iter()
                .map(|m| (m.container_path, m.host_path, m.readonly))
                .collect()
        })
        .map_err(|e| e.to_string())
}

#[test]
fn mounts_over_prepared_volumes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let data = root.join("data");
    let conf = root.join("conf");
    fs::create_dir_all(&data).unwrap();
    fs::create_dir_all(&conf).unwrap();
    fs::write(root.join("secret"), "s").unwrap();
    std::os::unix::fs::symlink("../secret", data.join("escape")).unwrap();
    std::os::unix::fs::symlink("inner", data.join("alias")).unwrap();
    fs::create_dir(data.join("inner")).unwrap();
    let volumes = PreparedVolumes {
        volumes: BTreeMap::from([
            (
                "data".to_string(),
                PreparedVolume {
                    host_path: data.clone(),
                    read_only: false,
                },
            ),
            (
                "conf".to_string(),
                PreparedVolume {
                    host_path: conf.clone(),
                    read_only: true,
                },
            ),
        ]),
    };
    let h = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let env = [("POD".to_string(), "web-0".to_string())];

    let got = run(
        json!([
            {"name": "data", "mountPath": "/data"},
            {"name": "data", "mountPath": "/ro", "readOnly": true},
            {"name": "conf", "mountPath": "/etc/app"},
            {"name": "data", "mountPath": "/logs", "subPath": "logs/app"},
            {"name": "data", "mountPath": "/per-pod", "subPathExpr": "pods/$(POD)"},
            {"name": "data", "mountPath": "/alias", "subPath": "alias"}
        ]),
        &volumes,
        &env,
    );
    assert_eq!(
        got,
        Ok(vec![
            ("/data".to_string(), h(&data), false),
            ("/ro".to_string(), h(&data), true),
            ("/etc/app".to_string(), h(&conf), true),
            ("/logs".to_string(), h(&data.join("logs/app")), false),
            ("/per-pod".to_string(), h(&data.join("pods/web-0")), false),
            ("/alias".to_string(), h(&data.join("inner")), false),
        ])
    );
    assert!(data.join("logs/app").is_dir(), "sub path was not created");

    let errors = [
        (
            json!([{"name": "data", "mountPath": "/x", "subPath": "escape"}]),
            "volume data: subPath \"escape\" resolves outside the volume",
        ),
        (
            json!([{"name": "data", "mountPath": "/x", "subPath": "../x"}]),
            "volume data: invalid subPath \"../x\": must not contain '..'",
        ),
        (
            json!([{"name": "data", "mountPath": "/x", "subPathExpr": "$(NOPE)"}]),
            "volume data: subPathExpr \"$(NOPE)\": missing value for NOPE",
        ),
        (
            json!([{"name": "cache", "mountPath": "/x"}]),
            "container app mounts volume cache, which the pod does not have",
        ),
        (
            json!([{"name": "data", "mountPath": "/x", "mountPropagation": "Bidirectional"}]),
            "container app: mount /x: Bidirectional mount propagation is available only to privileged containers",
        ),
    ];
    for (mounts, want) in errors {
        assert_eq!(
            run(mounts.clone(), &volumes, &env),
            Err(want.to_string()),
            "mounts {mounts}"
        );
    }
}
