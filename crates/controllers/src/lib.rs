//! The controller manager: every controller is a kube-runtime `Controller` with a `reconcile`
//! and an `error_policy`, one file each, talking only to the API server.
//!
//! [`run`] starts them all on one client and returns when any of them stops.

mod cron_schedule;
pub mod cronjob;
mod daemon_placement;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
mod disruption_budget;
pub mod endpoint_slice;
pub mod endpoints;
mod events;
mod expectations;
pub mod garbage_collector;
pub mod job;
mod job_sync;
pub mod namespace;
pub mod node_ipam;
pub mod node_lifecycle;
mod ownership;
pub mod pod_informer;
mod pod_owners;
mod pod_state;
mod quantity;
mod quota_usage;
mod reconcile_error;
mod replica_sync;
pub mod replicaset;
pub mod resource_quota;
pub mod root_ca_publisher;
pub mod service_account;
pub mod statefulset;
mod statefulset_sync;
pub mod taint_eviction;

use std::future::Future;
use std::pin::Pin;

/// A controller's main loop, as [`run`] starts it.
pub type ControllerFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The controller manager's settings; the binary assembles them from its flags.
#[derive(Clone, Debug)]
pub struct Config {
    /// Node lifecycle: how long a node's Lease may go unrenewed.
    pub node_lifecycle: node_lifecycle::Config,
    /// Node IPAM: the cluster CIDR and the block size per node.
    pub node_ipam: node_ipam::Config,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            node_lifecycle: node_lifecycle::Config::default(),
            node_ipam: node_ipam::Config::cluster_default(),
        }
    }
}

/// Every controller of the manager, by name.
pub fn controllers(client: kube::Client, config: &Config) -> Vec<(&'static str, ControllerFuture)> {
    let (pods, pod_watch) = pod_informer::PodInformer::new(client.clone());
    vec![
        (
            "garbage-collector",
            Box::pin(garbage_collector::run(client.clone(), pods.changes())),
        ),
        (
            "node-lifecycle",
            Box::pin(node_lifecycle::run(
                client.clone(),
                config.node_lifecycle.clone(),
            )),
        ),
        (
            "taint-eviction",
            Box::pin(taint_eviction::run(client.clone(), pods.clone())),
        ),
        (
            "endpoints",
            Box::pin(endpoints::run(client.clone(), pods.clone())),
        ),
        (
            "endpointslice",
            Box::pin(endpoint_slice::run(client.clone(), pods.clone())),
        ),
        (
            "serviceaccount",
            Box::pin(service_account::run(client.clone())),
        ),
        (
            "root-ca-cert-publisher",
            Box::pin(root_ca_publisher::run(client.clone())),
        ),
        (
            "node-ipam",
            Box::pin(node_ipam::run(client.clone(), config.node_ipam.clone())),
        ),
        ("namespace", Box::pin(namespace::run(client.clone()))),
        (
            "resourcequota",
            Box::pin(resource_quota::run(client.clone(), pods.clone())),
        ),
        ("cronjob", cronjob::controller(client.clone())),
        ("daemonset", daemonset::controller(client.clone(), &pods)),
        ("deployment", deployment::controller(client.clone())),
        (
            "disruption",
            Box::pin(disruption::run(client.clone(), pods.clone())),
        ),
        ("job", job::controller(client.clone(), &pods)),
        (
            "statefulset",
            statefulset::controller(client.clone(), &pods),
        ),
        (
            "replicaset",
            replicaset::controller::<k8s_openapi::api::apps::v1::ReplicaSet>(client.clone(), &pods),
        ),
        (
            "replicationcontroller",
            replicaset::controller::<k8s_openapi::api::core::v1::ReplicationController>(
                client.clone(),
                &pods,
            ),
        ),
        ("pod-informer", pod_watch),
    ]
}

/// Runs every controller until one of them ends (they run until the process stops).
pub async fn run(client: kube::Client, config: Config) {
    let all = controllers(client, &config);
    if all.is_empty() {
        return std::future::pending().await;
    }
    let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
    tracing::info!("controller manager running: {}", names.join(", "));
    let (_, index, _) = futures::future::select_all(all.into_iter().map(|(_, f)| f)).await;
    tracing::warn!("controller {} stopped", names[index]);
}
