//! Where a DaemonSet's pods belong, as pure functions: a node is eligible when the pod's
//! nodeSelector and required node affinity match it and its NoSchedule/NoExecute taints are
//! tolerated (daemon pods carry upstream's default tolerations); each daemon pod is pinned with
//! node affinity `matchFields metadata.name`; and the per-node plan (create, delete, roll).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodSpec, Toleration,
};

/// Upstream's AddOrUpdateDaemonPodTolerations: daemons survive not-ready/unreachable nodes and
/// run on pressured or cordoned ones.
pub fn default_tolerations(host_network: bool) -> Vec<Toleration> {
    let t = |key: &str, effect: &str| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Default::default()
    };
    let mut out = vec![
        t("node.kubernetes.io/not-ready", "NoExecute"),
        t("node.kubernetes.io/unreachable", "NoExecute"),
        t("node.kubernetes.io/disk-pressure", "NoSchedule"),
        t("node.kubernetes.io/memory-pressure", "NoSchedule"),
        t("node.kubernetes.io/pid-pressure", "NoSchedule"),
        t("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if host_network {
        out.push(t("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    out
}

/// The daemon pod spec for `node`: default tolerations added, required node affinity replaced by
/// `matchFields metadata.name In [node]` (the scheduler then binds it there).
pub fn pin_to_node(spec: &PodSpec, node: &str) -> PodSpec {
    let mut spec = spec.clone();
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for t in default_tolerations(spec.host_network == Some(true)) {
        if !tolerations
            .iter()
            .any(|x| x.key == t.key && x.effect == t.effect)
        {
            tolerations.push(t);
        }
    }
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let node_affinity = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![node.into()]),
            }]),
            match_expressions: None,
        }],
    });
    spec
}

/// The node a daemon pod is for: its nodeName, else the node its affinity pins it to.
pub fn pod_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(n.clone());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    let field = terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == "metadata.name" && r.operator == "In")?;
    field.values.as_ref()?.first().cloned()
}

/// Should a pod with `spec` run on `node`?
pub fn eligible(spec: &PodSpec, node: &Node) -> bool {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let name = node.metadata.name.clone().unwrap_or_default();
    if let Some(sel) = &spec.node_selector
        && !sel.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    if let Some(req) = required
        && !req
            .node_selector_terms
            .iter()
            .any(|t| term_matches(t, &labels, &name))
    {
        return false;
    }
    let mut tolerations = spec.tolerations.clone().unwrap_or_default();
    tolerations.extend(default_tolerations(spec.host_network == Some(true)));
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|taint| {
            tolerations.iter().any(|tol| {
                tolerates(
                    tol,
                    &taint.key,
                    taint.value.as_deref().unwrap_or(""),
                    &taint.effect,
                )
            })
        })
}

fn tolerates(t: &Toleration, key: &str, value: &str, effect: &str) -> bool {
    if t.effect
        .as_deref()
        .is_some_and(|e| !e.is_empty() && e != effect)
    {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => t.key.as_deref().is_none_or(|k| k.is_empty() || k == key),
        _ => t.key.as_deref() == Some(key) && t.value.as_deref().unwrap_or("") == value,
    }
}

/// A node selector term matches when all its expressions and fields match (an empty term matches nothing).
fn term_matches(term: &NodeSelectorTerm, labels: &BTreeMap<String, String>, name: &str) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| requirement(r, labels.get(&r.key).map(String::as_str)))
        && fields
            .iter()
            .all(|r| r.key == "metadata.name" && requirement(r, Some(name)))
}

fn requirement(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    let num = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" => {
            matches!((value.and_then(num), values.first().and_then(|x| num(x))), (Some(a), Some(b)) if a > b)
        }
        "Lt" => {
            matches!((value.and_then(num), values.first().and_then(|x| num(x))), (Some(a), Some(b)) if a < b)
        }
        _ => false,
    }
}

/// A daemon pod on a node, for the plan.
#[derive(Debug, Clone)]
pub struct DaemonPod {
    pub name: String,
    pub current: bool,
    pub available: bool,
    pub failed: bool,
}

/// The plan for one sync: nodes to create a pod on and pods to delete.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub create: Vec<String>,
    pub delete: Vec<String>,
}

/// Upstream's manage + rollingUpdate: one pod on each eligible node (failed ones replaced, extras
/// and pods on ineligible nodes removed), and old-template pods deleted while no more than
/// `max_unavailable` nodes lack an available pod.
pub fn plan(nodes: &BTreeMap<String, (bool, Vec<DaemonPod>)>, max_unavailable: i32) -> Plan {
    let mut p = Plan::default();
    let mut unavailable = 0;
    let mut old_candidates: Vec<(bool, String)> = Vec::new();
    for (node, (should_run, pods)) in nodes {
        let (failed, live): (Vec<&DaemonPod>, Vec<&DaemonPod>) =
            pods.iter().partition(|d| d.failed);
        p.delete.extend(failed.iter().map(|d| d.name.clone()));
        if !should_run {
            p.delete.extend(live.iter().map(|d| d.name.clone()));
            continue;
        }
        match live.split_first() {
            None => {
                p.create.push(node.clone());
                unavailable += 1;
            }
            Some((keep, extra)) => {
                p.delete.extend(extra.iter().map(|d| d.name.clone()));
                if !keep.available {
                    unavailable += 1;
                }
                if !keep.current {
                    old_candidates.push((keep.available, keep.name.clone()));
                }
            }
        }
    }
    old_candidates.sort();
    let mut budget = max_unavailable - unavailable;
    for (available, name) in old_candidates {
        if !available {
            p.delete.push(name);
        } else if budget > 0 {
            p.delete.push(name);
            budget -= 1;
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeSpec, Taint};

    fn node(name: &str, labels: &[(&str, &str)], taints: &[(&str, &str)]) -> Node {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        n.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        let taints = taints
            .iter()
            .map(|(k, e)| Taint {
                key: k.to_string(),
                effect: e.to_string(),
                ..Default::default()
            })
            .collect();
        n.spec = Some(NodeSpec {
            taints: Some(taints),
            ..Default::default()
        });
        n
    }

    #[test]
    fn eligibility_table() {
        let plain = PodSpec::default();
        let selecting = PodSpec {
            node_selector: Some([("disk".to_string(), "ssd".to_string())].into()),
            ..Default::default()
        };
        let affinity = pin_to_node(&plain, "n1");
        let tolerant = PodSpec {
            tolerations: Some(vec![Toleration {
                key: Some("dedicated".into()),
                operator: Some("Exists".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let cases = [
            (&plain, node("n1", &[], &[]), true),
            (
                &plain,
                node("n1", &[], &[("dedicated", "NoSchedule")]),
                false,
            ),
            (
                &plain,
                node("n1", &[], &[("dedicated", "PreferNoSchedule")]),
                true,
            ),
            (
                &plain,
                node(
                    "n1",
                    &[],
                    &[("node.kubernetes.io/unschedulable", "NoSchedule")],
                ),
                true,
            ),
            (
                &plain,
                node(
                    "n1",
                    &[],
                    &[("node.kubernetes.io/unreachable", "NoExecute")],
                ),
                true,
            ),
            (
                &tolerant,
                node("n1", &[], &[("dedicated", "NoExecute")]),
                true,
            ),
            (&selecting, node("n1", &[("disk", "ssd")], &[]), true),
            (&selecting, node("n1", &[("disk", "hdd")], &[]), false),
            (&affinity, node("n1", &[], &[]), true),
            (&affinity, node("n2", &[], &[]), false),
        ];
        for (i, (spec, n, want)) in cases.into_iter().enumerate() {
            assert_eq!(eligible(spec, &n), want, "case {i}");
        }
    }

    #[test]
    fn pinning() {
        let spec = pin_to_node(&PodSpec::default(), "n7");
        let mut pod = Pod {
            spec: Some(spec),
            ..Default::default()
        };
        assert_eq!(pod_node(&pod).as_deref(), Some("n7"));
        assert!(
            pod.spec
                .as_ref()
                .and_then(|s| s.tolerations.as_ref())
                .is_some_and(|t| t.len() == 6)
        );
        if let Some(s) = pod.spec.as_mut() {
            s.node_name = Some("n8".into());
        }
        assert_eq!(pod_node(&pod).as_deref(), Some("n8"));
    }

    #[test]
    fn plan_table() {
        let dp = |name: &str, current: bool, available: bool| DaemonPod {
            name: name.into(),
            current,
            available,
            failed: false,
        };
        let mut nodes = BTreeMap::new();
        nodes.insert("a".to_string(), (true, vec![]));
        nodes.insert("b".to_string(), (false, vec![dp("pb", true, true)]));
        nodes.insert(
            "c".to_string(),
            (true, vec![dp("pc1", true, true), dp("pc2", true, true)]),
        );
        let got = plan(&nodes, 1);
        assert_eq!(
            got,
            Plan {
                create: vec!["a".into()],
                delete: vec!["pb".into(), "pc2".into()]
            }
        );

        // Rolling update: 3 old available pods, maxUnavailable 1 -> one deleted per sync.
        let mut nodes = BTreeMap::new();
        for n in ["x", "y", "z"] {
            nodes.insert(
                n.to_string(),
                (true, vec![dp(&format!("p{n}"), false, true)]),
            );
        }
        assert_eq!(plan(&nodes, 1).delete.len(), 1);
        // One node already without an available pod: budget used up, but unavailable old pods go.
        nodes.insert("w".to_string(), (true, vec![dp("pw", false, false)]));
        assert_eq!(plan(&nodes, 1).delete, vec!["pw".to_string()]);
    }
}
