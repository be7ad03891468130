//! The filters that look at other pods (required pod affinity and anti-affinity, topology
//! spread constraints), as tables of (nodes, placed pods, pod) -> the nodes that pass.

use k8s_openapi::api::core::v1::Node;
use serde_json::{Value, json};

use crate::filters::{Case, check, plain};
use crate::fixtures::{node, placed, pod};

fn zoned() -> Vec<Node> {
    let zone = |name: &'static str, zone: &str| {
        node(name, json!({"metadata": {"labels": {"zone": zone}}}))
    };
    vec![
        zone("a", "z1"),
        zone("b", "z1"),
        zone("c", "z2"),
        plain("d"),
    ]
}

#[test]
fn pod_affinity_and_anti_affinity() {
    let term = |app: &str, key: &str| json!([{"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}]);
    let with = |kind: &str, terms: Value, labels: Value| {
        pod(
            "p",
            "",
            "",
            json!({"metadata": {"labels": labels}, "spec": {"affinity": {kind: {"requiredDuringSchedulingIgnoredDuringExecution": terms}}}}),
        )
    };
    let db_on_a = || {
        vec![placed(
            "db",
            "a",
            "",
            "",
            json!({"metadata": {"labels": {"app": "db"}}}),
        )]
    };
    let other_ns = json!([{"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone", "namespaces": ["other"]}]);
    let all_ns = json!([{"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone", "namespaceSelector": {}}]);
    let guard = placed(
        "guard",
        "c",
        "",
        "",
        json!({"spec": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": term("web", "zone")}}}}),
    );
    check(vec![
        Case {
            name: "affinity by zone",
            nodes: zoned(),
            pods: db_on_a(),
            pod: with("podAffinity", term("db", "zone"), json!({})),
            want: &["a", "b"],
        },
        Case {
            name: "affinity by hostname",
            nodes: zoned(),
            pods: db_on_a(),
            pod: with(
                "podAffinity",
                term("db", "kubernetes.io/hostname"),
                json!({}),
            ),
            want: &["a"],
        },
        Case {
            name: "affinity, no match",
            nodes: zoned(),
            pods: vec![],
            pod: with("podAffinity", term("db", "zone"), json!({})),
            want: &[],
        },
        Case {
            name: "affinity, first of its group",
            nodes: zoned(),
            pods: vec![],
            pod: with("podAffinity", term("db", "zone"), json!({"app": "db"})),
            want: &["a", "b", "c"],
        },
        Case {
            name: "affinity, other namespace",
            nodes: zoned(),
            pods: db_on_a(),
            pod: with("podAffinity", other_ns, json!({})),
            want: &[],
        },
        Case {
            name: "affinity, every namespace",
            nodes: zoned(),
            pods: db_on_a(),
            pod: with("podAffinity", all_ns, json!({})),
            want: &["a", "b"],
        },
        Case {
            name: "anti-affinity by zone",
            nodes: zoned(),
            pods: db_on_a(),
            pod: with("podAntiAffinity", term("db", "zone"), json!({})),
            want: &["c", "d"],
        },
        Case {
            name: "anti-affinity by hostname",
            nodes: zoned(),
            pods: db_on_a(),
            pod: with(
                "podAntiAffinity",
                term("db", "kubernetes.io/hostname"),
                json!({}),
            ),
            want: &["b", "c", "d"],
        },
        Case {
            name: "existing pod's anti-affinity",
            nodes: zoned(),
            pods: vec![guard.clone()],
            pod: pod("p", "", "", json!({"metadata": {"labels": {"app": "web"}}})),
            want: &["a", "b", "d"],
        },
        Case {
            name: "existing anti-affinity, not selected",
            nodes: zoned(),
            pods: vec![guard],
            pod: pod("p", "", "", json!({"metadata": {"labels": {"app": "api"}}})),
            want: &["a", "b", "c", "d"],
        },
    ]);
}

#[test]
fn topology_spread() {
    let web = |name: &str, node: &str| {
        placed(
            name,
            node,
            "",
            "",
            json!({"metadata": {"labels": {"app": "web"}}}),
        )
    };
    let spread = |skew: i32, extra: Value| {
        let mut c = json!({"maxSkew": skew, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}});
        crate::fixtures::merge(&mut c, extra);
        pod(
            "p",
            "",
            "",
            json!({"metadata": {"labels": {"app": "web"}}, "spec": {"topologySpreadConstraints": [c]}}),
        )
    };
    let two_in_z1 = || vec![web("w1", "a"), web("w2", "b")];
    let mut confined = spread(1, json!({}));
    if let Some(spec) = confined.spec.as_mut() {
        spec.node_selector = Some([("zone".to_owned(), "z1".to_owned())].into());
    }
    check(vec![
        Case {
            name: "skew 1: only the empty zone",
            nodes: zoned(),
            pods: two_in_z1(),
            pod: spread(1, json!({})),
            want: &["c"],
        },
        Case {
            name: "skew 2 allows z1 no more",
            nodes: zoned(),
            pods: two_in_z1(),
            pod: spread(2, json!({})),
            want: &["c"],
        },
        Case {
            name: "skew 3",
            nodes: zoned(),
            pods: two_in_z1(),
            pod: spread(3, json!({})),
            want: &["a", "b", "c"],
        },
        Case {
            name: "balanced domains",
            nodes: zoned(),
            pods: vec![web("w1", "a"), web("w2", "c")],
            pod: spread(1, json!({})),
            want: &["a", "b", "c"],
        },
        Case {
            name: "minDomains above the domains counts min as 0",
            nodes: zoned(),
            pods: vec![web("w1", "a"), web("w2", "c")],
            pod: spread(1, json!({"minDomains": 3})),
            want: &[],
        },
        Case {
            name: "domains only from nodes the pod may use",
            nodes: zoned(),
            pods: two_in_z1(),
            pod: confined,
            want: &["a", "b"],
        },
        Case {
            name: "ScheduleAnyway does not filter",
            nodes: zoned(),
            pods: two_in_z1(),
            pod: spread(1, json!({"whenUnsatisfiable": "ScheduleAnyway"})),
            want: &["a", "b", "c", "d"],
        },
    ]);
}
