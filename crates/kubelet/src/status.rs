//! The pod status the kubelet reports, computed from the runtime's view (as upstream's
//! generateAPIPodStatus and getPhase): phase, conditions with stable transition times,
//! container statuses with state, lastState, restartCount, ready/started, pod and host IPs.
//! Pure, tested with tables of cases.

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::actions::restart_policy;
use crate::runtime::{RuntimeContainer, RuntimePod, State};

/// What the kubelet knows beyond the runtime: errors of the last start attempts, probe
/// results, back-off waits.
#[derive(Debug, Default)]
pub struct Observed {
    /// Container name -> (waiting reason, message), e.g. ErrImagePull.
    pub errors: HashMap<String, (String, String)>,
    /// Container IDs whose readiness probe passes (containers without one are ready when running).
    pub ready: HashSet<String>,
    /// Container IDs that have a readiness probe.
    pub has_readiness: HashSet<String>,
    /// Container IDs whose startup probe has not passed yet.
    pub not_started: HashSet<String>,
    /// Containers waiting out a restart back-off: name -> message.
    pub backing_off: HashMap<String, String>,
}

fn time(nanos: i64) -> Option<Time> {
    (nanos > 0)
        .then(|| Timestamp::from_nanosecond(i128::from(nanos)).ok().map(Time))
        .flatten()
}

fn terminated(c: &RuntimeContainer) -> ContainerStateTerminated {
    let reason = match (c.reason.as_str(), c.exit_code) {
        ("", 0) => "Completed".to_string(),
        ("", _) => "Error".to_string(),
        (r, _) => r.to_string(),
    };
    ContainerStateTerminated {
        exit_code: c.exit_code,
        reason: Some(reason),
        message: (!c.message.is_empty()).then(|| c.message.clone()),
        started_at: time(c.started_at),
        finished_at: time(c.finished_at),
        container_id: Some(format!("containerd://{}", c.id)),
        signal: None,
    }
}

fn state_of(c: &RuntimeContainer) -> ContainerState {
    match c.state {
        State::Running => ContainerState {
            running: Some(ContainerStateRunning {
                started_at: time(c.started_at),
            }),
            ..Default::default()
        },
        State::Exited => ContainerState {
            terminated: Some(terminated(c)),
            ..Default::default()
        },
        State::Created | State::Unknown => waiting("ContainerCreating", None),
    }
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message,
        }),
        ..Default::default()
    }
}

fn container_status(
    spec: &Container,
    rt: &RuntimePod,
    init: bool,
    obs: &Observed,
    default_waiting: &str,
) -> ContainerStatus {
    let latest = rt.latest(&spec.name, init);
    let previous = rt.previous(&spec.name, init);
    let mut s = ContainerStatus {
        name: spec.name.clone(),
        image: spec.image.clone().unwrap_or_default(),
        image_id: String::new(),
        ready: false,
        restart_count: latest.map(|c| c.attempt as i32).unwrap_or(0),
        started: Some(false),
        ..Default::default()
    };
    match latest {
        None => {
            let (reason, message) = obs
                .errors
                .get(&spec.name)
                .cloned()
                .map(|(r, m)| (r, Some(m)))
                .unwrap_or((default_waiting.to_string(), None));
            s.state = Some(waiting(&reason, message));
        }
        Some(c) => {
            s.container_id = Some(format!("containerd://{}", c.id));
            s.image_id = c.image_ref.clone();
            let mut state = state_of(c);
            if c.state == State::Exited {
                if let Some(msg) = obs.backing_off.get(&spec.name) {
                    s.last_state = Some(state);
                    state = waiting("CrashLoopBackOff", Some(msg.clone()));
                } else if let Some((reason, msg)) = obs.errors.get(&spec.name) {
                    s.last_state = Some(state);
                    state = waiting(reason, Some(msg.clone()));
                }
            }
            if s.last_state.is_none() {
                s.last_state =
                    previous
                        .filter(|p| p.state == State::Exited)
                        .map(|p| ContainerState {
                            terminated: Some(terminated(p)),
                            ..Default::default()
                        });
            }
            let running = c.state == State::Running;
            let started = running && !obs.not_started.contains(&c.id);
            s.started = Some(started);
            s.ready = started && (!obs.has_readiness.contains(&c.id) || obs.ready.contains(&c.id));
            if init {
                s.ready = c.state == State::Exited && c.exit_code == 0;
            }
            s.state = Some(state);
        }
    }
    if s.last_state.is_none() {
        s.last_state = Some(ContainerState::default());
    }
    s
}

/// upstream's getPhase over the regular containers (init containers handled by the caller).
fn phase(policy: &str, statuses: &[ContainerStatus]) -> &'static str {
    let (mut waiting, mut running, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for s in statuses {
        let state = s.state.as_ref();
        if state.and_then(|st| st.running.as_ref()).is_some() {
            running += 1;
        } else if let Some(t) = state.and_then(|st| st.terminated.as_ref()) {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if let Some(t) = s.last_state.as_ref().and_then(|l| l.terminated.as_ref()) {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else {
            waiting += 1;
        }
    }
    if waiting > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped > 0 {
        return match policy {
            "Always" => "Running",
            _ if stopped == succeeded => "Succeeded",
            "Never" => "Failed",
            _ => "Running",
        };
    }
    "Pending"
}

fn condition(
    pod: &Pod,
    kind: &str,
    ok: bool,
    reason: Option<&str>,
    now: Timestamp,
) -> PodCondition {
    let status = if ok { "True" } else { "False" };
    let old = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == kind));
    let transition = match old {
        Some(o) if o.status == status => o.last_transition_time.clone(),
        _ => Some(Time(now)),
    };
    PodCondition {
        type_: kind.into(),
        status: status.into(),
        last_transition_time: transition,
        reason: if ok { None } else { reason.map(Into::into) },
        ..Default::default()
    }
}

/// The pod's QoS class (Guaranteed, Burstable, BestEffort).
pub fn qos_class(pod: &Pod) -> &'static str {
    let Some(spec) = &pod.spec else {
        return "BestEffort";
    };
    let mut any = false;
    let mut guaranteed = true;
    for c in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        let r = c.resources.as_ref();
        let req: BTreeMap<_, _> = r.and_then(|r| r.requests.clone()).unwrap_or_default();
        let lim: BTreeMap<_, _> = r.and_then(|r| r.limits.clone()).unwrap_or_default();
        for res in ["cpu", "memory"] {
            let (q, l) = (req.get(res), lim.get(res));
            any |= q.is_some() || l.is_some();
            match (q, l) {
                (_, None) => guaranteed = false,
                (Some(q), Some(l))
                    if gantry_quantity::milli_value(q) != gantry_quantity::milli_value(l) =>
                {
                    guaranteed = false
                }
                _ => {}
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// The status to report for `pod`.
pub fn pod_status(
    pod: &Pod,
    rt: &RuntimePod,
    obs: &Observed,
    host_ip: &str,
    now: Timestamp,
) -> PodStatus {
    let spec = pod.spec.clone().unwrap_or_default();
    let inits = spec.init_containers.clone().unwrap_or_default();
    let init_statuses: Vec<ContainerStatus> = inits
        .iter()
        .map(|c| container_status(c, rt, true, obs, "PodInitializing"))
        .collect();
    let initialized = init_statuses.iter().all(|s| s.ready);
    let app_waiting = if initialized {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let statuses: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .map(|c| container_status(c, rt, false, obs, app_waiting))
        .collect();
    let policy = restart_policy(pod);
    let init_failed = policy == "Never"
        && init_statuses.iter().any(|s| {
            s.state
                .as_ref()
                .and_then(|st| st.terminated.as_ref())
                .is_some_and(|t| t.exit_code != 0)
        });
    let phase = if init_failed {
        "Failed"
    } else if !initialized {
        "Pending"
    } else {
        phase(policy, &statuses)
    };
    let sandbox = rt.sandbox().filter(|s| s.ready);
    let ips: Vec<String> = if spec.host_network.unwrap_or(false) {
        vec![host_ip.to_string()]
    } else {
        sandbox.map(|s| s.ips.clone()).unwrap_or_default()
    };
    let containers_ready = !statuses.is_empty() && statuses.iter().all(|s| s.ready);
    let mut conditions = vec![
        condition(
            pod,
            "PodReadyToStartContainers",
            sandbox.is_some(),
            None,
            now,
        ),
        condition(
            pod,
            "Initialized",
            initialized,
            Some("ContainersNotInitialized"),
            now,
        ),
        condition(
            pod,
            "Ready",
            containers_ready,
            Some("ContainersNotReady"),
            now,
        ),
        condition(
            pod,
            "ContainersReady",
            containers_ready,
            Some("ContainersNotReady"),
            now,
        ),
    ];
    // Conditions set by others (PodScheduled, DisruptionTarget, readiness gates) stay.
    for c in pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
    {
        if !conditions.iter().any(|x| x.type_ == c.type_) {
            conditions.push(c);
        }
    }
    let start_time = pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.clone())
        .or(Some(Time(now)));
    PodStatus {
        phase: Some(phase.into()),
        conditions: Some(conditions),
        host_ip: Some(host_ip.into()),
        host_ips: Some(vec![HostIP { ip: host_ip.into() }]),
        pod_ip: ips.first().cloned(),
        pod_ips: (!ips.is_empty()).then(|| ips.iter().map(|ip| PodIP { ip: ip.clone() }).collect()),
        start_time,
        qos_class: Some(qos_class(pod).into()),
        container_statuses: Some(statuses),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::RuntimeSandbox;
    use serde_json::json;

    fn pod(policy: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"restartPolicy": policy, "containers": [{"name": "a", "image": "img"}]}})).expect("pod")
    }

    fn rc(attempt: u32, state: State, exit: i32, reason: &str) -> RuntimeContainer {
        RuntimeContainer {
            id: format!("id{attempt}"),
            sandbox_id: "s".into(),
            name: "a".into(),
            attempt,
            init: false,
            state,
            exit_code: exit,
            reason: reason.into(),
            message: String::new(),
            created_at: i64::from(attempt) + 1,
            started_at: 1_700_000_000_000_000_000,
            finished_at: 1_700_000_001_000_000_000,
            image: "img".into(),
            image_ref: "sha256:abc".into(),
            hash: String::new(),
            log_path: String::new(),
            termination_message_path: String::new(),
        }
    }

    #[test]
    fn phases_and_states() {
        let now = Timestamp::UNIX_EPOCH;
        let sb = RuntimeSandbox {
            id: "s".into(),
            attempt: 0,
            ready: true,
            created_at: 1,
            ips: vec!["10.42.0.5".into()],
        };
        let crash = Observed {
            backing_off: HashMap::from([("a".to_string(), "back-off 10s".to_string())]),
            ..Default::default()
        };
        let pull = Observed {
            errors: HashMap::from([(
                "a".to_string(),
                ("ErrImagePull".to_string(), "not found".to_string()),
            )]),
            ..Default::default()
        };
        let none = Observed::default();
        let cases: Vec<(
            &str,
            &str,
            Vec<RuntimeContainer>,
            &Observed,
            &str,
            &str,
            bool,
            i32,
        )> = vec![
            (
                "creating",
                "Always",
                vec![],
                &none,
                "Pending",
                "ContainerCreating",
                false,
                0,
            ),
            (
                "pull error",
                "Always",
                vec![],
                &pull,
                "Pending",
                "ErrImagePull",
                false,
                0,
            ),
            (
                "running",
                "Always",
                vec![rc(0, State::Running, 0, "")],
                &none,
                "Running",
                "running",
                true,
                0,
            ),
            (
                "crash loop",
                "Always",
                vec![
                    rc(0, State::Exited, 0, ""),
                    rc(1, State::Exited, 1, "Error"),
                ],
                &crash,
                "Running",
                "CrashLoopBackOff",
                false,
                1,
            ),
            (
                "succeeded",
                "OnFailure",
                vec![rc(0, State::Exited, 0, "")],
                &none,
                "Succeeded",
                "Completed",
                false,
                0,
            ),
            (
                "failed",
                "Never",
                vec![rc(0, State::Exited, 1, "")],
                &none,
                "Failed",
                "Error",
                false,
                0,
            ),
            (
                "oom",
                "Never",
                vec![rc(0, State::Exited, 137, "OOMKilled")],
                &none,
                "Failed",
                "OOMKilled",
                false,
                0,
            ),
        ];
        for (what, policy, containers, obs, want_phase, want_state, want_ready, restarts) in cases {
            let rt = RuntimePod {
                sandboxes: vec![sb.clone()],
                containers,
            };
            let st = pod_status(&pod(policy), &rt, obs, "192.0.2.1", now);
            assert_eq!(st.phase.as_deref(), Some(want_phase), "{what}");
            let cs = &st.container_statuses.as_ref().expect("statuses")[0];
            let state = cs.state.as_ref().expect("state");
            let got = if state.running.is_some() {
                "running".to_string()
            } else if let Some(w) = &state.waiting {
                w.reason.clone().unwrap_or_default()
            } else {
                state
                    .terminated
                    .as_ref()
                    .and_then(|t| t.reason.clone())
                    .unwrap_or_default()
            };
            assert_eq!(got, want_state, "{what}");
            assert_eq!(cs.ready, want_ready, "{what}");
            assert_eq!(cs.restart_count, restarts, "{what}");
            assert_eq!(st.pod_ip.as_deref(), Some("10.42.0.5"), "{what}");
        }
    }

    #[test]
    fn qos_classes() {
        let p = |res: serde_json::Value| -> Pod {
            serde_json::from_value(
                json!({"spec": {"containers": [{"name": "a", "resources": res}]}}),
            )
            .expect("pod")
        };
        assert_eq!(qos_class(&p(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&p(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&p(json!({"requests": {"cpu": "1"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&p(
                json!({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}})
            )),
            "Burstable"
        );
    }
}
