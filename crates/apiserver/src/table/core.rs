//! Printers of the core (`v1`) kinds other than pods: services, endpoints, nodes, events,
//! namespaces, config maps, secrets, service accounts, volumes and claims, quotas, pod
//! templates and replication controllers.

use k8s_openapi::api::core::v1 as core;
use serde_json::{Value, json};

use super::format::{
    access_modes, containers, int, labels, list, object, quantity, since, text, timestamp,
};
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
        "Event" => EVENT,
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
        "PersistentVolume" => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Capacity",
                        "string",
                        doc::<core::PersistentVolumeSpec>("capacity"),
                        0,
                    ),
                    column(
                        "Access Modes",
                        "string",
                        doc::<core::PersistentVolumeSpec>("accessModes"),
                        0,
                    ),
                    column(
                        "Reclaim Policy",
                        "string",
                        doc::<core::PersistentVolumeSpec>("persistentVolumeReclaimPolicy"),
                        0,
                    ),
                    column(
                        "Status",
                        "string",
                        doc::<core::PersistentVolumeStatus>("phase"),
                        0,
                    ),
                    column(
                        "Claim",
                        "string",
                        doc::<core::PersistentVolumeSpec>("claimRef"),
                        0,
                    ),
                    column("StorageClass", "string", "StorageClass of the pv", 0),
                    column(
                        "VolumeAttributesClass",
                        "string",
                        "VolumeAttributesClass of the pv",
                        0,
                    ),
                    column(
                        "Reason",
                        "string",
                        doc::<core::PersistentVolumeStatus>("reason"),
                        0,
                    ),
                    age_column(),
                    column(
                        "VolumeMode",
                        "string",
                        doc::<core::PersistentVolumeSpec>("volumeMode"),
                        1,
                    ),
                ]
            },
            persistent_volume,
        ),
        "PersistentVolumeClaim" => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Status",
                        "string",
                        doc::<core::PersistentVolumeClaimStatus>("phase"),
                        0,
                    ),
                    column(
                        "Volume",
                        "string",
                        doc::<core::PersistentVolumeClaimSpec>("volumeName"),
                        0,
                    ),
                    column(
                        "Capacity",
                        "string",
                        doc::<core::PersistentVolumeClaimStatus>("capacity"),
                        0,
                    ),
                    column(
                        "Access Modes",
                        "string",
                        doc::<core::PersistentVolumeClaimStatus>("accessModes"),
                        0,
                    ),
                    column("StorageClass", "string", "StorageClass of the pvc", 0),
                    column(
                        "VolumeAttributesClass",
                        "string",
                        "VolumeAttributesClass of the pvc",
                        0,
                    ),
                    age_column(),
                    column(
                        "VolumeMode",
                        "string",
                        doc::<core::PersistentVolumeClaimSpec>("volumeMode"),
                        1,
                    ),
                ]
            },
            persistent_volume_claim,
        ),
        "ResourceQuota" => Printer::new(
            || {
                vec![
                    name_column(),
                    column(
                        "Request",
                        "string",
                        "Request represents a minimum amount of cpu/memory that a container may consume.",
                        0,
                    ),
                    column(
                        "Limit",
                        "string",
                        "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
                        0,
                    ),
                    age_column(),
                ]
            },
            resource_quota,
        ),
        _ => return None,
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

/// The core/v1 Event printer; events.k8s.io/v1 events are mapped onto the same fields first.
pub const EVENT: Printer = Printer::new(
    || {
        vec![
            column(
                "Last Seen",
                "string",
                doc::<core::Event>("lastTimestamp"),
                0,
            ),
            column("Type", "string", doc::<core::Event>("type"), 0),
            column("Reason", "string", doc::<core::Event>("reason"), 0),
            column("Object", "string", doc::<core::Event>("involvedObject"), 0),
            column(
                "Subobject",
                "string",
                doc::<core::ObjectReference>("fieldPath"),
                1,
            ),
            column("Source", "string", doc::<core::Event>("source"), 1),
            column("Message", "string", doc::<core::Event>("message"), 0),
            column(
                "First Seen",
                "string",
                doc::<core::Event>("firstTimestamp"),
                1,
            ),
            column("Count", "string", doc::<core::Event>("count"), 1),
            json!({"name": "Name", "type": "string", "format": "name", "description": name_column()["description"], "priority": 1}),
        ]
    },
    event,
);

fn event(o: &Value, now: i64) -> Vec<Value> {
    let ago = |t: Option<i64>| {
        t.map_or("<unknown>".to_string(), |t| {
            super::format::human_duration(now - t)
        })
    };
    let first = timestamp(&o["firstTimestamp"]).or_else(|| timestamp(&o["eventTime"]));
    let mut last = ago(timestamp(&o["lastTimestamp"]).or(first));
    let mut count = int(&o["count"]);
    if o["series"].is_object() {
        last = ago(timestamp(&o["series"]["lastObservedTime"]));
        count = int(&o["series"]["count"]);
    } else if count == 0 {
        count = 1;
    }
    let inv = &o["involvedObject"];
    let kind = text(&inv["kind"]).to_lowercase();
    let target = match text(&inv["name"]) {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let component = [
        text(&o["source"]["component"]),
        text(&o["reportingComponent"]),
    ]
    .into_iter()
    .find(|s| !s.is_empty())
    .unwrap_or("");
    let host = [text(&o["source"]["host"]), text(&o["reportingInstance"])]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("");
    let source = if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    };
    vec![
        json!(last),
        json!(text(&o["type"])),
        json!(text(&o["reason"])),
        json!(target),
        json!(text(&inv["fieldPath"])),
        json!(source),
        json!(text(&o["message"]).trim()),
        json!(ago(first)),
        json!(count),
        o["metadata"]["name"].clone(),
    ]
}

/// An events.k8s.io/v1 Event in core/v1 field names, as upstream converts it before printing.
pub fn core_event(e: &Value) -> Value {
    json!({
        "metadata": e["metadata"],
        "involvedObject": e["regarding"],
        "message": e["note"],
        "reason": e["reason"],
        "type": e["type"],
        "source": e["deprecatedSource"],
        "firstTimestamp": e["deprecatedFirstTimestamp"],
        "lastTimestamp": e["deprecatedLastTimestamp"],
        "count": e["deprecatedCount"],
        "eventTime": e["eventTime"],
        "series": e["series"],
        "reportingComponent": e["reportingController"],
        "reportingInstance": e["reportingInstance"],
    })
}

fn persistent_volume(o: &Value, now: i64) -> Vec<Value> {
    let spec = &o["spec"];
    let claim = match spec["claimRef"].is_object() {
        true => format!(
            "{}/{}",
            text(&spec["claimRef"]["namespace"]),
            text(&spec["claimRef"]["name"])
        ),
        false => String::new(),
    };
    let phase = if o["metadata"]["deletionTimestamp"].is_null() {
        text(&o["status"]["phase"])
    } else {
        "Terminating"
    };
    let class = o["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"]
        .as_str()
        .unwrap_or_else(|| text(&spec["storageClassName"]));
    vec![
        o["metadata"]["name"].clone(),
        json!(quantity(&spec["capacity"]["storage"])),
        json!(access_modes(&spec["accessModes"])),
        json!(text(&spec["persistentVolumeReclaimPolicy"])),
        json!(phase),
        json!(claim),
        json!(class),
        json!(
            spec["volumeAttributesClassName"]
                .as_str()
                .unwrap_or("<unset>")
        ),
        json!(text(&o["status"]["reason"])),
        json!(since(&o["metadata"]["creationTimestamp"], now)),
        json!(spec["volumeMode"].as_str().unwrap_or("<unset>")),
    ]
}

fn persistent_volume_claim(o: &Value, now: i64) -> Vec<Value> {
    let spec = &o["spec"];
    let phase = if o["metadata"]["deletionTimestamp"].is_null() {
        text(&o["status"]["phase"])
    } else {
        "Terminating"
    };
    let bound = !text(&spec["volumeName"]).is_empty();
    let (capacity, modes) = match bound {
        true => (
            quantity(&o["status"]["capacity"]["storage"]),
            access_modes(&o["status"]["accessModes"]),
        ),
        false => (String::new(), String::new()),
    };
    let class = o["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"]
        .as_str()
        .unwrap_or_else(|| text(&spec["storageClassName"]));
    vec![
        o["metadata"]["name"].clone(),
        json!(phase),
        json!(text(&spec["volumeName"])),
        json!(capacity),
        json!(modes),
        json!(class),
        json!(
            spec["volumeAttributesClassName"]
                .as_str()
                .unwrap_or("<unset>")
        ),
        json!(since(&o["metadata"]["creationTimestamp"], now)),
        json!(spec["volumeMode"].as_str().unwrap_or("<unset>")),
    ]
}

fn resource_quota(o: &Value, now: i64) -> Vec<Value> {
    let hard = object(&o["status"]["hard"]);
    let mut names: Vec<&String> = hard.map(|h| h.keys().collect()).unwrap_or_default();
    names.sort();
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for name in names {
        let used = o["status"]["used"]
            .get(name.as_str())
            .map_or("0".to_string(), quantity);
        let entry = format!(
            "{name}: {used}/{}",
            quantity(&o["status"]["hard"][name.as_str()])
        );
        if name.split('.').count() > 1 && name.starts_with("limits.") {
            limits.push(entry)
        } else {
            requests.push(entry)
        }
    }
    vec![
        o["metadata"]["name"].clone(),
        json!(requests.join(", ")),
        json!(limits.join(", ")),
        json!(since(&o["metadata"]["creationTimestamp"], now)),
    ]
}
