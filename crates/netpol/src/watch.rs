//! The control loop: reflectors on NetworkPolicies, Pods and Namespaces; every change wakes a
//! debounced loop that recompiles the rules and re-applies our table when its text changed.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use crate::compile::compile;
use crate::nft::{Nft, valid_table_name};
use crate::render::render;
use crate::ruleset::Ruleset;
use crate::selector::Ipv4Cidr;
use crate::snapshot::Snapshot;
use crate::update::set_update;
use crate::{NetpolConfig, NetpolError};

/// How long to wait after an event for more before re-applying (coalesces bursts).
const DEBOUNCE: Duration = Duration::from_millis(80);
/// How long to wait before retrying a failed apply.
const RETRY: Duration = Duration::from_secs(2);

/// Checks the configuration before anything is watched or programmed.
fn validate(cfg: &NetpolConfig) -> Result<(), NetpolError> {
    if !valid_table_name(&cfg.table) {
        return Err(NetpolError::Config(format!(
            "invalid table name {:?}",
            cfg.table
        )));
    }
    if cfg.node_name.is_empty() {
        return Err(NetpolError::Config("empty node name".to_string()));
    }
    if Ipv4Cidr::parse(&cfg.cluster_cidr).is_none() {
        return Err(NetpolError::Config(format!(
            "cluster cidr {:?} is not an IPv4 CIDR",
            cfg.cluster_cidr
        )));
    }
    Ok(())
}

/// A reflector over all objects of `K`, with its store and its (backed-off) event stream.
fn reflect<K>(
    client: &kube::Client,
) -> (
    Store<K>,
    impl Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync,
    K: 'static,
{
    let (store, writer) = reflector::store::<K>();
    let events = reflector::reflector(
        writer,
        watcher(Api::<K>::all(client.clone()), watcher::Config::default()),
    )
    .backoff(gantry_informer::agent_backoff());
    (store, events)
}

/// Drives one reflector forever, waking `wake` on each change.
async fn drive<K, S>(resource: &'static str, events: S, wake: Arc<Notify>) -> NetpolError
where
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        match event {
            Ok(_) => wake.notify_one(),
            Err(error) => tracing::debug!(resource, %error, "watch error, retrying"),
        }
    }
    NetpolError::Watch {
        resource,
        message: "watch stream ended".to_string(),
    }
}

/// Enforces NetworkPolicies for the pods of `cfg.node_name` until the future is dropped;
/// returns only on a fatal error. Our table stays in place when this returns (pods stay
/// protected); [`crate::cleanup`] removes it.
pub async fn run(client: kube::Client, cfg: NetpolConfig) -> Result<(), NetpolError> {
    validate(&cfg)?;
    let wake = Arc::new(Notify::new());
    let (policies, policy_events) = reflect::<NetworkPolicy>(&client);
    let (pods, pod_events) = reflect::<Pod>(&client);
    let (namespaces, namespace_events) = reflect::<Namespace>(&client);
    tokio::select! {
        error = drive("networkpolicies", policy_events, wake.clone()) => Err(error),
        error = drive("pods", pod_events, wake.clone()) => Err(error),
        error = drive("namespaces", namespace_events, wake.clone()) => Err(error),
        result = rules_loop(&cfg, &policies, &pods, &namespaces, &wake) => result,
    }
}

async fn rules_loop(
    cfg: &NetpolConfig,
    policies: &Store<NetworkPolicy>,
    pods: &Store<Pod>,
    namespaces: &Store<Namespace>,
    wake: &Notify,
) -> Result<(), NetpolError> {
    // A partial view would isolate pods without the policies that open them.
    for (resource, ready) in [
        ("networkpolicies", gantry_informer::ready(&policies).await),
        ("pods", gantry_informer::ready(&pods).await),
        ("namespaces", gantry_informer::ready(&namespaces).await),
    ] {
        ready.map_err(|e| NetpolError::Watch {
            resource,
            message: e.to_string(),
        })?;
    }
    let nft = Nft::host();
    // What the table holds now: the ruleset and its text.
    let mut applied: Option<(Ruleset, String)> = None;
    loop {
        let (policy_state, pod_state, namespace_state) =
            (policies.state(), pods.state(), namespaces.state());
        let snapshot = Snapshot::build(
            policy_state.iter().map(|p| p.as_ref()),
            pod_state.iter().map(|p| p.as_ref()),
            namespace_state.iter().map(|n| n.as_ref()),
        );
        let ruleset = compile(&snapshot, &cfg.node_name);
        let text = render(&ruleset, &cfg.table);
        let mut failed = false;
        if applied.as_ref().map(|(_, t)| t.as_str()) != Some(text.as_str()) {
            match apply(&nft, &cfg.table, applied.as_ref(), &ruleset, &text).await {
                Ok(()) => {
                    tracing::info!(
                        table = %cfg.table,
                        policies = snapshot.policies.len(),
                        isolated_pods = ruleset.pods.len(),
                        "applied network policy rules"
                    );
                    applied = Some((ruleset, text));
                }
                Err(error) => {
                    tracing::warn!(%error, "applying network policy rules");
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

/// Programs `ruleset` (rendered as `text`): only the changed sets when the previous ruleset
/// differs in set members alone, else (or if that fails) the whole table.
async fn apply(
    nft: &Nft,
    table: &str,
    previous: Option<&(Ruleset, String)>,
    ruleset: &Ruleset,
    text: &str,
) -> Result<(), NetpolError> {
    if let Some(update) = previous.and_then(|(p, _)| set_update(p, ruleset, table)) {
        match nft.run_transaction(table, &update).await {
            Ok(()) => return Ok(()),
            Err(error) => tracing::debug!(%error, "set update refused, replacing the table"),
        }
    }
    nft.apply(table, text).await
}
