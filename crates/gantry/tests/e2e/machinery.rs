//! API machinery as kubectl uses it: `--dry-run=server` for create, apply, patch and delete
//! persisting nothing; `--validate=strict|warn|false` (fieldValidation); `get -w` and
//! `get --watch-only` printing changes.

use serde_json::json;

use crate::harness::{DEADLINE, Kubectl, Server, wait_until};

crate::per_kubectl! {
    server_dry_run => dry_run;
    field_validation => validation;
    watch_output => watch;
}

fn not_found(k: &Kubectl, args: &[&str]) -> bool {
    let out = k.run(args);
    !out.success && out.stderr.contains("NotFound")
}

fn dry_run(minor: u32) {
    let server = Server::start();
    let k = Kubectl::new(&server, minor);

    let out = k.ok(&[
        "create",
        "configmap",
        "dry",
        "--from-literal=a=1",
        "--dry-run=server",
    ]);
    assert_eq!(out.trim(), "configmap/dry created (server dry run)");
    let printed = k.json(&[
        "create",
        "configmap",
        "dry",
        "--from-literal=a=1",
        "--dry-run=server",
    ]);
    assert!(
        printed["metadata"]["uid"].is_string(),
        "a server dry run returns the object as it would be stored: {printed}"
    );
    assert!(
        not_found(&k, &["get", "configmap", "dry"]),
        "dry-run create persisted the object"
    );

    let manifest =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: \"1\"\n";
    let out = k.ok_stdin(&["apply", "--dry-run=server", "-f", "-"], manifest);
    assert_eq!(out.trim(), "configmap/applied created (server dry run)");
    assert!(
        not_found(&k, &["get", "configmap", "applied"]),
        "dry-run apply persisted the object"
    );
    let ssa = k.ok_stdin(
        &["apply", "--server-side", "--dry-run=server", "-f", "-"],
        manifest,
    );
    assert_eq!(
        ssa.trim(),
        "configmap/applied serverside-applied (server dry run)"
    );
    assert!(
        not_found(&k, &["get", "configmap", "applied"]),
        "dry-run server-side apply persisted the object"
    );

    k.ok(&["create", "configmap", "real", "--from-literal=a=1"]);
    let before = k.json(&["get", "configmap", "real"]);

    let patched = k.json(&[
        "patch",
        "configmap",
        "real",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"a":"2"}}"#,
        "--dry-run=server",
    ]);
    assert_eq!(
        patched["data"]["a"], "2",
        "the dry run shows the patched object: {patched}"
    );
    // kubectl patch (1.27 to 1.33) prints no "(server dry run)" suffix, though it sends dryRun=All.
    let out = k.run(&[
        "patch",
        "configmap",
        "real",
        "--type",
        "strategic",
        "-p",
        r#"{"data":{"b":"3"}}"#,
        "--dry-run=server",
        "-v=6",
    ]);
    assert!(
        out.success && out.stdout.trim() == "configmap/real patched",
        "{out:?}"
    );
    assert!(
        out.stderr.contains("dryRun=All"),
        "the patch is sent as a dry run: {}",
        out.stderr
    );
    let out = k.ok_stdin(
        &["apply", "--dry-run=server", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: real\ndata:\n  a: \"5\"\n",
    );
    assert_eq!(out.trim(), "configmap/real configured (server dry run)");
    let out = k.ok(&["label", "configmap", "real", "x=y", "--dry-run=server"]);
    assert_eq!(out.trim(), "configmap/real labeled (server dry run)");

    let out = k.ok(&["delete", "configmap", "real", "--dry-run=server"]);
    assert_eq!(out.trim(), r#"configmap "real" deleted (server dry run)"#);
    assert_eq!(
        k.json(&["get", "configmap", "real"]),
        before,
        "dry runs changed the stored object"
    );

    // A dry run still validates: an invalid object is rejected.
    let invalid = k.fails(
        &["create", "configmap", "Bad_Name", "--dry-run=server"],
        None,
    );
    assert!(
        invalid.contains("is invalid") && invalid.contains("metadata.name"),
        "{invalid}"
    );
}

/// A ConfigMap manifest with an unknown top-level field `bogus` and an unknown `metadata.extra`.
fn with_unknown(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  extra: 1\nbogus: true\ndata:\n  a: \"1\"\n"
    )
}

fn validation(minor: u32) {
    let server = Server::start();
    let k = Kubectl::new(&server, minor);

    for args in [
        &["create", "--validate=strict", "-f", "-"][..],
        &["apply", "--validate=strict", "-f", "-"],
        &["apply", "-f", "-"],
    ] {
        let err = k.fails(args, Some(&with_unknown("strict")));
        assert!(err.contains("strict decoding error"), "{args:?}: {err}");
        assert!(
            err.contains(r#"unknown field "bogus""#)
                && err.contains(r#"unknown field "metadata.extra""#),
            "{args:?} names both fields: {err}"
        );
        assert!(
            not_found(&k, &["get", "configmap", "strict"]),
            "{args:?} stored a rejected object"
        );
    }

    let ignored = k.run_with(
        &["create", "--validate=false", "-f", "-"],
        Some(&with_unknown("ignored")),
    );
    assert!(ignored.success, "{ignored:?}");
    assert!(
        !ignored.stderr.contains("unknown field"),
        "--validate=false is silent: {ignored:?}"
    );
    let stored = k.json(&["get", "configmap", "ignored"]);
    assert!(
        stored.get("bogus").is_none() && stored["metadata"].get("extra").is_none(),
        "unknown fields are dropped: {stored}"
    );

    // Patches are validated too: apply to an existing object sends one with fieldValidation.
    k.ok(&["create", "configmap", "strict"]);
    let patch = k.fails(
        &["apply", "--validate=strict", "-f", "-"],
        Some(&with_unknown("strict")),
    );
    assert!(
        patch.contains("error when patching") && patch.contains(r#"unknown field "bogus""#),
        "{patch}"
    );
    assert!(
        k.json(&["get", "configmap", "strict"])
            .get("data")
            .is_none()
    );

    // Last, as gantry differs here: the warning quotes the field as upstream does.
    let warned = k.run_with(
        &["create", "--validate=warn", "-f", "-"],
        Some(&with_unknown("warned")),
    );
    assert!(warned.success, "{warned:?}");
    assert!(
        warned.stderr.contains(r#"Warning: unknown field "bogus""#),
        "a warning names the field: {warned:?}"
    );
    assert_eq!(
        k.json(&["get", "configmap", "warned"])["data"],
        json!({"a": "1"})
    );
}

fn watch(minor: u32) {
    let server = Server::start();
    let k = Kubectl::new(&server, minor);
    k.ok(&["create", "configmap", "old", "--from-literal=a=1"]);
    k.ok(&["create", "configmap", "w", "--from-literal=a=1"]);

    let rows = |out: &str, name: &str| -> Vec<Vec<String>> {
        out.lines()
            .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
            .filter(|r| r.first().map(String::as_str) == Some(name))
            .collect()
    };

    let watch = k.background(&["get", "configmap", "-w"]);
    let listed = watch.wait_for("get -w lists w", |out| rows(out, "w").len() == 1);
    let header: Vec<&str> = listed
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "DATA", "AGE"], "{listed}");
    k.ok(&[
        "patch",
        "configmap",
        "w",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"b":"2"}}"#,
    ]);
    let out = watch.wait_for("get -w prints the change", |out| rows(out, "w").len() == 2);
    assert_eq!(
        rows(&out, "w")[1][1],
        "2",
        "the new row shows two data keys:\n{out}"
    );
    k.ok(&["create", "configmap", "later"]);
    let out = watch.wait_for("get -w prints a new object", |out| {
        rows(out, "later").len() == 1
    });
    assert_eq!(
        out.lines().filter(|l| l.starts_with("NAME")).count(),
        1,
        "one header:\n{out}"
    );
    k.ok(&["delete", "configmap", "later"]);
    watch.wait_for("get -w prints the deletion", |out| {
        rows(out, "later").len() == 2
    });

    let only = k.background(&["get", "configmap", "--watch-only"]);
    // The watch starts at some point after the command: touch `w` until a change is printed.
    let mut n = 0;
    wait_until("--watch-only prints a change", DEADLINE, || {
        n += 1;
        k.ok(&["label", "configmap", "w", &format!("n={n}"), "--overwrite"]);
        !rows(&only.stdout(), "w").is_empty()
    });
    let out = only.stdout();
    assert!(
        rows(&out, "old").is_empty(),
        "--watch-only does not list what exists:\n{out}"
    );
    let json_watch = k.background(&["get", "configmap", "w", "-w", "-o", "json"]);
    let first = json_watch.wait_for("get -w -o json prints w", |out| {
        serde_json::Deserializer::from_str(out)
            .into_iter::<serde_json::Value>()
            .flatten()
            .count()
            >= 1
    });
    let objects: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&first)
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(objects[0]["metadata"]["name"], "w", "{first}");
}
