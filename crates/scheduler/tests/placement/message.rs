//! The FailedScheduling message, in upstream's words, for tables of unschedulable snapshots.

use gantry_scheduler::filters::Reason;
use gantry_scheduler::placement::FitError;
use serde_json::json;

use crate::fixtures::{node, placed, pod, schedule};

#[test]
fn upstream_wording() {
    let cases: Vec<(usize, Vec<Reason>, &str)> = vec![
        (
            3,
            vec![
                Reason::NodeAffinity,
                Reason::Insufficient("cpu".into()),
                Reason::Insufficient("cpu".into()),
            ],
            "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
        ),
        (
            2,
            vec![
                Reason::Taint {
                    key: "dedicated".into(),
                    value: "gpu".into(),
                },
                Reason::Unschedulable,
            ],
            "0/2 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
        ),
        (
            1,
            vec![
                Reason::TooManyPods,
                Reason::Insufficient("memory".into()),
                Reason::Insufficient("cpu".into()),
            ],
            "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 Too many pods. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
        ),
        (0, vec![], "no nodes available to schedule pods"),
    ];
    for (nodes, reasons, want) in cases {
        assert_eq!(FitError::from_reasons(nodes, reasons).to_string(), want);
    }
}

#[test]
fn reasons_from_a_snapshot() {
    let nodes = vec![
        node("a", json!({"metadata": {"labels": {"disk": "hdd"}}})),
        node("b", json!({"metadata": {"labels": {"disk": "ssd"}}})),
        node("c", json!({"metadata": {"labels": {"disk": "ssd"}}})),
        node(
            "d",
            json!({"metadata": {"labels": {"disk": "ssd"}}, "spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}}),
        ),
        node(
            "e",
            json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}),
        ),
    ];
    let pods = vec![
        placed("x", "b", "3", "", json!({})),
        placed("y", "c", "3", "", json!({})),
    ];
    let p = pod(
        "p",
        "2",
        "",
        json!({"spec": {"nodeSelector": {"disk": "ssd"}}}),
    );
    let err = schedule(&nodes, &pods, &p).expect_err("nothing fits");
    assert_eq!(
        err.to_string(),
        "0/5 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {k: v}, 1 node(s) were not ready, 2 Insufficient cpu. preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling."
    );
}
