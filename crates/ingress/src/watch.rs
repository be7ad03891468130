//! The control loop: reflectors on Ingresses, IngressClasses, Services, EndpointSlices and
//! Secrets; every change wakes a debounced rebuild of the route snapshot and certificate map,
//! which in turn wakes the status publisher. Listeners and the class check run alongside.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;

use crate::IngressConfig;
use crate::error::IngressError;
use crate::snapshot::{self, Shared};
use crate::tls::{self, CertResolver};
use crate::{class, listener, status};

/// How long to wait after an event for more before rebuilding (coalesces bursts).
const DEBOUNCE: Duration = Duration::from_millis(30);
/// How long to wait before retrying a failed status patch.
const RETRY: Duration = Duration::from_secs(2);

/// A reflector over every object of `K` plus the store it fills.
fn reflect<K>(
    client: &kube::Client,
) -> (
    Store<K>,
    impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + use<K>,
)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store::<K>();
    let events = reflector::reflector(
        writer,
        watcher(Api::<K>::all(client.clone()), watcher::Config::default()),
    )
    .backoff(gantry_informer::agent_backoff());
    (store, events)
}

/// Drives one reflector forever, waking the rebuild on each change.
async fn drive<K, S>(resource: &'static str, events: S, wake: Arc<Notify>) -> IngressError
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
    IngressError::Watch {
        resource,
        message: "watch stream ended".to_string(),
    }
}

/// The stores the rebuild reads.
struct Stores {
    ingresses: Store<Ingress>,
    classes: Store<IngressClass>,
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    secrets: Store<Secret>,
    nodes: Store<Node>,
}

/// The addresses to publish: the configured ones, or else the InternalIPs of every Ready node
/// (the same answer on every node, so several controllers never fight over the status).
fn publish_ips(cfg: &IngressConfig, nodes: &[Arc<Node>]) -> Vec<std::net::IpAddr> {
    if !cfg.publish_ips.is_empty() {
        return cfg.publish_ips.clone();
    }
    let mut ips: Vec<std::net::IpAddr> = nodes
        .iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .filter_map(|n| {
            let addrs = n.status.as_ref()?.addresses.as_ref()?;
            addrs
                .iter()
                .find(|a| a.type_ == "InternalIP")?
                .address
                .parse()
                .ok()
        })
        .collect();
    ips.sort();
    ips
}

async fn rebuild_loop(
    stores: &Stores,
    class_name: &str,
    shared: &Shared,
    resolver: &CertResolver,
    wake: &Notify,
    status_wake: &Notify,
) {
    loop {
        wake.notified().await;
        tokio::time::sleep(DEBOUNCE).await;
        let ingresses = stores.ingresses.state();
        let classes = stores.classes.state();
        let served = snapshot::served(&ingresses, &classes, class_name);
        let next = snapshot::build(&served, &stores.services.state(), &stores.slices.state());
        tracing::debug!(
            ingresses = served.len(),
            backends = next.pools.len(),
            "routes rebuilt"
        );
        shared.replace(next);
        resolver.replace(tls::cert_map(&served, &stores.secrets.state()));
        status_wake.notify_one();
    }
}

async fn status_loop(client: kube::Client, stores: &Stores, cfg: &IngressConfig, wake: &Notify) {
    loop {
        wake.notified().await;
        let ingresses = stores.ingresses.state();
        let classes = stores.classes.state();
        let mut failed = false;
        let ips = publish_ips(cfg, &stores.nodes.state());
        for ingress in snapshot::served(&ingresses, &classes, &cfg.class) {
            if ips.is_empty() || !status::needs_update(ingress, &ips) {
                continue;
            }
            if let Err(error) = status::publish(client.clone(), ingress, &ips).await {
                tracing::warn!(%error, "will retry");
                failed = true;
            }
        }
        if failed {
            tokio::time::sleep(RETRY).await;
            wake.notify_one();
        }
    }
}

pub async fn run(client: kube::Client, cfg: IngressConfig) -> Result<(), IngressError> {
    let resolver = Arc::new(CertResolver::new(tls::fallback()?));
    let acceptor = TlsAcceptor::from(Arc::new(tls::server_config(resolver.clone())?));
    let http = listener::bind("http", cfg.http).await?;
    let https = listener::bind("https", cfg.https).await?;
    let shared = Arc::new(Shared::default());
    tracing::info!(http = %cfg.http, https = %cfg.https, class = %cfg.class, "ingress controller listening");

    let (ingresses, ingress_events) = reflect::<Ingress>(&client);
    let (classes, class_events) = reflect::<IngressClass>(&client);
    let (services, service_events) = reflect::<Service>(&client);
    let (slices, slice_events) = reflect::<EndpointSlice>(&client);
    let (secrets, secret_events) = reflect::<Secret>(&client);
    let (nodes, node_events) = reflect::<Node>(&client);
    let stores = Stores {
        nodes,
        ingresses,
        classes,
        services,
        slices,
        secrets,
    };
    let wake = Arc::new(Notify::new());
    let status_wake = Notify::new();

    tokio::select! {
        error = drive("ingresses", ingress_events, wake.clone()) => Err(error),
        error = drive("ingressclasses", class_events, wake.clone()) => Err(error),
        error = drive("services", service_events, wake.clone()) => Err(error),
        error = drive("endpointslices", slice_events, wake.clone()) => Err(error),
        error = drive("secrets", secret_events, wake.clone()) => Err(error),
        error = drive("nodes", node_events, wake.clone()) => Err(error),
        error = listener::serve_http(http, shared.clone()) => Err(error),
        error = listener::serve_https(https, acceptor, shared.clone()) => Err(error),
        () = rebuild_loop(&stores, &cfg.class, &shared, &resolver, &wake, &status_wake) => Ok(()),
        () = status_loop(client.clone(), &stores, &cfg, &status_wake) => Ok(()),
        () = async {
            class::ensure(client.clone(), cfg.class.clone()).await;
            std::future::pending::<()>().await
        } => Ok(()),
    }
}
