//! The proxy's control loop: reflectors on Services, EndpointSlices and Nodes; every change
//! wakes a debounced loop that rebuilds the ruleset and re-applies our table when its text
//! changed, and a second loop that keeps LoadBalancer statuses right.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::Notify;

use crate::ProxyError;
use crate::config::ProxyConfig;
use crate::lb;
use crate::nft::Nft;
use crate::rules::ruleset;
use crate::snapshot::Snapshot;

/// How long to wait after an event for more before re-applying (coalesces bursts).
const DEBOUNCE: Duration = Duration::from_millis(80);
/// How long to wait before retrying a failed apply or status patch.
const RETRY: Duration = Duration::from_secs(2);

/// Drives one reflector forever, waking every `Notify` on each change.
async fn drive<K, S>(resource: &'static str, events: S, wake: Vec<Arc<Notify>>) -> ProxyError
where
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        match event {
            Ok(_) => wake.iter().for_each(|n| n.notify_one()),
            Err(error) => tracing::debug!(resource, %error, "watch error, retrying"),
        }
    }
    ProxyError::Watch {
        resource,
        message: "watch stream ended".to_string(),
    }
}

/// Runs the proxy until the future is dropped; returns only on a fatal error.
pub async fn run(client: kube::Client, cfg: ProxyConfig) -> Result<(), ProxyError> {
    cfg.validate()?;
    let rules_wake = Arc::new(Notify::new());
    let lb_wake = Arc::new(Notify::new());
    let both = vec![rules_wake.clone(), lb_wake.clone()];

    let (services, writer) = reflector::store::<Service>();
    let service_events = reflector::reflector(
        writer,
        watcher(
            Api::<Service>::all(client.clone()),
            watcher::Config::default(),
        ),
    )
    .backoff(gantry_informer::agent_backoff());
    let (slices, writer) = reflector::store::<EndpointSlice>();
    let slice_events = reflector::reflector(
        writer,
        watcher(
            Api::<EndpointSlice>::all(client.clone()),
            watcher::Config::default(),
        ),
    )
    .backoff(gantry_informer::agent_backoff());
    let (nodes, writer) = reflector::store::<Node>();
    let node_events = reflector::reflector(
        writer,
        watcher(Api::<Node>::all(client.clone()), watcher::Config::default()),
    )
    .backoff(gantry_informer::agent_backoff());

    tokio::select! {
        error = drive("services", service_events, both.clone()) => Err(error),
        error = drive("endpointslices", slice_events, vec![rules_wake.clone()]) => Err(error),
        error = drive("nodes", node_events, both) => Err(error),
        result = rules_loop(&cfg, &services, &slices, &nodes, &rules_wake) => result,
        result = lb_loop(&client, &services, &nodes, &lb_wake) => result,
    }
}

/// The node's addresses: from the config, or else this Node's InternalIPs.
fn node_ips(cfg: &ProxyConfig, nodes: &Store<Node>) -> Vec<IpAddr> {
    if !cfg.node_ips.is_empty() {
        return cfg.node_ips.clone();
    }
    nodes
        .state()
        .iter()
        .filter(|n| n.metadata.name.as_deref() == Some(cfg.node_name.as_str()))
        .flat_map(|n| lb::node_internal_ips(n))
        .collect()
}

async fn rules_loop(
    cfg: &ProxyConfig,
    services: &Store<Service>,
    slices: &Store<EndpointSlice>,
    nodes: &Store<Node>,
    wake: &Notify,
) -> Result<(), ProxyError> {
    // A partial view would reject Services whose slices have not arrived yet.
    for (resource, ready) in [
        ("services", gantry_informer::ready(&services).await),
        ("endpointslices", gantry_informer::ready(&slices).await),
        ("nodes", gantry_informer::ready(&nodes).await),
    ] {
        ready.map_err(|e| ProxyError::Watch {
            resource,
            message: e.to_string(),
        })?;
    }
    let nft = Nft::host();
    let mut applied: Option<String> = None;
    loop {
        let effective = ProxyConfig {
            node_ips: node_ips(cfg, nodes),
            ..cfg.clone()
        };
        let service_state = services.state();
        let slice_state = slices.state();
        let snapshot = Snapshot::build(
            service_state.iter().map(|s| s.as_ref()),
            slice_state.iter().map(|s| s.as_ref()),
        );
        let text = ruleset(&snapshot, &effective);
        let mut failed = false;
        if applied.as_deref() != Some(text.as_str()) {
            // In place when we know what is there (keeps affinity entries); else replace all.
            let result = match &applied {
                Some(previous) => match nft.update(&cfg.table, previous, &text).await {
                    Ok(()) => Ok(()),
                    Err(error) => {
                        tracing::debug!(%error, "in-place update refused, replacing the table");
                        nft.apply(&cfg.table, &text).await
                    }
                },
                None => nft.apply(&cfg.table, &text).await,
            };
            match result {
                Ok(()) => {
                    tracing::info!(
                        table = %cfg.table,
                        services = snapshot.services.len(),
                        "applied service rules"
                    );
                    applied = Some(text);
                }
                Err(error) => {
                    tracing::warn!(%error, "applying service rules");
                    applied = None;
                    failed = true;
                }
            }
        }
        if failed {
            tokio::time::sleep(RETRY).await;
        } else {
            wake.notified().await;
            tokio::time::sleep(DEBOUNCE).await;
        }
    }
}

async fn lb_loop(
    client: &kube::Client,
    services: &Store<Service>,
    nodes: &Store<Node>,
    wake: &Notify,
) -> Result<(), ProxyError> {
    for (resource, ready) in [
        ("services", gantry_informer::ready(&services).await),
        ("nodes", gantry_informer::ready(&nodes).await),
    ] {
        ready.map_err(|e| ProxyError::Watch {
            resource,
            message: e.to_string(),
        })?;
    }
    loop {
        let ips = lb::ready_node_ips(nodes.state().iter().map(|n| n.as_ref()));
        let service_state = services.state();
        // Collected first: an iterator with a closure held across the await would make this
        // future's Send-ness unprovable for callers that spawn it.
        let current: Vec<&Service> = service_state.iter().map(|s| s.as_ref()).collect();
        let result = lb::sync_lb_statuses(client, current, &ips).await;
        if result.is_err() {
            tokio::time::sleep(RETRY).await;
        } else {
            wake.notified().await;
            tokio::time::sleep(DEBOUNCE).await;
        }
    }
}
