//! Table tests of env resolution and the downward API over hand-built pods and objects.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::{Value, json};

use super::*;

fn pod(containers: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {
            "name": "web-0", "namespace": "shop", "uid": "u-1",
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"note": "say \"hi\"\nbye"}
        },
        "spec": {"nodeName": "node-a", "serviceAccountName": "robot", "containers": containers}
    }))
    .unwrap()
}

fn objects() -> Objects {
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "cfg"},
        "data": {"COLOR": "blue", "SIZE": "L", "bad key": "x", "1ST": "y"}
    }))
    .unwrap();
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "creds"},
        "data": {"PASSWORD": "aHVudGVyMg=="}
    }))
    .unwrap();
    let mut objects = Objects {
        namespace: "shop".into(),
        ..Objects::default()
    };
    objects.config_maps.insert("cfg".into(), Some(cm));
    objects.config_maps.insert("gone".into(), None);
    objects.secrets.insert("creds".into(), Some(secret));
    objects.secrets.insert("gone".into(), None);
    objects
}

fn info() -> PodRuntimeInfo {
    PodRuntimeInfo {
        node_name: "node-a".into(),
        host_ip: "10.0.0.5".into(),
        pod_ips: vec!["10.1.0.7".into(), "fd00::7".into()],
        service_account_token: None,
    }
}

fn allocatable() -> BTreeMap<String, Quantity> {
    [
        ("cpu", "4"),
        ("memory", "8Gi"),
        ("ephemeral-storage", "100Gi"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
    .collect()
}

/// Resolves the env of a container described by `container` (JSON) and returns it, or the
/// error message.
fn run(container: Value) -> Result<Vec<(String, String)>, String> {
    let pod = pod(json!([container]));
    let c: &Container = &pod.spec.as_ref().unwrap().containers[0];
    resolve_env(&pod, c, &info(), &allocatable(), &objects()).map_err(|e| e.to_string())
}

/// A resolved environment or the error message.
type Outcome = Result<Vec<(String, String)>, String>;

fn env(pairs: &[(&str, &str)]) -> Outcome {
    Ok(pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

fn c(env: Value) -> Value {
    json!({"name": "app", "env": env})
}

#[test]
fn literal_values_and_expansion() {
    let cases: Vec<(Value, Outcome)> = vec![
        (c(json!([{"name": "A", "value": "x"}])), env(&[("A", "x")])),
        (c(json!([{"name": "A"}])), env(&[("A", "")])),
        (
            c(json!([{"name": "A", "value": "x"}, {"name": "B", "value": "$(A)-$(A)"}])),
            env(&[("A", "x"), ("B", "x-x")]),
        ),
        // References to later or unknown vars stay as written; $$ escapes.
        (
            c(
                json!([{"name": "B", "value": "$(A)"}, {"name": "A", "value": "x"}, {"name": "C", "value": "$$(A)"}]),
            ),
            env(&[("B", "$(A)"), ("A", "x"), ("C", "$(A)")]),
        ),
        // A later definition overrides in place.
        (
            c(
                json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "A", "value": "3"}]),
            ),
            env(&[("A", "3"), ("B", "2")]),
        ),
        // Expansion sees valueFrom results.
        (
            c(json!([
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "URL", "value": "http://$(POD):80"}
            ])),
            env(&[("POD", "web-0"), ("URL", "http://web-0:80")]),
        ),
    ];
    for (container, want) in cases {
        assert_eq!(run(container.clone()), want, "container {container}");
    }
}

#[test]
fn config_map_and_secret_refs() {
    let key = |kind: &str, name: &str, key: &str, optional: Option<bool>| json!({"name": "V", "valueFrom": {kind: {"name": name, "key": key, "optional": optional}}});
    let cases: Vec<(Value, Outcome)> = vec![
        (
            c(json!([key("configMapKeyRef", "cfg", "COLOR", None)])),
            env(&[("V", "blue")]),
        ),
        (
            c(json!([key("secretKeyRef", "creds", "PASSWORD", None)])),
            env(&[("V", "hunter2")]),
        ),
        (
            c(json!([key("configMapKeyRef", "gone", "COLOR", None)])),
            Err("configmap shop/gone not found".into()),
        ),
        (
            c(json!([key("configMapKeyRef", "gone", "COLOR", Some(true))])),
            env(&[]),
        ),
        (
            c(json!([key("configMapKeyRef", "cfg", "NOPE", Some(false))])),
            Err("couldn't find key NOPE in configmap shop/cfg".into()),
        ),
        (
            c(json!([key("configMapKeyRef", "cfg", "NOPE", Some(true))])),
            env(&[]),
        ),
        (
            c(json!([key("secretKeyRef", "gone", "PASSWORD", None)])),
            Err("secret shop/gone not found".into()),
        ),
        (
            c(json!([key("secretKeyRef", "gone", "X", Some(true))])),
            env(&[]),
        ),
        (
            c(json!([key("secretKeyRef", "creds", "NOPE", None)])),
            Err("couldn't find key NOPE in secret shop/creds".into()),
        ),
    ];
    for (container, want) in cases {
        assert_eq!(run(container.clone()), want, "container {container}");
    }
}

#[test]
fn env_from_prefix_invalid_keys_and_override() {
    let cases: Vec<(Value, Outcome)> = vec![
        // Invalid names ("bad key", "1ST") are skipped.
        (
            json!({"name": "app", "envFrom": [{"configMapRef": {"name": "cfg"}}]}),
            env(&[("COLOR", "blue"), ("SIZE", "L")]),
        ),
        // A prefix can make a key valid.
        (
            json!({"name": "app", "envFrom": [{"prefix": "P_", "configMapRef": {"name": "cfg"}}]}),
            env(&[("P_1ST", "y"), ("P_COLOR", "blue"), ("P_SIZE", "L")]),
        ),
        (
            json!({"name": "app", "envFrom": [{"secretRef": {"name": "creds"}}]}),
            env(&[("PASSWORD", "hunter2")]),
        ),
        // env overrides envFrom and can expand it.
        (
            json!({"name": "app", "envFrom": [{"configMapRef": {"name": "cfg"}}],
                   "env": [{"name": "COLOR", "value": "red-$(SIZE)"}]}),
            env(&[("COLOR", "red-L"), ("SIZE", "L")]),
        ),
        (
            json!({"name": "app", "envFrom": [{"configMapRef": {"name": "gone"}}]}),
            Err("configmap shop/gone not found".into()),
        ),
        (
            json!({"name": "app", "envFrom": [{"configMapRef": {"name": "gone", "optional": true}},
                                              {"secretRef": {"name": "gone", "optional": true}}]}),
            env(&[]),
        ),
        (
            json!({"name": "app", "envFrom": [{"secretRef": {"name": "gone"}}]}),
            Err("secret shop/gone not found".into()),
        ),
    ];
    for (container, want) in cases {
        assert_eq!(run(container.clone()), want, "container {container}");
    }
}

#[test]
fn field_refs() {
    let cases = [
        ("metadata.name", Ok("web-0")),
        ("metadata.namespace", Ok("shop")),
        ("metadata.uid", Ok("u-1")),
        ("metadata.labels['app']", Ok("web")),
        ("metadata.labels['missing']", Ok("")),
        ("metadata.annotations['note']", Ok("say \"hi\"\nbye")),
        ("metadata.labels", Ok("app=\"web\"\ntier=\"front\"")),
        ("metadata.annotations", Ok("note=\"say \\\"hi\\\"\\nbye\"")),
        ("spec.nodeName", Ok("node-a")),
        ("spec.serviceAccountName", Ok("robot")),
        ("status.hostIP", Ok("10.0.0.5")),
        ("status.hostIPs", Ok("10.0.0.5")),
        ("status.podIP", Ok("10.1.0.7")),
        ("status.podIPs", Ok("10.1.0.7,fd00::7")),
        (
            "spec.hostname",
            Err("env var V: unsupported field path \"spec.hostname\""),
        ),
    ];
    for (path, want) in cases {
        let got = run(c(
            json!([{"name": "V", "valueFrom": {"fieldRef": {"fieldPath": path}}}]),
        ));
        let want = want
            .map(|v| vec![("V".to_string(), v.to_string())])
            .map_err(str::to_string);
        assert_eq!(got, want, "field path {path}");
    }
}

#[test]
fn resource_field_refs() {
    let resources =
        json!({"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"memory": "32Mi"}});
    let cases = [
        ("limits.cpu", None, Ok("1")),
        ("limits.cpu", Some("1m"), Ok("500")),
        ("limits.memory", None, Ok("67108864")),
        ("limits.memory", Some("1Mi"), Ok("64")),
        ("limits.memory", Some("1M"), Ok("68")),
        ("requests.memory", Some("1Mi"), Ok("32")),
        // Requests default to the limit, then to zero.
        ("requests.cpu", Some("1m"), Ok("500")),
        ("requests.ephemeral-storage", None, Ok("0")),
        // Limits default to node allocatable.
        ("limits.ephemeral-storage", Some("1Gi"), Ok("100")),
        ("limits.cpu", Some("0"), Ok("1")),
        (
            "limits.gpu",
            None,
            Err("env var V: unsupported container resource \"limits.gpu\""),
        ),
        (
            "capacity.cpu",
            None,
            Err("env var V: unsupported container resource \"capacity.cpu\""),
        ),
    ];
    for (resource, divisor, want) in cases {
        let got = run(json!({"name": "app", "resources": resources, "env": [
            {"name": "V", "valueFrom": {"resourceFieldRef": {"resource": resource, "divisor": divisor}}}
        ]}));
        let want = want
            .map(|v| vec![("V".to_string(), v.to_string())])
            .map_err(str::to_string);
        assert_eq!(got, want, "resource {resource} divisor {divisor:?}");
    }
    let unset = run(json!({"name": "app", "env": [
        {"name": "V", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Gi"}}}
    ]}));
    assert_eq!(unset, env(&[("V", "8")]));
}

#[test]
fn env_var_names() {
    let cases = [
        ("A", true),
        ("_a1", true),
        ("my.var-1", true),
        ("-x", true),
        (".hidden", true),
        ("", false),
        ("1A", false),
        ("A B", false),
        ("A=B", false),
        (".", false),
        ("..", false),
        ("..x", false),
        ("é", false),
    ];
    for (name, want) in cases {
        assert_eq!(is_env_var_name(name), want, "name {name:?}");
    }
}

#[test]
fn references_are_collected() {
    let pod = pod(json!([{"name": "app",
        "envFrom": [{"configMapRef": {"name": "a"}}, {"secretRef": {"name": "s"}}],
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "b", "key": "k"}}},
                {"name": "Y", "valueFrom": {"secretKeyRef": {"name": "t", "key": "k"}}}]}]));
    let refs = env_references(&pod.spec.unwrap().containers[0]);
    assert_eq!(refs.config_maps.into_iter().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(refs.secrets.into_iter().collect::<Vec<_>>(), ["s", "t"]);
}
