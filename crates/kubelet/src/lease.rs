//! The node's heartbeat Lease in `kube-node-lease`, renewed every 10 s (the node lifecycle
//! controller marks the node unreachable when renewals stop).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

pub const NAMESPACE: &str = "kube-node-lease";
pub const RENEW_EVERY: Duration = Duration::from_secs(10);
const DURATION_SECONDS: i32 = 40;

fn micro_time(t: Timestamp) -> String {
    k8s_openapi::jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%S%.6fZ", t)
        .unwrap_or_else(|_| t.to_string())
}

async fn renew(api: &Api<Lease>, node: &str, node_uid: Option<&str>) -> Result<(), kube::Error> {
    let now = micro_time(Timestamp::now());
    let patch = json!({"spec": {"holderIdentity": node, "leaseDurationSeconds": DURATION_SECONDS, "renewTime": now}});
    match api
        .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => {
            let mut lease = json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": node, "namespace": NAMESPACE},
                "spec": patch["spec"],
            });
            if let Some(uid) = node_uid {
                lease["metadata"]["ownerReferences"] =
                    json!([{"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid}]);
            }
            let lease: Lease = serde_json::from_value(lease).map_err(kube::Error::SerdeError)?;
            api.create(&PostParams::default(), &lease).await.map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// Renews the lease forever.
pub async fn run(client: kube::Client, node: String, node_uid: Option<String>) {
    let api: Api<Lease> = Api::namespaced(client, NAMESPACE);
    loop {
        if let Err(err) = renew(&api, &node, node_uid.as_deref()).await {
            tracing::warn!(%err, "renewing the node lease failed");
        }
        tokio::time::sleep(RENEW_EVERY).await;
    }
}
