//! Printers of the kinds outside the core, apps and batch groups: ingresses and ingress
//! classes, network policies, endpoint slices, storage classes, leases, disruption budgets,
//! autoscalers, role bindings and events.k8s.io events.

use k8s_openapi::api::{
    autoscaling::v2 as autoscaling, coordination::v1 as coordination, discovery::v1 as discovery,
    networking::v1 as networking, storage::v1 as storage,
};
use serde_json::{Value, json};

use super::core::load_balancer;
use super::event::{EVENT, core_event};
use super::format::{int, int_or_string, label_selector, list, quantity, since, text};
use super::{Printer, age_column, column, doc, name_column};

fn name_age(o: &Value, now: i64) -> (Value, Value) {
    (
        o["metadata"]["name"].clone(),
        json!(since(&o["metadata"]["creationTimestamp"], now)),
    )
}

pub fn printer(group: &str, kind: &str) -> Option<Printer> {
    Some(match (group, kind) {
        ("events.k8s.io", "Event") => {
            Printer::new(EVENT.columns, |o, now| (EVENT.cells)(&core_event(o), now))
        }
        ("networking.k8s.io", "Ingress") => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Class",
                        "string",
                        "The name of the IngressClass resource that should be used for additional configuration",
                        0,
                    ),
                    column(
                        "Hosts",
                        "string",
                        "Hosts that incoming requests are matched against before the ingress rule",
                        0,
                    ),
                    column(
                        "Address",
                        "string",
                        "Address is a list containing ingress points for the load-balancer",
                        0,
                    ),
                    column(
                        "Ports",
                        "string",
                        "Ports of TLS configurations that open",
                        0,
                    ),
                    age_column(),
                ]
            },
            ingress,
        ),
        ("networking.k8s.io", "IngressClass") => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Controller",
                        "string",
                        "Controller that is responsible for handling this class",
                        0,
                    ),
                    column(
                        "Parameters",
                        "string",
                        "A reference to a resource with additional parameters",
                        0,
                    ),
                    age_column(),
                ]
            },
            |o, now| {
                let (name, age) = name_age(o, now);
                let p = &o["spec"]["parameters"];
                let params = match p.is_object() {
                    false => "<none>".to_string(),
                    true => match p["apiGroup"].as_str() {
                        Some(g) => format!("{}.{g}/{}", text(&p["kind"]), text(&p["name"])),
                        None => format!("{}/{}", text(&p["kind"]), text(&p["name"])),
                    },
                };
                vec![
                    name,
                    json!(text(&o["spec"]["controller"])),
                    json!(params),
                    age,
                ]
            },
        ),
        ("networking.k8s.io", "NetworkPolicy") => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Pod-Selector",
                        "string",
                        doc::<networking::NetworkPolicySpec>("podSelector"),
                        0,
                    ),
                    age_column(),
                ]
            },
            |o, now| {
                let (name, age) = name_age(o, now);
                vec![name, json!(label_selector(&o["spec"]["podSelector"])), age]
            },
        ),
        ("discovery.k8s.io", "EndpointSlice") => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "AddressType",
                        "string",
                        doc::<discovery::EndpointSlice>("addressType"),
                        0,
                    ),
                    column(
                        "Ports",
                        "string",
                        doc::<discovery::EndpointSlice>("ports"),
                        0,
                    ),
                    column(
                        "Endpoints",
                        "string",
                        doc::<discovery::EndpointSlice>("endpoints"),
                        0,
                    ),
                    age_column(),
                ]
            },
            |o, now| {
                let (name, age) = name_age(o, now);
                let ports: Vec<String> = list(&o["ports"])
                    .iter()
                    .map(|p| match (p["port"].as_i64(), p["name"].as_str()) {
                        (Some(n), _) => n.to_string(),
                        (None, Some(n)) => n.to_string(),
                        (None, None) => "*".into(),
                    })
                    .collect();
                let addresses: Vec<String> = list(&o["endpoints"])
                    .iter()
                    .flat_map(|e| list(&e["addresses"]).iter().map(|a| text(a).to_string()))
                    .collect();
                vec![
                    name,
                    json!(text(&o["addressType"])),
                    json!(with_more(&ports, 3)),
                    json!(with_more(&addresses, 3)),
                    age,
                ]
            },
        ),
        ("storage.k8s.io", "StorageClass") => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Provisioner",
                        "string",
                        doc::<storage::StorageClass>("provisioner"),
                        0,
                    ),
                    column(
                        "ReclaimPolicy",
                        "string",
                        doc::<storage::StorageClass>("reclaimPolicy"),
                        0,
                    ),
                    column(
                        "VolumeBindingMode",
                        "string",
                        doc::<storage::StorageClass>("volumeBindingMode"),
                        0,
                    ),
                    column(
                        "AllowVolumeExpansion",
                        "string",
                        doc::<storage::StorageClass>("allowVolumeExpansion"),
                        0,
                    ),
                    age_column(),
                ]
            },
            |o, now| {
                let (_, age) = name_age(o, now);
                let ann = &o["metadata"]["annotations"];
                let default = ann["storageclass.kubernetes.io/is-default-class"] == "true"
                    || ann["storageclass.beta.kubernetes.io/is-default-class"] == "true";
                let name = text(&o["metadata"]["name"]);
                let name = if default {
                    format!("{name} (default)")
                } else {
                    name.to_string()
                };
                vec![
                    json!(name),
                    json!(text(&o["provisioner"])),
                    json!(o["reclaimPolicy"].as_str().unwrap_or("Delete")),
                    json!(o["volumeBindingMode"].as_str().unwrap_or("Immediate")),
                    json!(o["allowVolumeExpansion"].as_bool().unwrap_or(false)),
                    age,
                ]
            },
        ),
        ("coordination.k8s.io", "Lease") => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Holder",
                        "string",
                        doc::<coordination::LeaseSpec>("holderIdentity"),
                        0,
                    ),
                    age_column(),
                ]
            },
            |o, now| {
                let (name, age) = name_age(o, now);
                vec![name, json!(text(&o["spec"]["holderIdentity"])), age]
            },
        ),
        ("policy", "PodDisruptionBudget") => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Min Available",
                        "string",
                        "The minimum number of pods that must be available.",
                        0,
                    ),
                    column(
                        "Max Unavailable",
                        "string",
                        "The maximum number of pods that may be unavailable.",
                        0,
                    ),
                    column(
                        "Allowed Disruptions",
                        "integer",
                        "Calculated number of pods that may be disrupted at this time.",
                        0,
                    ),
                    age_column(),
                ]
            },
            |o, now| {
                let (name, age) = name_age(o, now);
                let or_na = |v: &Value| {
                    if v.is_null() {
                        "N/A".to_string()
                    } else {
                        int_or_string(v)
                    }
                };
                vec![
                    name,
                    json!(or_na(&o["spec"]["minAvailable"])),
                    json!(or_na(&o["spec"]["maxUnavailable"])),
                    json!(int(&o["status"]["disruptionsAllowed"])),
                    age,
                ]
            },
        ),
        ("autoscaling", "HorizontalPodAutoscaler") => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Reference",
                        "string",
                        doc::<autoscaling::HorizontalPodAutoscalerSpec>("scaleTargetRef"),
                        0,
                    ),
                    column(
                        "Targets",
                        "string",
                        doc::<autoscaling::HorizontalPodAutoscalerSpec>("metrics"),
                        0,
                    ),
                    column(
                        "MinPods",
                        "string",
                        doc::<autoscaling::HorizontalPodAutoscalerSpec>("minReplicas"),
                        0,
                    ),
                    column(
                        "MaxPods",
                        "string",
                        doc::<autoscaling::HorizontalPodAutoscalerSpec>("maxReplicas"),
                        0,
                    ),
                    column(
                        "Replicas",
                        "string",
                        doc::<autoscaling::HorizontalPodAutoscalerStatus>("currentReplicas"),
                        0,
                    ),
                    age_column(),
                ]
            },
            |o, now| {
                let (name, age) = name_age(o, now);
                let spec = &o["spec"];
                let reference = format!(
                    "{}/{}",
                    text(&spec["scaleTargetRef"]["kind"]),
                    text(&spec["scaleTargetRef"]["name"])
                );
                let min = spec["minReplicas"]
                    .as_i64()
                    .map_or("<unset>".to_string(), |n| n.to_string());
                let metrics =
                    hpa_metrics(list(&spec["metrics"]), list(&o["status"]["currentMetrics"]));
                vec![
                    name,
                    json!(reference),
                    json!(metrics),
                    json!(min),
                    json!(int(&spec["maxReplicas"])),
                    json!(int(&o["status"]["currentReplicas"])),
                    age,
                ]
            },
        ),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Role",
                        "string",
                        doc::<k8s_openapi::api::rbac::v1::RoleBinding>("roleRef"),
                        0,
                    ),
                    age_column(),
                    column("Users", "string", "Users in the roleBinding", 1),
                    column("Groups", "string", "Groups in the roleBinding", 1),
                    column(
                        "ServiceAccounts",
                        "string",
                        "ServiceAccounts in the roleBinding",
                        1,
                    ),
                ]
            },
            |o, now| {
                let (name, age) = name_age(o, now);
                let role = format!(
                    "{}/{}",
                    text(&o["roleRef"]["kind"]),
                    text(&o["roleRef"]["name"])
                );
                let subjects = list(&o["subjects"]);
                let of = |kind: &str| {
                    subjects
                        .iter()
                        .filter(|s| s["kind"] == kind)
                        .map(|s| text(&s["name"]).to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let sas: Vec<String> = subjects
                    .iter()
                    .filter(|s| s["kind"] == "ServiceAccount")
                    .map(|s| format!("{}/{}", text(&s["namespace"]), text(&s["name"])))
                    .collect();
                vec![
                    name,
                    json!(role),
                    age,
                    json!(of("User")),
                    json!(of("Group")),
                    json!(sas.join(", ")),
                ]
            },
        ),
        _ => return None,
    })
}

/// `listWithMoreString`: the first `max` entries, then "+ N more...", or `<unset>` when empty.
fn with_more(items: &[String], max: usize) -> String {
    let shown = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    match items.len() {
        0 => "<unset>".into(),
        n if n > max => format!("{shown} + {} more...", n - max),
        _ => shown,
    }
}

fn ingress(o: &Value, now: i64) -> Vec<Value> {
    let (name, age) = name_age(o, now);
    let rules = list(&o["spec"]["rules"]);
    let hosts: Vec<&str> = rules
        .iter()
        .take(3)
        .map(|r| text(&r["host"]))
        .filter(|h| !h.is_empty())
        .collect();
    let hosts = match (hosts.is_empty(), rules.len() > 3) {
        (true, _) => "*".to_string(),
        (false, true) => format!("{} + {} more...", hosts.join(","), rules.len() - 3),
        (false, false) => hosts.join(","),
    };
    let ports = if list(&o["spec"]["tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    let class = o["spec"]["ingressClassName"].as_str().unwrap_or("<none>");
    vec![
        name,
        json!(class),
        json!(hosts),
        json!(load_balancer(&o["status"]["loadBalancer"]).join(",")),
        json!(ports),
        age,
    ]
}

/// One metric of an autoscaler as "current/target", upstream's `formatHPAMetrics` cases.
fn hpa_metric(spec: &Value, status: Option<&Value>) -> String {
    let unknown = || "<unknown>".to_string();
    let cur = |source: &str, field: &str| {
        status
            .map(|s| &s[source]["current"][field])
            .filter(|v| !v.is_null())
            .map_or_else(unknown, quantity)
    };
    match text(&spec["type"]) {
        ty @ ("External" | "Object") => {
            let source = if ty == "External" {
                "external"
            } else {
                "object"
            };
            let target = &spec[source]["target"];
            match target["averageValue"].is_null() {
                false => format!(
                    "{}/{} (avg)",
                    cur(source, "averageValue"),
                    quantity(&target["averageValue"])
                ),
                true => format!("{}/{}", cur(source, "value"), quantity(&target["value"])),
            }
        }
        "Pods" => format!(
            "{}/{}",
            cur("pods", "averageValue"),
            quantity(&spec["pods"]["target"]["averageValue"])
        ),
        ty @ ("Resource" | "ContainerResource") => {
            let source = if ty == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let target = &spec[source]["target"];
            let resource = text(&spec[source]["name"]);
            match target["averageValue"].is_null() {
                false => format!(
                    "{resource}: {}/{}",
                    cur(source, "averageValue"),
                    quantity(&target["averageValue"])
                ),
                true => {
                    let current = status
                        .and_then(|s| s[source]["current"]["averageUtilization"].as_i64())
                        .map_or_else(unknown, |n| format!("{n}%"));
                    let goal = target["averageUtilization"]
                        .as_i64()
                        .map_or("<auto>".to_string(), |n| format!("{n}%"));
                    format!("{resource}: {current}/{goal}")
                }
            }
        }
        _ => "<unknown type>".into(),
    }
}

fn hpa_metrics(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".into();
    }
    let all: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| hpa_metric(s, statuses.get(i)))
        .collect();
    match all.len() {
        n if n > 2 => format!("{} + {} more...", all[..2].join(", "), n - 2),
        _ => all.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::printer;
    use crate::table::tests::{ago, cells};

    fn check(group: &str, kind: &str, obj: Value, want: Value) {
        let p = printer(group, kind).expect(kind);
        assert_eq!(Value::from(cells(&p, &obj)), want, "{kind}");
    }

    #[test]
    fn other_kinds_like_upstream() {
        let meta = json!({"name": "x", "creationTimestamp": ago(45)});
        check(
            "networking.k8s.io",
            "Ingress",
            json!({"metadata": meta, "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.example"}, {}], "tls": [{}]}, "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}}),
            json!(["x", "nginx", "a.example", "1.2.3.4", "80, 443", "45s"]),
        );
        check(
            "networking.k8s.io",
            "NetworkPolicy",
            json!({"metadata": meta, "spec": {"podSelector": {}}}),
            json!(["x", "<none>", "45s"]),
        );
        check(
            "discovery.k8s.io",
            "EndpointSlice",
            json!({"metadata": meta, "addressType": "IPv4", "ports": [{"port": 80}, {"name": "dns"}], "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]}]}),
            json!([
                "x",
                "IPv4",
                "80,dns",
                "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...",
                "45s"
            ]),
        );
        check(
            "storage.k8s.io",
            "StorageClass",
            json!({"metadata": {"name": "local", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"}),
            json!([
                "local (default)",
                "rancher.io/local-path",
                "Delete",
                "WaitForFirstConsumer",
                false,
                "<unknown>"
            ]),
        );
        check(
            "policy",
            "PodDisruptionBudget",
            json!({"metadata": meta, "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}}),
            json!(["x", "50%", "N/A", 1, "45s"]),
        );
        check(
            "autoscaling",
            "HorizontalPodAutoscaler",
            json!({"metadata": meta, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5, "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}, "status": {"currentReplicas": 2, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12}}}]}}),
            json!([
                "x",
                "Deployment/web",
                "cpu: 12%/80%",
                "<unset>",
                5,
                2,
                "45s"
            ]),
        );
        check(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            json!({"metadata": meta, "roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "namespace": "ns", "name": "sa"}]}),
            json!(["x", "Role/r", "45s", "alice", "", "ns/sa"]),
        );
        check(
            "events.k8s.io",
            "Event",
            json!({"metadata": {"name": "e"}, "regarding": {"kind": "Pod", "name": "p"}, "reason": "Pulled", "type": "Normal", "note": "pulled image ", "eventTime": ago(300), "reportingController": "kubelet", "reportingInstance": "n1"}),
            json!([
                "5m",
                "Normal",
                "Pulled",
                "pod/p",
                "",
                "kubelet, n1",
                "pulled image",
                "5m",
                1,
                "e"
            ]),
        );
    }
}
