//! Node lifecycle: a node whose Lease in `kube-node-lease` has not been renewed within the grace
//! period becomes Ready=Unknown ("Kubelet stopped posting node status.") and gets the
//! `node.kubernetes.io/unreachable` NoSchedule and NoExecute taints; a node reporting Ready=False
//! gets the `not-ready` ones; the taints go when the node is healthy again. Evicting the pods
//! of tainted nodes is `taint_eviction`'s job.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;

/// The namespace holding the nodes' heartbeat Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
const CONDITIONS: &[&str] = &["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// The node lifecycle controller's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long a Lease may go unrenewed before the node is Unknown (upstream's
    /// node-monitor-grace-period, 40 s).
    pub grace: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            grace: Duration::from_secs(40),
        }
    }
}

/// Why a node reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{step} node {name}: {source}")]
    Api {
        step: &'static str,
        name: String,
        source: kube::Error,
    },
}

struct Ctx {
    client: kube::Client,
    leases: Store<Lease>,
    config: Config,
}

/// The node lifecycle controller's main loop.
pub async fn run(client: kube::Client, config: Config) {
    let (leases, writer) = reflector::store();
    let lease_api: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let lease_stream = reflector::reflector(writer, watcher(lease_api, watcher::Config::default()))
        .default_backoff()
        .touched_objects();
    let nodes: Api<Node> = Api::all(client.clone());
    let ctx = Arc::new(Ctx {
        client,
        leases,
        config,
    });
    Controller::new(nodes, watcher::Config::default())
        .watches_stream(lease_stream, |lease: Lease| {
            Some(ObjectRef::<Node>::new(&lease.name_any()))
        })
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy(node: Arc<Node>, error: &Error, _: Arc<Ctx>) -> Action {
    tracing::warn!(controller = "node-lifecycle", node = node.name_any(), %error, "reconcile failed");
    Action::requeue(Duration::from_secs(2))
}

fn seconds(t: Timestamp) -> i64 {
    t.as_second()
}

/// When the node last showed life: the latest of its Lease renewal, its Ready heartbeat and
/// its creation (a node that never reported gets one grace period).
pub fn last_heartbeat(lease: Option<&Lease>, node: &Node) -> Option<Timestamp> {
    let renew = lease.and_then(|l| l.spec.as_ref()?.renew_time.as_ref().map(|t| t.0));
    let ready = ready_condition(node).and_then(|c| c.last_heartbeat_time.as_ref().map(|t| t.0));
    let created = node.metadata.creation_timestamp.as_ref().map(|t| t.0);
    [renew, ready, created].into_iter().flatten().max()
}

/// Has the node gone quiet for longer than `grace`? Returns the verdict and, when not, how long
/// until it would be.
pub fn lease_expired(last: Option<Timestamp>, now: Timestamp, grace: Duration) -> (bool, Duration) {
    let Some(last) = last else {
        return (true, Duration::ZERO);
    };
    let quiet = (seconds(now) - seconds(last)).max(0) as u64;
    let grace_s = grace.as_secs();
    if quiet > grace_s {
        (true, Duration::ZERO)
    } else {
        (false, Duration::from_secs(grace_s - quiet + 1))
    }
}

fn ready_condition(node: &Node) -> Option<&NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

/// The taints this controller manages, given whether the node is unreachable and its Ready
/// status: unreachable (NoSchedule + NoExecute), not-ready when Ready=False, none otherwise.
pub fn desired_taint_key(unreachable: bool, ready_status: Option<&str>) -> Option<&'static str> {
    match (unreachable, ready_status) {
        (true, _) => Some(UNREACHABLE),
        (false, Some("False")) => Some(NOT_READY),
        _ => None,
    }
}

/// The node's taints with the managed ones replaced by those for `key` (keeping their
/// timeAdded when already present); `None` when nothing changes.
pub fn reconcile_taints(
    current: &[Taint],
    key: Option<&str>,
    now: Timestamp,
) -> Option<Vec<Taint>> {
    let managed = |t: &Taint| {
        (t.key == UNREACHABLE || t.key == NOT_READY)
            && (t.effect == "NoSchedule" || t.effect == "NoExecute")
    };
    let mut next: Vec<Taint> = current
        .iter()
        .filter(|t| !managed(t) || Some(t.key.as_str()) == key)
        .cloned()
        .collect();
    if let Some(key) = key {
        for effect in ["NoSchedule", "NoExecute"] {
            if !next.iter().any(|t| t.key == key && t.effect == effect) {
                next.push(Taint {
                    key: key.to_string(),
                    effect: effect.to_string(),
                    value: None,
                    time_added: Some(Time(now)),
                });
            }
        }
    }
    (next != current).then_some(next)
}

/// The conditions of an unreachable node: each one Unknown (created when never posted).
pub fn unknown_conditions(current: &[NodeCondition], now: Timestamp) -> Option<Vec<NodeCondition>> {
    let mut next = current.to_vec();
    for kind in CONDITIONS {
        match next.iter_mut().find(|c| c.type_ == *kind) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(Time(now));
            }
            None => next.push(NodeCondition {
                type_: kind.to_string(),
                status: "Unknown".into(),
                reason: Some("NodeStatusNeverUpdated".into()),
                message: Some("Kubelet never posted node status.".into()),
                last_transition_time: Some(Time(now)),
                last_heartbeat_time: None,
            }),
        }
    }
    (next != current).then_some(next)
}

async fn reconcile(node: Arc<Node>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let name = node.name_any();
    let now = Timestamp::now();
    let lease = ctx
        .leases
        .get(&ObjectRef::new(&name).within(LEASE_NAMESPACE));
    let (expired, recheck) = lease_expired(
        last_heartbeat(lease.as_deref(), &node),
        now,
        ctx.config.grace,
    );
    let api: Api<Node> = Api::all(ctx.client.clone());
    let api_err = |step| {
        let name = name.clone();
        move |source| Error::Api { step, name, source }
    };
    let conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut ready = ready_condition(&node).map(|c| c.status.clone());
    if expired {
        if let Some(next) = unknown_conditions(&conditions, now) {
            tracing::info!(
                controller = "node-lifecycle",
                node = name,
                "node stopped posting status: Ready=Unknown"
            );
            let patch = json!({"status": {"conditions": next}, "metadata": {"resourceVersion": node.resource_version()}});
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(api_err("marking unknown"))?;
            // The taint patch below would conflict on the new resourceVersion: do it next round.
            return Ok(Action::requeue(Duration::from_millis(100)));
        }
        ready = Some("Unknown".into());
    }
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    if let Some(next) = reconcile_taints(&taints, desired_taint_key(expired, ready.as_deref()), now)
    {
        tracing::info!(
            controller = "node-lifecycle",
            node = name,
            unreachable = expired,
            "updating taints"
        );
        let patch = json!({"spec": {"taints": next}, "metadata": {"resourceVersion": node.resource_version()}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(api_err("tainting"))?;
    }
    Ok(Action::requeue(if expired {
        ctx.config.grace.max(Duration::from_secs(1))
    } else {
        recheck
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn node_lease_expired() {
        let grace = Duration::from_secs(40);
        let cases = [
            (None, 100, true),
            (Some(100), 100, false),
            (Some(100), 140, false),
            (Some(100), 141, true),
            (Some(200), 100, false),
        ];
        for (last, now, want) in cases {
            assert_eq!(
                lease_expired(last.map(ts), ts(now), grace).0,
                want,
                "{last:?} {now}"
            );
        }
        assert_eq!(
            lease_expired(Some(ts(100)), ts(130), grace).1,
            Duration::from_secs(11)
        );
    }

    #[test]
    fn taints_follow_reachability() {
        let t = |k: &str, e: &str, at: i64| Taint {
            key: k.into(),
            effect: e.into(),
            value: None,
            time_added: Some(Time(ts(at))),
        };
        let other = t("dedicated", "NoSchedule", 1);
        let unreachable = vec![
            t(UNREACHABLE, "NoSchedule", 5),
            t(UNREACHABLE, "NoExecute", 5),
        ];
        assert_eq!(
            reconcile_taints(&[other.clone()], Some(UNREACHABLE), ts(5)),
            Some([vec![other.clone()], unreachable.clone()].concat())
        );
        assert_eq!(
            reconcile_taints(&unreachable, Some(UNREACHABLE), ts(9)),
            None,
            "timeAdded kept"
        );
        assert_eq!(
            reconcile_taints(
                &[unreachable.clone(), vec![other.clone()]].concat(),
                None,
                ts(9)
            ),
            Some(vec![other.clone()])
        );
        let not_ready = reconcile_taints(&unreachable, Some(NOT_READY), ts(7)).unwrap_or_default();
        assert_eq!(
            not_ready.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(),
            vec![NOT_READY, NOT_READY]
        );
        assert_eq!(desired_taint_key(false, Some("True")), None);
        assert_eq!(desired_taint_key(false, Some("False")), Some(NOT_READY));
        assert_eq!(desired_taint_key(true, Some("True")), Some(UNREACHABLE));
    }

    #[test]
    fn conditions_become_unknown() {
        let ready = NodeCondition {
            type_: "Ready".into(),
            status: "True".into(),
            ..Default::default()
        };
        let next = unknown_conditions(&[ready], ts(3)).unwrap_or_default();
        assert_eq!(next.len(), 4);
        assert!(next.iter().all(|c| c.status == "Unknown"));
        assert_eq!(
            next[0].message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
        assert_eq!(unknown_conditions(&next, ts(4)), None);
    }
}
