//! The ResourceQuota controller: `status.hard` (the spec's limits) and `status.used` (object
//! counts and the compute resources of non-terminal pods) for every quota, recomputed when an
//! object it counts changes in its namespace, written through the status subresource.
//!
//! Pods are cached whole (their resources are summed); services, config maps, secrets, claims
//! and replication controllers only as metadata. Other `count/<resource>.<group>` names are
//! counted by a metadata list and re-checked every [`GENERIC_RECHECK`].
//! Enforcement at create time (admission) is not done here.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Pod, ReplicationController, ResourceQuota,
    ResourceQuotaStatus, Secret, Service,
};
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};

use crate::pod_informer::PodInformer;
use crate::quota_usage::{self, Counts};
use crate::reconcile_error::{Error, is_status, retry_after};

/// How often quotas with `count/` names of resources that are not watched are recounted.
pub const GENERIC_RECHECK: Duration = Duration::from_secs(30);

struct Ctx {
    client: kube::Client,
    quotas: Store<ResourceQuota>,
    pods: Store<Pod>,
    services: Store<PartialObjectMeta<Service>>,
    config_maps: Store<PartialObjectMeta<ConfigMap>>,
    secrets: Store<PartialObjectMeta<Secret>>,
    claims: Store<PartialObjectMeta<PersistentVolumeClaim>>,
    controllers: Store<PartialObjectMeta<ReplicationController>>,
}

/// For a touched object's namespace, every quota in it.
fn quotas_in(
    quotas: &Store<ResourceQuota>,
    ns: Option<String>,
) -> impl Stream<Item = ObjectRef<ResourceQuota>> + use<> {
    let refs: Vec<_> = quotas
        .state()
        .iter()
        .filter(|q| q.namespace() == ns)
        .map(|q| ObjectRef::from_obj(&**q))
        .collect();
    futures::stream::iter(refs)
}

/// A metadata cache of `K` and the quotas to recompute when one of them changes.
fn meta_cache<K>(
    client: &kube::Client,
    quotas: Store<ResourceQuota>,
) -> (
    Store<PartialObjectMeta<K>>,
    impl Stream<Item = ObjectRef<ResourceQuota>> + Send + use<K>,
)
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher(
            Api::<PartialObjectMeta<K>>::all(client.clone()),
            watcher::Config::default(),
        ),
    )
    .default_backoff()
    .touched_objects()
    .filter_map(|o| futures::future::ready(o.ok()))
    .flat_map(move |o| quotas_in(&quotas, o.namespace()));
    (store, stream)
}

/// The ResourceQuota controller's main loop.
pub async fn run(client: kube::Client, informer: PodInformer) {
    let controller = Controller::new(
        Api::<ResourceQuota>::all(client.clone()),
        watcher::Config::default(),
    );
    let quotas = controller.store();
    let pods = informer.store();
    let pod_quotas = quotas.clone();
    let pod_triggers = informer
        .touched()
        .flat_map(move |p| quotas_in(&pod_quotas, p.namespace()));
    let (services, s) = meta_cache::<Service>(&client, quotas.clone());
    let (config_maps, c) = meta_cache::<ConfigMap>(&client, quotas.clone());
    let (secrets, x) = meta_cache::<Secret>(&client, quotas.clone());
    let (claims, v) = meta_cache::<PersistentVolumeClaim>(&client, quotas.clone());
    let (controllers, r) = meta_cache::<ReplicationController>(&client, quotas.clone());
    let triggers = futures::stream::select_all([
        pod_triggers.boxed(),
        s.boxed(),
        c.boxed(),
        x.boxed(),
        v.boxed(),
        r.boxed(),
    ]);
    let ctx = Arc::new(Ctx {
        client,
        quotas,
        pods,
        services,
        config_maps,
        secrets,
        claims,
        controllers,
    });
    controller
        .reconcile_on(triggers)
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy(quota: Arc<ResourceQuota>, error: &Error, _: Arc<Ctx>) -> Action {
    retry_after("resourcequota", &quota.name_any(), error)
}

fn count_in<K>(store: &Store<PartialObjectMeta<K>>, ns: &str) -> i64
where
    K: Resource<DynamicType = ()> + Clone,
{
    store
        .state()
        .iter()
        .filter(|o| o.meta().namespace.as_deref() == Some(ns))
        .count() as i64
}

/// Counts `plural.group` objects in `ns` with a metadata list (found through discovery).
async fn count_generic(client: &kube::Client, ns: &str, plural: &str, group: &str) -> Option<i64> {
    let discovered = kube::discovery::group(client, group).await.ok()?;
    let (resource, caps) = discovered
        .recommended_resources()
        .into_iter()
        .find(|(r, _)| r.plural == plural)?;
    if caps.scope != kube::discovery::Scope::Namespaced {
        return None;
    }
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
    let list = api.list_metadata(&ListParams::default()).await.ok()?;
    Some(list.items.len() as i64)
}

async fn reconcile(quota: Arc<ResourceQuota>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let ready = [
        gantry_informer::ready(&ctx.pods).await.is_ok(),
        gantry_informer::ready(&ctx.services).await.is_ok(),
        gantry_informer::ready(&ctx.config_maps).await.is_ok(),
        gantry_informer::ready(&ctx.secrets).await.is_ok(),
        gantry_informer::ready(&ctx.claims).await.is_ok(),
        gantry_informer::ready(&ctx.controllers).await.is_ok(),
    ];
    if ready.contains(&false) {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let name = quota.name_any();
    let ns = quota.namespace().ok_or(Error::Missing {
        kind: "ResourceQuota",
        field: "metadata.namespace",
    })?;
    let spec_hard = quota
        .spec
        .as_ref()
        .and_then(|s| s.hard.clone())
        .unwrap_or_default();
    let all_pods = ctx.pods.state();
    let pods: Vec<&Pod> = all_pods
        .iter()
        .map(|p| &**p)
        .filter(|p| p.namespace().as_deref() == Some(ns.as_str()))
        .collect();
    let active_pods = pods
        .iter()
        .filter(|p| quota_usage::counts_against_quota(p))
        .count() as i64;
    let quotas_here = Api::<ResourceQuota>::namespaced(ctx.client.clone(), &ns);
    let quota_count = ctx
        .quotas
        .state()
        .iter()
        .filter(|q| q.namespace().as_deref() == Some(ns.as_str()))
        .count() as i64;
    let builtin = [
        active_pods,
        count_in(&ctx.services, &ns),
        count_in(&ctx.config_maps, &ns),
        count_in(&ctx.secrets, &ns),
        count_in(&ctx.claims, &ns),
        count_in(&ctx.controllers, &ns),
        quota_count,
    ];
    let mut counts = Counts::new();
    for ((short, long), n) in quota_usage::COUNTED.iter().zip(builtin) {
        counts.insert(short.to_string(), n);
        counts.insert(long.to_string(), n);
    }
    let generic = quota_usage::generic_counts(&spec_hard);
    for (key, plural, group) in &generic {
        if let Some(n) = count_generic(&ctx.client, &ns, plural, group).await {
            counts.insert(key.clone(), n);
        }
    }
    let status = ResourceQuotaStatus {
        hard: Some(quota_usage::hard(&spec_hard)),
        used: Some(quota_usage::used(&spec_hard, pods, &counts)),
    };
    if quota.status.as_ref() != Some(&status) {
        let mut next = (*quota).clone();
        next.status = Some(status);
        match quotas_here
            .replace_status(&name, &PostParams::default(), &next)
            .await
        {
            Ok(_) => {}
            Err(e) if is_status(&e, 409) => return Ok(Action::requeue(Duration::from_millis(200))),
            Err(e) if is_status(&e, 404) => {}
            Err(e) => return Err(Error::api("updating status of", "ResourceQuota", &name)(e)),
        }
    }
    Ok(if generic.is_empty() {
        Action::await_change()
    } else {
        Action::requeue(GENERIC_RECHECK)
    })
}
