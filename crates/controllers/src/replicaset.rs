//! The ReplicaSet and ReplicationController controller (one logic, two kinds): keeps the number
//! of active pods at `spec.replicas`, adopts matching orphans and releases pods that stop
//! matching, creates pods in slow-start batches and deletes the least valuable first, and writes
//! replicas/fullyLabeled/ready/available/observedGeneration through `/status`.

use crate::events::{Kind, Recorder};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use crate::ControllerFuture;
use crate::expectations::{Expectations, Pending};
use crate::ownership::{self, Claim};
use crate::pod_informer::PodInformer;
use crate::pod_state::{self, PodName};
use crate::reconcile_error::{Error, is_status, retry_after};
use crate::replica_sync::{self, Change};

/// What the sync needs from a ReplicaSet or a ReplicationController.
pub struct ReplicaSpec {
    pub replicas: i32,
    pub selector: LabelSelector,
    pub template: Option<PodTemplateSpec>,
    pub min_ready_seconds: i32,
}

/// A kind this controller manages.
pub trait ReplicaOwner:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + serde::de::DeserializeOwned
    + serde::Serialize
    + Send
    + Sync
    + 'static
{
    /// The controller's name as the source of its Events.
    const COMPONENT: &'static str;
    fn replica_spec(&self) -> ReplicaSpec;
    fn status_value(&self) -> serde_json::Value;
}

impl ReplicaOwner for ReplicaSet {
    const COMPONENT: &'static str = "replicaset-controller";
    fn replica_spec(&self) -> ReplicaSpec {
        let spec = self.spec.clone().unwrap_or_default();
        ReplicaSpec {
            replicas: spec.replicas.unwrap_or(1),
            selector: spec.selector,
            template: spec.template,
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
        }
    }
    fn status_value(&self) -> serde_json::Value {
        serde_json::to_value(&self.status).unwrap_or_default()
    }
}

impl ReplicaOwner for ReplicationController {
    const COMPONENT: &'static str = "replication-controller";
    fn replica_spec(&self) -> ReplicaSpec {
        let spec = self.spec.clone().unwrap_or_default();
        let template = spec.template;
        let labels = spec.selector.or_else(|| {
            template
                .as_ref()
                .and_then(|t| t.metadata.as_ref()?.labels.clone())
        });
        ReplicaSpec {
            replicas: spec.replicas.unwrap_or(1),
            selector: LabelSelector {
                match_labels: labels,
                match_expressions: None,
            },
            template,
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
        }
    }
    fn status_value(&self) -> serde_json::Value {
        serde_json::to_value(&self.status).unwrap_or_default()
    }
}

struct Ctx<K: ReplicaOwner> {
    client: Client,
    pods: Store<Pod>,
    informer: PodInformer,
    owners: Store<K>,
    expectations: Expectations,
    /// Pod creations in flight across every owner of this kind.
    creating: Arc<Semaphore>,
    events: Recorder,
}

/// Most pod creations in flight at once for the whole controller. Ten owners each sending a
/// slow-start batch of 256 flooded the API server with creations, so pods were created
/// far faster than they could be bound and queued (create-to-Running grew to seconds); upstream
/// bounds this with the controller manager's client rate limit.
const CREATES_IN_FLIGHT: usize = 32;

/// The controller for kind `K` (ReplicaSet or ReplicationController).
pub fn controller<K: ReplicaOwner>(client: Client, informer: &PodInformer) -> ControllerFuture {
    let pods = informer.store();
    let pod_events = informer.touched();
    let ctl = Controller::new(Api::<K>::all(client.clone()), watcher::Config::default());
    let owners = ctl.store();
    let mapper_owners = owners.clone();
    let events = Recorder::new(client.clone(), K::COMPONENT);
    let ctx = Arc::new(Ctx {
        client,
        pods,
        informer: informer.clone(),
        owners,
        expectations: Expectations::default(),
        creating: Arc::new(Semaphore::new(CREATES_IN_FLIGHT)),
        events,
    });
    ctl.reconcile_on(
        pod_events.flat_map(move |pod| futures::stream::iter(owners_of(&mapper_owners, &pod))),
    )
    .run(
        reconcile::<K>,
        |obj, err, _| retry_after(&K::kind(&()), &obj.name_any(), err),
        ctx,
    )
    .for_each(|_| async {})
    .boxed()
}

/// The owners to wake for a pod event: its controller if of kind `K`, else (an orphan) every
/// owner in its namespace whose selector matches.
fn owners_of<K: ReplicaOwner>(owners: &Store<K>, pod: &Pod) -> Vec<ObjectRef<K>> {
    let ns = pod.namespace().unwrap_or_default();
    if let Some(r) = ownership::controller_of(&pod.metadata) {
        if r.kind == K::kind(&()) {
            return vec![ObjectRef::new(&r.name).within(&ns)];
        }
        return Vec::new();
    }
    let labels = pod_state::labels(&pod.metadata);
    owners
        .state()
        .iter()
        .filter(|o| o.namespace().as_deref() == Some(ns.as_str()))
        .filter(|o| ownership::selects(&o.replica_spec().selector, &labels))
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

async fn reconcile<K: ReplicaOwner>(obj: Arc<K>, ctx: Arc<Ctx<K>>) -> Result<Action, Error> {
    let _ = gantry_informer::ready(&ctx.pods).await;
    let kind = K::kind(&()).into_owned();
    let name = obj.meta().name.clone().ok_or(Error::Missing {
        kind: "owner",
        field: "name",
    })?;
    let ns = obj.namespace().ok_or(Error::Missing {
        kind: "owner",
        field: "namespace",
    })?;
    let uid = obj.meta().uid.clone().ok_or(Error::Missing {
        kind: "owner",
        field: "uid",
    })?;
    let key = format!("{ns}/{name}");
    if ctx.owners.get(&ObjectRef::new(&name).within(&ns)).is_none() {
        ctx.expectations.forget(&key);
        return Ok(Action::await_change());
    }
    let spec = obj.replica_spec();
    let deleting = obj.meta().deletion_timestamp.is_some();
    let owner_ref = ownership::controller_ref(obj.as_ref()).ok_or(Error::Missing {
        kind: "owner",
        field: "uid",
    })?;
    // Expectations are checked against the cache before the snapshot of this owner's pods is
    // taken: the cache only moves forward, so every creation seen here is in the snapshot.
    // (Checked after it, a creation the informer stored in between on another thread was
    // counted as done but missing from the snapshot: the ReplicaSet made one pod too many.)
    let live: OnceLock<HashSet<String>> = OnceLock::new();
    let synced = ctx.expectations.satisfied(
        &key,
        |n| ctx.pods.get(&ObjectRef::new(n).within(&ns)).is_some(),
        |u| {
            !live
                .get_or_init(|| {
                    ctx.informer
                        .claimable(&uid, &ns)
                        .iter()
                        .filter(|p| p.metadata.deletion_timestamp.is_none())
                        .filter_map(|p| p.metadata.uid.clone())
                        .collect()
                })
                .contains(u)
        },
    );
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    // Only this owner's pods and the namespace's orphans (the informer's owner index): pods of
    // other owners are never claimable; expectations look pods up only when writes are pending.
    let claimable: Vec<Arc<Pod>> = ctx
        .informer
        .claimable(&uid, &ns)
        .into_iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()))
        .collect();
    let selector = ownership::compile(&spec.selector);

    let mut owned: Vec<Arc<Pod>> = Vec::new();
    for pod in &claimable {
        let claim = ownership::claim_compiled(&pod.metadata, &uid, selector.as_ref(), deleting);
        if claim == Claim::Ignore {
            continue;
        }
        let pod_uid = pod.uid().unwrap_or_default();
        let pod_name = pod.name_any();
        match claim {
            Claim::Owned => owned.push(pod.clone()),
            Claim::Adopt => {
                let patch = ownership::adopt_patch(&owner_ref, &pod_uid);
                match pods_api
                    .patch(&pod_name, &PatchParams::default(), &Patch::Strategic(patch))
                    .await
                {
                    Ok(p) => owned.push(Arc::new(p)),
                    Err(e) if is_status(&e, 404) || is_status(&e, 409) => {}
                    Err(e) => return Err(Error::api("adopting", "pod", &pod_name)(e)),
                }
            }
            Claim::Release => {
                let patch = ownership::release_patch(&uid, &pod_uid);
                match pods_api
                    .patch(&pod_name, &PatchParams::default(), &Patch::Strategic(patch))
                    .await
                {
                    Ok(_) => {}
                    Err(e) if is_status(&e, 404) || is_status(&e, 409) => {}
                    Err(e) => return Err(Error::api("releasing", "pod", &pod_name)(e)),
                }
            }
            Claim::Ignore => {}
        }
    }
    let active: Vec<&Pod> = owned
        .iter()
        .map(|p| p.as_ref())
        .filter(|p| pod_state::is_active(p))
        .collect();
    let now = Timestamp::now();

    let mut sync_error = None;
    if synced
        && !deleting
        && let Some(template) = &spec.template
    {
        let change = replica_sync::change(spec.replicas, &active, now);
        let result = apply(
            (&pods_api, &ctx.creating),
            template,
            &ns,
            &name,
            &owner_ref,
            change,
            &active,
        )
        .await;
        record(&ctx.events, obj.as_ref(), &result, &active);
        ctx.expectations.expect(&key, result.0);
        sync_error = result.1;
    }

    let template_labels = spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref()?.labels.clone())
        .unwrap_or_default();
    let c = replica_sync::counts(&active, &template_labels, spec.min_ready_seconds, now);
    let status = json!({
        "replicas": c.replicas,
        "fullyLabeledReplicas": c.fully_labeled,
        "readyReplicas": c.ready,
        "availableReplicas": c.available,
        "observedGeneration": obj.meta().generation,
    });
    if !same_status(&obj.status_value(), &status) {
        let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
        let patch = Patch::Merge(json!({ "status": status }));
        match api
            .patch_status(&name, &PatchParams::default(), &patch)
            .await
        {
            Ok(_) => {}
            Err(e) if is_status(&e, 404) => {}
            Err(e) => return Err(Error::api("writing status of", "replicaset", &name)(e)),
        }
    }
    if let Some(e) = sync_error {
        return Err(e);
    }
    tracing::debug!(%kind, %key, replicas = c.replicas, "synced");
    let wait = active
        .iter()
        .filter_map(|p| pod_state::seconds_to_available(p, spec.min_ready_seconds, now))
        .min();
    Ok(match wait {
        Some(s) => Action::requeue(Duration::from_secs(s + 1)),
        None => Action::await_change(),
    })
}

/// Records what a sync did (upstream's words): each pod created or deleted, a failed creation.
fn record<K: ReplicaOwner>(
    events: &Recorder,
    owner: &K,
    (pending, error): &(Pending, Option<Error>),
    active: &[&Pod],
) {
    for name in &pending.created {
        events.record(
            owner,
            Kind::Normal,
            "SuccessfulCreate",
            format!("Created pod: {name}"),
        );
    }
    for uid in &pending.deleted {
        if let Some(pod) = active.iter().find(|p| p.metadata.uid.as_ref() == Some(uid)) {
            let name = pod.name_any();
            events.record(
                owner,
                Kind::Normal,
                "SuccessfulDelete",
                format!("Deleted pod: {name}"),
            );
        }
    }
    if let Some(e) = error {
        events.record(
            owner,
            Kind::Warning,
            "FailedCreate",
            format!("Error creating: {e}"),
        );
    }
}

/// Performs `change`, returning the writes made (for expectations) and the first error.
async fn apply(
    (pods, creating): (&Api<Pod>, &Semaphore),
    template: &PodTemplateSpec,
    ns: &str,
    owner: &str,
    owner_ref: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
    change: Change,
    active: &[&Pod],
) -> (Pending, Option<Error>) {
    let mut pending = Pending::default();
    match change {
        Change::None => {}
        Change::Create(n) => {
            let pod = pod_state::pod_from_template(
                template,
                ns,
                owner_ref.clone(),
                PodName::Generate(owner.to_string()),
                &BTreeMap::new(),
            );
            let params = PostParams::default();
            for batch in replica_sync::slow_start_batches(n) {
                let results = futures::future::join_all((0..batch).map(|_| async {
                    let _permit = creating.acquire().await;
                    pods.create(&params, &pod).await
                }))
                .await;
                let mut failed = None;
                for r in results {
                    match r {
                        Ok(p) => pending.created.push(p.name_any()),
                        Err(e) => {
                            failed = Some(Error::api("creating pod for", "replicaset", owner)(e))
                        }
                    }
                }
                if failed.is_some() {
                    return (pending, failed);
                }
            }
        }
        Change::Delete(victims) => {
            let deletes = victims
                .iter()
                .filter_map(|&i| active.get(i))
                .map(|p| async move {
                    (
                        p.uid().unwrap_or_default(),
                        pods.delete(&p.name_any(), &DeleteParams::default()).await,
                    )
                });
            for (uid, r) in futures::future::join_all(deletes).await {
                match r {
                    Ok(_) => pending.deleted.push(uid),
                    Err(e) if is_status(&e, 404) => {}
                    Err(e) => {
                        return (
                            pending,
                            Some(Error::api("deleting pod of", "replicaset", owner)(e)),
                        );
                    }
                }
            }
        }
    }
    (pending, None)
}

/// Whether the current status already has every field of `want`.
fn same_status(current: &serde_json::Value, want: &serde_json::Value) -> bool {
    let Some(fields) = want.as_object() else {
        return false;
    };
    fields.iter().all(|(k, v)| {
        let cur = current.get(k).cloned().unwrap_or(serde_json::Value::Null);
        cur == *v || (cur.is_null() && v == &json!(0))
    })
}
