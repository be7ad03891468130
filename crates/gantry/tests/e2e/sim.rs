//! Simulated nodes: `gantry sim` processes against a real server, checked with real kubectl:
//! nodes register Ready, leases renew, a pod bound to a sim node runs and becomes Ready, a
//! run-to-completion pod completes, a deleted pod disappears, and a killed sim process stops
//! renewing its leases while another node group keeps going.

use serde_json::{Value, json};

use crate::harness::{DEADLINE, Kubectl, Server, SimNodes, wait_until};

fn renew_time(k: &Kubectl, node: &str) -> Option<String> {
    let out = k.run(&[
        "-n",
        "kube-node-lease",
        "get",
        "lease",
        node,
        "-o",
        "jsonpath={.spec.renewTime}",
    ]);
    (out.success && !out.stdout.is_empty()).then_some(out.stdout)
}

fn ready_sim_nodes(k: &Kubectl, prefix: &str) -> usize {
    let nodes = k.json(&["get", "nodes", "-l", "gantry.dev/simulated=true"]);
    let items = nodes["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter(|n| {
            n["metadata"]["name"]
                .as_str()
                .is_some_and(|name| name.starts_with(prefix))
        })
        .filter(|n| condition(n, "Ready") == Some("True"))
        .count()
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a str> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)?["status"]
        .as_str()
}

#[test]
fn simulated_nodes_register_renew_leases_run_and_delete_pods() {
    let server = Server::start();
    let k = Kubectl::new(&server, 33);
    let mut group = SimNodes::start(&server, "sim-a-", 3);
    wait_until("3 simulated nodes are Ready", DEADLINE, || {
        ready_sim_nodes(&k, "sim-a-") == 3
    });
    let table = k.ok(&["get", "nodes"]);
    assert_eq!(
        table
            .lines()
            .filter(|l| l.starts_with("sim-a-") && l.contains(" Ready "))
            .count(),
        3,
        "{table}"
    );
    let node = k.json(&["get", "node", "sim-a-1"]);
    assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], "v1.33.0-sim");
    assert_eq!(node["status"]["capacity"]["pods"], "110");
    assert_eq!(node["status"]["addresses"][0]["type"], "InternalIP");

    wait_until("sim-a-0 has a lease", DEADLINE, || {
        renew_time(&k, "sim-a-0").is_some()
    });
    let first = renew_time(&k, "sim-a-0");
    wait_until("the lease of sim-a-0 is renewed", DEADLINE, || {
        renew_time(&k, "sim-a-0") != first
    });
    let lease = k.json(&["-n", "kube-node-lease", "get", "lease", "sim-a-0"]);
    assert_eq!(lease["spec"]["holderIdentity"], "sim-a-0");
    assert_eq!(lease["metadata"]["ownerReferences"][0]["kind"], "Node");

    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"nodeName": "sim-a-1", "containers": [{"name": "app", "image": "nginx:1.27"}]}});
    k.ok_stdin(&["create", "-f", "-"], &pod.to_string());
    wait_until("pod web is Running and Ready", DEADLINE, || {
        let p = k.json(&["get", "pod", "web"]);
        p["status"]["phase"] == "Running" && condition(&p, "Ready") == Some("True")
    });
    let p = k.json(&["get", "pod", "web"]);
    assert!(
        p["status"]["podIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.")),
        "{p}"
    );
    assert_eq!(
        p["status"]["containerStatuses"][0]["state"]["running"].is_object(),
        true
    );
    assert!(
        p["status"]["containerStatuses"][0]["containerID"]
            .as_str()
            .is_some_and(|id| id.starts_with("sim://"))
    );

    let job_pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "task", "namespace": "default", "annotations": {"gantry.dev/sim-run-seconds": "1"}},
        "spec": {"nodeName": "sim-a-2", "restartPolicy": "Never", "containers": [{"name": "app", "image": "busybox"}]}});
    k.ok_stdin(&["create", "-f", "-"], &job_pod.to_string());
    wait_until("pod task Succeeded", DEADLINE, || {
        k.json(&["get", "pod", "task"])["status"]["phase"] == "Succeeded"
    });

    k.ok(&["delete", "pod", "web", "--wait=false"]);
    wait_until("pod web is gone", DEADLINE, || {
        let out = k.run(&["get", "pod", "web"]);
        !out.success && out.stderr.contains("NotFound")
    });

    // A second node group is the witness: its lease renews while the killed group's do not.
    let witness = SimNodes::start(&server, "sim-b-", 1);
    wait_until("sim-b-0 has a lease", DEADLINE, || {
        renew_time(&k, "sim-b-0").is_some()
    });
    group.kill();
    let frozen: Vec<Option<String>> = (0..3)
        .map(|i| renew_time(&k, &format!("sim-a-{i}")))
        .collect();
    let mut witness_renewals = 0;
    let mut last = renew_time(&k, "sim-b-0");
    wait_until("the witness renews its lease 3 times", DEADLINE, || {
        let now = renew_time(&k, "sim-b-0");
        if now != last {
            witness_renewals += 1;
            last = now;
        }
        witness_renewals >= 3
    });
    let after: Vec<Option<String>> = (0..3)
        .map(|i| renew_time(&k, &format!("sim-a-{i}")))
        .collect();
    assert_eq!(
        frozen,
        after,
        "a killed sim process renewed its leases\n{}",
        group.log()
    );
    assert!(frozen.iter().all(Option::is_some));
    assert_eq!(
        k.json(&["get", "nodes"])["items"].as_array().map(Vec::len),
        Some(4),
        "killed nodes stay registered"
    );
    drop(witness);
}
