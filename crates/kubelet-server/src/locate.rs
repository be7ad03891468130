//! Finding the CRI sandbox and container a request names, from the labels the kubelet puts on
//! them: the choice is a pure function over `ListPodSandbox`/`ListContainers` answers.

use std::collections::HashMap;

use gantry_cri::api::{self, ContainerState, PodSandboxState};
use gantry_cri::{Cri, CriError};

use crate::routes::{ContainerRef, PodRef};

pub const POD_NAME: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const POD_UID: &str = "io.kubernetes.pod.uid";
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";

/// Why a lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error("pod {namespace}/{name} not found")]
    PodNotFound { namespace: String, name: String },
    #[error("container {container} in pod {pod} not found")]
    ContainerNotFound { pod: String, container: String },
    #[error("previous terminated container {container} in pod {pod} not found")]
    NoPrevious { pod: String, container: String },
    #[error("{0}")]
    Cri(#[from] CriError),
}

fn pod_labels(pod: &PodRef) -> HashMap<String, String> {
    let mut labels = HashMap::from([
        (POD_NAME.to_string(), pod.name.clone()),
        (POD_NAMESPACE.to_string(), pod.namespace.clone()),
    ]);
    if let Some(uid) = &pod.uid {
        labels.insert(POD_UID.to_string(), uid.clone());
    }
    labels
}

/// The sandbox to use for a pod: the newest ready one, else the newest one.
pub fn choose_sandbox(sandboxes: &[api::PodSandbox]) -> Option<&api::PodSandbox> {
    let ready = PodSandboxState::SandboxReady as i32;
    sandboxes
        .iter()
        .filter(|s| s.state == ready)
        .max_by_key(|s| s.created_at)
        .or_else(|| sandboxes.iter().max_by_key(|s| s.created_at))
}

/// The current container (or, with `previous`, the one before it) among a pod's containers of
/// one name: those of `sandbox` come first, then by attempt and creation time, newest first.
pub fn choose_container<'a>(
    containers: &'a [api::Container],
    sandbox: Option<&str>,
    previous: bool,
) -> Option<&'a api::Container> {
    let mut ordered: Vec<&api::Container> = containers.iter().collect();
    ordered.sort_by_key(|c| {
        let attempt = c.metadata.as_ref().map_or(0, |m| m.attempt);
        std::cmp::Reverse((
            Some(c.pod_sandbox_id.as_str()) == sandbox,
            attempt,
            c.created_at,
        ))
    });
    ordered.get(usize::from(previous)).copied()
}

async fn sandboxes(cri: &Cri, pod: &PodRef) -> Result<Vec<api::PodSandbox>, CriError> {
    let filter = api::PodSandboxFilter {
        label_selector: pod_labels(pod),
        ..Default::default()
    };
    let answer = cri
        .runtime
        .clone()
        .list_pod_sandbox(api::ListPodSandboxRequest {
            filter: Some(filter),
        })
        .await;
    Ok(answer.map_err(CriError::from)?.into_inner().items)
}

/// The sandbox id of a pod, for port forwarding.
pub async fn sandbox(cri: &Cri, pod: &PodRef) -> Result<String, LocateError> {
    let all = sandboxes(cri, pod).await?;
    choose_sandbox(&all)
        .map(|s| s.id.clone())
        .ok_or_else(|| LocateError::PodNotFound {
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
        })
}

/// The container id a request means.
pub async fn container(
    cri: &Cri,
    target: &ContainerRef,
    previous: bool,
) -> Result<String, LocateError> {
    let all = sandboxes(cri, &target.pod).await?;
    let sandbox = choose_sandbox(&all).map(|s| s.id.clone());
    let mut labels = pod_labels(&target.pod);
    labels.insert(CONTAINER_NAME.to_string(), target.container.clone());
    let filter = api::ContainerFilter {
        label_selector: labels,
        ..Default::default()
    };
    let answer = cri
        .runtime
        .clone()
        .list_containers(api::ListContainersRequest {
            filter: Some(filter),
        })
        .await;
    let containers = answer.map_err(CriError::from)?.into_inner().containers;
    let pod = target.pod.name.clone();
    let container = target.container.clone();
    if containers.is_empty() && all.is_empty() {
        return Err(LocateError::PodNotFound {
            namespace: target.pod.namespace.clone(),
            name: pod,
        });
    }
    match choose_container(&containers, sandbox.as_deref(), previous) {
        Some(c) => Ok(c.id.clone()),
        None if previous => Err(LocateError::NoPrevious { pod, container }),
        None => Err(LocateError::ContainerNotFound { pod, container }),
    }
}

/// A container's state and log file.
pub struct ContainerInfo {
    pub running: bool,
    pub log_path: String,
}

pub async fn status(cri: &Cri, container_id: &str) -> Result<ContainerInfo, CriError> {
    let request = api::ContainerStatusRequest {
        container_id: container_id.into(),
        verbose: false,
    };
    let answer = cri
        .runtime
        .clone()
        .container_status(request)
        .await?
        .into_inner();
    let status = answer.status.unwrap_or_default();
    let running = status.state == ContainerState::ContainerRunning as i32
        || status.state == ContainerState::ContainerCreated as i32;
    Ok(ContainerInfo {
        running,
        log_path: status.log_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox(id: &str, ready: bool, created_at: i64) -> api::PodSandbox {
        let state = if ready {
            PodSandboxState::SandboxReady
        } else {
            PodSandboxState::SandboxNotready
        };
        api::PodSandbox {
            id: id.into(),
            state: state as i32,
            created_at,
            ..Default::default()
        }
    }

    fn container(id: &str, sandbox: &str, attempt: u32, created_at: i64) -> api::Container {
        api::Container {
            id: id.into(),
            pod_sandbox_id: sandbox.into(),
            metadata: Some(api::ContainerMetadata {
                name: "c".into(),
                attempt,
            }),
            created_at,
            ..Default::default()
        }
    }

    #[test]
    fn sandboxes() {
        let cases: Vec<(Vec<api::PodSandbox>, Option<&str>)> = vec![
            (vec![], None),
            (vec![sandbox("a", false, 1)], Some("a")),
            (
                vec![sandbox("a", true, 1), sandbox("b", false, 2)],
                Some("a"),
            ),
            (
                vec![sandbox("a", true, 1), sandbox("b", true, 2)],
                Some("b"),
            ),
            (
                vec![sandbox("a", false, 1), sandbox("b", false, 2)],
                Some("b"),
            ),
        ];
        for (all, want) in cases {
            assert_eq!(choose_sandbox(&all).map(|s| s.id.as_str()), want, "{all:?}");
        }
    }

    #[test]
    fn containers() {
        let all = vec![
            container("s1-0", "s1", 0, 1),
            container("s2-1", "s2", 1, 4),
            container("s2-0", "s2", 0, 3),
        ];
        // (containers, chosen sandbox, previous, expected container)
        type Case<'a> = (&'a [api::Container], Option<&'a str>, bool, Option<&'a str>);
        let cases: Vec<Case> = vec![
            (&all, Some("s2"), false, Some("s2-1")),
            (&all, Some("s2"), true, Some("s2-0")),
            (&all, Some("s1"), false, Some("s1-0")),
            (&all, Some("s1"), true, Some("s2-1")),
            (&all[..1], Some("s1"), true, None),
            (&all[..1], Some("s1"), false, Some("s1-0")),
            (&[], Some("s1"), false, None),
            (&all[..2], Some("gone"), false, Some("s2-1")),
        ];
        for (containers, sandbox, previous, want) in cases {
            let got = choose_container(containers, sandbox, previous).map(|c| c.id.as_str());
            assert_eq!(got, want, "{sandbox:?} previous={previous}");
        }
    }
}
