//! Tables for the disruption budget arithmetic.

use super::*;
use serde_json::{Value, json};

fn pdb(spec: Value, status: Value) -> PodDisruptionBudget {
    serde_json::from_value(json!({
        "metadata": {"name": "b", "namespace": "ns", "generation": 2},
        "spec": spec,
        "status": status,
    }))
    .unwrap_or_default()
}

fn pod(name: &str, ready: bool, owner: Option<&str>) -> Pod {
    let owners: Vec<Value> = owner
        .map(|o| json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": o, "uid": o, "controller": true}))
        .into_iter()
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "web"}, "ownerReferences": owners},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
    }))
    .unwrap_or_default()
}

/// Controller "rs5" has 5 replicas, "rs3" 3; anything else is unknown.
fn scale(o: &OwnerReference) -> Option<Scale> {
    match o.uid.as_str() {
        "rs5" => Some(Scale::new("rs5".into(), 5)),
        "rs3" => Some(Scale::new("rs3".into(), 3)),
        _ => None,
    }
}

#[test]
fn scaled_rounds_up() {
    let cases = [
        (IntOrString::Int(2), 10, Ok(2)),
        (IntOrString::String("50%".into()), 5, Ok(3)),
        (IntOrString::String("50%".into()), 4, Ok(2)),
        (IntOrString::String("10%".into()), 1, Ok(1)),
        (IntOrString::String("0%".into()), 7, Ok(0)),
        (IntOrString::String("100%".into()), 7, Ok(7)),
        (IntOrString::String("abc".into()), 7, Err(())),
        (IntOrString::String("5".into()), 7, Err(())),
    ];
    for (v, total, want) in cases {
        assert_eq!(scaled(&v, total).map_err(|_| ()), want, "{v:?} of {total}");
    }
}

#[test]
fn expected_and_desired_table() {
    let five: Vec<Pod> = (0..4)
        .map(|i| pod(&format!("p{i}"), true, Some("rs5")))
        .collect();
    let bare: Vec<Pod> = (0..3).map(|i| pod(&format!("b{i}"), true, None)).collect();
    let mixed: Vec<Pod> = vec![
        pod("a", true, Some("rs5")),
        pod("b", true, Some("rs3")),
        pod("c", true, None),
    ];
    let sel = json!({"matchLabels": {"app": "web"}});
    let cases: Vec<(&str, Value, &Vec<Pod>, (i32, i32))> = vec![
        (
            "minAvailable int uses the pod count",
            json!({"selector": sel, "minAvailable": 2}),
            &five,
            (4, 2),
        ),
        (
            "minAvailable percent uses the scale",
            json!({"selector": sel, "minAvailable": "50%"}),
            &five,
            (5, 3),
        ),
        (
            "maxUnavailable int",
            json!({"selector": sel, "maxUnavailable": 1}),
            &five,
            (5, 4),
        ),
        (
            "maxUnavailable percent rounds up",
            json!({"selector": sel, "maxUnavailable": "30%"}),
            &five,
            (5, 3),
        ),
        (
            "maxUnavailable above scale",
            json!({"selector": sel, "maxUnavailable": 9}),
            &five,
            (5, 0),
        ),
        (
            "pods without controller count one each",
            json!({"selector": sel, "maxUnavailable": 1}),
            &bare,
            (3, 2),
        ),
        (
            "controllers summed once each",
            json!({"selector": sel, "minAvailable": "100%"}),
            &mixed,
            (9, 9),
        ),
        ("neither field", json!({"selector": sel}), &five, (0, 0)),
    ];
    for (what, spec, pods, want) in cases {
        let b = pdb(spec, json!({}));
        let refs: Vec<&Pod> = pods.iter().collect();
        assert_eq!(expected_and_desired(&b, &refs, scale), Ok(want), "{what}");
    }
}

#[test]
fn status_table() {
    let now = Timestamp::from_second(10_000).unwrap_or_default();
    let recent = Timestamp::from_second(9_950).unwrap_or_default();
    let old = Timestamp::from_second(9_000).unwrap_or_default();
    let sel = json!({"matchLabels": {"app": "web"}});
    let pods = vec![
        pod("p0", true, Some("rs5")),
        pod("p1", true, Some("rs5")),
        pod("p2", true, Some("rs5")),
        pod("p3", false, Some("rs5")),
    ];
    // (what, spec, status before, healthy, desired, expected, allowed, reason, disrupted left)
    type Case<'a> = (&'a str, Value, Value, i32, i32, i32, i32, &'a str, usize);
    let cases: Vec<Case> = vec![
        (
            "enough ready pods",
            json!({"selector": sel, "minAvailable": 2}),
            json!({}),
            3,
            2,
            4,
            1,
            "SufficientPods",
            0,
        ),
        (
            "too few",
            json!({"selector": sel, "minAvailable": 3}),
            json!({}),
            3,
            3,
            4,
            0,
            "InsufficientPods",
            0,
        ),
        (
            "maxUnavailable",
            json!({"selector": sel, "maxUnavailable": 2}),
            json!({}),
            3,
            3,
            5,
            0,
            "InsufficientPods",
            0,
        ),
        (
            "recently evicted pod is not healthy",
            json!({"selector": sel, "minAvailable": 1}),
            json!({"disruptedPods": {"p0": recent.to_string()}}),
            2,
            1,
            4,
            1,
            "SufficientPods",
            1,
        ),
        (
            "evicted long ago counts again",
            json!({"selector": sel, "minAvailable": 1}),
            json!({"disruptedPods": {"p0": old.to_string()}}),
            3,
            1,
            4,
            2,
            "SufficientPods",
            0,
        ),
        (
            "invalid percent fails safe",
            json!({"selector": sel, "minAvailable": "x%"}),
            json!({"disruptionsAllowed": 3}),
            0,
            0,
            0,
            0,
            "SyncFailed",
            0,
        ),
    ];
    for (what, spec, before, healthy, desired, expected, allowed, reason, disrupted) in cases {
        let b = pdb(spec, before);
        let refs: Vec<&Pod> = pods.iter().collect();
        let computed = compute(&b, &refs, scale, now);
        let Some(s) = computed.status else {
            panic!("{what}: no status change")
        };
        assert_eq!(
            (
                s.current_healthy,
                s.desired_healthy,
                s.expected_pods,
                s.disruptions_allowed
            ),
            (healthy, desired, expected, allowed),
            "{what}"
        );
        let conditions = s.conditions.unwrap_or_default();
        assert_eq!(
            conditions.first().map(|c| c.reason.as_str()),
            Some(reason),
            "{what}"
        );
        assert_eq!(s.disrupted_pods.map_or(0, |d| d.len()), disrupted, "{what}");
        if disrupted > 0 {
            assert_eq!(computed.recheck_after, Some(70), "{what}");
        }
    }
}

#[test]
fn up_to_date_status_is_not_rewritten() {
    let now = Timestamp::from_second(10_000).unwrap_or_default();
    let sel = json!({"matchLabels": {"app": "web"}});
    let pods = [pod("p0", true, None), pod("p1", true, None)];
    let refs: Vec<&Pod> = pods.iter().collect();
    let mut b = pdb(json!({"selector": sel, "minAvailable": 1}), json!({}));
    let first = compute(&b, &refs, scale, now).status;
    assert!(first.is_some());
    b.status = first;
    let later = Timestamp::from_second(20_000).unwrap_or_default();
    assert!(compute(&b, &refs, scale, later).status.is_none());
}

#[test]
fn selector_semantics() {
    let p = pod("p", true, None);
    assert!(selects(&pdb(json!({"selector": {}}), json!({})), &p));
    assert!(!selects(&pdb(json!({}), json!({})), &p));
    assert!(selects(
        &pdb(
            json!({"selector": {"matchLabels": {"app": "web"}}}),
            json!({})
        ),
        &p
    ));
    assert!(!selects(
        &pdb(
            json!({"selector": {"matchLabels": {"app": "db"}}}),
            json!({})
        ),
        &p
    ));
}
