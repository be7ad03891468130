//! Checks the built documents the way kubectl reads them: refs resolve,
//! `explain` finds kinds and fields, the field-validation verifier finds its
//! parameter, and index hashes behave as cache keys.

use std::time::Instant;

use gantry_openapi::{Documents, ResourceDoc, v2, v3_group_version, v3_index};

#[path = "fixture/catalog.rs"]
mod catalog;

fn builtin_resources() -> &'static [ResourceDoc] {
    catalog::BUILTIN
}
use serde_json::{Value, json};

fn documents() -> Documents {
    Documents::build(builtin_resources())
}

/// Every `$ref` string anywhere in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    if let Value::String(reference) = child {
                        out.push(reference.clone());
                    }
                } else {
                    refs(child, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
        _ => {}
    }
}

fn assert_refs_resolve(document: &Value, prefix: &str, definitions: &Value, what: &str) {
    let mut found = Vec::new();
    refs(document, &mut found);
    assert!(!found.is_empty(), "{what}: no refs at all");
    for reference in found {
        let name = reference
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{what}: ref {reference} outside {prefix}"));
        assert!(
            definitions.get(name).is_some(),
            "{what}: dangling ref {reference}"
        );
    }
}

#[test]
fn every_ref_resolves_inside_its_document() {
    let docs = documents();
    for (path, doc) in docs.group_versions() {
        let reparsed: Value = serde_json::from_slice(&doc.json).expect("valid json");
        assert_eq!(reparsed, doc.value);
        assert_refs_resolve(
            &doc.value,
            "#/components/schemas/",
            &doc.value["components"]["schemas"],
            path,
        );
    }
    let v2 = &docs.v2().value;
    assert_refs_resolve(v2, "#/definitions/", &v2["definitions"], "v2");
}

/// Resolves a `$ref` against the document, or returns the schema itself.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &document["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// What `kubectl explain` (the v3 plaintext template) does: take the GVK
/// from an operation on the resource's paths, find the schema carrying that
/// GVK, then walk the field path through properties, refs, items and allOf.
fn explain<'a>(
    document: &'a Value,
    group: &str,
    version: &str,
    plural: &str,
    fields: &[&str],
) -> Option<&'a Value> {
    let prefix = if group.is_empty() {
        "/api".to_owned()
    } else {
        format!("/apis/{group}")
    };
    let candidates = [
        format!("{prefix}/{version}/{plural}"),
        format!("{prefix}/{version}/{plural}/{{name}}"),
        format!("{prefix}/{version}/namespaces/{{namespace}}/{plural}"),
        format!("{prefix}/{version}/namespaces/{{namespace}}/{plural}/{{name}}"),
    ];
    let gvk = candidates.iter().find_map(|path| {
        let item = document["paths"].get(path)?;
        ["get", "post", "put", "patch", "delete"]
            .iter()
            .find_map(|method| item.get(method)?.get("x-kubernetes-group-version-kind"))
    })?;
    let schemas = document["components"]["schemas"].as_object()?;
    let mut schema = schemas.values().find(|schema| {
        schema["x-kubernetes-group-version-kind"]
            .as_array()
            .is_some_and(|list| list.contains(gvk))
    })?;
    for field in fields {
        schema = element(document, schema).get("properties")?.get(*field)?;
    }
    Some(element(document, schema))
}

/// The object schema behind refs, arrays and single-element `allOf`s.
fn element<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    let mut current = resolve(document, schema);
    loop {
        if let Some(next) = current.get("items") {
            current = resolve(document, next);
        } else if let Some(first) = current.get("allOf").and_then(|all| all.get(0)) {
            current = resolve(document, first);
        } else {
            return current;
        }
    }
}

#[test]
fn pod_schema_carries_its_gvk() {
    let docs = documents();
    let core = &docs.group_version("", "v1").expect("core/v1").value;
    let pod = &core["components"]["schemas"]["io.k8s.api.core.v1.Pod"];
    assert_eq!(
        pod["x-kubernetes-group-version-kind"],
        json!([{"group": "", "kind": "Pod", "version": "v1"}])
    );
    let list = &core["components"]["schemas"]["io.k8s.api.core.v1.PodList"];
    assert_eq!(
        list["x-kubernetes-group-version-kind"][0]["kind"],
        "PodList"
    );
}

#[test]
fn explain_walks_to_nested_fields() {
    let docs = documents();
    let core = &docs.group_version("", "v1").unwrap().value;
    let containers =
        explain(core, "", "v1", "pods", &["spec", "containers"]).expect("pod.spec.containers");
    assert!(
        containers["properties"]["image"].is_object(),
        "{containers}"
    );
    let ports = explain(core, "", "v1", "pods", &["spec", "containers", "ports"]).expect("ports");
    assert!(ports["properties"]["containerPort"].is_object());

    let apps = &docs.group_version("apps", "v1").unwrap().value;
    let spec = explain(apps, "apps", "v1", "deployments", &["spec"]).expect("deployment.spec");
    assert!(spec["properties"]["template"].is_object());
}

#[test]
fn explain_finds_every_builtin_resource() {
    let docs = documents();
    for resource in builtin_resources() {
        let doc = &docs
            .group_version(resource.group, resource.version)
            .unwrap()
            .value;
        let schema = explain(doc, resource.group, resource.version, resource.plural, &[])
            .unwrap_or_else(|| panic!("explain {}", resource.plural));
        assert!(
            schema["properties"]["metadata"].is_object(),
            "{}",
            resource.plural
        );
    }
}

/// What kubectl's `supportsQueryParamV3` does, except that it stops at the
/// first PATCH with the GVK in map order, so here every one must pass.
fn patch_operations_support(document: &Value, resource: &ResourceDoc, param: &str) -> bool {
    let gvk = json!({"group": resource.group, "kind": resource.kind, "version": resource.version});
    let mut seen = false;
    for item in document["paths"].as_object().unwrap().values() {
        let Some(patch) = item.get("patch") else {
            continue;
        };
        if patch["x-kubernetes-group-version-kind"] != gvk {
            continue;
        }
        seen = true;
        let names: Vec<&str> = patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        if !names.contains(&param) {
            return false;
        }
    }
    seen
}

#[test]
fn field_validation_and_dry_run_are_advertised() {
    let docs = documents();
    for resource in builtin_resources() {
        let doc = &docs
            .group_version(resource.group, resource.version)
            .unwrap()
            .value;
        for param in ["fieldValidation", "dryRun", "fieldManager"] {
            assert!(
                patch_operations_support(doc, resource, param),
                "{} {param}",
                resource.plural
            );
        }
    }
    let core = &docs.group_version("", "v1").unwrap().value;
    let post = &core["paths"]["/api/v1/namespaces/{namespace}/pods"]["post"];
    let names: Vec<&str> = post["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&"fieldValidation") && names.contains(&"dryRun"));
    assert_eq!(post["x-kubernetes-action"], "post");
    assert_eq!(post["operationId"], "createCoreV1NamespacedPod");
}

#[test]
fn paths_cover_collections_items_and_subresources() {
    let docs = documents();
    let core = &docs.group_version("", "v1").unwrap().value["paths"];
    for path in [
        "/api/v1/pods",
        "/api/v1/namespaces/{namespace}/pods/{name}/status",
        "/api/v1/namespaces/{namespace}/pods/{name}/binding",
        "/api/v1/namespaces/{namespace}/pods/{name}/eviction",
        "/api/v1/namespaces",
        "/api/v1/namespaces/{name}",
        "/api/v1/nodes/{name}/status",
    ] {
        assert!(core.get(path).is_some(), "{path}");
    }
    let collection = &core["/api/v1/namespaces/{namespace}/pods"];
    assert_eq!(
        collection["delete"]["x-kubernetes-action"],
        "deletecollection"
    );
    assert_eq!(collection["get"]["operationId"], "listCoreV1NamespacedPod");

    let apps = &docs.group_version("apps", "v1").unwrap().value;
    let scale = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
    assert_eq!(
        scale["patch"]["x-kubernetes-group-version-kind"]["kind"],
        "Scale"
    );
    assert_eq!(
        scale["get"]["operationId"],
        "readAppsV1NamespacedDeploymentScale"
    );
    let scale_schema = &apps["components"]["schemas"]["io.k8s.api.autoscaling.v1.Scale"];
    assert_eq!(
        scale_schema["x-kubernetes-group-version-kind"][0]["group"],
        "autoscaling"
    );
}

#[test]
fn index_hashes_are_stable_and_distinct() {
    let first = v3_index(builtin_resources());
    let second = v3_index(builtin_resources());
    assert_eq!(first, second);
    let urls: Vec<&str> = first["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|entry| entry["serverRelativeURL"].as_str().unwrap())
        .collect();
    assert_eq!(urls.len(), 11, "{urls:?}");
    let mut hashes: Vec<&str> = urls
        .iter()
        .map(|url| url.split("hash=").nth(1).unwrap())
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(hashes.len(), urls.len());
    assert!(
        first["paths"]["apis/rbac.authorization.k8s.io/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .starts_with("/openapi/v3/apis/rbac.authorization.k8s.io/v1?hash=")
    );

    // A changed resource list changes the hash of the affected document only.
    let fewer: Vec<ResourceDoc> = builtin_resources()
        .iter()
        .filter(|r| r.plural != "cronjobs")
        .cloned()
        .collect();
    let changed = v3_index(&fewer);
    assert_ne!(
        changed["paths"]["apis/batch/v1"],
        first["paths"]["apis/batch/v1"]
    );
    assert_eq!(
        changed["paths"]["apis/apps/v1"],
        first["paths"]["apis/apps/v1"]
    );
}

#[test]
fn free_functions_match_the_cached_documents() {
    let docs = documents();
    let apps = v3_group_version(builtin_resources(), "apps", "v1").expect("apps/v1");
    assert_eq!(&apps, &docs.group_version("apps", "v1").unwrap().value);
    assert!(v3_group_version(builtin_resources(), "apps", "v2").is_none());
    assert_eq!(&v2(builtin_resources()), &docs.v2().value);
    assert!(docs.by_index_path("apis/apps/v1").is_some());
}

#[test]
fn v2_carries_gvks_and_body_parameters() {
    let docs = documents();
    let v2 = &docs.v2().value;
    assert_eq!(v2["swagger"], "2.0");
    let pod = &v2["definitions"]["io.k8s.api.core.v1.Pod"];
    assert_eq!(pod["x-kubernetes-group-version-kind"][0]["kind"], "Pod");
    let patch = &v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"]["kind"],
        "Deployment"
    );
    let params = patch["parameters"].as_array().unwrap();
    assert!(params.iter().any(|p| p["in"] == "body"));
    assert!(params.iter().any(|p| p["name"] == "fieldValidation"));
    // Both Event kinds are present under their own names.
    assert!(v2["definitions"]["io.k8s.api.events.v1.Event"].is_object());
    assert!(v2["definitions"]["io.k8s.api.core.v1.Event"].is_object());
}

#[test]
fn building_every_document_is_fast() {
    let start = Instant::now();
    let docs = documents();
    let elapsed = start.elapsed();
    let bytes: usize = docs
        .group_versions()
        .map(|(_, d)| d.json.len())
        .sum::<usize>()
        + docs.v2().json.len();
    eprintln!("built all openapi documents ({bytes} bytes of JSON) in {elapsed:?}");
    assert!(elapsed.as_secs() < 10, "took {elapsed:?}");
}

#[test]
fn v2_protobuf_matches_the_json_document() {
    let docs = documents();
    let bytes = docs.v2_protobuf();
    // Field 1 (swagger) = "2.0" comes first.
    assert_eq!(&bytes[..5], &[0x0A, 3, b'2', b'.', b'0']);
    assert_eq!(
        bytes,
        gantry_openapi::v2_protobuf(builtin_resources()).as_slice()
    );
    // Every definition name and path is carried.
    let text = String::from_utf8_lossy(bytes);
    assert!(text.contains("io.k8s.api.core.v1.PodSpec"));
    assert!(text.contains("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"));
    assert!(text.contains("fieldValidation"));
}
