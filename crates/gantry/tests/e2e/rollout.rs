//! A Deployment's life with real kubectl (1.32 and 1.27) against `gantry server` and simulated
//! nodes: apply 5 replicas and `kubectl rollout status` completes, scale to 10 and to 2,
//! `kubectl set image` rolls to a new ReplicaSet without ever dropping below
//! `replicas - maxUnavailable` available pods, and `kubectl rollout undo` brings the old
//! ReplicaSet back under a higher revision.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    Background, DEADLINE, Kubectl, Server, SimNodes, wait_for_ready_pods, wait_until,
};

const REVISION: &str = "deployment.kubernetes.io/revision";
const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(60);

fn deployment(replicas: u32, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": image}]}}}})
}

/// `kubectl rollout status` until it reports success; returns its stdout.
fn rollout_status(k: &Kubectl) -> String {
    let out = k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    out
}

/// The ReplicaSets of `web` by name: (image, spec.replicas, revision annotation).
fn replica_sets(k: &Kubectl) -> BTreeMap<String, (String, i64, String)> {
    let list = k.json(&["get", "replicasets", "-l", "app=web"]);
    let items = list["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|rs| {
            let name = rs["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let image = rs["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let revision = rs["metadata"]["annotations"][REVISION]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (
                name,
                (
                    image,
                    rs["spec"]["replicas"].as_i64().unwrap_or(-1),
                    revision,
                ),
            )
        })
        .collect()
}

/// Splits a stream of concatenated JSON documents (what `kubectl get -w -o json` prints).
fn documents(stream: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(stream)
        .into_iter::<Value>()
        .map_while(Result::ok)
        .collect()
}

/// The fewest Ready, non-deleting pods seen in a `--output-watch-events` pod stream after
/// the count first reached `steady` (the initial list arrives one pod at a time).
fn fewest_ready_pods(stream: &str, steady: usize) -> Option<usize> {
    let mut ready: BTreeMap<String, bool> = BTreeMap::new();
    let mut fewest: Option<usize> = None;
    for event in documents(stream) {
        let pod = &event["object"];
        let name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let counts = event["type"] != "DELETED"
            && pod["metadata"]["deletionTimestamp"].is_null()
            && crate::harness::pod_ready(pod);
        ready.insert(name, counts);
        let now = ready.values().filter(|r| **r).count();
        fewest = match fewest {
            None if now >= steady => Some(now),
            None => None,
            Some(f) => Some(f.min(now)),
        };
    }
    fewest
}

/// The most pods that existed at once without being deleted or terminating, over a
/// `kubectl get pods -w -o json` stream: what maxSurge bounds.
/// The largest sum of the ReplicaSets' `spec.replicas` over a watch of them: what maxSurge
/// bounds (upstream counts desired replicas, so a pod of a scaled-down set may briefly
/// outlive its place while the new set's pods start).
fn most_desired_replicas(stream: &str) -> i64 {
    let mut desired: BTreeMap<String, i64> = BTreeMap::new();
    let mut most = 0;
    for event in documents(stream) {
        let set = &event["object"];
        let name = set["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let replicas = match event["type"] == "DELETED" {
            true => 0,
            false => set["spec"]["replicas"].as_i64().unwrap_or(0),
        };
        desired.insert(name, replicas);
        most = most.max(desired.values().sum());
    }
    most
}

/// A watch of the app's objects of one resource, as JSON events.
fn watch_events(k: &Kubectl, resource: &str) -> Background {
    k.background(&[
        "get",
        resource,
        "-l",
        "app=web",
        "-w",
        "-o",
        "json",
        "--output-watch-events",
    ])
}

fn rolls_out_scales_updates_and_undoes(minor: u32) {
    let server = Server::start();
    let k = Kubectl::new(&server, minor);
    let _nodes = SimNodes::start(&server, "roll-", 3);
    wait_until("3 nodes are Ready", DEADLINE, || {
        crate::harness::ready_nodes(&k).len() == 3
    });

    // Apply 5 replicas: rollout status completes and the status adds up.
    let out = k.ok_stdin(
        &["apply", "-f", "-"],
        &deployment(5, "nginx:1.26").to_string(),
    );
    assert_eq!(out.trim(), "deployment.apps/web created");
    rollout_status(&k);
    let d = k.json(&["get", "deployment", "web"]);
    assert_eq!(d["status"]["readyReplicas"], 5, "{d}");
    assert_eq!(d["status"]["availableReplicas"], 5, "{d}");
    assert_eq!(d["status"]["updatedReplicas"], 5, "{d}");
    assert_eq!(
        d["status"]["observedGeneration"], d["metadata"]["generation"],
        "{d}"
    );
    assert_eq!(d["metadata"]["annotations"][REVISION], "1", "{d}");
    let pods = wait_for_ready_pods(&k, "app=web", 5, DEADLINE);
    assert!(pods.iter().all(|p| {
        p["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| n.starts_with("roll-"))
    }));
    let first_sets = replica_sets(&k);
    assert_eq!(first_sets.len(), 1, "{first_sets:?}");
    let (old_rs, (_, _, old_revision)) = first_sets
        .iter()
        .next()
        .map(|(n, v)| (n.clone(), v.clone()))
        .expect("one ReplicaSet");
    assert_eq!(old_revision, "1");

    // Scale up and down: pod counts converge both ways.
    assert_eq!(
        k.ok(&["scale", "deployment/web", "--replicas=10"]).trim(),
        "deployment.apps/web scaled"
    );
    wait_for_ready_pods(&k, "app=web", 10, ROLLOUT_TIMEOUT);
    rollout_status(&k);
    k.ok(&["scale", "deployment/web", "--replicas=2"]);
    wait_for_ready_pods(&k, "app=web", 2, ROLLOUT_TIMEOUT);
    wait_until("the deployment reports 2 replicas", DEADLINE, || {
        let d = k.json(&["get", "deployment", "web"]);
        d["status"]["replicas"] == 2 && d["status"]["availableReplicas"] == 2
    });

    // Back to 5, then a new image rolls out; nothing drops below 5 - maxUnavailable.
    k.ok(&["scale", "deployment/web", "--replicas=5"]);
    wait_for_ready_pods(&k, "app=web", 5, ROLLOUT_TIMEOUT);
    rollout_status(&k);
    let deploy_watch = k.background(&["get", "deployment", "web", "-w", "-o", "json"]);
    let pod_watch = watch_events(&k, "pods");
    let set_watch = watch_events(&k, "replicasets");
    set_watch.wait_for("the replica set watch lists one", |s| {
        !documents(s).is_empty()
    });
    deploy_watch.wait_for("the deployment watch lists web", |s| {
        !documents(s).is_empty()
    });
    pod_watch.wait_for("the pod watch lists 5 pods", |s| {
        fewest_ready_pods(s, 5).is_some()
    });
    let out = k.ok(&["set", "image", "deployment/web", "app=nginx:1.27"]);
    assert_eq!(out.trim(), "deployment.apps/web image updated");
    rollout_status(&k);
    let pods = wait_for_ready_pods(&k, "app=web", 5, ROLLOUT_TIMEOUT);
    assert!(
        pods.iter()
            .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.27"),
        "{pods:?}"
    );
    let seen = deploy_watch.wait_for("the watch sees the rollout end", |s| {
        documents(s).last().is_some_and(|d| {
            d["status"]["updatedReplicas"] == 5 && d["status"]["availableReplicas"] == 5
        })
    });
    let available: Vec<i64> = documents(&seen)
        .iter()
        .map(|d| d["status"]["availableReplicas"].as_i64().unwrap_or(0))
        .collect();
    assert!(
        available.len() > 1,
        "the watch saw no change: {available:?}"
    );
    assert!(
        available.iter().all(|a| *a >= 4),
        "availableReplicas dropped below replicas - maxUnavailable = 4: {available:?}"
    );
    // maxSurge bounds the replicas the ReplicaSets want at once, as upstream.
    let surged = most_desired_replicas(&set_watch.stdout());
    assert!(
        (5..=6).contains(&surged),
        "the ReplicaSets wanted more than replicas + maxSurge = 6 pods at once (or the watch \
         saw none): {surged}\n{}",
        set_watch.stdout()
    );
    let fewest = fewest_ready_pods(&pod_watch.stdout(), 5);
    assert!(
        fewest.is_some_and(|f| f >= 4),
        "Ready pods dropped to {fewest:?} during the rollout:\n{}",
        pod_watch.stdout()
    );

    let sets = replica_sets(&k);
    assert_eq!(sets.len(), 2, "{sets:?}");
    let (new_rs, new) = sets
        .iter()
        .find(|(name, _)| **name != old_rs)
        .expect("a new ReplicaSet");
    assert_eq!(
        new,
        &("nginx:1.27".to_string(), 5, "2".to_string()),
        "{sets:?}"
    );
    assert_eq!(
        sets[&old_rs].1, 0,
        "the old ReplicaSet is scaled to 0: {sets:?}"
    );
    assert_eq!(
        k.json(&["get", "deployment", "web"])["metadata"]["annotations"][REVISION],
        "2"
    );
    let hash = new_rs.trim_start_matches("web-");
    assert!(
        pods.iter()
            .all(|p| p["metadata"]["labels"]["pod-template-hash"] == hash),
        "{pods:?}"
    );

    // Undo: the old ReplicaSet scales up again under revision 3, the new one down to 0.
    let out = k.ok(&["rollout", "undo", "deployment/web"]);
    assert_eq!(out.trim(), "deployment.apps/web rolled back");
    rollout_status(&k);
    let pods = wait_for_ready_pods(&k, "app=web", 5, ROLLOUT_TIMEOUT);
    assert!(
        pods.iter()
            .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.26"),
        "{pods:?}"
    );
    let sets = replica_sets(&k);
    assert_eq!(sets.len(), 2, "undo reuses the old ReplicaSet: {sets:?}");
    assert_eq!(
        sets[&old_rs],
        ("nginx:1.26".to_string(), 5, "3".to_string()),
        "{sets:?}"
    );
    assert_eq!(sets[new_rs].1, 0, "{sets:?}");
    let d = k.json(&["get", "deployment", "web"]);
    assert_eq!(d["metadata"]["annotations"][REVISION], "3", "{d}");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.26"
    );
    let history = k.ok(&["rollout", "history", "deployment/web"]);
    let revisions: Vec<&str> = history
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(revisions, ["2", "3"], "{history}");
}

#[test]
fn deployment_rolls_out_scales_updates_and_undoes_kubectl_1_32() {
    rolls_out_scales_updates_and_undoes(32)
}

#[test]
fn deployment_rolls_out_scales_updates_and_undoes_kubectl_1_27() {
    rolls_out_scales_updates_and_undoes(27)
}
