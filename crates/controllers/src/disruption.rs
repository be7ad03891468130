//! The disruption controller: keeps every PodDisruptionBudget's status (expectedPods,
//! currentHealthy, desiredHealthy, disruptionsAllowed, disruptedPods, the DisruptionAllowed
//! condition) up to date from the pods it selects, through the status subresource.
//!
//! The arithmetic is in [`crate::disruption_budget`]; this file gathers the snapshot (pods and
//! the scale of their controllers, from informer caches) and writes the result.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};

use crate::disruption_budget::{self, Scale};
use crate::pod_informer::PodInformer;
use crate::reconcile_error::{Error, retry_after};

struct Ctx {
    client: kube::Client,
    pods: Store<Pod>,
    replica_sets: Store<ReplicaSet>,
    deployments: Store<Deployment>,
    stateful_sets: Store<StatefulSet>,
    controllers: Store<ReplicationController>,
}

/// A store fed by a watch of every object of `K`, and the stream that drives it.
fn cache<K>(client: &kube::Client) -> (Store<K>, impl futures::Stream<Item = ()> + Send + 'static)
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
        watcher(Api::<K>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .map(|_| ());
    (store, stream)
}

/// The disruption controller's main loop.
pub async fn run(client: kube::Client, informer: PodInformer) {
    let controller = Controller::new(
        Api::<PodDisruptionBudget>::all(client.clone()),
        watcher::Config::default(),
    );
    let budgets = controller.store();
    let pods = informer.store();
    // Every budget of the pod's namespace: cheap, and covers pods leaving a selector.
    let triggers = informer.touched().flat_map(move |pod| {
        let ns = pod.namespace();
        let refs: Vec<ObjectRef<PodDisruptionBudget>> = budgets
            .state()
            .iter()
            .filter(|b| b.namespace() == ns)
            .map(|b| ObjectRef::from_obj(&**b))
            .collect();
        futures::stream::iter(refs)
    });
    let (replica_sets, rs_stream) = cache::<ReplicaSet>(&client);
    let (deployments, dep_stream) = cache::<Deployment>(&client);
    let (stateful_sets, ss_stream) = cache::<StatefulSet>(&client);
    let (controllers, rc_stream) = cache::<ReplicationController>(&client);
    let ctx = Arc::new(Ctx {
        client,
        pods,
        replica_sets,
        deployments,
        stateful_sets,
        controllers,
    });
    let caches = futures::stream::select_all([
        rs_stream.boxed(),
        dep_stream.boxed(),
        ss_stream.boxed(),
        rc_stream.boxed(),
    ])
    .for_each(|_| async {});
    let main = controller
        .reconcile_on(triggers)
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {});
    futures::future::join(main, caches).await;
}

fn error_policy(pdb: Arc<PodDisruptionBudget>, error: &Error, _: Arc<Ctx>) -> Action {
    retry_after("disruption", &pdb.name_any(), error)
}

/// The scale of a pod's controller, looked up in the caches (a ReplicaSet owned by a
/// Deployment counts as the Deployment). `None` when the controller is unknown.
fn scale_of(ctx: &Ctx, owner: &OwnerReference, ns: &str) -> Option<Scale> {
    let replicas = |r: Option<i32>| r.unwrap_or(1);
    let same = |uid: Option<String>| uid.filter(|u| *u == owner.uid);
    match owner.kind.as_str() {
        "ReplicaSet" => {
            let rs = ctx
                .replica_sets
                .get(&ObjectRef::new(&owner.name).within(ns))?;
            let rs_uid = same(rs.uid())?;
            let deployment = rs
                .owner_references()
                .iter()
                .find(|o| o.controller == Some(true) && o.kind == "Deployment");
            if let Some(dep) = deployment {
                let d = ctx.deployments.get(&ObjectRef::new(&dep.name).within(ns))?;
                let r = replicas(d.spec.as_ref().and_then(|s| s.replicas));
                return Some(Scale::new(d.uid()?, r));
            }
            let r = replicas(rs.spec.as_ref().and_then(|s| s.replicas));
            Some(Scale::new(rs_uid, r))
        }
        "StatefulSet" => {
            let s = ctx
                .stateful_sets
                .get(&ObjectRef::new(&owner.name).within(ns))?;
            let r = replicas(s.spec.as_ref().and_then(|s| s.replicas));
            Some(Scale::new(same(s.uid())?, r))
        }
        "ReplicationController" => {
            let c = ctx
                .controllers
                .get(&ObjectRef::new(&owner.name).within(ns))?;
            let r = replicas(c.spec.as_ref().and_then(|s| s.replicas));
            Some(Scale::new(same(c.uid())?, r))
        }
        _ => None,
    }
}

async fn reconcile(pdb: Arc<PodDisruptionBudget>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    for ready in [
        gantry_informer::ready(&ctx.pods).await,
        gantry_informer::ready(&ctx.replica_sets).await,
        gantry_informer::ready(&ctx.deployments).await,
        gantry_informer::ready(&ctx.stateful_sets).await,
        gantry_informer::ready(&ctx.controllers).await,
    ] {
        if ready.is_err() {
            return Ok(Action::requeue(Duration::from_secs(1)));
        }
    }
    let name = pdb.name_any();
    let ns = pdb.namespace().ok_or(Error::Missing {
        kind: "PodDisruptionBudget",
        field: "metadata.namespace",
    })?;
    let all = ctx.pods.state();
    let pods: Vec<&Pod> = all
        .iter()
        .map(|p| &**p)
        .filter(|p| p.namespace().as_deref() == Some(ns.as_str()))
        .filter(|p| disruption_budget::selects(&pdb, p))
        .collect();
    let now = Timestamp::now();
    let computed = disruption_budget::compute(&pdb, &pods, |o| scale_of(&ctx, o, &ns), now);
    if let Some(status) = computed.status {
        let mut next = (*pdb).clone();
        next.status = Some(status);
        let api: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), &ns);
        match api
            .replace_status(&name, &PostParams::default(), &next)
            .await
        {
            Ok(_) => {}
            // A newer version (an eviction took a disruption): its change brings us back.
            Err(e) if crate::reconcile_error::is_status(&e, 409) => {
                return Ok(Action::requeue(Duration::from_millis(200)));
            }
            Err(e) if crate::reconcile_error::is_status(&e, 404) => {}
            Err(e) => {
                return Err(Error::api(
                    "updating status of",
                    "PodDisruptionBudget",
                    &name,
                )(e));
            }
        }
    }
    Ok(match computed.recheck_after {
        Some(secs) => Action::requeue(Duration::from_secs(secs.max(1))),
        None => Action::await_change(),
    })
}
