//! `kubectl describe` of a pod, a deployment, a node and a service shows the events that
//! point at it: core/v1 Events with `involvedObject` (uid included) and an events.k8s.io/v1
//! Event with `regarding`, both created with `kubectl create -f`.

use serde_json::{Value, json};

use crate::harness::{Kubectl, Server};

crate::per_kubectl! {
    describe_shows_events => events;
}

/// The objects described: (kind, apiVersion, namespace, name, `kubectl describe` type).
const OBJECTS: [(&str, &str, &str, &str, &str); 4] = [
    ("Pod", "v1", "default", "p", "pod"),
    ("Deployment", "apps/v1", "default", "d", "deployment"),
    ("Node", "v1", "", "n1", "node"),
    ("Service", "v1", "default", "s", "service"),
];

fn create_objects(k: &Kubectl) {
    k.ok(&["run", "p", "--image=nginx:1.27"]);
    k.ok(&["create", "deployment", "d", "--image=nginx:1.27"]);
    k.ok(&["create", "service", "clusterip", "s", "--tcp=80:8080"]);
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}});
    assert_eq!(
        k.ok_stdin(&["create", "-f", "-"], &node.to_string()).trim(),
        "node/n1 created"
    );
}

/// A core/v1 Event about `object` (with its uid), in the object's namespace or `default`.
fn core_event(kind: &str, api_version: &str, namespace: &str, name: &str, uid: &str) -> Value {
    let event_ns = if namespace.is_empty() {
        "default"
    } else {
        namespace
    };
    let mut involved = json!({"kind": kind, "apiVersion": api_version, "name": name, "uid": uid});
    if !namespace.is_empty() {
        involved["namespace"] = json!(namespace);
    }
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{name}.core"), "namespace": event_ns},
        "involvedObject": involved,
        "reason": format!("Core{kind}"),
        "message": format!("core event about {kind} {name}"),
        "type": "Normal",
        "source": {"component": "e2e"},
        "firstTimestamp": "2024-01-01T00:00:00Z",
        "lastTimestamp": "2024-01-01T00:00:00Z",
        "count": 1
    })
}

/// An events.k8s.io/v1 Event about `object` through `regarding`.
fn new_event(kind: &str, api_version: &str, namespace: &str, name: &str, uid: &str) -> Value {
    let event_ns = if namespace.is_empty() {
        "default"
    } else {
        namespace
    };
    let mut regarding = json!({"kind": kind, "apiVersion": api_version, "name": name, "uid": uid});
    if !namespace.is_empty() {
        regarding["namespace"] = json!(namespace);
    }
    json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": format!("{name}.new"), "namespace": event_ns},
        "regarding": regarding,
        "reason": format!("New{kind}"),
        "note": format!("events.k8s.io note about {kind} {name}"),
        "type": "Warning",
        "action": "Testing",
        "eventTime": "2024-01-01T00:00:00.000000Z",
        "reportingController": "example.com/e2e",
        "reportingInstance": "e2e-1"
    })
}

/// The rows of the `Events:` section of a describe output.
fn event_rows(described: &str) -> Vec<&str> {
    let Some(start) = described.find("\nEvents:") else {
        panic!("no Events section:\n{described}")
    };
    described[start + 1..].lines().skip(1).collect()
}

fn events(minor: u32) {
    let server = Server::start();
    let k = Kubectl::new(&server, minor);
    create_objects(&k);

    for (kind, api_version, ns, name, resource) in OBJECTS {
        let mut get = vec!["get", resource, name];
        if !ns.is_empty() {
            get.extend(["-n", ns]);
        }
        let obj = k.json(&get);
        let uid = obj["metadata"]["uid"]
            .as_str()
            .unwrap_or_else(|| panic!("{kind} has a uid: {obj}"))
            .to_string();
        let core = core_event(kind, api_version, ns, name, &uid);
        let out = k.ok_stdin(&["create", "-f", "-"], &core.to_string());
        assert_eq!(out.trim(), format!("event/{name}.core created"));
        let new = new_event(kind, api_version, ns, name, &uid);
        let out = k.ok_stdin(&["create", "-f", "-"], &new.to_string());
        assert_eq!(
            out.trim(),
            format!("event.events.k8s.io/{name}.new created")
        );
    }
    // An event about another object of the same name must not show.
    let stranger = core_event(
        "Pod",
        "v1",
        "default",
        "p",
        "00000000-0000-0000-0000-000000000000",
    );
    let mut stranger_obj = stranger.clone();
    stranger_obj["metadata"]["name"] = json!("p.stranger");
    stranger_obj["reason"] = json!("Stranger");
    k.ok_stdin(&["create", "-f", "-"], &stranger_obj.to_string());

    for (kind, _, ns, name, resource) in OBJECTS {
        let mut args = vec!["describe", resource, name];
        if !ns.is_empty() {
            args.extend(["-n", ns]);
        }
        let described = k.ok(&args);
        let rows = event_rows(&described);
        let header: Vec<&str> = rows
            .first()
            .map(|r| r.split_whitespace().collect())
            .unwrap_or_default();
        assert_eq!(
            header,
            ["Type", "Reason", "Age", "From", "Message"],
            "describe {resource} {name}:\n{described}"
        );
        let core = rows.iter().find(|r| r.contains(&format!("Core{kind}")));
        let core = core.unwrap_or_else(|| {
            panic!("describe {resource} {name} lacks the core/v1 event:\n{described}")
        });
        assert!(
            core.contains("Normal")
                && core.contains("e2e")
                && core.contains(&format!("core event about {kind} {name}")),
            "{core}"
        );
        let new = rows.iter().find(|r| r.contains(&format!("New{kind}")));
        let new = new.unwrap_or_else(|| {
            panic!("describe {resource} {name} lacks the events.k8s.io/v1 event:\n{described}")
        });
        assert!(
            new.contains("Warning")
                && new.contains(&format!("events.k8s.io note about {kind} {name}")),
            "{new}"
        );
        assert!(
            !described.contains("Stranger"),
            "describe {resource} {name} shows an event about another uid:\n{described}"
        );
    }

    // The events are listed by field selector, as describe asks for them.
    let selected = k.json(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.kind=Pod,involvedObject.name=p",
    ]);
    // The scheduler and controllers add their own events about p: select ours by reason.
    let items = selected["items"].as_array().cloned().unwrap_or_default();
    assert!(
        items
            .iter()
            .all(|e| e["involvedObject"]["kind"] == "Pod" && e["involvedObject"]["name"] == "p"),
        "the selector matches only events about pod p: {selected}"
    );
    let mut reasons: Vec<&str> = items
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .filter(|r| ["CorePod", "NewPod", "Stranger"].contains(r))
        .collect();
    reasons.sort_unstable();
    assert_eq!(reasons, ["CorePod", "NewPod", "Stranger"], "{selected}");
    let regarding = k.json(&[
        "get",
        "events.v1.events.k8s.io",
        "--field-selector",
        "regarding.name=d",
    ]);
    let notes: Vec<&str> = regarding["items"]
        .as_array()
        .map(|i| i.iter().filter_map(|e| e["note"].as_str()).collect())
        .unwrap_or_default();
    let ours: Vec<&str> = notes
        .into_iter()
        .filter(|n| n.contains("about Deployment d"))
        .collect();
    assert_eq!(
        ours,
        [
            "core event about Deployment d",
            "events.k8s.io note about Deployment d"
        ],
        "both events about d, seen through events.k8s.io/v1: {regarding}"
    );
}
