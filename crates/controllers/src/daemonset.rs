//! The DaemonSet controller: one pod per eligible node (pinned by node affinity, the scheduler
//! binds it), replaced when it fails, removed from nodes that stop being eligible, rolled with
//! maxUnavailable on template changes (pods labelled `controller-revision-hash`), and the status
//! `kubectl rollout status daemonset` reads.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use crate::ControllerFuture;
use crate::daemon_placement::{self, DaemonPod};
use crate::deployment::revision::template_hash;
use crate::expectations::{Expectations, Pending};
use crate::ownership;
use crate::pod_informer::PodInformer;
use crate::pod_state::{self, PodName};
use crate::reconcile_error::{Error, is_status, retry_after};

/// The label carrying the template hash of a daemon pod.
const HASH_LABEL: &str = "controller-revision-hash";

struct Ctx {
    client: Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    expectations: Expectations,
}

/// The DaemonSet controller.
pub fn controller(client: Client, informer: &PodInformer) -> ControllerFuture {
    let pods = informer.store();
    let pod_events = informer.touched_owners::<DaemonSet>("DaemonSet");
    let (nodes, node_writer) = reflector::store();
    let node_events = reflector::reflector(
        node_writer,
        watcher(Api::<Node>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects();
    let ctl = Controller::new(
        Api::<DaemonSet>::all(client.clone()),
        watcher::Config::default(),
    );
    let sets = ctl.store();
    let ctx = Arc::new(Ctx {
        client,
        pods,
        nodes,
        expectations: Expectations::default(),
    });
    ctl.reconcile_on(pod_events)
        .watches_stream(node_events, move |_node: Node| {
            sets.state()
                .iter()
                .map(|d| ObjectRef::from_obj(d.as_ref()))
                .collect::<Vec<_>>()
        })
        .run(
            reconcile,
            |d, e, _| retry_after("daemonset", &d.name_any(), e),
            ctx,
        )
        .for_each(|_| async {})
        .boxed()
}

async fn reconcile(ds: Arc<DaemonSet>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let _ = gantry_informer::ready(&ctx.pods).await;
    let _ = gantry_informer::ready(&ctx.nodes).await;
    let name = ds.metadata.name.clone().ok_or(Error::Missing {
        kind: "daemonset",
        field: "name",
    })?;
    let ns = ds.namespace().ok_or(Error::Missing {
        kind: "daemonset",
        field: "namespace",
    })?;
    let uid = ds.metadata.uid.clone().ok_or(Error::Missing {
        kind: "daemonset",
        field: "uid",
    })?;
    let key = format!("{ns}/{name}");
    let spec = ds.spec.clone().unwrap_or_default();
    let template = spec.template.clone();
    let pod_spec = template.spec.clone().unwrap_or_default();
    let hash = template_hash(
        &template,
        ds.status.as_ref().and_then(|s| s.collision_count),
    );
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let now = Timestamp::now();
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);

    let owned: Vec<Arc<Pod>> = ctx
        .pods
        .state()
        .into_iter()
        .filter(|p| {
            p.namespace().as_deref() == Some(&ns) && p.metadata.deletion_timestamp.is_none()
        })
        .filter(|p| ownership::controller_of(&p.metadata).is_some_and(|r| r.uid == uid))
        .collect();
    let mut per_node: BTreeMap<String, (bool, Vec<DaemonPod>)> = BTreeMap::new();
    for node in ctx.nodes.state() {
        let should = node.metadata.deletion_timestamp.is_none()
            && daemon_placement::eligible(&pod_spec, &node);
        per_node.insert(node.name_any(), (should, Vec::new()));
    }
    let mut orphaned: Vec<String> = Vec::new();
    let mut sorted = owned.clone();
    sorted.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
    for p in &sorted {
        let dp = DaemonPod {
            name: p.name_any(),
            current: p.labels().get(HASH_LABEL) == Some(&hash),
            available: pod_state::is_available(p, min_ready, now),
            failed: pod_state::phase(p) == "Failed",
        };
        match daemon_placement::pod_node(p).and_then(|n| per_node.get_mut(&n)) {
            Some((_, pods)) => pods.push(dp),
            None => orphaned.push(dp.name),
        }
    }
    let rolling = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        != Some("OnDelete");
    let desired = per_node.values().filter(|(s, _)| *s).count() as i32;
    let max_unavailable = if rolling {
        let mu = spec
            .update_strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
            .and_then(|r| r.max_unavailable.clone());
        crate::deployment::revision::scaled(mu.as_ref(), desired, false, "1").max(1)
    } else {
        0
    };

    let names: HashSet<String> = ctx.pods.state().iter().map(|p| p.name_any()).collect();
    if ctx
        .expectations
        .satisfied(&key, |n| names.contains(n), |_| true)
    {
        let mut plan = daemon_placement::plan(&per_node, max_unavailable);
        plan.delete.extend(orphaned);
        let owner = ownership::controller_ref(ds.as_ref()).ok_or(Error::Missing {
            kind: "daemonset",
            field: "uid",
        })?;
        let labels: BTreeMap<String, String> = [(HASH_LABEL.to_string(), hash.clone())].into();
        let mut pending = Pending::default();
        let mut failure = None;
        let params = PostParams::default();
        let creates = plan.create.iter().map(|node| {
            let mut pod = pod_state::pod_from_template(
                &template,
                &ns,
                owner.clone(),
                PodName::Generate(name.clone()),
                &labels,
            );
            pod.spec = Some(daemon_placement::pin_to_node(&pod_spec, node));
            let api = pods_api.clone();
            let params = params.clone();
            async move { api.create(&params, &pod).await }
        });
        for r in futures::future::join_all(creates).await {
            match r {
                Ok(p) => pending.created.push(p.name_any()),
                Err(e) => failure = Some(Error::api("creating pod for", "daemonset", &name)(e)),
            }
        }
        for victim in &plan.delete {
            match pods_api.delete(victim, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if is_status(&e, 404) => {}
                Err(e) => failure = Some(Error::api("deleting pod of", "daemonset", &name)(e)),
            }
        }
        ctx.expectations.expect(&key, pending);
        if let Some(e) = failure {
            return Err(e);
        }
    }

    let scheduled = |f: &dyn Fn(&DaemonPod) -> bool| {
        per_node
            .values()
            .filter(|(s, pods)| *s && pods.iter().any(|d| !d.failed && f(d)))
            .count() as i32
    };
    let current = scheduled(&|_| true);
    let available = scheduled(&|d| d.available);
    let misscheduled = per_node
        .values()
        .filter(|(s, pods)| !*s && !pods.is_empty())
        .count() as i32;
    let ready_names: HashSet<String> = owned
        .iter()
        .filter(|p| pod_state::is_ready(p))
        .map(|p| p.name_any())
        .collect();
    let status = json!({
        "desiredNumberScheduled": desired,
        "currentNumberScheduled": current,
        "numberMisscheduled": misscheduled,
        "numberReady": scheduled(&|d| ready_names.contains(&d.name)),
        "numberAvailable": available,
        "numberUnavailable": desired - available,
        "updatedNumberScheduled": scheduled(&|d| d.current),
        "observedGeneration": ds.metadata.generation,
    });
    let old = serde_json::to_value(ds.status.clone().unwrap_or_default()).unwrap_or_default();
    let same = status
        .as_object()
        .is_some_and(|m| m.iter().all(|(k, v)| old.get(k).unwrap_or(&json!(0)) == v));
    if !same {
        let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &ns);
        match api
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await
        {
            Ok(_) => {}
            Err(e) if is_status(&e, 404) => {}
            Err(e) => return Err(Error::api("writing status of", "daemonset", &name)(e)),
        }
    }
    let wait = owned
        .iter()
        .filter_map(|p| pod_state::seconds_to_available(p, min_ready, now))
        .min();
    Ok(wait
        .map(|s| Action::requeue(std::time::Duration::from_secs(s + 1)))
        .unwrap_or_else(Action::await_change))
}
