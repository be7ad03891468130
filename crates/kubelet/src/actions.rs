//! What a pod's sync must do next, decided from the pod spec and what the runtime holds (as
//! upstream's computePodActions): create a sandbox, run the next init container, start or
//! restart containers by restartPolicy and back-off, kill unhealthy or outdated containers, or
//! stop the sandbox of a pod that is done. Pure, tested with tables of cases.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::backoff::Backoff;
use crate::container::spec_hash;
use crate::runtime::{RuntimePod, State};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub name: String,
    pub init: bool,
    pub attempt: u32,
    /// A restart after an exit (counts against back-off), not a first start.
    pub restart: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kill {
    pub id: String,
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Actions {
    /// Stop every sandbox and container of the pod (sandbox gone bad, or the pod is done).
    pub kill_pod: bool,
    /// Create a sandbox with this attempt number.
    pub create_sandbox: Option<u32>,
    pub start: Vec<Start>,
    pub kill: Vec<Kill>,
    /// Containers waiting out their restart back-off, and for how long.
    pub waiting: Vec<(String, Duration)>,
}

pub fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

fn should_restart(policy: &str, exit_code: i32) -> bool {
    match policy {
        "Always" => true,
        "OnFailure" => exit_code != 0,
        _ => false,
    }
}

fn next_attempt(rt: &RuntimePod, name: &str, init: bool) -> u32 {
    rt.containers
        .iter()
        .filter(|c| c.name == name && c.init == init)
        .map(|c| c.attempt + 1)
        .max()
        .unwrap_or(0)
}

/// Decides the next step of `pod`. `unhealthy` holds IDs of running containers whose liveness
/// or startup probe failed.
pub fn compute(
    pod: &Pod,
    rt: &RuntimePod,
    backoff: &Backoff,
    unhealthy: &HashSet<String>,
    now: Instant,
) -> Actions {
    let mut a = Actions::default();
    let Some(spec) = &pod.spec else { return a };
    let policy = restart_policy(pod);
    let inits: &[Container] = spec.init_containers.as_deref().unwrap_or_default();
    let sandbox = rt.sandbox().filter(|s| s.ready);
    let Some(sandbox) = sandbox else {
        // No usable sandbox: (re)create it unless the pod ran once and must not run again.
        a.kill_pod = !rt.is_empty();
        let ran = rt.containers.iter().any(|c| !c.init);
        if policy == "Never" && ran {
            return a;
        }
        a.create_sandbox = Some(rt.sandbox().map(|s| s.attempt + 1).unwrap_or(0));
        match inits.first() {
            Some(first) => a.start.push(Start {
                name: first.name.clone(),
                init: true,
                attempt: next_attempt(rt, &first.name, true),
                restart: false,
            }),
            None => {
                for c in &spec.containers {
                    a.start.push(Start {
                        name: c.name.clone(),
                        init: false,
                        attempt: next_attempt(rt, &c.name, false),
                        restart: false,
                    });
                }
            }
        }
        return a;
    };
    let in_sandbox = |name: &str, init: bool| {
        rt.containers
            .iter()
            .filter(|c| c.sandbox_id == sandbox.id && c.name == name && c.init == init)
            .max_by_key(|c| (c.attempt, c.created_at))
    };
    // Init containers, one at a time, in order.
    for init in inits {
        match in_sandbox(&init.name, true) {
            None => {
                a.start.push(Start {
                    name: init.name.clone(),
                    init: true,
                    attempt: next_attempt(rt, &init.name, true),
                    restart: false,
                });
                return a;
            }
            Some(c) if c.state != State::Exited => return a,
            Some(c) if c.exit_code == 0 => continue,
            Some(c) => {
                if policy == "Never" {
                    a.kill_pod = true;
                } else {
                    restart(&mut a, backoff, now, &init.name, true, c.attempt + 1);
                }
                return a;
            }
        }
    }
    let mut done = true;
    for c in &spec.containers {
        match in_sandbox(&c.name, false) {
            None => {
                done = false;
                a.start.push(Start {
                    name: c.name.clone(),
                    init: false,
                    attempt: next_attempt(rt, &c.name, false),
                    restart: false,
                });
            }
            Some(rc) if rc.state == State::Running => {
                done = false;
                if unhealthy.contains(&rc.id) {
                    a.kill.push(Kill {
                        id: rc.id.clone(),
                        name: c.name.clone(),
                        reason: "unhealthy".into(),
                    });
                } else if !rc.hash.is_empty() && rc.hash != spec_hash(c) {
                    a.kill.push(Kill {
                        id: rc.id.clone(),
                        name: c.name.clone(),
                        reason: "spec changed".into(),
                    });
                }
            }
            Some(rc) if rc.state != State::Exited => done = false,
            Some(rc) => {
                if should_restart(policy, rc.exit_code) {
                    done = false;
                    restart(
                        &mut a,
                        backoff,
                        now,
                        &c.name,
                        false,
                        next_attempt(rt, &c.name, false),
                    );
                }
            }
        }
    }
    if done && !spec.containers.is_empty() {
        a.kill_pod = true;
    }
    a
}

fn restart(a: &mut Actions, backoff: &Backoff, now: Instant, name: &str, init: bool, attempt: u32) {
    match backoff.remaining(name, now) {
        Some(wait) => a.waiting.push((name.to_string(), wait)),
        None => a.start.push(Start {
            name: name.to_string(),
            init,
            attempt,
            restart: true,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{RuntimeContainer, RuntimeSandbox};
    use serde_json::json;

    fn pod(policy: &str, inits: &[&str], containers: &[&str]) -> Pod {
        let c = |n: &&str| json!({"name": n, "image": "img"});
        serde_json::from_value(json!({
            "metadata": {"name": "p", "uid": "u"},
            "spec": {"restartPolicy": policy, "initContainers": inits.iter().map(c).collect::<Vec<_>>(), "containers": containers.iter().map(c).collect::<Vec<_>>()},
        }))
        .expect("pod")
    }

    fn sandbox(ready: bool) -> RuntimeSandbox {
        RuntimeSandbox {
            id: "s1".into(),
            attempt: 0,
            ready,
            created_at: 1,
            ips: vec![],
        }
    }

    fn ctr(name: &str, init: bool, attempt: u32, state: State, exit: i32) -> RuntimeContainer {
        let spec: Container =
            serde_json::from_value(json!({"name": name, "image": "img"})).expect("container");
        RuntimeContainer {
            id: format!("{name}-{attempt}"),
            sandbox_id: "s1".into(),
            name: name.into(),
            attempt,
            init,
            state,
            exit_code: exit,
            reason: String::new(),
            message: String::new(),
            created_at: i64::from(attempt),
            started_at: 0,
            finished_at: 0,
            image: "img".into(),
            image_ref: String::new(),
            hash: spec_hash(&spec),
            log_path: String::new(),
            termination_message_path: String::new(),
        }
    }

    fn starts(a: &Actions) -> Vec<(String, u32)> {
        a.start
            .iter()
            .map(|s| (s.name.clone(), s.attempt))
            .collect()
    }

    #[test]
    fn decisions() {
        let now = Instant::now();
        let none = Backoff::default();
        let mut cooling = Backoff::default();
        cooling.record("a", now);
        let healthy = HashSet::new();
        struct Case<'a> {
            what: &'a str,
            pod: Pod,
            rt: RuntimePod,
            backoff: &'a Backoff,
            kill_pod: bool,
            sandbox: Option<u32>,
            start: Vec<(&'a str, u32)>,
            waiting: usize,
        }
        let rt = |sb: Option<RuntimeSandbox>, cs: Vec<RuntimeContainer>| RuntimePod {
            sandboxes: sb.into_iter().collect(),
            containers: cs,
        };
        let cases = vec![
            Case {
                what: "new pod",
                pod: pod("Always", &[], &["a", "b"]),
                rt: rt(None, vec![]),
                backoff: &none,
                kill_pod: false,
                sandbox: Some(0),
                start: vec![("a", 0), ("b", 0)],
                waiting: 0,
            },
            Case {
                what: "new pod with init",
                pod: pod("Always", &["i1", "i2"], &["a"]),
                rt: rt(None, vec![]),
                backoff: &none,
                kill_pod: false,
                sandbox: Some(0),
                start: vec![("i1", 0)],
                waiting: 0,
            },
            Case {
                what: "init running waits",
                pod: pod("Always", &["i1", "i2"], &["a"]),
                rt: rt(
                    Some(sandbox(true)),
                    vec![ctr("i1", true, 0, State::Running, 0)],
                ),
                backoff: &none,
                kill_pod: false,
                sandbox: None,
                start: vec![],
                waiting: 0,
            },
            Case {
                what: "next init",
                pod: pod("Always", &["i1", "i2"], &["a"]),
                rt: rt(
                    Some(sandbox(true)),
                    vec![ctr("i1", true, 0, State::Exited, 0)],
                ),
                backoff: &none,
                kill_pod: false,
                sandbox: None,
                start: vec![("i2", 0)],
                waiting: 0,
            },
            Case {
                what: "inits done",
                pod: pod("Always", &["i1"], &["a"]),
                rt: rt(
                    Some(sandbox(true)),
                    vec![ctr("i1", true, 0, State::Exited, 0)],
                ),
                backoff: &none,
                kill_pod: false,
                sandbox: None,
                start: vec![("a", 0)],
                waiting: 0,
            },
            Case {
                what: "failed init retried",
                pod: pod("OnFailure", &["i1"], &["a"]),
                rt: rt(
                    Some(sandbox(true)),
                    vec![ctr("i1", true, 0, State::Exited, 1)],
                ),
                backoff: &none,
                kill_pod: false,
                sandbox: None,
                start: vec![("i1", 1)],
                waiting: 0,
            },
            Case {
                what: "failed init with Never fails the pod",
                pod: pod("Never", &["i1"], &["a"]),
                rt: rt(
                    Some(sandbox(true)),
                    vec![ctr("i1", true, 0, State::Exited, 1)],
                ),
                backoff: &none,
                kill_pod: true,
                sandbox: None,
                start: vec![],
                waiting: 0,
            },
            Case {
                what: "steady",
                pod: pod("Always", &[], &["a"]),
                rt: rt(
                    Some(sandbox(true)),
                    vec![ctr("a", false, 0, State::Running, 0)],
                ),
                backoff: &none,
                kill_pod: false,
                sandbox: None,
                start: vec![],
                waiting: 0,
            },
            Case {
                what: "crash restarts",
                pod: pod("Always", &[], &["a"]),
                rt: rt(
                    Some(sandbox(true)),
                    vec![ctr("a", false, 0, State::Exited, 1)],
                ),
                backoff: &none,
                kill_pod: false,
                sandbox: None,
                start: vec![("a", 1)],
                waiting: 0,
            },
            Case {
                what: "crash in back-off",
                pod: pod("Always", &[], &["a"]),
                rt: rt(
                    Some(sandbox(true)),
                    vec![ctr("a", false, 0, State::Exited, 1)],
                ),
                backoff: &cooling,
                kill_pod: false,
                sandbox: None,
                start: vec![],
                waiting: 1,
            },
            Case {
                what: "OnFailure success is done",
                pod: pod("OnFailure", &[], &["a"]),
                rt: rt(
                    Some(sandbox(true)),
                    vec![ctr("a", false, 0, State::Exited, 0)],
                ),
                backoff: &none,
                kill_pod: true,
                sandbox: None,
                start: vec![],
                waiting: 0,
            },
            Case {
                what: "Never failure is done",
                pod: pod("Never", &[], &["a"]),
                rt: rt(
                    Some(sandbox(true)),
                    vec![ctr("a", false, 0, State::Exited, 2)],
                ),
                backoff: &none,
                kill_pod: true,
                sandbox: None,
                start: vec![],
                waiting: 0,
            },
            Case {
                what: "Always restarts success too",
                pod: pod("Always", &[], &["a"]),
                rt: rt(
                    Some(sandbox(true)),
                    vec![ctr("a", false, 0, State::Exited, 0)],
                ),
                backoff: &none,
                kill_pod: false,
                sandbox: None,
                start: vec![("a", 1)],
                waiting: 0,
            },
            Case {
                what: "dead sandbox recreated, attempts continue",
                pod: pod("Always", &[], &["a"]),
                rt: rt(
                    Some(sandbox(false)),
                    vec![ctr("a", false, 3, State::Exited, 137)],
                ),
                backoff: &none,
                kill_pod: true,
                sandbox: Some(1),
                start: vec![("a", 4)],
                waiting: 0,
            },
            Case {
                what: "dead sandbox of a Never pod that ran stays dead",
                pod: pod("Never", &[], &["a"]),
                rt: rt(
                    Some(sandbox(false)),
                    vec![ctr("a", false, 0, State::Exited, 0)],
                ),
                backoff: &none,
                kill_pod: true,
                sandbox: None,
                start: vec![],
                waiting: 0,
            },
        ];
        for c in cases {
            let a = compute(&c.pod, &c.rt, c.backoff, &healthy, now);
            assert_eq!(a.kill_pod, c.kill_pod, "{}: kill_pod", c.what);
            assert_eq!(a.create_sandbox, c.sandbox, "{}: sandbox", c.what);
            let want: Vec<(String, u32)> =
                c.start.iter().map(|(n, a)| (n.to_string(), *a)).collect();
            assert_eq!(starts(&a), want, "{}: starts", c.what);
            assert_eq!(a.waiting.len(), c.waiting, "{}: waiting", c.what);
        }
    }

    #[test]
    fn unhealthy_and_changed_containers_are_killed() {
        let now = Instant::now();
        let p = pod("Always", &[], &["a", "b"]);
        let mut b = ctr("b", false, 0, State::Running, 0);
        b.hash = "old".into();
        let rt = RuntimePod {
            sandboxes: vec![sandbox(true)],
            containers: vec![ctr("a", false, 0, State::Running, 0), b],
        };
        let a = compute(
            &p,
            &rt,
            &Backoff::default(),
            &HashSet::from(["a-0".to_string()]),
            now,
        );
        let kills: Vec<&str> = a.kill.iter().map(|k| k.reason.as_str()).collect();
        assert_eq!(kills, vec!["unhealthy", "spec changed"]);
    }
}
