//! Reflectors on Services and EndpointSlices that publish a fresh [`Snapshot`] after every
//! change (changes arriving together are coalesced into one rebuild).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, watch};

use crate::snapshot::Snapshot;

/// Watches `K` cluster-wide into a store; pokes `changed` on every event and sets `synced`
/// once the first list is complete. Runs until the process ends (errors back off and retry).
async fn reflect<K>(
    client: Client,
    writer: reflector::store::Writer<K>,
    changed: Arc<Notify>,
    synced: Arc<AtomicBool>,
) where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let api = Api::<K>::all(client);
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
        .backoff(gantry_informer::agent_backoff());
    futures::pin_mut!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::InitDone) => synced.store(true, Ordering::Release),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, kind = %K::kind(&()), "dns watch failed; retrying");
                continue;
            }
        }
        changed.notify_one();
    }
}

/// Keeps `snapshot` current from the API until the process ends.
pub async fn run(client: Client, snapshot: watch::Sender<Arc<Snapshot>>) {
    let (services, service_writer) = reflector::store::<Service>();
    let (slices, slice_writer) = reflector::store::<EndpointSlice>();
    let changed = Arc::new(Notify::new());
    let services_synced = Arc::new(AtomicBool::new(false));
    let slices_synced = Arc::new(AtomicBool::new(false));
    let rebuild = async {
        let mut generation: u32 = 0;
        loop {
            changed.notified().await;
            generation = generation.wrapping_add(1);
            let mut next = build(&services, &slices, generation);
            next.synced =
                services_synced.load(Ordering::Acquire) && slices_synced.load(Ordering::Acquire);
            snapshot.send_replace(Arc::new(next));
        }
    };
    tokio::join!(
        reflect(
            client.clone(),
            service_writer,
            changed.clone(),
            services_synced.clone()
        ),
        reflect(client, slice_writer, changed.clone(), slices_synced.clone()),
        rebuild,
    );
}

fn build(services: &Store<Service>, slices: &Store<EndpointSlice>, generation: u32) -> Snapshot {
    let services = services.state();
    let slices = slices.state();
    let mut snapshot = Snapshot::build(
        services.iter().map(AsRef::as_ref),
        slices.iter().map(AsRef::as_ref),
    );
    snapshot.generation = generation;
    snapshot
}
