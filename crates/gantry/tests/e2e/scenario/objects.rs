//! Scenario steps that create objects and read them back: imperative creates (protobuf from
//! kubectl 1.32 on), `apply` of a multi-document manifest, every `get` output and `get -w`.

use serde_json::Value;

use super::{NS, manifest, names};
use crate::harness::Kubectl;

pub fn create_imperatively(k: &Kubectl) {
    assert_eq!(
        k.ok(&["create", "namespace", NS]).trim(),
        format!("namespace/{NS} created")
    );
    let verbose = k.run(&[
        "-n",
        NS,
        "create",
        "configmap",
        "settings",
        "--from-literal=color=red",
        "--from-literal=size=10",
        "-v=8",
    ]);
    assert!(verbose.success, "create configmap:\n{}", verbose.stderr);
    assert!(
        verbose.stdout.contains("configmap/settings created"),
        "{}",
        verbose.stdout
    );
    if k.minor >= 32 {
        assert!(
            verbose
                .stderr
                .contains("Content-Type: application/vnd.kubernetes.protobuf"),
            "kubectl 1.{} should send protobuf:\n{}",
            k.minor,
            verbose.stderr
        );
    }
    k.ok(&[
        "-n",
        NS,
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=password=hunter2",
    ]);
    k.ok(&[
        "-n",
        NS,
        "create",
        "deployment",
        "web",
        "--image=nginx:1.25",
        "--replicas=2",
    ]);

    let cm = k.json(&["-n", NS, "get", "configmap", "settings"]);
    assert_eq!(
        cm["data"],
        serde_json::json!({"color": "red", "size": "10"})
    );
    let secret = k.json(&["-n", NS, "get", "secret", "creds"]);
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(
        secret["data"]["password"], "aHVudGVyMg==",
        "secret data is base64 of the literal"
    );
    let web = k.json(&["-n", NS, "get", "deployment", "web"]);
    assert_eq!(web["spec"]["replicas"], 2);
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.25"
    );
    assert_eq!(web["spec"]["selector"]["matchLabels"]["app"], "web");
    assert_eq!(web["metadata"]["generation"], 1);
    let again = k.fails(&["-n", NS, "create", "configmap", "settings"], None);
    assert!(
        again.contains(r#"configmaps "settings" already exists"#),
        "{again}"
    );
}

pub fn apply_and_reapply(k: &Kubectl) {
    let first = k.ok_stdin(&["apply", "-f", "-"], &manifest("production"));
    for line in [
        "deployment.apps/api created",
        "service/api created",
        "configmap/api-config created",
        "secret/api-secret created",
    ] {
        assert!(first.contains(line), "first apply lacks {line:?}:\n{first}");
    }
    let same = k.ok_stdin(&["apply", "-f", "-"], &manifest("production"));
    // A Secret with stringData is always "configured" again, upstream too: the server moves
    // stringData into data, so the three-way diff sees stringData missing.
    for line in [
        "deployment.apps/api unchanged",
        "service/api unchanged",
        "configmap/api-config unchanged",
        "secret/api-secret",
    ] {
        assert!(same.contains(line), "re-apply lacks {line:?}:\n{same}");
    }
    let changed = k.ok_stdin(&["apply", "-f", "-"], &manifest("staging"));
    assert!(
        changed.contains("configmap/api-config configured"),
        "{changed}"
    );
    assert!(
        changed.contains("deployment.apps/api unchanged"),
        "{changed}"
    );

    let cm = k.json(&["-n", NS, "get", "configmap", "api-config"]);
    assert_eq!(cm["data"]["mode"], "staging");
    let last = cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap_or_default();
    assert!(
        last.contains("staging"),
        "last-applied-configuration not updated: {last}"
    );
    let secret = k.json(&["-n", NS, "get", "secret", "api-secret"]);
    assert_eq!(
        secret["data"]["token"], "czNjcjN0",
        "stringData is stored as base64 data"
    );
    assert!(
        secret.get("stringData").is_none(),
        "stringData is write-only: {secret}"
    );
    let svc = k.json(&["-n", NS, "get", "service", "api"]);
    assert_eq!(
        svc["spec"]["ports"][0]["protocol"], "TCP",
        "defaulted protocol"
    );
    assert_eq!(svc["spec"]["type"], "ClusterIP");
}

/// `kubectl diff` and `apply --dry-run=server` ask the server what would change, and change nothing.
pub fn diff_and_dry_run(k: &Kubectl) {
    let before = k.json(&["-n", NS, "get", "configmap", "api-config"]);
    let same = k.run_with(&["diff", "-f", "-"], Some(&manifest("staging")));
    assert!(
        same.success,
        "diff of the applied manifest is empty:\n{}{}",
        same.stdout, same.stderr
    );
    let changed = k.run_with(&["diff", "-f", "-"], Some(&manifest("canary")));
    assert!(
        !changed.success
            && changed.stdout.contains("+  mode: canary")
            && changed.stdout.contains("-  mode: staging"),
        "{changed:?}"
    );
    assert!(
        !changed.stdout.contains("resourceVersion"),
        "a dry run keeps the resourceVersion:\n{}",
        changed.stdout
    );
    let dry = k.ok_stdin(
        &["apply", "--dry-run=server", "-f", "-"],
        &manifest("canary"),
    );
    assert!(
        dry.contains("configmap/api-config configured (server dry run)"),
        "{dry}"
    );
    let after = k.json(&["-n", NS, "get", "configmap", "api-config"]);
    assert_eq!(after, before, "diff and dry runs changed the stored object");
}

pub fn get_flavours(k: &Kubectl) {
    let yaml = k.ok(&["-n", NS, "get", "configmap", "api-config", "-o", "yaml"]);
    let parsed: Value = serde_saphyr::from_str(&yaml)
        .unwrap_or_else(|e| panic!("-o yaml is not YAML ({e}):\n{yaml}"));
    assert_eq!(parsed["kind"], "ConfigMap");
    assert_eq!(parsed["data"]["mode"], "staging");
    assert_eq!(parsed["metadata"]["namespace"], NS);

    let all = k.json(&["-n", NS, "get", "configmaps"]);
    assert_eq!(all["kind"], "List");
    let mut got = names(&all);
    // Every namespace also holds the cluster CA, published by the controller manager.
    got.retain(|n| n != "kube-root-ca.crt");
    got.sort();
    assert_eq!(got, ["api-config", "settings"]);

    let wide = k.ok(&["-n", NS, "get", "deployments", "-o", "wide"]);
    let header = wide.lines().next().unwrap_or_default();
    for column in ["NAME", "READY", "CONTAINERS", "IMAGES", "SELECTOR"] {
        assert!(
            header.split_whitespace().any(|c| c == column),
            "-o wide header lacks {column}:\n{wide}"
        );
    }
    let web = wide
        .lines()
        .find(|l| l.starts_with("web "))
        .unwrap_or_else(|| panic!("no web row:\n{wide}"));
    assert!(
        web.contains("nginx:1.25") && web.contains("app=web"),
        "web row: {web}"
    );

    let labelled = k.json(&[
        "-n",
        NS,
        "get",
        "deployments,services,configmaps,secrets",
        "-l",
        "app=api",
    ]);
    let mut got = names(&labelled);
    got.sort();
    assert_eq!(got, ["api", "api", "api-config", "api-secret"]);
    let tiers = k.json(&[
        "-n",
        NS,
        "get",
        "deployments",
        "-l",
        "tier in (backend),app!=web",
    ]);
    assert_eq!(names(&tiers), ["api"]);

    let by_name = k.json(&[
        "-n",
        NS,
        "get",
        "configmaps",
        "--field-selector",
        "metadata.name=settings",
    ]);
    assert_eq!(names(&by_name), ["settings"]);
    let not_opaque = k.json(&[
        "-n",
        NS,
        "get",
        "secrets",
        "--field-selector",
        "type!=Opaque",
    ]);
    assert_eq!(names(&not_opaque), Vec::<String>::new());

    let everywhere = k.json(&["get", "configmaps", "-A"]);
    let ours: Vec<&Value> = everywhere["items"]
        .as_array()
        .map(|i| {
            i.iter()
                .filter(|o| {
                    o["metadata"]["namespace"] == NS && o["metadata"]["name"] != "kube-root-ca.crt"
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        ours.len(),
        2,
        "-A lists the configmaps of {NS}: {everywhere}"
    );
    let table = k.ok(&["get", "namespaces", "-A"]);
    for ns in ["default", "kube-system", NS] {
        assert!(
            table
                .lines()
                .any(|l| l.split_whitespace().next() == Some(ns)),
            "namespace {ns} missing:\n{table}"
        );
    }
}

/// Parses concatenated JSON documents (the output of `--output-watch-events -o json`).
fn events(stdout: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<Value>()
        .map_while(Result::ok)
        .collect()
}

fn has_event(stdout: &str, kind: &str, name: &str) -> bool {
    events(stdout)
        .iter()
        .any(|e| e["type"] == kind && e["object"]["metadata"]["name"] == name)
}

pub fn watch_sees_changes(k: &Kubectl) {
    let by_name = k.background(&["-n", NS, "get", "configmaps", "-w", "-o", "name"]);
    let with_events = k.background(&[
        "-n",
        NS,
        "get",
        "configmaps",
        "-w",
        "--output-watch-events",
        "-o",
        "json",
    ]);
    by_name.wait_for("the name watcher lists existing configmaps", |out| {
        out.lines().any(|l| l == "configmap/settings")
    });
    with_events.wait_for("the event watcher lists existing configmaps", |out| {
        has_event(out, "ADDED", "settings")
    });

    k.ok(&[
        "-n",
        NS,
        "create",
        "configmap",
        "watched",
        "--from-literal=k=v",
    ]);
    by_name.wait_for("the name watcher sees the new configmap", |out| {
        out.lines().any(|l| l == "configmap/watched")
    });
    with_events.wait_for("an ADDED event", |out| has_event(out, "ADDED", "watched"));

    k.ok(&["-n", NS, "label", "configmap", "watched", "seen=yes"]);
    let out = with_events.wait_for("a MODIFIED event", |out| {
        has_event(out, "MODIFIED", "watched")
    });
    let modified = events(&out)
        .into_iter()
        .find(|e| e["type"] == "MODIFIED" && e["object"]["metadata"]["name"] == "watched");
    assert_eq!(
        modified.map(|e| e["object"]["metadata"]["labels"]["seen"].clone()),
        Some(Value::from("yes"))
    );

    k.ok(&["-n", NS, "delete", "configmap", "watched"]);
    with_events.wait_for("a DELETED event", |out| {
        has_event(out, "DELETED", "watched")
    });
    assert!(
        !by_name.stdout().contains("api-secret"),
        "a configmap watch shows only configmaps"
    );
}
