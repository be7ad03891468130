//! One pod watch and one pod cache for the whole controller manager (upstream's shared informer
//! factory): every controller that follows pods reads the same [`Store`] and gets its own stream
//! of the pods touched (applied, listed or deleted), instead of each keeping a watch and a copy.
//!
//! With 10,000 pods, eight private watches meant eight JSON decodes and eight deep copies per
//! pod event and eight caches (most of the manager's CPU and memory); now each event is decoded
//! once and handed out as an `Arc`.

use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::mpsc;

use crate::ControllerFuture;
use crate::pod_owners::{Holder, OwnerIndex};

type Subscribers = Arc<Mutex<Vec<mpsc::UnboundedSender<PodChange>>>>;

/// One change of the shared cache, as a subscriber sees it.
#[derive(Clone)]
pub enum PodChange {
    /// Created or changed.
    Applied(Arc<Pod>),
    /// Gone.
    Deleted(Arc<Pod>),
    /// A (re)list begins: the pods listed next are the whole set.
    ListStarted,
    /// One pod of a (re)list.
    Listed(Arc<Pod>),
    /// The (re)list is complete: pods it did not list are gone.
    ListDone,
}

impl PodChange {
    /// The pod this change is about, if any.
    pub fn pod(&self) -> Option<&Arc<Pod>> {
        match self {
            PodChange::Applied(p) | PodChange::Deleted(p) | PodChange::Listed(p) => Some(p),
            PodChange::ListStarted | PodChange::ListDone => None,
        }
    }
}

/// The owner index and, during a relist, the one being rebuilt.
#[derive(Default)]
struct Owners {
    index: OwnerIndex,
    relist: Option<OwnerIndex>,
}

impl Owners {
    fn update(&mut self, event: &watcher::Event<Pod>) {
        match event {
            watcher::Event::Apply(p) => self.index.apply(p),
            watcher::Event::Delete(p) => self.index.delete(p),
            watcher::Event::Init => self.relist = Some(OwnerIndex::default()),
            watcher::Event::InitApply(p) => {
                if let Some(r) = self.relist.as_mut() {
                    r.apply(p);
                }
            }
            watcher::Event::InitDone => {
                if let Some(r) = self.relist.take() {
                    self.index = r;
                }
            }
        }
    }
}

/// The shared pod cache; [`PodInformer::new`] also returns the future that feeds it.
#[derive(Clone)]
pub struct PodInformer {
    store: Store<Pod>,
    subscribers: Subscribers,
    owners: Arc<Mutex<Owners>>,
}

impl PodInformer {
    /// The informer and its watch loop (to be run alongside the controllers that subscribe).
    pub fn new(client: Client) -> (Self, ControllerFuture) {
        let (store, mut writer) = reflector::store();
        let subscribers: Subscribers = Arc::default();
        let fanout = subscribers.clone();
        let owners: Arc<Mutex<Owners>> = Arc::default();
        let index = owners.clone();
        let events =
            gantry_informer::watch_pods(client, watcher::Config::default()).default_backoff();
        let run = events.for_each(move |event| {
            // The owner index first, then the store: a reconcile that finds a pod in the store
            // (its creation observed) also finds it among its owner's pods. The other order let
            // a ReplicaSet on another thread count one pod short and create one too many.
            if let Ok(e) = &event {
                if let Ok(mut owners) = index.lock() {
                    owners.update(e);
                }
                writer.apply_watcher_event(e);
            }
            let change = match event {
                Ok(watcher::Event::Apply(p)) => PodChange::Applied(Arc::new(p)),
                Ok(watcher::Event::Delete(p)) => PodChange::Deleted(Arc::new(p)),
                Ok(watcher::Event::Init) => PodChange::ListStarted,
                Ok(watcher::Event::InitApply(p)) => PodChange::Listed(Arc::new(p)),
                Ok(watcher::Event::InitDone) => PodChange::ListDone,
                Err(error) => {
                    tracing::debug!(%error, "pod watch error");
                    return futures::future::ready(());
                }
            };
            if let Ok(mut subs) = fanout.lock() {
                subs.retain(|s| s.send(change.clone()).is_ok());
            }
            futures::future::ready(())
        });
        (
            Self {
                store,
                subscribers,
                owners,
            },
            Box::pin(run),
        )
    }

    /// A reader of the shared cache.
    pub fn store(&self) -> Store<Pod> {
        self.store.clone()
    }

    /// The cached pods `owner_uid` controls plus the orphans of `namespace`: what an owner's
    /// sync may claim, without scanning every pod.
    pub fn claimable(&self, owner_uid: &str, namespace: &str) -> Vec<Arc<Pod>> {
        let refs = match self.owners.lock() {
            Ok(o) => {
                let mut refs = o.index.held_by(&Holder::Controller(owner_uid.to_string()));
                refs.extend(o.index.held_by(&Holder::Orphans(namespace.to_string())));
                refs
            }
            Err(_) => Vec::new(),
        };
        refs.iter().filter_map(|r| self.store.get(r)).collect()
    }

    /// Every pod touched from now on (including the initial list): the trigger stream of a
    /// controller that follows pods. Unbounded, so a slow controller never stalls the others.
    pub fn touched(&self) -> impl Stream<Item = Arc<Pod>> + Send + 'static {
        self.changes()
            .filter_map(|change| futures::future::ready(change.pod().cloned()))
    }

    /// Every change from now on, relists included: for a subscriber that keeps its own view of
    /// the pods (the garbage collector's graph). Unbounded, like [`PodInformer::touched`].
    pub fn changes(&self) -> impl Stream<Item = PodChange> + Send + 'static {
        let (tx, mut rx) = mpsc::unbounded_channel();
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.push(tx);
        }
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }

    /// The controllers of kind `kind` of pods that changed: what a workload controller
    /// reconciles when its pods move.
    pub fn touched_owners<K>(
        &self,
        kind: &'static str,
    ) -> impl Stream<Item = ObjectRef<K>> + Send + 'static
    where
        K: kube::Resource<DynamicType = ()> + 'static,
    {
        self.touched().filter_map(move |pod| {
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            futures::future::ready(
                crate::ownership::controller_of(&pod.metadata)
                    .filter(|r| r.kind == kind)
                    .map(|r| ObjectRef::<K>::new(&r.name).within(&ns)),
            )
        })
    }
}
