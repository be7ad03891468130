//! The `pods/eviction` subresource: deletes a pod unless that would break a
//! PodDisruptionBudget, as upstream's eviction REST does.
//!
//! A pod that is not Ready (pending, finished, already terminating or simply unready) is deleted
//! without looking at budgets. Otherwise the one budget selecting the pod must allow a
//! disruption: its `status.disruptionsAllowed` is decremented and the pod recorded in
//! `status.disruptedPods` (through the status subresource, retried on conflicts) before the
//! pod is deleted. Zero allowed disruptions is a 429; more than one budget is a 500.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult, FieldError};
use crate::object::{labels, now_rfc3339};
use crate::query::Query;
use crate::registry::ResourceDef;
use crate::registry::strategies::workload::selector_from_object;
use crate::storage::{DeleteOptions, Storage};

/// Upstream refuses evictions once a budget tracks this many disrupted pods.
const MAX_DISRUPTED_PODS: usize = 2000;

/// What the eviction of a pod must do about budgets, decided from the pod and the budgets of its
/// namespace.
#[derive(Debug)]
pub enum Verdict {
    /// Delete without touching any budget.
    Delete,
    /// Take one disruption from this budget (by name), then delete.
    Charge(String),
    /// Refuse.
    Refuse(ApiError),
}

/// A budget's selector selects the pod (policy/v1: an empty selector selects every pod, a
/// missing one none).
fn selects(pdb: &Value, pod_labels: &BTreeMap<String, String>) -> bool {
    selector_from_object(&pdb["spec"]["selector"]).is_some_and(|s| s.matches(pod_labels))
}

/// The pod may go regardless of budgets: it is not Ready, or not running, or already going.
fn ignores_budgets(pod: &Value) -> bool {
    let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
    if matches!(phase, "Pending" | "Succeeded" | "Failed")
        || pod["metadata"]["deletionTimestamp"].is_string()
    {
        return true;
    }
    let ready = pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    !ready
}

/// Why a budget refuses a disruption now, if it does.
fn refusal(pdb: &Value) -> Option<ApiError> {
    let name = pdb["metadata"]["name"].as_str().unwrap_or_default();
    let status = &pdb["status"];
    let observed = status["observedGeneration"].as_i64().unwrap_or(0);
    let generation = pdb["metadata"]["generation"].as_i64().unwrap_or(0);
    let cause = |message: String| FieldError {
        reason: "DisruptionBudget",
        field: String::new(),
        message,
    };
    if observed < generation {
        return Some(ApiError::TooManyRequests(
            "Cannot evict pod as it would violate the pod's disruption budget.".into(),
            vec![cause(format!(
                "The disruption budget {name} is still being processed by the server."
            ))],
        ));
    }
    let allowed = status["disruptionsAllowed"].as_i64().unwrap_or(0);
    if allowed < 0 {
        return Some(ApiError::Forbidden(
            "pdb disruptions allowed is negative".into(),
        ));
    }
    if status["disruptedPods"]
        .as_object()
        .is_some_and(|m| m.len() > MAX_DISRUPTED_PODS)
    {
        return Some(ApiError::Forbidden(
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller".into(),
        ));
    }
    if allowed == 0 {
        let desired = status["desiredHealthy"].as_i64().unwrap_or(0);
        let current = status["currentHealthy"].as_i64().unwrap_or(0);
        return Some(ApiError::TooManyRequests(
            "Cannot evict pod as it would violate the pod's disruption budget.".into(),
            vec![cause(format!(
                "The disruption budget {name} needs {desired} healthy pods and has {current} currently"
            ))],
        ));
    }
    None
}

/// The decision for evicting `pod` given every budget of its namespace.
pub fn decide(pod: &Value, budgets: &[Value]) -> Verdict {
    if ignores_budgets(pod) {
        return Verdict::Delete;
    }
    let pod_labels = labels(pod);
    let matching: Vec<&Value> = budgets.iter().filter(|b| selects(b, &pod_labels)).collect();
    match matching.as_slice() {
        [] => Verdict::Delete,
        [pdb] => match refusal(pdb) {
            Some(err) => Verdict::Refuse(err),
            None => Verdict::Charge(pdb["metadata"]["name"].as_str().unwrap_or_default().to_string()),
        },
        _ => Verdict::Refuse(ApiError::Internal(
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.".into(),
        )),
    }
}

/// Takes one disruption from budget `name` for `pod`, re-checking on the latest version.
async fn charge(
    storage: &Storage,
    ns: Option<&str>,
    name: &str,
    pod: &str,
    q: &Query,
) -> ApiResult<()> {
    let def = storage
        .registry
        .get("policy", "v1", "poddisruptionbudgets")
        .ok_or(ApiError::NoRoute)?;
    let now = now_rfc3339();
    storage
        .guaranteed_update(def, ns, name, Some("status"), q, |old| {
            if let Some(err) = refusal(old) {
                return Err(err);
            }
            let mut new = old.clone();
            let allowed = old["status"]["disruptionsAllowed"].as_i64().unwrap_or(0);
            new["status"]["disruptionsAllowed"] = json!(allowed - 1);
            if !new["status"]["disruptedPods"].is_object() {
                new["status"]["disruptedPods"] = json!({});
            }
            new["status"]["disruptedPods"][pod] = json!(now);
            if let Some(m) = new["metadata"].as_object_mut() {
                m.remove("resourceVersion");
            }
            Ok(new)
        })
        .await?;
    Ok(())
}

/// POST pods/NAME/eviction: checks the budgets, charges the one selecting the pod, deletes it.
pub async fn evict(
    storage: &Storage,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    body: &Value,
    q: &Query,
) -> ApiResult<Value> {
    let opts: DeleteOptions = match body.get("deleteOptions") {
        Some(o) if !o.is_null() => {
            serde_json::from_value(o.clone()).map_err(|e| ApiError::BadRequest(e.to_string()))?
        }
        _ => DeleteOptions::default(),
    };
    let pod = storage.get(def, ns, name).await?;
    let pdb_def = storage
        .registry
        .get("policy", "v1", "poddisruptionbudgets")
        .ok_or(ApiError::NoRoute)?;
    let budgets = if ignores_budgets(&pod) {
        Vec::new()
    } else {
        storage.list_objects(pdb_def, ns, &Query::default()).await?
    };
    match decide(&pod, &budgets) {
        Verdict::Refuse(err) => return Err(err),
        Verdict::Charge(pdb) if !opts.dry_run(q) => charge(storage, ns, &pdb, name, q).await?,
        Verdict::Charge(_) | Verdict::Delete => {}
    }
    storage.delete(def, ns, name, &opts, q).await?;
    Ok(
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(phase: &str, ready: bool) -> Value {
        json!({"metadata": {"name": "p", "labels": {"app": "web"}},
               "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    }

    fn pdb(name: &str, selector: Value, allowed: i64) -> Value {
        json!({"metadata": {"name": name, "generation": 1}, "spec": {"selector": selector},
               "status": {"observedGeneration": 1, "disruptionsAllowed": allowed, "desiredHealthy": 2, "currentHealthy": 2}})
    }

    fn web() -> Value {
        json!({"matchLabels": {"app": "web"}})
    }

    #[test]
    fn verdict_table() {
        let too_many = ApiError::TooManyRequests(String::new(), Vec::new()).code_reason();
        let cases: Vec<(&str, Value, Vec<Value>, &str)> = vec![
            ("no budget", pod("Running", true), vec![], "delete"),
            (
                "other selector",
                pod("Running", true),
                vec![pdb("a", json!({"matchLabels": {"app": "db"}}), 0)],
                "delete",
            ),
            (
                "null selector selects nothing",
                pod("Running", true),
                vec![pdb("a", Value::Null, 0)],
                "delete",
            ),
            (
                "empty selector selects all",
                pod("Running", true),
                vec![pdb("a", json!({}), 0)],
                "429",
            ),
            (
                "allowed",
                pod("Running", true),
                vec![pdb("a", web(), 1)],
                "charge a",
            ),
            (
                "exhausted",
                pod("Running", true),
                vec![pdb("a", web(), 0)],
                "429",
            ),
            (
                "unready pod",
                pod("Running", false),
                vec![pdb("a", web(), 0)],
                "delete",
            ),
            (
                "pending pod",
                pod("Pending", true),
                vec![pdb("a", web(), 0)],
                "delete",
            ),
            (
                "finished pod",
                pod("Succeeded", true),
                vec![pdb("a", web(), 0)],
                "delete",
            ),
            (
                "two budgets",
                pod("Running", true),
                vec![pdb("a", web(), 1), pdb("b", json!({}), 1)],
                "500",
            ),
            (
                "negative",
                pod("Running", true),
                vec![pdb("a", web(), -1)],
                "403",
            ),
        ];
        for (what, p, budgets, want) in cases {
            let got = match decide(&p, &budgets) {
                Verdict::Delete => "delete".to_string(),
                Verdict::Charge(n) => format!("charge {n}"),
                Verdict::Refuse(e) if e.code_reason() == too_many => "429".into(),
                Verdict::Refuse(e) => e.code_reason().0.to_string(),
            };
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn refusal_names_the_budget_and_its_counts() {
        let mut budget = pdb("web-pdb", web(), 0);
        budget["status"]["desiredHealthy"] = json!(3);
        budget["status"]["currentHealthy"] = json!(2);
        let Verdict::Refuse(err) = decide(&pod("Running", true), &[budget]) else {
            panic!("not refused")
        };
        let s = err.status();
        assert_eq!(s["code"], 429);
        assert_eq!(s["reason"], "TooManyRequests");
        assert_eq!(
            s["message"],
            "Cannot evict pod as it would violate the pod's disruption budget."
        );
        assert_eq!(s["details"]["causes"][0]["reason"], "DisruptionBudget");
        assert_eq!(
            s["details"]["causes"][0]["message"],
            "The disruption budget web-pdb needs 3 healthy pods and has 2 currently"
        );
    }

    #[test]
    fn unobserved_generation_is_refused() {
        let mut budget = pdb("a", web(), 5);
        budget["metadata"]["generation"] = json!(2);
        assert!(matches!(
            decide(&pod("Running", true), &[budget]),
            Verdict::Refuse(ApiError::TooManyRequests(..))
        ));
    }
}
