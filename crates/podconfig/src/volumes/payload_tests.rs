//! Table tests of volume file payloads and file modes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, ProjectedVolumeSource};
use serde_json::json;

use super::*;

#[test]
fn file_modes() {
    let cases = [
        (None, None, None, 0o644),
        (None, Some(0o400), None, 0o400),
        (Some(0o600), Some(0o400), None, 0o600),
        (Some(0o600), None, Some(2000), 0o640),
        (None, None, Some(2000), 0o644),
        (Some(0o7777), None, None, 0o777),
    ];
    for (item, default, fs_group, want) in cases {
        assert_eq!(
            file_mode(item, default, fs_group),
            want,
            "item {item:?} default {default:?} fsGroup {fs_group:?}"
        );
    }
}

fn entries() -> BTreeMap<String, Vec<u8>> {
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "cfg"},
        "data": {"app.conf": "x=1", "extra": "e"},
        "binaryData": {"logo.png": "AAE="}
    }))
    .unwrap();
    config_map_entries(&cm)
}

fn keyed(
    items: serde_json::Value,
    optional: bool,
    present: bool,
) -> Result<Vec<(String, Vec<u8>, u32)>, String> {
    let items: Option<Vec<KeyToPath>> = serde_json::from_value(items).unwrap();
    let source = KeyedSource {
        volume: "conf",
        kind: "configmap",
        namespace: "shop",
        name: "cfg",
        items: items.as_deref(),
        default_mode: Some(0o440),
        optional,
        fs_group: None,
    };
    let entries = entries();
    keyed_payload(&source, present.then_some(&entries))
        .map(|p| p.into_iter().map(|(k, f)| (k, f.data, f.mode)).collect())
        .map_err(|e| e.to_string())
}

#[test]
fn keyed_payloads() {
    let all = vec![
        ("app.conf".to_string(), b"x=1".to_vec(), 0o440),
        ("extra".to_string(), b"e".to_vec(), 0o440),
        ("logo.png".to_string(), vec![0, 1], 0o440),
    ];
    let cases = [
        (json!(null), false, true, Ok(all.clone())),
        (json!([]), false, true, Ok(all)),
        (
            json!([{"key": "app.conf", "path": "etc/app.conf", "mode": 0o600}]),
            false,
            true,
            Ok(vec![("etc/app.conf".to_string(), b"x=1".to_vec(), 0o600)]),
        ),
        (
            json!([{"key": "nope", "path": "n"}]),
            false,
            true,
            Err("volume conf: configmap shop/cfg has no key nope"),
        ),
        (
            json!([{"key": "nope", "path": "n"}, {"key": "extra", "path": "e"}]),
            true,
            true,
            Ok(vec![("e".to_string(), b"e".to_vec(), 0o440)]),
        ),
        (
            json!(null),
            false,
            false,
            Err("volume conf: configmap shop/cfg not found"),
        ),
        (json!(null), true, false, Ok(vec![])),
    ];
    for (items, optional, present, want) in cases {
        let want = want.map_err(str::to_string);
        assert_eq!(
            keyed(items.clone(), optional, present),
            want,
            "items {items} optional {optional} present {present}"
        );
    }
}

fn pod() -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "web-0", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "64Mi"}}}]}
    }))
    .unwrap()
}

#[test]
fn downward_items() {
    let pod = pod();
    let info = PodRuntimeInfo::default();
    let alloc = BTreeMap::new();
    let ctx = DownwardContext {
        pod: &pod,
        info: &info,
        allocatable: &alloc,
    };
    let items: Vec<DownwardAPIVolumeFile> = serde_json::from_value(json!([
        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}, "mode": 0o400},
        {"path": "mem", "resourceFieldRef": {"containerName": "app", "resource": "limits.memory", "divisor": "1Mi"}}
    ]))
    .unwrap();
    let got = downward_payload("info", &items, None, None, &ctx).unwrap();
    let got: Vec<_> = got
        .iter()
        .map(|(k, f)| {
            (
                k.as_str(),
                String::from_utf8_lossy(&f.data).into_owned(),
                f.mode,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("labels", "app=\"web\"".to_string(), 0o400),
            ("mem", "64".to_string(), 0o644),
            ("name", "web-0".to_string(), 0o644)
        ]
    );
    let bad: Vec<DownwardAPIVolumeFile> = serde_json::from_value(json!([
        {"path": "x", "resourceFieldRef": {"containerName": "sidecar", "resource": "limits.cpu"}}
    ]))
    .unwrap();
    let err = downward_payload("info", &bad, None, None, &ctx)
        .unwrap_err()
        .to_string();
    assert!(err.contains("info") && err.contains("sidecar"), "{err}");
}

#[test]
fn projected_sources_merge_in_order() {
    let pod = pod();
    let mut info = PodRuntimeInfo::default();
    let alloc = BTreeMap::new();
    let cm: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "cfg"}, "data": {"a": "1", "token": "shadowed"}}),
    )
    .unwrap();
    let mut objects = Objects {
        namespace: "shop".into(),
        ..Objects::default()
    };
    objects.config_maps.insert("cfg".into(), Some(cm));
    objects.secrets.insert("gone".into(), None);
    let source: ProjectedVolumeSource = serde_json::from_value(json!({
        "defaultMode": 0o600,
        "sources": [
            {"configMap": {"name": "cfg"}},
            {"secret": {"name": "gone", "optional": true}},
            {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
            {"serviceAccountToken": {"path": "token"}}
        ]
    }))
    .unwrap();
    let run = |info: &PodRuntimeInfo| {
        let ctx = DownwardContext {
            pod: &pod,
            info,
            allocatable: &alloc,
        };
        let p = projected_payload("kube-api", &source, &objects, None, &ctx).unwrap();
        p.into_iter()
            .map(|(k, f)| (k, String::from_utf8_lossy(&f.data).into_owned(), f.mode))
            .collect::<Vec<_>>()
    };
    let s = |k: &str, v: &str| (k.to_string(), v.to_string(), 0o600);
    // Without a token the source is skipped (the configMap's "token" key stays).
    assert_eq!(
        run(&info),
        [s("a", "1"), s("ns", "shop"), s("token", "shadowed")]
    );
    info.service_account_token = Some("jwt".into());
    assert_eq!(
        run(&info),
        [s("a", "1"), s("ns", "shop"), s("token", "jwt")]
    );

    let missing: ProjectedVolumeSource =
        serde_json::from_value(json!({"sources": [{"secret": {"name": "gone"}}]})).unwrap();
    let ctx = DownwardContext {
        pod: &pod,
        info: &info,
        allocatable: &alloc,
    };
    let err = projected_payload("kube-api", &missing, &objects, None, &ctx)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "volume kube-api: secret shop/gone not found");
}
