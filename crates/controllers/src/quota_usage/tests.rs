//! Tables for quota usage: compute sums over pods, counts, canonical hard values.

use super::*;
use serde_json::{Value, json};

fn pod(phase: &str, containers: Value, init: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"containers": containers, "initContainers": init},
        "status": {"phase": phase},
    }))
    .unwrap_or_default()
}

fn c(requests: Value, limits: Value) -> Value {
    json!({"name": "c", "resources": {"requests": requests, "limits": limits}})
}

fn hard(names: &[&str]) -> BTreeMap<String, ApiQuantity> {
    names
        .iter()
        .map(|n| (n.to_string(), ApiQuantity("10".into())))
        .collect()
}

#[test]
fn compute_usage_table() {
    let pods = [
        pod(
            "Running",
            json!([
                c(
                    json!({"cpu": "100m", "memory": "64Mi"}),
                    json!({"cpu": "1", "memory": "128Mi"})
                ),
                c(json!({"cpu": "250m"}), json!({}))
            ]),
            json!([]),
        ),
        pod(
            "Pending",
            json!([c(
                json!({"cpu": "150m", "memory": "64Mi"}),
                json!({"memory": "1Gi"})
            )]),
            json!([]),
        ),
        // Init containers: the larger of the sum and each init container.
        pod(
            "Running",
            json!([c(json!({"cpu": "100m"}), json!({}))]),
            json!([c(json!({"cpu": "2"}), json!({}))]),
        ),
        // Finished pods do not count.
        pod(
            "Succeeded",
            json!([c(json!({"cpu": "5"}), json!({}))]),
            json!([]),
        ),
        pod(
            "Failed",
            json!([c(json!({"cpu": "5"}), json!({}))]),
            json!([]),
        ),
    ];
    let h = hard(&[
        "requests.cpu",
        "cpu",
        "requests.memory",
        "memory",
        "limits.cpu",
        "limits.memory",
        "unknown.thing",
    ]);
    let got = used(&h, pods.iter(), &Counts::new());
    let want: BTreeMap<String, ApiQuantity> = [
        ("requests.cpu", "2500m"),
        ("cpu", "2500m"),
        ("requests.memory", "128Mi"),
        ("memory", "128Mi"),
        ("limits.cpu", "1"),
        ("limits.memory", "1152Mi"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), ApiQuantity(v.into())))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn counts_and_zeroes() {
    let counts: Counts = [
        ("pods".to_string(), 3),
        ("count/deployments.apps".to_string(), 2),
    ]
    .into();
    let h = hard(&["pods", "count/deployments.apps", "requests.cpu"]);
    let got = used(&h, std::iter::empty(), &counts);
    assert_eq!(got.get("pods").map(|q| q.0.as_str()), Some("3"));
    assert_eq!(
        got.get("count/deployments.apps").map(|q| q.0.as_str()),
        Some("2")
    );
    assert_eq!(got.get("requests.cpu").map(|q| q.0.as_str()), Some("0"));
}

#[test]
fn hard_is_canonical_and_generic_counts_are_found() {
    let spec: BTreeMap<String, ApiQuantity> =
        [("cpu", "1000m"), ("memory", "1024Mi"), ("pods", "10")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), ApiQuantity(v.into())))
            .collect();
    let h = super::hard(&spec);
    assert_eq!(h.get("cpu").map(|q| q.0.as_str()), Some("1"));
    assert_eq!(h.get("memory").map(|q| q.0.as_str()), Some("1Gi"));
    let names = hard(&[
        "pods",
        "count/pods",
        "count/deployments.apps",
        "count/widgets",
        "cpu",
    ]);
    assert_eq!(
        generic_counts(&names),
        vec![
            (
                "count/deployments.apps".to_string(),
                "deployments".to_string(),
                "apps".to_string()
            ),
            (
                "count/widgets".to_string(),
                "widgets".to_string(),
                String::new()
            ),
        ]
    );
}
