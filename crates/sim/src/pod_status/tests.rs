//! Tables of pods and the statuses a simulated kubelet reports for them.

use super::*;

fn pod(value: Value) -> Pod {
    serde_json::from_value(value).expect("a pod")
}

fn now() -> Timestamp {
    "2025-01-02T03:04:05Z".parse().expect("a timestamp")
}

fn web() -> Pod {
    pod(json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "u-1"},
        "spec": {"nodeName": "sim-0", "containers": [{"name": "app", "image": "nginx:1"}, {"name": "side", "image": "busybox"}]},
        "status": {"phase": "Pending"},
    }))
}

#[test]
fn running_sets_phase_conditions_ips_and_container_statuses() {
    let patch = running(
        &web(),
        Ipv4Addr::new(10, 200, 1, 2),
        Ipv4Addr::new(10, 0, 3, 4),
        now(),
    );
    let s = &patch["status"];
    assert_eq!(s["phase"], "Running");
    assert_eq!(s["podIP"], "10.200.1.2");
    assert_eq!(s["podIPs"], json!([{"ip": "10.200.1.2"}]));
    assert_eq!(s["hostIP"], "10.0.3.4");
    assert_eq!(s["startTime"], "2025-01-02T03:04:05Z");
    for kind in ["PodScheduled", "Initialized", "ContainersReady", "Ready"] {
        let c = s["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
            .expect(kind);
        assert_eq!(c["status"], "True", "{kind}");
    }
    let statuses = s["containerStatuses"]
        .as_array()
        .expect("container statuses");
    assert_eq!(statuses.len(), 2);
    assert_eq!(statuses[0]["name"], "app");
    assert_eq!(statuses[0]["ready"], true);
    assert_eq!(statuses[0]["started"], true);
    assert_eq!(statuses[0]["restartCount"], 0);
    assert_eq!(statuses[0]["image"], "nginx:1");
    assert_eq!(statuses[0]["imageID"], "sim://nginx:1");
    assert_eq!(statuses[0]["containerID"], "sim://u-1/app");
    assert_eq!(
        statuses[0]["state"]["running"]["startedAt"],
        "2025-01-02T03:04:05Z"
    );
    assert_eq!(s["qosClass"], "BestEffort");
    assert!(s.get("initContainerStatuses").is_none());
}

#[test]
fn running_keeps_an_existing_start_time_and_reports_init_containers() {
    let mut p = web();
    p.status =
        serde_json::from_value(json!({"phase": "Pending", "startTime": "2024-12-31T23:59:59Z"}))
            .ok();
    p.spec.as_mut().expect("spec").init_containers =
        serde_json::from_value(json!([{"name": "init", "image": "busybox"}])).ok();
    let patch = running(
        &p,
        Ipv4Addr::new(10, 200, 1, 2),
        Ipv4Addr::new(10, 0, 3, 4),
        now(),
    );
    assert_eq!(patch["status"]["startTime"], "2024-12-31T23:59:59Z");
    let init = &patch["status"]["initContainerStatuses"][0];
    assert_eq!(init["name"], "init");
    assert_eq!(init["state"]["terminated"]["exitCode"], 0);
}

#[test]
fn completed_succeeds_or_fails_by_exit_code() {
    for (code, phase, reason) in [
        (0, "Succeeded", "Completed"),
        (1, "Failed", "Error"),
        (137, "Failed", "Error"),
    ] {
        let patch = completed(&web(), code, now());
        let s = &patch["status"];
        assert_eq!(s["phase"], phase);
        let terminated = &s["containerStatuses"][0]["state"]["terminated"];
        assert_eq!(terminated["exitCode"], code);
        assert_eq!(terminated["reason"], reason);
        assert_eq!(terminated["finishedAt"], "2025-01-02T03:04:05Z");
        assert_eq!(s["containerStatuses"][1]["ready"], false);
        let ready = s["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
            .expect("Ready");
        assert_eq!(
            (ready["status"].as_str(), ready["reason"].as_str()),
            (Some("False"), Some("PodCompleted"))
        );
    }
}

#[test]
fn run_seconds_only_for_pods_that_are_not_restarted() {
    let cases = [
        (Some("Never"), Some("5"), Some(5)),
        (Some("OnFailure"), Some(" 0 "), Some(0)),
        (Some("Always"), Some("5"), None),
        (None, Some("5"), None),
        (Some("Never"), None, None),
        (Some("Never"), Some("soon"), None),
    ];
    for (policy, annotation, expected) in cases {
        let mut p = web();
        p.spec.as_mut().expect("spec").restart_policy = policy.map(str::to_string);
        if let Some(a) = annotation {
            p.metadata.annotations =
                Some([(RUN_SECONDS_ANNOTATION.to_string(), a.to_string())].into());
        }
        assert_eq!(run_seconds(&p), expected, "{policy:?} {annotation:?}");
    }
}

#[test]
fn exit_code_defaults_to_zero() {
    let mut p = web();
    assert_eq!(exit_code(&p), 0);
    p.metadata.annotations = Some([(EXIT_CODE_ANNOTATION.to_string(), "1".to_string())].into());
    assert_eq!(exit_code(&p), 1);
    p.metadata.annotations = Some([(EXIT_CODE_ANNOTATION.to_string(), "x".to_string())].into());
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn qos_classes() {
    let with = |resources: Value| {
        let mut p = web();
        p.spec.as_mut().expect("spec").containers.truncate(1);
        p.spec.as_mut().expect("spec").containers[0].resources =
            serde_json::from_value(resources).ok();
        running(&p, Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, now())["status"]["qosClass"].clone()
    };
    assert_eq!(with(json!({})), "BestEffort");
    assert_eq!(with(json!({"requests": {"cpu": "100m"}})), "Burstable");
    assert_eq!(
        with(json!({"limits": {"cpu": "1", "memory": "1Gi"}})),
        "Guaranteed"
    );
    assert_eq!(
        with(
            json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}})
        ),
        "Burstable"
    );
}
