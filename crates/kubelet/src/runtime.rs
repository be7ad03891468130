//! What the container runtime holds for one pod: its sandboxes and containers, read through CRI
//! by the pod's UID label (so the kubelet keeps no state of its own that a restart could lose).

use std::collections::HashMap;

use gantry_cri::{Cri, CriError, api};

use crate::labels;

/// A container's state as the kubelet reasons about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Created,
    Running,
    Exited,
    Unknown,
}

#[derive(Debug, Clone)]
pub struct RuntimeContainer {
    pub id: String,
    pub sandbox_id: String,
    pub name: String,
    pub attempt: u32,
    pub init: bool,
    pub state: State,
    pub exit_code: i32,
    pub reason: String,
    pub message: String,
    /// Nanoseconds since the epoch; 0 when not known.
    pub created_at: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub image: String,
    pub image_ref: String,
    pub hash: String,
    pub log_path: String,
    pub termination_message_path: String,
}

#[derive(Debug, Clone)]
pub struct RuntimeSandbox {
    pub id: String,
    pub attempt: u32,
    pub ready: bool,
    pub created_at: i64,
    pub ips: Vec<String>,
}

/// A pod as the runtime sees it: sandboxes newest first, containers by name newest attempt first.
#[derive(Debug, Clone, Default)]
pub struct RuntimePod {
    pub sandboxes: Vec<RuntimeSandbox>,
    pub containers: Vec<RuntimeContainer>,
}

impl RuntimePod {
    /// The newest sandbox, if any.
    pub fn sandbox(&self) -> Option<&RuntimeSandbox> {
        self.sandboxes.first()
    }

    /// The newest attempt of container `name` (regular or init).
    pub fn latest(&self, name: &str, init: bool) -> Option<&RuntimeContainer> {
        self.containers
            .iter()
            .filter(|c| c.name == name && c.init == init)
            .max_by_key(|c| (c.attempt, c.created_at))
    }

    /// The attempt before the newest, for lastState.
    pub fn previous(&self, name: &str, init: bool) -> Option<&RuntimeContainer> {
        let latest = self.latest(name, init)?;
        self.containers
            .iter()
            .filter(|c| c.name == name && c.init == init && c.id != latest.id)
            .max_by_key(|c| (c.attempt, c.created_at))
    }

    pub fn running(&self) -> impl Iterator<Item = &RuntimeContainer> {
        self.containers
            .iter()
            .filter(|c| matches!(c.state, State::Running | State::Created | State::Unknown))
    }

    pub fn is_empty(&self) -> bool {
        self.sandboxes.is_empty() && self.containers.is_empty()
    }
}

fn state(s: i32) -> State {
    match api::ContainerState::try_from(s) {
        Ok(api::ContainerState::ContainerCreated) => State::Created,
        Ok(api::ContainerState::ContainerRunning) => State::Running,
        Ok(api::ContainerState::ContainerExited) => State::Exited,
        _ => State::Unknown,
    }
}

/// How long after its exit a container's status is read again before it is cached.
const SETTLE_NANOS: i64 = 5_000_000_000;

/// Reads the pod's sandboxes and containers. `cache` keeps statuses of exited containers,
/// which never change again, so a steady pod costs two list calls per sync.
pub async fn inspect(
    cri: &Cri,
    uid: &str,
    cache: &mut HashMap<String, RuntimeContainer>,
) -> Result<RuntimePod, CriError> {
    let selector = HashMap::from([(labels::POD_UID.to_string(), uid.to_string())]);
    let mut rt = cri.runtime.clone();
    let sandboxes = rt
        .list_pod_sandbox(api::ListPodSandboxRequest {
            filter: Some(api::PodSandboxFilter {
                label_selector: selector.clone(),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .items;
    let mut pod = RuntimePod::default();
    for s in sandboxes {
        let ready = s.state == api::PodSandboxState::SandboxReady as i32;
        let mut ips = vec![];
        if ready {
            if let Ok(st) = rt
                .pod_sandbox_status(api::PodSandboxStatusRequest {
                    pod_sandbox_id: s.id.clone(),
                    verbose: false,
                })
                .await
            {
                if let Some(net) = st.into_inner().status.and_then(|s| s.network) {
                    if !net.ip.is_empty() {
                        ips.push(net.ip);
                    }
                    ips.extend(
                        net.additional_ips
                            .into_iter()
                            .map(|i| i.ip)
                            .filter(|i| !i.is_empty()),
                    );
                }
            }
        }
        let attempt = s.metadata.as_ref().map(|m| m.attempt).unwrap_or(0);
        pod.sandboxes.push(RuntimeSandbox {
            id: s.id,
            attempt,
            ready,
            created_at: s.created_at,
            ips,
        });
    }
    pod.sandboxes
        .sort_by_key(|s| std::cmp::Reverse((s.created_at, s.attempt)));
    let containers = rt
        .list_containers(api::ListContainersRequest {
            filter: Some(api::ContainerFilter {
                label_selector: selector,
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .containers;
    let live: Vec<String> = containers.iter().map(|c| c.id.clone()).collect();
    cache.retain(|id, _| live.contains(id));
    for c in containers {
        if let Some(cached) = cache.get(&c.id) {
            pod.containers.push(cached.clone());
            continue;
        }
        let status = match rt
            .container_status(api::ContainerStatusRequest {
                container_id: c.id.clone(),
                verbose: false,
            })
            .await
        {
            Ok(s) => s.into_inner().status,
            Err(status) if status.code() == tonic::Code::NotFound => continue,
            Err(status) => return Err(status.into()),
        };
        let Some(s) = status else { continue };
        let name = c
            .labels
            .get(labels::CONTAINER_NAME)
            .cloned()
            .unwrap_or_default();
        let container = RuntimeContainer {
            id: c.id.clone(),
            sandbox_id: c.pod_sandbox_id.clone(),
            name,
            attempt: c.metadata.as_ref().map(|m| m.attempt).unwrap_or(0),
            init: c
                .labels
                .get(labels::CONTAINER_TYPE)
                .is_some_and(|t| t == "init"),
            state: state(s.state),
            exit_code: s.exit_code,
            reason: s.reason,
            message: s.message,
            created_at: s.created_at,
            started_at: s.started_at,
            finished_at: s.finished_at,
            image: s.image.map(|i| i.image).unwrap_or_default(),
            image_ref: s.image_ref,
            hash: c
                .annotations
                .get(labels::CONTAINER_HASH)
                .cloned()
                .unwrap_or_default(),
            log_path: s.log_path,
            termination_message_path: c
                .annotations
                .get(labels::TERMINATION_MESSAGE_PATH)
                .cloned()
                .unwrap_or_default(),
        };
        // An exited container's status is final only once containerd has handled all of its
        // events: its OOM event may land after the exit (reason "Error" turns "OOMKilled").
        let settled = k8s_openapi::jiff::Timestamp::now().as_nanosecond() as i64
            - container.finished_at
            > SETTLE_NANOS;
        if container.state == State::Exited && settled {
            cache.insert(container.id.clone(), container.clone());
        }
        pod.containers.push(container);
    }
    Ok(pod)
}
