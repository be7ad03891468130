//! The garbage collector: metadata-only watches on every resource the server serves (found by
//! discovery) feed one ownership graph; a work queue of uids then deletes objects whose owners are
//! all gone (background), deletes the dependents of foreground-deleted owners and removes their
//! `foregroundDeletion` finalizer once no blocking dependent remains, and strips the references to
//! orphaning owners before removing their `orphan` finalizer.
//!
//! A watcher-driven loop rather than a `Controller`: the objects span every kind, so the graph
//! (not a typed store) is the cache, and the queue de-duplicates uids like a controller's would.

mod graph;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::core::PartialObjectMeta;
use kube::discovery::{Discovery, Scope};
use kube::runtime::watcher;
use serde_json::json;
use tokio::sync::mpsc;

use graph::{Graph, Kind, Node, OwnerState, Verdict};
use k8s_openapi::api::core::v1::Pod;

use crate::pod_informer::PodChange;

/// How often discovery is repeated to pick up new resources (custom resources).
const REDISCOVER: Duration = Duration::from_secs(30);
/// Resources the collector never watches (as upstream: events churn and own nothing).
const IGNORED: &[(&str, &str)] = &[("", "events"), ("events.k8s.io", "events")];

/// Why processing one object failed; each variant names the step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("discovering resources: {0}")]
    Discovery(#[source] kube::Error),
    #[error("{step} {kind} {name}: {source}")]
    Api {
        step: &'static str,
        kind: String,
        name: String,
        source: kube::Error,
    },
}

struct Shared {
    client: kube::Client,
    graph: Mutex<Graph>,
    kinds: Mutex<HashMap<(String, String), Arc<Kind>>>,
    queued: Mutex<HashSet<String>>,
    tx: mpsc::UnboundedSender<String>,
}

impl Shared {
    fn enqueue(&self, uids: Vec<String>) {
        let Ok(mut queued) = self.queued.lock() else {
            return;
        };
        for uid in uids {
            if queued.insert(uid.clone()) {
                let _ = self.tx.send(uid);
            }
        }
    }

    fn graph(&self) -> std::sync::MutexGuard<'_, Graph> {
        self.graph
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runs the garbage collector until the process stops.
/// `pods` are the shared pod cache's changes, subscribed before the cache lists (so the graph
/// sees the initial list too).
pub async fn run(client: kube::Client, pods: impl Stream<Item = PodChange> + Send + 'static) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        client,
        graph: Mutex::default(),
        kinds: Mutex::default(),
        queued: Mutex::default(),
        tx,
    });
    let discovery = discover_forever(shared.clone(), Some(pods.boxed()));
    let worker = shared.clone();
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    // Discovery (and the watches it owns) runs inside this future: dropping it stops them all.
    let work = stream
        .for_each_concurrent(8, move |uid| {
            let shared = worker.clone();
            async move {
                if let Ok(mut q) = shared.queued.lock() {
                    q.remove(&uid);
                }
                if let Err(error) = process(&shared, &uid).await {
                    // A conflict means the cache is behind: retry soon, quietly.
                    let conflict = matches!(&error, Error::Api { source: kube::Error::Api(s), .. } if s.code == 409);
                    if conflict {
                        tracing::debug!(controller = "garbage-collector", uid, %error, "conflict; retrying");
                    } else {
                        tracing::warn!(controller = "garbage-collector", uid, %error, "reconcile failed");
                    }
                    tokio::time::sleep(Duration::from_millis(if conflict { 200 } else { 2000 })).await;
                    shared.enqueue(vec![uid]);
                }
            }
        });
    futures::future::join(discovery, work).await;
}

async fn discover_forever(shared: Arc<Shared>, mut pods: Option<BoxStream<'static, PodChange>>) {
    let mut started: HashSet<(String, String, String)> = HashSet::new();
    // Aborted with this future.
    let mut watches = tokio::task::JoinSet::new();
    loop {
        match discover(&shared.client).await {
            Ok(found) => {
                for (ar, kind) in found {
                    if let Ok(mut kinds) = shared.kinds.lock() {
                        kinds.insert((ar.api_version.clone(), kind.kind.clone()), kind.clone());
                        kinds
                            .entry((ar.group.clone(), kind.kind.clone()))
                            .or_insert_with(|| kind.clone());
                    }
                    if !started.insert((ar.group.clone(), ar.version.clone(), ar.plural.clone())) {
                        continue;
                    }
                    let shared_pods = (ar.group.is_empty() && ar.plural == "pods")
                        .then(|| pods.take())
                        .flatten();
                    if let Some(changes) = shared_pods {
                        // Pods come from the manager's shared cache, not a watch of their own.
                        watches.spawn(follow_pods(shared.clone(), changes, kind));
                    } else {
                        watches.spawn(watch_kind(shared.clone(), ar, kind));
                    }
                }
            }
            Err(error) => {
                tracing::warn!(controller = "garbage-collector", %error, "discovery failed")
            }
        }
        tokio::time::sleep(REDISCOVER).await;
    }
}

/// Every resource that can be listed, watched and deleted, in its preferred version.
async fn discover(client: &kube::Client) -> Result<Vec<(ApiResource, Arc<Kind>)>, Error> {
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .map_err(Error::Discovery)?;
    let mut out = Vec::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            let ignored = IGNORED
                .iter()
                .any(|(g, p)| *g == ar.group && *p == ar.plural);
            if ignored
                || !["list", "watch", "delete"]
                    .iter()
                    .all(|v| caps.supports_operation(v))
            {
                continue;
            }
            let kind = Kind {
                group: ar.group.clone(),
                version: ar.version.clone(),
                kind: ar.kind.clone(),
                plural: ar.plural.clone(),
                namespaced: caps.scope == Scope::Namespaced,
            };
            out.push((ar, Arc::new(kind)));
        }
    }
    Ok(out)
}

/// Feeds the shared pod cache's changes into the graph.
async fn follow_pods(
    shared: Arc<Shared>,
    mut changes: BoxStream<'static, PodChange>,
    kind: Arc<Kind>,
) {
    let mut relist: Vec<Node> = Vec::new();
    let node = |pod: &Pod| Node::from_meta(kind.clone(), pod.metadata.clone());
    while let Some(change) = changes.next().await {
        let touched = match change {
            PodChange::Applied(pod) => node(&pod)
                .map(|n| shared.graph().upsert(n))
                .unwrap_or_default(),
            PodChange::Deleted(pod) => pod
                .metadata
                .uid
                .as_ref()
                .map(|uid| shared.graph().remove(uid))
                .unwrap_or_default(),
            PodChange::ListStarted => {
                relist.clear();
                Vec::new()
            }
            PodChange::Listed(pod) => {
                relist.extend(node(&pod));
                Vec::new()
            }
            PodChange::ListDone => shared.graph().replace(&kind, std::mem::take(&mut relist)),
        };
        shared.enqueue(touched);
    }
}

/// Feeds one resource's metadata watch into the graph.
async fn watch_kind(shared: Arc<Shared>, ar: ApiResource, kind: Arc<Kind>) {
    let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(shared.client.clone(), &ar);
    let mut stream = std::pin::pin!(watcher::watcher(api, watcher::Config::default()));
    let mut relist: Vec<Node> = Vec::new();
    while let Some(event) = stream.next().await {
        let touched = match event {
            Ok(watcher::Event::Apply(obj)) => Node::from_meta(kind.clone(), obj.metadata)
                .map(|n| shared.graph().upsert(n))
                .unwrap_or_default(),
            Ok(watcher::Event::Delete(obj)) => obj
                .metadata
                .uid
                .map(|uid| shared.graph().remove(&uid))
                .unwrap_or_default(),
            Ok(watcher::Event::Init) => {
                relist.clear();
                Vec::new()
            }
            Ok(watcher::Event::InitApply(obj)) => {
                relist.extend(Node::from_meta(kind.clone(), obj.metadata));
                Vec::new()
            }
            Ok(watcher::Event::InitDone) => {
                shared.graph().replace(&kind, std::mem::take(&mut relist))
            }
            Err(error) => {
                tracing::debug!(controller = "garbage-collector", resource = ar.plural, %error, "watch error");
                tokio::time::sleep(Duration::from_secs(1)).await;
                Vec::new()
            }
        };
        shared.enqueue(touched);
    }
}

/// Looks at one object again: as an owner being deleted, or as a dependent.
async fn process(shared: &Shared, uid: &str) -> Result<(), Error> {
    let Some(node) = shared.graph().get(uid).cloned() else {
        return Ok(());
    };
    if node.orphaning() {
        let dependents: Vec<Node> = shared
            .graph()
            .dependents_of(uid)
            .into_iter()
            .cloned()
            .collect();
        for d in &dependents {
            remove_refs(shared, d, &[uid.to_string()]).await?;
        }
        return remove_finalizer(shared, &node, graph::ORPHAN).await;
    }
    if node.waiting_for_dependents() {
        let (to_delete, blocked) = {
            let g = shared.graph();
            let dependents = g.dependents_of(uid);
            let (ids, blocked) = graph::foreground_progress(uid, &dependents);
            (
                dependents
                    .into_iter()
                    .filter(|d| ids.contains(&d.uid))
                    .cloned()
                    .collect::<Vec<_>>(),
                blocked,
            )
        };
        for d in &to_delete {
            delete(shared, d, true).await?;
        }
        if !blocked {
            remove_finalizer(shared, &node, graph::FOREGROUND).await?;
        }
        return Ok(());
    }
    if node.deleting || node.owners.is_empty() {
        return Ok(());
    }
    let mut states = Vec::new();
    for owner in &node.owners {
        states.push((owner.uid.clone(), owner_state(shared, &node, owner).await?));
    }
    match graph::dependent_verdict(&states) {
        Verdict::Keep => Ok(()),
        Verdict::RemoveRefs(gone) => remove_refs(shared, &node, &gone).await,
        Verdict::Delete { foreground } => delete(shared, &node, foreground).await,
    }
}

/// The owner's state from the graph, confirmed by a live read when the graph lacks it (the
/// watch of its kind may not have caught up, or its kind may not be watched).
async fn owner_state(
    shared: &Shared,
    node: &Node,
    owner: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
) -> Result<OwnerState, Error> {
    if let Some(o) = shared.graph().get(&owner.uid) {
        return Ok(if o.waiting_for_dependents() {
            OwnerState::Waiting
        } else {
            OwnerState::Present
        });
    }
    let group = owner
        .api_version
        .rsplit_once('/')
        .map(|(g, _)| g)
        .unwrap_or_default()
        .to_string();
    let kind = {
        let kinds = shared
            .kinds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kinds
            .get(&(owner.api_version.clone(), owner.kind.clone()))
            .or_else(|| kinds.get(&(group, owner.kind.clone())))
            .cloned()
    };
    // An owner of a kind discovery does not know may yet appear (a CRD being installed): keep.
    let Some(kind) = kind else {
        return Ok(OwnerState::Present);
    };
    let api = api_for(
        &shared.client,
        &kind,
        node.namespace.as_deref().filter(|_| kind.namespaced),
    );
    match api.get_metadata_opt(&owner.name).await {
        Ok(Some(found)) if found.metadata.uid.as_deref() == Some(owner.uid.as_str()) => {
            let waiting = found.metadata.deletion_timestamp.is_some()
                && found
                    .metadata
                    .finalizers
                    .iter()
                    .flatten()
                    .any(|f| f == graph::FOREGROUND);
            Ok(if waiting {
                OwnerState::Waiting
            } else {
                OwnerState::Present
            })
        }
        Ok(_) => Ok(OwnerState::Absent),
        Err(source) => Err(Error::Api {
            step: "reading owner",
            kind: owner.kind.clone(),
            name: owner.name.clone(),
            source,
        }),
    }
}

fn api_for(client: &kube::Client, kind: &Kind, namespace: Option<&str>) -> Api<DynamicObject> {
    let gvk = kube::api::GroupVersionKind::gvk(&kind.group, &kind.version, &kind.kind);
    let ar = ApiResource::from_gvk_with_plural(&gvk, &kind.plural);
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

fn api_error<'a>(step: &'static str, node: &'a Node) -> impl FnOnce(kube::Error) -> Error + 'a {
    move |source| Error::Api {
        step,
        kind: node.kind.kind.clone(),
        name: node.name.clone(),
        source,
    }
}

fn is_gone(result: &Result<impl Sized, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(s)) if s.code == 404)
}

async fn delete(shared: &Shared, node: &Node, foreground: bool) -> Result<(), Error> {
    let mut dp = if foreground {
        DeleteParams::foreground()
    } else {
        DeleteParams::background()
    };
    dp.preconditions = Some(Preconditions {
        uid: Some(node.uid.clone()),
        resource_version: None,
    });
    tracing::info!(
        controller = "garbage-collector",
        kind = node.kind.kind,
        name = node.name,
        foreground,
        "deleting dependent"
    );
    let result = api_for(&shared.client, &node.kind, node.namespace.as_deref())
        .delete(&node.name, &dp)
        .await;
    if is_gone(&result) || matches!(&result, Err(kube::Error::Api(s)) if s.code == 409) {
        return Ok(());
    }
    result.map(|_| ()).map_err(api_error("deleting", node))
}

/// Drops the ownerReferences naming `gone` (guarded by the resourceVersion).
async fn remove_refs(shared: &Shared, node: &Node, gone: &[String]) -> Result<(), Error> {
    let kept: Vec<_> = node
        .owners
        .iter()
        .filter(|r| !gone.contains(&r.uid))
        .collect();
    let patch =
        json!({"metadata": {"ownerReferences": kept, "resourceVersion": node.resource_version}});
    let result = api_for(&shared.client, &node.kind, node.namespace.as_deref())
        .patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await;
    if is_gone(&result) {
        return Ok(());
    }
    result
        .map(|_| ())
        .map_err(api_error("removing ownerReferences of", node))
}

async fn remove_finalizer(shared: &Shared, node: &Node, finalizer: &str) -> Result<(), Error> {
    let kept: Vec<&String> = node.finalizers.iter().filter(|f| *f != finalizer).collect();
    let patch = json!({"metadata": {"finalizers": kept, "resourceVersion": node.resource_version}});
    tracing::info!(
        controller = "garbage-collector",
        kind = node.kind.kind,
        name = node.name,
        finalizer,
        "removing finalizer"
    );
    let result = api_for(&shared.client, &node.kind, node.namespace.as_deref())
        .patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await;
    if is_gone(&result) {
        return Ok(());
    }
    result
        .map(|_| ())
        .map_err(api_error("removing finalizer of", node))
}
