//! The control-plane components `gantry server` runs in its own process (scheduler and
//! controller manager), each on its own tokio runtime and threads.
//!
//! They are API clients like their standalone forms (`gantry scheduler`, `gantry
//! controller-manager`), and they get what separate processes would get from the kernel: their
//! own threads, scheduled fairly against the API server's. On one shared runtime a burst of
//! controller work (thousands of pod creations) queued behind the same two worker threads as
//! the scheduler's bindings and the API server's requests: pods were created far faster than
//! they were bound and create-to-Running grew to seconds (README, Performance).

use std::future::Future;
use std::path::PathBuf;

use anyhow::Context;

/// One component: its runtime and the task running it there.
struct Component {
    runtime: tokio::runtime::Runtime,
    task: tokio::task::JoinHandle<()>,
}

/// The running components; stop them with [`Components::stop`].
#[derive(Default)]
pub struct Components(Vec<Component>);

impl Components {
    /// Starts `run(client)` on a new runtime with `threads` worker threads named `name`;
    /// the component makes its own API client there from `kubeconfig` (User-Agent `agent`),
    /// so its connections live on its own threads too.
    pub fn start<F, Fut>(
        &mut self,
        (name, agent): (&'static str, &'static str),
        threads: usize,
        kubeconfig: PathBuf,
        run: F,
    ) -> anyhow::Result<()>
    where
        F: FnOnce(kube::Client) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name(name)
            .enable_all()
            .build()
            .with_context(|| format!("starting the runtime of the {name}"))?;
        let task = runtime.spawn(async move {
            match super::kubeconfig::client(&kubeconfig, agent).await {
                Ok(client) => run(client).await,
                Err(e) => tracing::error!("the {name} cannot reach the API: {e:#}"),
            }
        });
        self.0.push(Component { runtime, task });
        Ok(())
    }

    /// Aborts every component's work (so none calls an API server that is going away).
    pub fn abort(&self) {
        for c in &self.0 {
            c.task.abort();
        }
    }

    /// Aborts the components and lets their runtimes wind down in the background; callable
    /// from async code (a runtime may not be dropped there).
    pub fn stop(self) {
        self.abort();
        for c in self.0 {
            c.runtime.shutdown_background();
        }
    }
}

/// Worker threads for a component that shares the machine with the API server: half the
/// CPUs, at least one.
pub fn threads_for_component() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() / 2)
        .unwrap_or(1)
        .max(1)
}
