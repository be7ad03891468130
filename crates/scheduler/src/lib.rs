//! The scheduler: places pods on nodes as a client of the API server (never the store).
//!
//! Watchers feed an informer-style [`cache::Cache`] of nodes and pods with per-node
//! aggregates; unscheduled pods (`spec.nodeName` empty, our `schedulerName`, not terminating)
//! wait in a [`queue::Queue`] with exponential backoff. For each pod, [`placement::schedule`]
//! (a pure function over the cache) runs the [`filters`] and [`scores`]; the pod is then
//! assumed on its node and bound through `pods/binding`, several bindings in flight while
//! decisions stay sequential. A pod that fits nowhere gets a `FailedScheduling` Event and the
//! condition `PodScheduled=False` (reason `Unschedulable`).
//!
//! Leader election is the caller's business: [`run`] schedules as long as it runs.

mod api;
pub mod cache;
pub mod filters;
pub mod placement;
pub mod pod;
pub mod prefilter;
pub mod quantity;
pub mod queue;
mod scheduler;
pub mod scores;
pub mod selector;

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Pods whose `spec.schedulerName` equals this are ours; also the events' reporter.
    pub scheduler_name: String,
    /// How many bindings may be in flight at once.
    pub bindings_in_flight: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            scheduler_name: "default-scheduler".to_owned(),
            bindings_in_flight: 64,
        }
    }
}

/// Why the scheduler stopped.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("the {0} watch ended")]
    WatchEnded(&'static str),
}

/// Schedules pods until the process ends (or a watch stream ends, which kube's watcher does
/// not do on its own: it retries with backoff).
pub async fn run(client: kube::Client, config: Config) -> Result<(), SchedulerError> {
    scheduler::run(client, config).await
}
