//! Scenario steps that only read what the server says about itself: version, API resources
//! and the OpenAPI-backed `kubectl explain`.

use crate::harness::Kubectl;

pub fn version(k: &Kubectl) {
    let v = k.json(&["version"]);
    let server = &v["serverVersion"];
    assert_eq!(server["major"], "1", "server version: {v}");
    assert!(
        server["minor"].as_str().is_some_and(|m| !m.is_empty()),
        "server minor version missing: {v}"
    );
    assert!(
        server["gitVersion"]
            .as_str()
            .is_some_and(|g| g.starts_with("v1.")),
        "server gitVersion: {v}"
    );
    assert!(
        v["clientVersion"]["minor"]
            .as_str()
            .is_some_and(|m| m.starts_with(&k.minor.to_string())),
        "client version: {v}"
    );
}

pub fn api_resources(k: &Kubectl) {
    let out = k.ok(&["api-resources", "-o", "name"]);
    let listed: Vec<&str> = out.lines().collect();
    for want in [
        "pods",
        "namespaces",
        "configmaps",
        "secrets",
        "services",
        "deployments.apps",
        "replicasets.apps",
    ] {
        assert!(listed.contains(&want), "api-resources lacks {want}:\n{out}");
    }
    let wide = k.ok(&["api-resources", "--api-group=apps"]);
    let deployments = wide
        .lines()
        .find(|l| l.starts_with("deployments "))
        .unwrap_or_else(|| panic!("no deployments row:\n{wide}"));
    for column in ["deploy", "apps/v1", "true", "Deployment"] {
        assert!(
            deployments.split_whitespace().any(|c| c == column),
            "deployments row lacks {column}: {deployments}"
        );
    }
    let namespaced = k.ok(&["api-resources", "--namespaced=false", "-o", "name"]);
    assert!(
        namespaced.lines().any(|l| l == "namespaces"),
        "namespaces is cluster-scoped:\n{namespaced}"
    );
    assert!(
        !namespaced.lines().any(|l| l == "pods"),
        "pods are namespaced:\n{namespaced}"
    );
}

pub fn explain(k: &Kubectl) {
    let out = k.ok(&["explain", "pod.spec.containers"]);
    assert!(
        out.contains("containers"),
        "explain does not mention the field:\n{out}"
    );
    assert!(
        out.contains("Container"),
        "explain does not name the type:\n{out}"
    );
    assert!(
        out.contains("image"),
        "explain does not list the container fields:\n{out}"
    );
    let deep = k.ok(&["explain", "deployment.spec.replicas"]);
    assert!(
        deep.contains("replicas") && deep.contains("integer"),
        "explain deployment.spec.replicas:\n{deep}"
    );
}
