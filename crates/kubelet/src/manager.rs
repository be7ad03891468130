//! The pods of this node: a watch on pods bound to it (field selector `spec.nodeName`) feeds
//! one worker per pod UID; pods that vanish (deleted, or gone while the kubelet was down) get
//! their worker told so; sandboxes of pods the API no longer knows are removed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use gantry_cri::api;
use k8s_openapi::api::core::v1::Pod;

use kube::runtime::watcher::{self, Event};
use tokio::sync::watch;

use crate::{Context, labels, lifecycle, worker};

struct Workers {
    ctx: Arc<Context>,
    senders: HashMap<String, watch::Sender<Option<Arc<Pod>>>>,
    tasks: tokio::task::JoinSet<String>,
}

impl Workers {
    fn apply(&mut self, pod: Pod) {
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        let pod = Arc::new(pod);
        match self.senders.get(&uid) {
            Some(tx) => {
                let _ = tx.send(Some(pod));
            }
            None => {
                let (tx, rx) = watch::channel(Some(pod));
                self.senders.insert(uid.clone(), tx);
                let ctx = self.ctx.clone();
                self.tasks.spawn(async move {
                    worker::run(ctx, uid.clone(), rx).await;
                    uid
                });
            }
        }
    }

    fn gone(&mut self, uid: &str) {
        if let Some(tx) = self.senders.get(uid) {
            let _ = tx.send(None);
        }
    }
}

/// Runs the pod watch and the workers forever.
pub async fn run(ctx: Arc<Context>) {
    let cfg = watcher::Config::default().fields(&format!("spec.nodeName={}", ctx.cfg.node_name));
    let mut stream = gantry_informer::watch_pods(ctx.client.clone(), cfg).boxed();
    let mut workers = Workers {
        ctx: ctx.clone(),
        senders: HashMap::new(),
        tasks: tokio::task::JoinSet::new(),
    };
    let mut listing: HashSet<String> = HashSet::new();
    let mut gc = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            event = stream.next() => match event {
                Some(Ok(Event::Apply(pod))) => workers.apply(pod),
                Some(Ok(Event::Delete(pod))) => if let Some(uid) = pod.metadata.uid.as_deref() { workers.gone(uid) },
                Some(Ok(Event::Init)) => listing.clear(),
                Some(Ok(Event::InitApply(pod))) => {
                    if let Some(uid) = pod.metadata.uid.clone() { listing.insert(uid); }
                    workers.apply(pod);
                }
                Some(Ok(Event::InitDone)) => {
                    let stale: Vec<String> = workers.senders.keys().filter(|u| !listing.contains(*u)).cloned().collect();
                    for uid in stale { workers.gone(&uid); }
                    collect_orphans(&ctx, &listing).await;
                }
                Some(Err(err)) => {
                    tracing::warn!(%err, "pod watch failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                None => return,
            },
            Some(done) = workers.tasks.join_next() => {
                if let Ok(uid) = done { workers.senders.remove(&uid); }
            }
            _ = gc.tick() => {
                let known: HashSet<String> = workers.senders.keys().cloned().collect();
                if !listing.is_empty() || !known.is_empty() {
                    collect_orphans(&ctx, &known.union(&listing).cloned().collect()).await;
                }
            }
        }
    }
}

/// Removes sandboxes (and the cgroups) of this node's pods that the API does not know.
async fn collect_orphans(ctx: &Context, known: &HashSet<String>) {
    let filter = api::PodSandboxFilter {
        label_selector: HashMap::from([(labels::NODE.to_string(), ctx.cfg.node_name.clone())]),
        ..Default::default()
    };
    let Ok(list) = ctx
        .cri
        .runtime
        .clone()
        .list_pod_sandbox(api::ListPodSandboxRequest {
            filter: Some(filter),
        })
        .await
    else {
        return;
    };
    let sandboxes = list.into_inner().items;
    let live: HashSet<String> = sandboxes.iter().map(|s| s.id.clone()).collect();
    let freed = crate::cni::collect_allocations(&ctx.cfg.root_dir.join("cni-ipam"), &live);
    if freed > 0 {
        tracing::info!(freed, "released pod IPs of sandboxes that no longer exist");
    }
    let mut orphans: HashSet<String> = sandboxes
        .into_iter()
        .filter_map(|s| s.labels.get(labels::POD_UID).cloned())
        .filter(|uid| !known.contains(uid))
        .collect();
    orphans.extend(
        crate::cgroup::pod_uids(&ctx.cfg.cgroup_root)
            .into_iter()
            .filter(|u| !known.contains(u)),
    );
    for uid in orphans {
        tracing::info!(%uid, "removing the remains of a pod the API no longer has");
        lifecycle::remove_all(ctx, &uid).await;
        let dir = ctx.cfg.root_dir.join("pods").join(&uid);
        let _ = gantry_podconfig::cleanup_pod(&dir).await;
        let _ = tokio::fs::remove_dir_all(dir).await;
    }
}
