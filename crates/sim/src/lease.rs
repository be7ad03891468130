//! Node heartbeats: one coordination.k8s.io/v1 Lease per node in `kube-node-lease`, renewed
//! every `lease_interval` like the kubelet does, with the nodes' renewals spread evenly over
//! the interval so 1,000 nodes make a steady 100 writes/s instead of bursts; every
//! `heartbeat_every` renewals the node also posts its Ready conditions.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::{Config, node};

/// The namespace of node leases.
pub const NAMESPACE: &str = "kube-node-lease";

/// When node `index` of `count` first renews, so renewals are spread over `interval`.
pub fn offset(index: usize, count: usize, interval: Duration) -> Duration {
    if count == 0 {
        return Duration::ZERO;
    }
    let nanos = interval.as_nanos() * index as u128 / count as u128;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// A `metav1.MicroTime`: microseconds, UTC, `Z`.
pub fn micro_time(t: Timestamp) -> String {
    k8s_openapi::jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%S%.6fZ", t)
        .unwrap_or_else(|_| t.to_string())
}

/// The Lease of `node` as the kubelet creates it: held by the node, owned by the Node object
/// (so it goes when the node is deleted).
pub fn lease_object(
    node: &str,
    node_uid: Option<&str>,
    duration_seconds: i32,
    now: Timestamp,
) -> Value {
    let mut lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": node, "namespace": NAMESPACE},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": duration_seconds, "renewTime": micro_time(now)},
    });
    if let Some(uid) = node_uid {
        lease["metadata"]["ownerReferences"] =
            json!([{"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid}]);
    }
    lease
}

/// Renews every node's lease forever (returns only if there are no nodes).
pub async fn renew_all(client: Client, nodes: &[Node], config: &Config) {
    let count = nodes.len();
    let tasks = nodes.iter().enumerate().map(|(index, n)| {
        let name = n.metadata.name.clone().unwrap_or_default();
        let uid = n.metadata.uid.clone();
        let start = offset(index, count, config.lease_interval);
        renew_one(client.clone(), name, uid, start, config.clone())
    });
    futures::future::join_all(tasks).await;
}

async fn renew_one(
    client: Client,
    name: String,
    uid: Option<String>,
    start: Duration,
    config: Config,
) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    let nodes: Api<Node> = Api::all(client);
    let mut ticks =
        tokio::time::interval_at(tokio::time::Instant::now() + start, config.lease_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick comes at `start`, so even the first renewals (the lease creates) are spread.
    let mut renewals: u32 = 0;
    loop {
        ticks.tick().await;
        renew(
            &leases,
            &name,
            uid.as_deref(),
            config.lease_duration_seconds,
        )
        .await;
        renewals = renewals.wrapping_add(1);
        if config.heartbeat_every > 0 && renewals.is_multiple_of(config.heartbeat_every) {
            let patch = node::heartbeat(Timestamp::now());
            if let Err(e) = nodes
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                tracing::warn!("node {name}: posting status: {e}");
            }
        }
    }
}

/// One renewal: a merge patch of `renewTime`, or a create when the lease does not exist yet.
/// Failures are logged; the next tick tries again, as the kubelet does.
async fn renew(leases: &Api<Lease>, name: &str, uid: Option<&str>, duration_seconds: i32) {
    let now = Timestamp::now();
    let patch = json!({"spec": {"holderIdentity": name, "leaseDurationSeconds": duration_seconds, "renewTime": micro_time(now)}});
    let result = match leases
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Err(kube::Error::Api(s)) if s.is_not_found() => {
            match serde_json::from_value::<Lease>(lease_object(name, uid, duration_seconds, now)) {
                Ok(lease) => leases
                    .create(&PostParams::default(), &lease)
                    .await
                    .map(drop),
                Err(e) => {
                    tracing::warn!("lease {name}: building it: {e}");
                    return;
                }
            }
        }
        other => other.map(drop),
    };
    if let Err(e) = result {
        tracing::warn!("lease {name}: renewing: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_spread_over_the_interval() {
        let interval = Duration::from_secs(10);
        assert_eq!(offset(0, 1000, interval), Duration::ZERO);
        assert_eq!(offset(1, 1000, interval), Duration::from_millis(10));
        assert_eq!(offset(500, 1000, interval), Duration::from_secs(5));
        assert!(offset(999, 1000, interval) < interval);
        assert_eq!(offset(0, 0, interval), Duration::ZERO);
        assert_eq!(offset(2, 3, Duration::from_secs(9)), Duration::from_secs(6));
    }

    #[test]
    fn lease_is_held_and_owned_by_its_node() {
        let now: Timestamp = "2025-01-02T03:04:05.123456Z".parse().expect("a timestamp");
        let lease = lease_object("sim-1", Some("uid-1"), 40, now);
        assert_eq!(lease["metadata"]["namespace"], NAMESPACE);
        assert_eq!(lease["spec"]["holderIdentity"], "sim-1");
        assert_eq!(lease["spec"]["leaseDurationSeconds"], 40);
        assert_eq!(lease["spec"]["renewTime"], "2025-01-02T03:04:05.123456Z");
        assert_eq!(lease["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert!(serde_json::from_value::<Lease>(lease).is_ok());
        assert!(
            lease_object("sim-1", None, 40, now)["metadata"]
                .get("ownerReferences")
                .is_none()
        );
    }
}
