//! Printers of the core (`v1`) kinds other than pods: services, endpoints, nodes, events,
//! namespaces, config maps, secrets, service accounts, volumes and claims, quotas, pod
//! templates and replication controllers.

use k8s_openapi::api::core::v1 as core;
use serde_json::{Value, json};

use super::format::{containers, int, labels, list, object, since, text};
use super::{Printer, age_column, column, doc, name_column};

const CONTAINERS: &str = "Names of each container in the template.";
const IMAGES: &str = "Images referenced by each container in the template.";

pub fn printer(kind: &str) -> Option<Printer> {
    Some(match kind {
        "PodTemplate" => Printer::new(
            || {
                vec![
                    name_column(),
                    column("Containers", "string", CONTAINERS, 0),
                    column("Images", "string", IMAGES, 0),
                    column(
                        "Pod Labels",
                        "string",
                        "The labels for the pod template.",
                        0,
                    ),
                ]
            },
            |o, _| {
                let (names, images) = containers(&o["template"]["spec"]);
                vec![
                    o["metadata"]["name"].clone(),
                    json!(names),
                    json!(images),
                    json!(labels(&o["template"]["metadata"]["labels"])),
                ]
            },
        ),
        "ReplicationController" => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Desired",
                        "integer",
                        doc::<core::ReplicationControllerSpec>("replicas"),
                        0,
                    ),
                    column(
                        "Current",
                        "integer",
                        doc::<core::ReplicationControllerStatus>("replicas"),
                        0,
                    ),
                    column(
                        "Ready",
                        "integer",
                        doc::<core::ReplicationControllerStatus>("readyReplicas"),
                        0,
                    ),
                    age_column(),
                    column("Containers", "string", CONTAINERS, 1),
                    column("Images", "string", IMAGES, 1),
                    column(
                        "Selector",
                        "string",
                        doc::<core::ReplicationControllerSpec>("selector"),
                        1,
                    ),
                ]
            },
            |o, now| {
                let (names, images) = containers(&o["spec"]["template"]["spec"]);
                let desired = o["spec"]["replicas"].as_i64().unwrap_or(1);
                let s = &o["status"];
                vec![
                    o["metadata"]["name"].clone(),
                    json!(desired),
                    json!(int(&s["replicas"])),
                    json!(int(&s["readyReplicas"])),
                    json!(since(&o["metadata"]["creationTimestamp"], now)),
                    json!(names),
                    json!(images),
                    json!(labels(&o["spec"]["selector"])),
                ]
            },
        ),
        "Service" => Printer::new(
            || {
                vec![
                    name_column(),
                    column("Type", "string", doc::<core::ServiceSpec>("type"), 0),
                    column(
                        "Cluster-IP",
                        "string",
                        doc::<core::ServiceSpec>("clusterIP"),
                        0,
                    ),
                    column(
                        "External-IP",
                        "string",
                        doc::<core::ServiceSpec>("externalIPs"),
                        0,
                    ),
                    column("Port(s)", "string", doc::<core::ServiceSpec>("ports"), 0),
                    age_column(),
                    column(
                        "Selector",
                        "string",
                        doc::<core::ServiceSpec>("selector"),
                        1,
                    ),
                ]
            },
            service,
        ),
        "Endpoints" => Printer::new(
            || {
                vec![
                    name_column(),
                    column("Endpoints", "string", doc::<core::Endpoints>("subsets"), 0),
                    age_column(),
                ]
            },
            |o, now| {
                vec![
                    o["metadata"]["name"].clone(),
                    json!(endpoints(o)),
                    json!(since(&o["metadata"]["creationTimestamp"], now)),
                ]
            },
        ),
        "Node" => Printer::new(
            || {
                vec![
                    name_column(),
                    column("Status", "string", "The status of the node", 0),
                    column("Roles", "string", "The roles of the node", 0),
                    age_column(),
                    column(
                        "Version",
                        "string",
                        doc::<core::NodeSystemInfo>("kubeletVersion"),
                        0,
                    ),
                    column(
                        "Internal-IP",
                        "string",
                        doc::<core::NodeStatus>("addresses"),
                        1,
                    ),
                    column(
                        "External-IP",
                        "string",
                        doc::<core::NodeStatus>("addresses"),
                        1,
                    ),
                    column(
                        "OS-Image",
                        "string",
                        doc::<core::NodeSystemInfo>("osImage"),
                        1,
                    ),
                    column(
                        "Kernel-Version",
                        "string",
                        doc::<core::NodeSystemInfo>("kernelVersion"),
                        1,
                    ),
                    column(
                        "Container-Runtime",
                        "string",
                        doc::<core::NodeSystemInfo>("containerRuntimeVersion"),
                        1,
                    ),
                ]
            },
            node,
        ),
        "Event" => super::event::EVENT,
        "Namespace" => Printer::new(
            || {
                vec![
                    name_column(),
                    column("Status", "string", "The status of the namespace", 0),
                    age_column(),
                ]
            },
            |o, now| {
                vec![
                    o["metadata"]["name"].clone(),
                    json!(text(&o["status"]["phase"])),
                    json!(since(&o["metadata"]["creationTimestamp"], now)),
                ]
            },
        ),
        "Secret" => Printer::new(
            || {
                vec![
                    name_column(),
                    column("Type", "string", doc::<core::Secret>("type"), 0),
                    column("Data", "string", doc::<core::Secret>("data"), 0),
                    age_column(),
                ]
            },
            |o, now| {
                let data = object(&o["data"]).map_or(0, |m| m.len());
                vec![
                    o["metadata"]["name"].clone(),
                    json!(text(&o["type"])),
                    json!(data),
                    json!(since(&o["metadata"]["creationTimestamp"], now)),
                ]
            },
        ),
        "ConfigMap" => Printer::new(
            || {
                vec![
                    name_column(),
                    column("Data", "string", doc::<core::ConfigMap>("data"), 0),
                    age_column(),
                ]
            },
            |o, now| {
                let data = object(&o["data"]).map_or(0, |m| m.len())
                    + object(&o["binaryData"]).map_or(0, |m| m.len());
                vec![
                    o["metadata"]["name"].clone(),
                    json!(data),
                    json!(since(&o["metadata"]["creationTimestamp"], now)),
                ]
            },
        ),
        "ServiceAccount" => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Secrets",
                        "string",
                        doc::<core::ServiceAccount>("secrets"),
                        0,
                    ),
                    age_column(),
                ]
            },
            |o, now| {
                vec![
                    o["metadata"]["name"].clone(),
                    json!(list(&o["secrets"]).len()),
                    json!(since(&o["metadata"]["creationTimestamp"], now)),
                ]
            },
        ),
        _ => return super::volume::printer(kind),
    })
}

fn service(o: &Value, now: i64) -> Vec<Value> {
    let spec = &o["spec"];
    let ty = text(&spec["type"]);
    let cluster_ip = list(&spec["clusterIPs"])
        .first()
        .map(text)
        .filter(|s| !s.is_empty())
        .unwrap_or("<none>");
    let external: Vec<&str> = list(&spec["externalIPs"]).iter().map(text).collect();
    let external_ip = match ty {
        "ClusterIP" | "NodePort" if !external.is_empty() => external.join(","),
        "ClusterIP" | "NodePort" => "<none>".into(),
        "LoadBalancer" => {
            let mut lb = load_balancer(&o["status"]["loadBalancer"]);
            lb.extend(external.iter().map(|s| s.to_string()));
            if lb.is_empty() {
                "<pending>".into()
            } else {
                lb.join(",")
            }
        }
        "ExternalName" => text(&spec["externalName"]).to_string(),
        _ => "<unknown>".into(),
    };
    let ports: Vec<String> = list(&spec["ports"])
        .iter()
        .map(|p| {
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            match int(&p["nodePort"]) {
                n if n > 0 => format!("{}:{n}/{proto}", int(&p["port"])),
                _ => format!("{}/{proto}", int(&p["port"])),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".into()
    } else {
        ports.join(",")
    };
    vec![
        o["metadata"]["name"].clone(),
        json!(ty),
        json!(cluster_ip),
        json!(external_ip),
        json!(ports),
        json!(since(&o["metadata"]["creationTimestamp"], now)),
        json!(labels(&spec["selector"])),
    ]
}

/// The sorted, de-duplicated IPs (or host names) of a load balancer status; wide, so unclipped.
pub fn load_balancer(status: &Value) -> Vec<String> {
    let mut out: Vec<String> = list(&status["ingress"])
        .iter()
        .filter_map(|i| {
            [text(&i["ip"]), text(&i["hostname"])]
                .into_iter()
                .find(|s| !s.is_empty())
                .map(str::to_string)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn endpoints(o: &Value) -> String {
    let subsets = list(&o["subsets"]);
    if subsets.is_empty() {
        return "<none>".into();
    }
    const MAX: usize = 3;
    let mut shown: Vec<String> = Vec::new();
    let mut count = 0;
    for ss in subsets {
        let addresses = list(&ss["addresses"]);
        let ports = list(&ss["ports"]);
        if ports.is_empty() {
            count += addresses.len();
            shown.extend(
                addresses
                    .iter()
                    .map(|a| text(&a["ip"]).to_string())
                    .take(MAX.saturating_sub(shown.len())),
            );
            continue;
        }
        for port in ports {
            count += addresses.len();
            for a in addresses {
                if shown.len() == MAX {
                    break;
                }
                let ip = text(&a["ip"]);
                let host = if ip.contains(':') {
                    format!("[{ip}]")
                } else {
                    ip.to_string()
                };
                shown.push(format!("{host}:{}", int(&port["port"])));
            }
        }
    }
    let joined = shown.join(",");
    if count > MAX {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

fn node(o: &Value, now: i64) -> Vec<Value> {
    let st = &o["status"];
    let mut status: Vec<&str> = Vec::new();
    match list(&st["conditions"])
        .iter()
        .rev()
        .find(|c| c["type"] == "Ready")
    {
        Some(c) if c["status"] == "True" => status.push("Ready"),
        Some(_) => status.push("NotReady"),
        None => status.push("Unknown"),
    }
    if o["spec"]["unschedulable"] == true {
        status.push("SchedulingDisabled");
    }
    let mut roles: Vec<String> = Vec::new();
    if let Some(labels) = object(&o["metadata"]["labels"]) {
        for (k, v) in labels {
            if let Some(role) = k
                .strip_prefix("node-role.kubernetes.io/")
                .filter(|r| !r.is_empty())
            {
                roles.push(role.to_string());
            } else if k == "kubernetes.io/role" && !text(v).is_empty() {
                roles.push(text(v).to_string());
            }
        }
    }
    roles.sort();
    roles.dedup();
    let address = |ty: &str| {
        list(&st["addresses"])
            .iter()
            .find(|a| a["type"] == ty)
            .map_or("<none>".to_string(), |a| text(&a["address"]).to_string())
    };
    let info = &st["nodeInfo"];
    let unknown = |v: &Value| {
        if text(v).is_empty() {
            "<unknown>".to_string()
        } else {
            text(v).to_string()
        }
    };
    vec![
        o["metadata"]["name"].clone(),
        json!(status.join(",")),
        json!(if roles.is_empty() {
            "<none>".into()
        } else {
            roles.join(",")
        }),
        json!(since(&o["metadata"]["creationTimestamp"], now)),
        json!(text(&info["kubeletVersion"])),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(unknown(&info["osImage"])),
        json!(unknown(&info["kernelVersion"])),
        json!(unknown(&info["containerRuntimeVersion"])),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::printer;
    use crate::table::tests::{ago, cells};

    fn check(kind: &str, obj: Value, want: Value) {
        let p = printer(kind).expect(kind);
        assert_eq!(Value::from(cells(&p, &obj)), want, "{kind}: {obj}");
    }

    #[test]
    fn services_like_upstream() {
        let meta = json!({"name": "s", "creationTimestamp": ago(90)});
        let cases = [
            (
                json!({"type": "ClusterIP", "clusterIPs": ["10.43.0.10"], "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53}], "selector": {"k8s-app": "dns"}}),
                json!({}),
                json!([
                    "s",
                    "ClusterIP",
                    "10.43.0.10",
                    "<none>",
                    "53/UDP,53/TCP",
                    "90s",
                    "k8s-app=dns"
                ]),
            ),
            (
                json!({"type": "NodePort", "clusterIPs": ["10.43.0.11"], "externalIPs": ["1.1.1.1"], "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}),
                json!({}),
                json!([
                    "s",
                    "NodePort",
                    "10.43.0.11",
                    "1.1.1.1",
                    "80:30080/TCP",
                    "90s",
                    "<none>"
                ]),
            ),
            (
                json!({"type": "LoadBalancer", "clusterIPs": ["None"], "ports": []}),
                json!({}),
                json!([
                    "s",
                    "LoadBalancer",
                    "None",
                    "<pending>",
                    "<none>",
                    "90s",
                    "<none>"
                ]),
            ),
            (
                json!({"type": "LoadBalancer", "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]}),
                json!({"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example"}]}}),
                json!([
                    "s",
                    "LoadBalancer",
                    "<none>",
                    "5.6.7.8,lb.example",
                    "443:31443/TCP",
                    "90s",
                    "<none>"
                ]),
            ),
            (
                json!({"type": "ExternalName", "externalName": "db.example"}),
                json!({}),
                json!([
                    "s",
                    "ExternalName",
                    "<none>",
                    "db.example",
                    "<none>",
                    "90s",
                    "<none>"
                ]),
            ),
        ];
        for (spec, status, want) in cases {
            check(
                "Service",
                json!({"metadata": meta, "spec": spec, "status": status}),
                want,
            );
        }
    }

    #[test]
    fn endpoints_nodes_and_namespaces_like_upstream() {
        let meta = json!({"name": "x", "creationTimestamp": ago(7200)});
        check(
            "Endpoints",
            json!({"metadata": meta, "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}]}),
            json!([
                "x",
                "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
                "120m"
            ]),
        );
        check(
            "Endpoints",
            json!({"metadata": meta, "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]}),
            json!(["x", "[fd00::1]:80", "120m"]),
        );
        check(
            "Endpoints",
            json!({"metadata": meta}),
            json!(["x", "<none>", "120m"]),
        );
        check(
            "Node",
            json!({"metadata": {"name": "n1", "creationTimestamp": ago(7200), "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "true", "kubernetes.io/role": "etcd"}},
                   "spec": {"unschedulable": true},
                   "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}], "addresses": [{"type": "InternalIP", "address": "192.168.1.5"}, {"type": "Hostname", "address": "n1"}],
                              "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian", "kernelVersion": "6.1", "containerRuntimeVersion": "gantry://0.1"}}}),
            json!([
                "n1",
                "Ready,SchedulingDisabled",
                "control-plane,etcd,master",
                "120m",
                "v1.33.0",
                "192.168.1.5",
                "<none>",
                "Debian",
                "6.1",
                "gantry://0.1"
            ]),
        );
        check(
            "Node",
            json!({"metadata": {"name": "n2"}}),
            json!([
                "n2",
                "Unknown",
                "<none>",
                "<unknown>",
                "",
                "<none>",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ]),
        );
        check(
            "Namespace",
            json!({"metadata": meta, "status": {"phase": "Terminating"}}),
            json!(["x", "Terminating", "120m"]),
        );
    }
}
