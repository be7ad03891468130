//! Table-driven strategic merge patch cases: each directive on containers, env, volumes,
//! ports, finalizers and tolerations, checked against upstream's results.

use std::sync::LazyLock;

use gantry_schema::Schema;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::{SmpError, apply};

static POD: LazyLock<Schema> = LazyLock::new(Schema::for_type::<Pod>);

/// A pod whose spec has two containers (with env and ports), two volumes and a toleration.
fn pod() -> Value {
    json!({
        "metadata": {"name": "p", "labels": {"a": "1", "b": "2"}, "finalizers": ["f1", "f2"]},
        "spec": {
            "containers": [
                {"name": "a", "image": "x:1", "env": [{"name": "E", "value": "1"}, {"name": "F", "value": "2"}],
                 "ports": [{"containerPort": 80, "protocol": "TCP"}], "args": ["--one"]},
                {"name": "b", "image": "y:1"},
            ],
            "volumes": [{"name": "v1", "emptyDir": {}}, {"name": "v2", "configMap": {"name": "cm"}}],
            "tolerations": [{"key": "k", "operator": "Exists"}],
        },
    })
}

/// Applies `patch` to [`pod`] and compares the value at `pointer` with `want`.
fn check(name: &str, patch: Value, pointer: &str, want: Value) {
    let Value::Object(patch) = patch else {
        panic!("{name}: patch is not an object")
    };
    let got = apply(&POD, &pod(), &patch).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        got.pointer(pointer),
        Some(&want),
        "{name}: {}",
        got.pointer(pointer).unwrap_or(&Value::Null)
    );
}

#[test]
fn strategic_merge_cases() {
    let cases = [
        (
            "merge container by name",
            json!({"spec": {"containers": [{"name": "b", "image": "y:2"}]}}),
            "/spec/containers",
            json!([pod()["spec"]["containers"][0], {"name": "b", "image": "y:2"}]),
        ),
        (
            "new container goes first without an order",
            json!({"spec": {"containers": [{"name": "c", "image": "z"}]}}),
            "/spec/containers/0/name",
            json!("c"),
        ),
        (
            "$setElementOrder appends",
            json!({"spec": {"containers": [{"name": "c", "image": "z"}],
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}),
            "/spec/containers/2",
            json!({"name": "c", "image": "z"}),
        ),
        (
            "$setElementOrder reorders without a list",
            json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}),
            "/spec/containers/0/name",
            json!("b"),
        ),
        (
            "$patch delete on a container",
            json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}),
            "/spec/containers",
            json!([{"name": "b", "image": "y:1"}]),
        ),
        (
            "$patch replace on containers",
            json!({"spec": {"containers": [{"name": "z", "image": "q"}, {"$patch": "replace"}]}}),
            "/spec/containers",
            json!([{"name": "z", "image": "q"}]),
        ),
        (
            "env merges by name",
            json!({"spec": {"containers": [{"name": "a", "env": [{"name": "G", "value": "3"}],
            "$setElementOrder/env": [{"name": "E"}, {"name": "F"}, {"name": "G"}]}]}}),
            "/spec/containers/0/env",
            json!([{"name": "E", "value": "1"}, {"name": "F", "value": "2"}, {"name": "G", "value": "3"}]),
        ),
        (
            "env item deleted",
            json!({"spec": {"containers": [{"name": "a", "env": [{"name": "E", "$patch": "delete"}]}]}}),
            "/spec/containers/0/env",
            json!([{"name": "F", "value": "2"}]),
        ),
        (
            "env value removed with null",
            json!({"spec": {"containers": [{"name": "a", "env": [{"name": "F", "value": null}]}]}}),
            "/spec/containers/0/env/1",
            json!({"name": "F"}),
        ),
        (
            "ports merge by containerPort",
            json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "http"}]}]}}),
            "/spec/containers/0/ports",
            json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}]),
        ),
        (
            "args are atomic",
            json!({"spec": {"containers": [{"name": "a", "args": ["--two"]}]}}),
            "/spec/containers/0/args",
            json!(["--two"]),
        ),
        (
            "volume merges with $retainKeys",
            json!({"spec": {"volumes": [{"name": "v1", "hostPath": {"path": "/x"}, "$retainKeys": ["hostPath", "name"]}]}}),
            "/spec/volumes/0",
            json!({"name": "v1", "hostPath": {"path": "/x"}}),
        ),
        (
            "volume merges without $retainKeys keeps both",
            json!({"spec": {"volumes": [{"name": "v1", "hostPath": {"path": "/x"}}]}}),
            "/spec/volumes/0",
            json!({"name": "v1", "emptyDir": {}, "hostPath": {"path": "/x"}}),
        ),
        (
            "volume deleted",
            json!({"spec": {"volumes": [{"name": "v2", "$patch": "delete"}]}}),
            "/spec/volumes",
            json!([{"name": "v1", "emptyDir": {}}]),
        ),
        (
            "tolerations are replaced",
            json!({"spec": {"tolerations": [{"key": "other", "operator": "Exists"}]}}),
            "/spec/tolerations",
            json!([{"key": "other", "operator": "Exists"}]),
        ),
        (
            "finalizers merge as a set",
            json!({"metadata": {"finalizers": ["f3", "f1"]}}),
            "/metadata/finalizers",
            json!(["f3", "f1", "f2"]),
        ),
        (
            "$deleteFromPrimitiveList",
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["f1"]}}),
            "/metadata/finalizers",
            json!(["f2"]),
        ),
        (
            "$setElementOrder on a primitive list",
            json!({"metadata": {"finalizers": ["f3"], "$setElementOrder/finalizers": ["f2", "f3", "f1"]}}),
            "/metadata/finalizers",
            json!(["f2", "f3", "f1"]),
        ),
        (
            "$patch replace on a map",
            json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
            "/metadata/labels",
            json!({"c": "3"}),
        ),
        (
            "$patch delete on a map",
            json!({"metadata": {"labels": {"$patch": "delete"}}}),
            "/metadata/labels",
            json!({}),
        ),
        (
            "$patch merge on a map",
            json!({"metadata": {"labels": {"$patch": "merge", "c": "3"}}}),
            "/metadata/labels",
            json!({"a": "1", "b": "2", "c": "3"}),
        ),
        (
            "null deletes a key",
            json!({"metadata": {"labels": {"a": null}}}),
            "/metadata/labels",
            json!({"b": "2"}),
        ),
        (
            "$retainKeys on a map",
            json!({"metadata": {"labels": {"c": "3"}, "$retainKeys": ["labels", "finalizers"]}}),
            "/metadata",
            json!({"labels": {"a": "1", "b": "2", "c": "3"}, "finalizers": ["f1", "f2"]}),
        ),
        (
            "new map drops nulls and directives",
            json!({"spec": {"nodeSelector": {"x": "1", "y": null}, "dnsConfig": {"$patch": "delete"}}}),
            "/spec/nodeSelector",
            json!({"x": "1"}),
        ),
    ];
    for (name, patch, pointer, want) in cases {
        check(name, patch, pointer, want);
    }
}

#[test]
fn bad_patches_are_rejected() {
    let cases = [
        (
            json!({"metadata": {"labels": {"$patch": "bogus"}}}),
            SmpError::BadPatchType("\"bogus\"".into()),
        ),
        (
            json!({"spec": {"containers": [{"image": "nameless"}]}}),
            SmpError::NoMergeKey {
                item: r#"{"image":"nameless"}"#.into(),
                key: "name".into(),
            },
        ),
        (
            json!({"spec": {"containers": [{"name": "a", "$patch": "merge"}]}}),
            SmpError::MergeList,
        ),
        (
            json!({"metadata": {"labels": {"c": "3"}, "$retainKeys": ["finalizers"]}}),
            SmpError::RetainKeys,
        ),
        (
            json!({"spec": {"containers": [{"name": "b"}, {"name": "a"}], "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}]}}),
            SmpError::ElementOrder("containers".into()),
        ),
        (
            json!({"metadata": {"finalizers": [{"x": 1}]}}),
            SmpError::ElementTypes("finalizers".into()),
        ),
    ];
    for (patch, want) in cases {
        let Value::Object(p) = &patch else {
            panic!("not an object")
        };
        assert_eq!(apply(&POD, &pod(), p), Err(want), "{patch}");
    }
}

#[test]
fn without_a_schema_maps_merge_and_lists_replace() {
    let schema = Schema::default();
    let original = json!({"spec": {"items": [{"name": "a"}], "m": {"x": 1}}});
    let Value::Object(patch) = json!({"spec": {"items": [{"name": "b"}], "m": {"y": 2}}}) else {
        unreachable!()
    };
    let got = apply(&schema, &original, &patch).expect("applies");
    assert_eq!(
        got,
        json!({"spec": {"items": [{"name": "b"}], "m": {"x": 1, "y": 2}}})
    );
}
