//! The kubelet side of the simulation: one watch of all pods, a cache of the pods bound to this
//! process's nodes, and the steps a kubelet would take for each (report Running, complete,
//! delete after a requested deletion), sent with bounded concurrency and retried on failure.
//!
//! The watch loop is the only writer of the cache (which pods were handled, which pod IPs are
//! taken); the requests run in spawned tasks that each hold a semaphore permit while a
//! request is in flight, so the watch is never blocked by slow writes.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::ip::{PodIps, node_ip};
use crate::pod_status;

const MAX_BACKOFF: Duration = Duration::from_secs(5);
const ATTEMPTS: u32 = 10;

/// One simulated node's share of the cache.
struct NodeState {
    host_ip: Ipv4Addr,
    ips: PodIps,
}

/// What this process did for one pod (by uid).
#[derive(Default)]
struct Tracked {
    node: String,
    ip: Option<Ipv4Addr>,
    running_sent: bool,
    completion_scheduled: bool,
    delete_sent: bool,
}

struct Kubelet {
    client: Client,
    limit: Arc<Semaphore>,
    nodes: HashMap<String, NodeState>,
    pods: HashMap<String, Tracked>,
    /// During a (re)list: the uids seen so far; the rest are gone when it ends.
    relisting: Option<HashSet<String>>,
}

/// Serves the pods of `nodes` forever.
pub async fn serve(client: Client, nodes: &[String], concurrency: usize) {
    let nodes = nodes
        .iter()
        .map(|n| {
            (
                n.clone(),
                NodeState {
                    host_ip: node_ip(n),
                    ips: PodIps::new(n),
                },
            )
        })
        .collect();
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut kubelet = Kubelet {
        client: client.clone(),
        limit,
        nodes,
        pods: HashMap::new(),
        relisting: None,
    };
    let mut events = gantry_informer::watch_pods(client, watcher::Config::default())
        .backoff(gantry_informer::agent_backoff())
        .boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Init) => kubelet.relisting = Some(HashSet::new()),
            Ok(watcher::Event::InitApply(pod)) => {
                if let (Some(seen), Some(uid)) =
                    (kubelet.relisting.as_mut(), pod.metadata.uid.clone())
                {
                    seen.insert(uid);
                }
                kubelet.apply(pod);
            }
            Ok(watcher::Event::InitDone) => {
                let seen = kubelet.relisting.take().unwrap_or_default();
                let gone: Vec<String> = kubelet
                    .pods
                    .keys()
                    .filter(|uid| !seen.contains(*uid))
                    .cloned()
                    .collect();
                gone.iter().for_each(|uid| kubelet.forget(uid));
            }
            Ok(watcher::Event::Apply(pod)) => kubelet.apply(pod),
            Ok(watcher::Event::Delete(pod)) => {
                if let Some(uid) = pod.metadata.uid.as_deref() {
                    kubelet.forget(uid);
                }
            }
            Err(e) => tracing::warn!("watching pods: {e}"),
        }
    }
}

impl Kubelet {
    /// Takes the next step for `pod`, if it is on one of our nodes and the step was not taken.
    fn apply(&mut self, pod: Pod) {
        let (Some(uid), Some(node)) = (
            pod.metadata.uid.clone(),
            pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        ) else {
            return;
        };
        let Some(node_state) = self.nodes.get_mut(&node) else {
            self.forget(&uid);
            return;
        };
        let tracked = self.pods.entry(uid.clone()).or_insert_with(|| {
            // Seen for the first time: keep an address it already has (a restarted sim).
            let ip = pod
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.as_deref())
                .and_then(|ip| ip.parse().ok())
                .filter(|ip| node_state.ips.reserve(*ip));
            Tracked {
                node: node.clone(),
                ip,
                ..Tracked::default()
            }
        });
        let name = pod.metadata.name.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        let what = format!("pod {namespace}/{name}");
        if pod.metadata.deletion_timestamp.is_some() {
            if !tracked.delete_sent {
                tracked.delete_sent = true;
                let params = DeleteParams {
                    grace_period_seconds: Some(0),
                    preconditions: Some(Preconditions {
                        uid: Some(uid),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                spawn_with_retries(self.limit.clone(), format!("deleting {what}"), move || {
                    let (api, name, params) = (api.clone(), name.clone(), params.clone());
                    async move { api.delete(&name, &params).await.map(drop) }
                });
            }
            return;
        }
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or("Pending");
        match phase {
            "Succeeded" | "Failed" => {}
            "Running" => {
                if !tracked.completion_scheduled
                    && let Some(seconds) = pod_status::run_seconds(&pod)
                {
                    tracked.completion_scheduled = true;
                    let started = pod
                        .status
                        .as_ref()
                        .and_then(|s| s.start_time.as_ref())
                        .map_or_else(Timestamp::now, |t| t.0);
                    let elapsed = Timestamp::now().duration_since(started).unsigned_abs();
                    let remaining = Duration::from_secs(seconds).saturating_sub(elapsed);
                    self.complete_after(api, what, pod, remaining);
                }
            }
            _ => {
                if tracked.running_sent {
                    return;
                }
                let Some(ip) = tracked.ip.or_else(|| node_state.ips.allocate()) else {
                    tracing::warn!("{what}: node {node} has no pod address left");
                    return;
                };
                tracked.ip = Some(ip);
                tracked.running_sent = true;
                let patch = pod_status::running(&pod, ip, node_state.host_ip, Timestamp::now());
                let completion = pod_status::run_seconds(&pod);
                tracked.completion_scheduled = completion.is_some();
                let limit = self.limit.clone();
                tokio::spawn(async move {
                    let marked = with_retries(&limit, &format!("marking {what} running"), || {
                        patch_status(&api, &name, &patch)
                    })
                    .await;
                    if let (true, Some(seconds)) = (marked, completion) {
                        complete(&limit, &api, &what, &pod, Duration::from_secs(seconds)).await;
                    }
                });
            }
        }
    }

    fn complete_after(&self, api: Api<Pod>, what: String, pod: Pod, after: Duration) {
        let limit = self.limit.clone();
        tokio::spawn(async move { complete(&limit, &api, &what, &pod, after).await });
    }

    /// Drops a pod that is gone (or no longer ours) and frees its address.
    fn forget(&mut self, uid: &str) {
        if let Some(tracked) = self.pods.remove(uid)
            && let (Some(ip), Some(node)) = (tracked.ip, self.nodes.get_mut(&tracked.node))
        {
            node.ips.release(ip);
        }
    }
}

/// Lets `pod` run for `after` (simulated work, not synchronisation), then reports it finished.
async fn complete(limit: &Semaphore, api: &Api<Pod>, what: &str, pod: &Pod, after: Duration) {
    tokio::time::sleep(after).await;
    let patch = pod_status::completed(pod, pod_status::exit_code(pod), Timestamp::now());
    let name = pod.metadata.name.clone().unwrap_or_default();
    with_retries(limit, &format!("completing {what}"), || {
        patch_status(api, &name, &patch)
    })
    .await;
}

async fn patch_status(api: &Api<Pod>, name: &str, patch: &Value) -> Result<(), kube::Error> {
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map(drop)
}

fn spawn_with_retries<F, Fut>(limit: Arc<Semaphore>, what: String, request: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), kube::Error>> + Send,
{
    tokio::spawn(async move { with_retries(&limit, &what, request).await });
}

/// Sends `request` holding a permit, retrying with exponential backoff on errors that may pass
/// (server errors, throttling, connection failures). True when it succeeded; false when the
/// object is gone or changed (404, 409), the request is refused, or the attempts ran out.
async fn with_retries<F, Fut>(limit: &Semaphore, what: &str, request: F) -> bool
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), kube::Error>>,
{
    let mut backoff = Duration::from_millis(100);
    for attempt in 1..=ATTEMPTS {
        let result = {
            let Ok(_permit) = limit.acquire().await else {
                return false;
            };
            request().await
        };
        match result {
            Ok(()) => return true,
            Err(kube::Error::Api(s)) if s.is_not_found() || s.is_conflict() => {
                tracing::debug!("{what}: {}", s.message);
                return false;
            }
            Err(kube::Error::Api(s)) if (400..500).contains(&s.code) && s.code != 429 => {
                tracing::warn!("{what}: refused: {} ({})", s.message, s.code);
                return false;
            }
            Err(e) if attempt < ATTEMPTS => {
                tracing::debug!("{what}: attempt {attempt}: {e}; retrying in {backoff:?}");
                // Backoff between attempts of a failed request, not synchronisation.
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(e) => tracing::warn!("{what}: giving up after {ATTEMPTS} attempts: {e}"),
        }
    }
    false
}
