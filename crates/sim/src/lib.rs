//! Simulated nodes, like KWOK: one process registers N Node objects, renews a
//! coordination.k8s.io Lease per node like the kubelet, and plays the kubelet for every pod
//! bound to its nodes (marks it Running and Ready, completes annotated run-to-completion pods,
//! deletes pods whose deletion was requested) without running any container.
//!
//! Everything goes through the API: one watch of all pods filtered by node name in memory (not
//! one watch per node), status updates through `pods/status` with bounded concurrency, and
//! lease renewals spread evenly over the renewal interval, so 1,000 nodes cost one process.
//!
//! A node is "stopped" by killing the process that simulates it: tests run one sim process per
//! node group. On SIGTERM (or when the `stop` future of [`run_until`] resolves) the process
//! exits without deleting its nodes, so their leases expire as if the machines had died,
//! unless [`Config::delete_nodes_on_exit`] is set.

mod ip;
mod lease;
mod node;
mod pod_status;
mod pods;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Taint};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

pub use ip::{PodIps, node_ip, pod_range};
pub use node::{KUBELET_VERSION, SIMULATED_LABEL, node_object, parse_labels, parse_taint};
pub use pod_status::{EXIT_CODE_ANNOTATION, RUN_SECONDS_ANNOTATION};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Config {
    /// How many nodes: named `{name_prefix}0` to `{name_prefix}{nodes-1}`.
    pub nodes: usize,
    pub name_prefix: String,
    /// Capacity (and allocatable) as quantities.
    pub cpu: String,
    pub memory: String,
    pub pods: u32,
    pub ephemeral_storage: String,
    /// Extra node labels, beside the well-known ones and `gantry.dev/simulated=true`.
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// How often each node's Lease is renewed (the kubelet's 10 s).
    pub lease_interval: Duration,
    /// `leaseDurationSeconds` of the Leases (the kubelet's 40).
    pub lease_duration_seconds: i32,
    /// Every this many lease renewals, a node also posts a status heartbeat.
    pub heartbeat_every: u32,
    /// Pod status updates and deletes in flight at once.
    pub concurrency: usize,
    /// Delete the nodes on a clean exit instead of letting their leases expire.
    pub delete_nodes_on_exit: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            nodes: 1,
            name_prefix: "sim-".into(),
            cpu: "32".into(),
            memory: "256Gi".into(),
            pods: 110,
            ephemeral_storage: "100Gi".into(),
            labels: BTreeMap::new(),
            taints: Vec::new(),
            lease_interval: Duration::from_secs(10),
            lease_duration_seconds: 40,
            heartbeat_every: 6,
            concurrency: 64,
            delete_nodes_on_exit: false,
        }
    }
}

impl Config {
    /// The names of the simulated nodes, in order.
    pub fn node_names(&self) -> Vec<String> {
        (0..self.nodes)
            .map(|i| format!("{}{i}", self.name_prefix))
            .collect()
    }
}

/// What can stop the simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid label {0:?}: use key=value")]
    InvalidLabel(String),
    #[error(
        "invalid taint {0:?}: use key=value:Effect or key:Effect (NoSchedule, PreferNoSchedule, NoExecute)"
    )]
    InvalidTaint(String),
    #[error("building the node object")]
    NodeObject(#[source] serde_json::Error),
    #[error("registering node {node}")]
    Register { node: String, source: kube::Error },
    #[error("deleting node {node}")]
    DeleteNode { node: String, source: kube::Error },
}

/// Runs the simulation until SIGTERM or SIGINT.
pub async fn run(client: kube::Client, config: Config) -> Result<(), SimError> {
    run_until(client, config, termination()).await
}

/// Runs the simulation until `stop` resolves: registers the nodes, then renews their leases
/// and serves their pods.
pub async fn run_until(
    client: kube::Client,
    config: Config,
    stop: impl Future<Output = ()>,
) -> Result<(), SimError> {
    let names = config.node_names();
    let nodes: Api<Node> = Api::all(client.clone());
    // The kubelet side starts at once: pods already bound to these nodes (a restarted sim) do
    // not wait for the registrations.
    let kubelet = pods::serve(client.clone(), &names, config.concurrency);
    let node_side = async {
        let registered: Vec<Node> =
            futures::stream::iter(names.iter().map(|name| register(&nodes, name, &config)))
                .buffered(config.concurrency.max(1))
                .try_collect()
                .await?;
        tracing::info!(
            "registered {} simulated node(s) {}0..{}",
            registered.len(),
            config.name_prefix,
            names.len().saturating_sub(1)
        );
        lease::renew_all(client.clone(), &registered, &config).await;
        Ok::<(), SimError>(())
    };
    tokio::select! {
        result = node_side => result?,
        () = kubelet => {}
        () = stop => tracing::info!("stopping: simulated nodes stay registered until their leases expire"),
    }
    if config.delete_nodes_on_exit {
        for name in &names {
            match nodes.delete(name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(source) => {
                    return Err(SimError::DeleteNode {
                        node: name.clone(),
                        source,
                    });
                }
            }
        }
        tracing::info!("deleted {} simulated node(s)", names.len());
    }
    Ok(())
}

/// Creates the node, or, when it exists (a restarted sim), posts its status again.
async fn register(nodes: &Api<Node>, name: &str, config: &Config) -> Result<Node, SimError> {
    let now = k8s_openapi::jiff::Timestamp::now();
    let node = node_object(name, config, now)?;
    let failed = |source| SimError::Register {
        node: name.to_string(),
        source,
    };
    match nodes.create(&PostParams::default(), &node).await {
        Ok(created) => Ok(created),
        Err(kube::Error::Api(s)) if s.is_already_exists() => {
            let patch = serde_json::json!({"status": node::status(name, config, now)});
            nodes
                .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(failed)
        }
        Err(source) => Err(failed(source)),
    }
}

async fn termination() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
