//! The NoExecute taint manager and pod garbage collection: a pod on a node with NoExecute
//! taints is deleted once its matching tolerations' `tolerationSeconds` have run out (at once
//! when one taint is not tolerated at all), and a pod bound to a node that no longer exists is
//! deleted. Triggered by pods, and by nodes whose taints change or that go away.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

use crate::pod_informer::PodInformer;

/// Why a pod reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{step} {name}: {source}")]
    Api {
        step: &'static str,
        name: String,
        source: kube::Error,
    },
}

struct Ctx {
    client: kube::Client,
    nodes: Store<Node>,
}

/// What the taints of a pod's node mean for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    Never,
    Now,
    After(Duration),
}

/// Does `t` tolerate `taint` (upstream's ToleratesTaint)?
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect_ok = t
        .effect
        .as_deref()
        .is_none_or(|e| e.is_empty() || e == taint.effect);
    let key = t.key.as_deref().unwrap_or_default();
    let key_ok = match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => key.is_empty() || key == taint.key,
        _ => {
            key == taint.key
                && t.value.as_deref().unwrap_or_default()
                    == taint.value.as_deref().unwrap_or_default()
        }
    };
    effect_ok && key_ok
}

/// When a pod with `tolerations` must leave a node with `taints`, at `now`.
pub fn eviction(taints: &[Taint], tolerations: &[Toleration], now: Timestamp) -> Eviction {
    let mut earliest: Option<i64> = None;
    for taint in taints.iter().filter(|t| t.effect == "NoExecute") {
        let matching: Vec<&Toleration> =
            tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Eviction::Now;
        }
        // A matching toleration without tolerationSeconds tolerates forever.
        if matching.iter().any(|t| t.toleration_seconds.is_none()) {
            continue;
        }
        let secs = matching
            .iter()
            .filter_map(|t| t.toleration_seconds)
            .min()
            .unwrap_or(0)
            .max(0);
        let added = taint
            .time_added
            .as_ref()
            .map(|t| t.0.as_second())
            .unwrap_or(now.as_second());
        let at = added + secs;
        earliest = Some(earliest.map_or(at, |e| e.min(at)));
    }
    match earliest {
        None => Eviction::Never,
        Some(at) if at <= now.as_second() => Eviction::Now,
        Some(at) => Eviction::After(Duration::from_secs((at - now.as_second()) as u64)),
    }
}

fn taint_hash(node: &Node) -> u64 {
    let mut h = DefaultHasher::new();
    for t in node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
    {
        (
            &t.key,
            &t.value,
            &t.effect,
            t.time_added.as_ref().map(|t| t.0.as_second()),
        )
            .hash(&mut h);
    }
    h.finish()
}

/// The taint manager's main loop.
pub async fn run(client: kube::Client, informer: PodInformer) {
    let (nodes, writer) = reflector::store();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let node_events = reflector::reflector(
        writer,
        watcher(Api::<Node>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff();
    // Only taint changes and deletions matter to the pods of a node.
    let node_triggers = node_events.filter_map(move |event| {
        let out = match event {
            Ok(watcher::Event::Apply(n) | watcher::Event::InitApply(n)) => {
                let h = taint_hash(&n);
                (seen.insert(n.name_any(), h) != Some(h)).then_some(Ok(n))
            }
            Ok(watcher::Event::Delete(n)) => {
                seen.remove(&n.name_any());
                Some(Ok(n))
            }
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        };
        futures::future::ready(out)
    });
    // The shared pod cache: every pod change triggers its own check.
    let pods = informer.store();
    let controller = Controller::for_shared_stream(informer.touched(), pods.clone());
    let ctx = Arc::new(Ctx { client, nodes });
    controller
        .watches_stream(node_triggers, move |node: Node| {
            let name = node.name_any();
            pods.state()
                .into_iter()
                .filter(|p| {
                    p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name.as_str())
                })
                .map(|p| ObjectRef::from_obj(&*p))
                .collect::<Vec<_>>()
        })
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy(pod: Arc<Pod>, error: &Error, _: Arc<Ctx>) -> Action {
    tracing::warn!(controller = "taint-eviction", pod = pod.name_any(), %error, "reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile(pod: Arc<Pod>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let Some(node_name) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
        return Ok(Action::await_change());
    };
    if pod.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    if gantry_informer::ready(&ctx.nodes).await.is_err() {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let name = pod.name_any();
    let ns = pod.namespace().unwrap_or_default();
    let api_err = |step| {
        let name = name.clone();
        move |source| Error::Api { step, name, source }
    };
    let node = match ctx.nodes.get(&ObjectRef::new(&node_name)) {
        Some(n) => n,
        // The cache may lag a new node: confirm with the server before collecting the pod.
        None => match Api::<Node>::all(ctx.client.clone())
            .get_opt(&node_name)
            .await
            .map_err(api_err("reading node of"))?
        {
            Some(n) => Arc::new(n),
            None => {
                tracing::info!(
                    controller = "pod-gc",
                    pod = name,
                    node = node_name,
                    "deleting pod bound to a missing node"
                );
                return delete(&ctx, &pod, Some(0))
                    .await
                    .map_err(api_err("collecting orphaned pod"));
            }
        },
    };
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    match eviction(&taints, &tolerations, Timestamp::now()) {
        Eviction::Never => Ok(Action::await_change()),
        Eviction::After(d) => Ok(Action::requeue(d + Duration::from_millis(200))),
        Eviction::Now => {
            tracing::info!(
                controller = "taint-eviction",
                pod = name,
                namespace = ns,
                node = node_name,
                "evicting pod from tainted node"
            );
            delete(&ctx, &pod, None).await.map_err(api_err("evicting"))
        }
    }
}

async fn delete(ctx: &Ctx, pod: &Pod, grace: Option<u32>) -> Result<Action, kube::Error> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &pod.namespace().unwrap_or_default());
    let dp = DeleteParams {
        grace_period_seconds: grace,
        preconditions: Some(Preconditions {
            uid: pod.uid(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&pod.name_any(), &dp).await {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(Action::await_change()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }
    fn taint(key: &str, effect: &str, at: i64) -> Taint {
        Taint {
            key: key.into(),
            effect: effect.into(),
            value: None,
            time_added: Some(Time(ts(at))),
        }
    }
    fn tol(key: &str, op: &str, effect: &str, secs: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.into()),
            operator: Some(op.into()),
            effect: Some(effect.into()),
            toleration_seconds: secs,
            value: None,
        }
    }

    #[test]
    fn eviction_table() {
        let unreachable = taint("node.kubernetes.io/unreachable", "NoExecute", 100);
        let no_sched = taint("node.kubernetes.io/unreachable", "NoSchedule", 100);
        let t300 = tol(
            "node.kubernetes.io/unreachable",
            "Exists",
            "NoExecute",
            Some(300),
        );
        let t5 = tol(
            "node.kubernetes.io/unreachable",
            "Exists",
            "NoExecute",
            Some(5),
        );
        let forever = tol("", "Exists", "", None);
        let cases = [
            (vec![], vec![], 100, Eviction::Never),
            (vec![no_sched.clone()], vec![], 100, Eviction::Never),
            (vec![unreachable.clone()], vec![], 100, Eviction::Now),
            (
                vec![unreachable.clone()],
                vec![t300.clone()],
                100,
                Eviction::After(Duration::from_secs(300)),
            ),
            (
                vec![unreachable.clone()],
                vec![t300.clone()],
                450,
                Eviction::Now,
            ),
            (
                vec![unreachable.clone()],
                vec![t300.clone(), t5.clone()],
                101,
                Eviction::After(Duration::from_secs(4)),
            ),
            (
                vec![unreachable.clone()],
                vec![forever.clone()],
                100_000,
                Eviction::Never,
            ),
            (
                vec![unreachable.clone(), taint("other", "NoExecute", 100)],
                vec![t300.clone()],
                100,
                Eviction::Now,
            ),
            (
                vec![unreachable.clone()],
                vec![tol(
                    "node.kubernetes.io/unreachable",
                    "Equal",
                    "NoExecute",
                    Some(1),
                )],
                100,
                Eviction::After(Duration::from_secs(1)),
            ),
        ];
        for (taints, tolerations, now, want) in cases {
            assert_eq!(
                eviction(&taints, &tolerations, ts(now)),
                want,
                "{taints:?} {tolerations:?} at {now}"
            );
        }
    }
}
