//! The scheduling loop: one task owns the cache and the queue, applies watch events, decides
//! for one pod at a time, assumes the pod on its node and hands the binding to a task of its
//! own (several in flight); binding outcomes come back over a channel.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use tokio::sync::{Semaphore, mpsc};

use crate::api::{self, BindOutcome, Failure};
use crate::cache::Cache;
use crate::placement::{self, TieBreaker};
use crate::pod::PodInfo;
use crate::queue::Queue;
use crate::{Config, SchedulerError};

/// Decisions made before watch events are looked at again.
const BATCH: usize = 64;
/// Watch events applied before deciding again (so a flood of events cannot starve decisions).
const EVENT_BATCH: usize = 512;

struct Done {
    pod: PodInfo,
    attempts: u32,
    outcome: BindOutcome,
}

/// Everything the loop owns.
struct Scheduler {
    client: Client,
    config: Config,
    cache: Cache,
    queue: Queue,
    ties: TieBreaker,
    /// Last failure per pod, to bump the event and skip unchanged conditions.
    failures: HashMap<String, Failure>,
    nodes_synced: bool,
    pods_synced: bool,
    node_relist: Option<HashSet<String>>,
    pod_relist: Option<HashSet<String>>,
    changed: bool,
    bindings: Arc<Semaphore>,
    done: mpsc::UnboundedSender<Done>,
}

pub async fn run(client: Client, config: Config) -> Result<(), SchedulerError> {
    let mut pods = gantry_informer::watch_pods(client.clone(), watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut nodes = watcher::watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .boxed();
    let (done, mut outcomes) = mpsc::unbounded_channel();
    let seed = Timestamp::now().as_nanosecond() as u64;
    let bindings = Arc::new(Semaphore::new(config.bindings_in_flight.max(1)));
    let mut s = Scheduler {
        client,
        config,
        cache: Cache::new(),
        queue: Queue::new(),
        ties: TieBreaker::new(seed),
        failures: HashMap::new(),
        nodes_synced: false,
        pods_synced: false,
        node_relist: None,
        pod_relist: None,
        changed: false,
        bindings,
        done,
    };
    tracing::info!("scheduler {} started", s.config.scheduler_name);
    let mut flush = tokio::time::interval(Duration::from_secs(15));
    loop {
        for _ in 0..EVENT_BATCH {
            let mut any = false;
            if let Some(Some(e)) = pods.next().now_or_never() {
                s.pod_event(e);
                any = true;
            }
            if let Some(Some(e)) = nodes.next().now_or_never() {
                s.node_event(e);
                any = true;
            }
            if let Ok(d) = outcomes.try_recv() {
                s.bound(d);
                any = true;
            }
            if !any {
                break;
            }
        }
        if std::mem::take(&mut s.changed) {
            s.queue.cluster_changed();
        }
        if s.decide_batch() {
            tokio::task::yield_now().await;
            continue;
        }
        let wake = s
            .queue
            .next_backoff()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            e = pods.next() => match e { Some(e) => s.pod_event(e), None => return Err(SchedulerError::WatchEnded("pods")) },
            e = nodes.next() => match e { Some(e) => s.node_event(e), None => return Err(SchedulerError::WatchEnded("nodes")) },
            Some(d) = outcomes.recv() => s.bound(d),
            _ = tokio::time::sleep_until(wake) => {}
            _ = flush.tick() => s.queue.flush(Instant::now()),
        }
    }
}

impl Scheduler {
    fn pod_event(&mut self, event: Result<Event<Pod>, watcher::Error>) {
        match event {
            Ok(Event::Apply(p)) => self.apply_pod(&p),
            Ok(Event::InitApply(p)) => {
                self.apply_pod(&p);
                if let Some(seen) = self.pod_relist.as_mut() {
                    seen.insert(PodInfo::from_pod(&p).key());
                }
            }
            Ok(Event::Delete(p)) => self.delete_pod(&PodInfo::from_pod(&p).key()),
            Ok(Event::Init) => self.pod_relist = Some(HashSet::new()),
            Ok(Event::InitDone) => {
                let seen = self.pod_relist.take().unwrap_or_default();
                let gone: Vec<String> = self
                    .cache
                    .placed_keys()
                    .into_iter()
                    .chain(self.queue.keys())
                    .filter(|k| !seen.contains(k) && !self.cache.is_assumed(k))
                    .collect();
                for key in gone {
                    self.delete_pod(&key);
                }
                self.pods_synced = true;
            }
            Err(e) => tracing::warn!("watching pods: {e}"),
        }
    }

    fn apply_pod(&mut self, pod: &Pod) {
        let info = PodInfo::from_pod(pod);
        let key = info.key();
        let pending = info.node_name.is_none()
            && !info.terminating
            && !info.terminal
            && info.scheduler_name == self.config.scheduler_name;
        if pending && !self.cache.is_assumed(&key) {
            self.queue.add(info.clone());
        } else {
            self.queue.remove(&key);
            if !pending {
                self.failures.remove(&key);
            }
        }
        self.changed |= self.cache.apply_pod(info);
    }

    fn delete_pod(&mut self, key: &str) {
        self.queue.remove(key);
        self.failures.remove(key);
        self.changed |= self.cache.delete_pod(key);
    }

    fn node_event(&mut self, event: Result<Event<Node>, watcher::Error>) {
        match event {
            Ok(Event::Apply(n)) => self.changed |= self.cache.apply_node(&n),
            Ok(Event::InitApply(n)) => {
                self.changed |= self.cache.apply_node(&n);
                if let (Some(seen), Some(name)) = (self.node_relist.as_mut(), n.metadata.name) {
                    seen.insert(name);
                }
            }
            Ok(Event::Delete(n)) => {
                self.cache
                    .delete_node(n.metadata.name.as_deref().unwrap_or_default());
                self.changed = true;
            }
            Ok(Event::Init) => self.node_relist = Some(HashSet::new()),
            Ok(Event::InitDone) => {
                if let Some(seen) = self.node_relist.take() {
                    self.cache.retain_nodes(&seen);
                }
                self.nodes_synced = true;
                self.changed = true;
            }
            Err(e) => tracing::warn!("watching nodes: {e}"),
        }
    }

    /// Decides for up to [`BATCH`] pods; returns whether it did anything.
    fn decide_batch(&mut self) -> bool {
        if !(self.nodes_synced && self.pods_synced) {
            return false;
        }
        let mut decided = false;
        for _ in 0..BATCH {
            let now = Instant::now();
            if !self.queue.has_ready(now) {
                break;
            }
            let Ok(permit) = self.bindings.clone().try_acquire_owned() else {
                break;
            };
            let Some((pod, attempts)) = self.queue.pop(now) else {
                break;
            };
            decided = true;
            match placement::schedule(&pod, &self.cache, &mut self.ties) {
                Ok(node) => {
                    self.cache.assume(pod.clone(), &node);
                    let (client, done) = (self.client.clone(), self.done.clone());
                    tokio::spawn(async move {
                        let outcome = api::bind(client, &pod, &node).await;
                        drop(permit);
                        let _ = done.send(Done {
                            pod,
                            attempts,
                            outcome,
                        });
                    });
                }
                Err(fit) => {
                    tracing::debug!("{}: {fit}", pod.key());
                    self.report(&pod, fit.to_string());
                    self.queue.unschedulable(pod, attempts + 1, now);
                }
            }
        }
        decided
    }

    fn report(&mut self, pod: &PodInfo, message: String) {
        let key = pod.key();
        let failure = match self.failures.get(&key) {
            Some(last) if last.message == message => Failure {
                count: last.count + 1,
                update_condition: false,
                ..last.clone()
            },
            _ => {
                let now = Timestamp::now();
                let event_name = format!("{}.{:x}", pod.name, now.as_nanosecond());
                Failure {
                    message,
                    event_name,
                    count: 1,
                    first_seen: now,
                    update_condition: true,
                }
            }
        };
        self.failures.insert(key, failure.clone());
        let (client, reporter, pod) = (
            self.client.clone(),
            self.config.scheduler_name.clone(),
            pod.clone(),
        );
        tokio::spawn(async move {
            if let Err(e) = api::report_failure(client, &reporter, &pod, &failure).await {
                tracing::warn!("recording FailedScheduling for {}: {e}", pod.key());
            }
        });
    }

    fn bound(&mut self, done: Done) {
        let key = done.pod.key();
        match done.outcome {
            BindOutcome::Bound => {
                self.failures.remove(&key);
            }
            BindOutcome::Gone => self.cache.forget(&key),
            BindOutcome::Failed(e) => {
                tracing::warn!("binding {key}: {e}");
                self.cache.forget(&key);
                self.queue
                    .retry(done.pod, done.attempts + 1, Instant::now());
            }
        }
    }
}
