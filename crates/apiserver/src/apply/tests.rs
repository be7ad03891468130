//! Table tests of server-side apply and update ownership over Deployments: managedFields,
//! removal of fields no longer applied, conflicts and forcing, migration from client-side
//! apply, resets and the cap on update entries.

use std::sync::Arc;

use gantry_schema::Schema;
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::{Value, json};

use super::*;

fn types() -> Types {
    Types::Builtin(Arc::new(Schema::for_type::<Deployment>()))
}

fn target<'a>(types: &'a Types, manager: &'a str, now: &'a str) -> Target<'a> {
    Target {
        types,
        writer: Writer {
            manager,
            api_version: "apps/v1",
            subresource: "",
            now,
        },
        has_status: true,
    }
}

fn deploy(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"}, "spec": spec})
}

fn entries(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or("").to_string(),
                        e["operation"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn fields_of(obj: &Value, manager: &str) -> Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["manager"] == manager))
        .map(|e| e["fieldsV1"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn apply_creates_and_records_the_applier() {
    let types = types();
    let config = deploy(
        json!({"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}),
    );
    let got = apply(&target(&types, "kubectl", "T1"), None, &config, false).unwrap();
    assert_eq!(got["spec"]["replicas"], 2);
    assert_eq!(
        entries(&got),
        vec![("kubectl".to_string(), "Apply".to_string())]
    );
    let c = r#"k:{"name":"c"}"#;
    assert_eq!(
        fields_of(&got, "kubectl"),
        json!({"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {c: {".": {}, "f:name": {}, "f:image": {}}}}}}})
    );
    assert_eq!(got["metadata"]["managedFields"][0]["time"], "T1");
    assert_eq!(
        got["metadata"]["managedFields"][0]["fieldsType"],
        "FieldsV1"
    );
}

#[test]
fn apply_scenarios_table() {
    let types = types();
    let first = deploy(json!({"replicas": 2, "paused": true}));
    // (manager, config, force, expected replicas, expected paused, conflict message)
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, Value, bool, Value, Value, Option<&str>)> = vec![
        ("kubectl", first.clone(), false, json!(2), json!(true), None),
        (
            "kubectl",
            deploy(json!({"replicas": 2})),
            false,
            json!(2),
            Value::Null,
            None,
        ),
        (
            "other",
            deploy(json!({"replicas": 2})),
            false,
            json!(2),
            json!(true),
            None,
        ),
        (
            "other",
            deploy(json!({"replicas": 3})),
            false,
            json!(2),
            json!(true),
            Some(r#"Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas"#),
        ),
        (
            "other",
            deploy(json!({"replicas": 3})),
            true,
            json!(3),
            json!(true),
            None,
        ),
    ];
    for (i, (manager, config, force, replicas, paused, conflict)) in cases.into_iter().enumerate() {
        let live = apply(&target(&types, "kubectl", "T1"), None, &first, false).unwrap();
        let got = apply(&target(&types, manager, "T2"), Some(&live), &config, force);
        match (got, conflict) {
            (Ok(obj), None) => {
                assert_eq!(obj["spec"]["replicas"], replicas, "case {i}");
                assert_eq!(obj["spec"]["paused"], paused, "case {i}");
            }
            (Err(e), Some(want)) => assert_eq!(e.to_string(), want, "case {i}"),
            (other, _) => panic!("case {i}: {other:?}"),
        }
    }
}

#[test]
fn forcing_moves_ownership_and_shared_fields_stay() {
    let types = types();
    let live = apply(
        &target(&types, "a", "T1"),
        None,
        &deploy(json!({"replicas": 2, "paused": true})),
        false,
    )
    .unwrap();
    let shared = apply(
        &target(&types, "b", "T2"),
        Some(&live),
        &deploy(json!({"replicas": 2})),
        false,
    )
    .unwrap();
    // a stops applying replicas: b still owns it, so it stays.
    let kept = apply(
        &target(&types, "a", "T3"),
        Some(&shared),
        &deploy(json!({"paused": true})),
        false,
    )
    .unwrap();
    assert_eq!(kept["spec"]["replicas"], 2);
    let forced = apply(
        &target(&types, "b", "T4"),
        Some(&live),
        &deploy(json!({"paused": false})),
        true,
    )
    .unwrap();
    assert_eq!(
        fields_of(&forced, "a"),
        json!({"f:spec": {"f:replicas": {}}})
    );
    assert_eq!(fields_of(&forced, "b"), json!({"f:spec": {"f:paused": {}}}));
    let err = apply(
        &target(&types, "b", "T4"),
        Some(&live),
        &deploy(json!({"replicas": 5, "paused": false})),
        false,
    )
    .unwrap_err();
    let api = err.into_api().status();
    assert_eq!(api["code"], 409);
    assert_eq!(api["reason"], "Conflict");
    assert_eq!(
        api["details"]["causes"][0]["reason"],
        "FieldManagerConflict"
    );
    assert_eq!(api["details"]["causes"][0]["field"], ".spec.paused");
    assert_eq!(
        api["message"],
        "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.paused\n- .spec.replicas"
    );
}

#[test]
fn updates_take_ownership_and_conflict_with_appliers() {
    let types = types();
    let live = apply(
        &target(&types, "kubectl", "T1"),
        None,
        &deploy(json!({"replicas": 2})),
        false,
    )
    .unwrap();
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    update(
        &target(&types, "kubectl-scale", "T2"),
        Some(&live),
        &mut scaled,
    );
    assert_eq!(
        entries(&scaled),
        vec![("kubectl-scale".to_string(), "Update".to_string())]
    );
    let err = apply(
        &target(&types, "kubectl", "T3"),
        Some(&scaled),
        &deploy(json!({"replicas": 2})),
        false,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas"#
    );
    // An update that changes nothing leaves managedFields alone.
    let mut same = scaled.clone();
    update(&target(&types, "x", "T4"), Some(&scaled), &mut same);
    assert_eq!(same, scaled);
}

#[test]
fn client_side_apply_migrates_to_kubectl() {
    let types = types();
    let csa = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}});
    let mut created = deploy(json!({"replicas": 2}));
    created["metadata"]["annotations"] = json!({LAST_APPLIED: csa.to_string()});
    update(
        &target(&types, "kubectl-client-side-apply", "T1"),
        None,
        &mut created,
    );
    assert_eq!(
        fields_of(&created, "kubectl-client-side-apply")["f:spec"],
        json!({"f:replicas": {}})
    );
    let got = apply(
        &target(&types, "kubectl", "T2"),
        Some(&created),
        &deploy(json!({"replicas": 3})),
        false,
    )
    .unwrap();
    assert_eq!(got["spec"]["replicas"], 3);
    let annotation: Value = serde_json::from_str(
        got["metadata"]["annotations"][LAST_APPLIED]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(annotation["spec"]["replicas"], 3);
    // Another manager gets no such pass.
    assert!(
        apply(
            &target(&types, "other", "T2"),
            Some(&created),
            &deploy(json!({"replicas": 3})),
            false
        )
        .is_err()
    );
}

#[test]
fn managed_fields_reset_and_cap() {
    let types = types();
    let mut live = deploy(json!({"replicas": 1}));
    update(&target(&types, "m0", "T00"), None, &mut live);
    for i in 1..15 {
        let mut next = live.clone();
        next["metadata"]["labels"][format!("l{i}")] = json!("x");
        let now = format!("T{i:02}");
        let manager = format!("m{i}");
        update(&target(&types, &manager, &now), Some(&live), &mut next);
        live = next;
    }
    let managers = entries(&live);
    assert!(
        managers.len() <= managed::MAX_UPDATE_MANAGERS,
        "{managers:?}"
    );
    let mut reset = live.clone();
    reset["metadata"]["managedFields"] = json!([]);
    update(&target(&types, "x", "T99"), Some(&live), &mut reset);
    assert!(reset["metadata"].get("managedFields").is_none());
    assert!(matches!(
        apply(
            &target(&types, "a", "T"),
            None,
            &json!({"metadata": {"managedFields": [{}]}}),
            false
        ),
        Err(ApplyError::ManagedFieldsInConfig)
    ));
}
