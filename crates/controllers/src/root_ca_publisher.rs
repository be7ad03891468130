//! The root CA publisher: a `kube-root-ca.crt` ConfigMap holding the cluster CA (key `ca.crt`)
//! in every active namespace, put back when deleted or changed. Pods read it through the
//! projected `kube-api-access-*` volume. The CA comes from the API server's `/cacerts`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

/// The ConfigMap's name and key, as upstream.
pub const NAME: &str = "kube-root-ca.crt";
pub const KEY: &str = "ca.crt";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// Why a namespace reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {NAME} in {namespace}: {source}")]
    Read {
        namespace: String,
        source: kube::Error,
    },
    #[error("writing {NAME} in {namespace}: {source}")]
    Write {
        namespace: String,
        source: kube::Error,
    },
}

/// What a namespace's ConfigMap needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Nothing,
    Create,
    /// The data is not exactly the CA.
    Update,
}

/// Decides what to do for `namespace` given its current ConfigMap.
pub fn change(namespace: &Namespace, existing: Option<&ConfigMap>, ca: &str) -> Change {
    let terminating = namespace.metadata.deletion_timestamp.is_some()
        || namespace.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
    match existing {
        _ if terminating => Change::Nothing,
        None => Change::Create,
        Some(cm) if cm.data == Some(data(ca)) && cm.binary_data.is_none() => Change::Nothing,
        Some(_) => Change::Update,
    }
}

fn data(ca: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(KEY.to_string(), ca.to_string())])
}

struct Ctx {
    client: kube::Client,
    ca: String,
}

/// Fetches the cluster CA from the API server, retrying until it answers.
async fn cluster_ca(client: &kube::Client) -> String {
    loop {
        let req = http::Request::get("/cacerts").body(Vec::new());
        match req {
            Ok(req) => match client.request_text(req).await {
                Ok(ca) if ca.contains("BEGIN CERTIFICATE") => return ca,
                Ok(_) => tracing::warn!(
                    controller = "root-ca-cert-publisher",
                    "/cacerts holds no certificate"
                ),
                Err(e) => {
                    tracing::warn!(controller = "root-ca-cert-publisher", %e, "fetching /cacerts")
                }
            },
            Err(e) => {
                tracing::warn!(controller = "root-ca-cert-publisher", %e, "building the /cacerts request")
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The publisher's main loop.
pub async fn run(client: kube::Client) {
    let ca = cluster_ca(&client).await;
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        ca,
    });
    Controller::new(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
    )
    .watches(
        Api::<ConfigMap>::all(client),
        watcher::Config::default().fields(&format!("metadata.name={NAME}")),
        |cm: ConfigMap| cm.namespace().map(|ns| ObjectRef::<Namespace>::new(&ns)),
    )
    .run(reconcile, error_policy, ctx)
    .for_each(|_| async {})
    .await;
}

fn error_policy(ns: Arc<Namespace>, error: &Error, _: Arc<Ctx>) -> Action {
    tracing::warn!(controller = "root-ca-cert-publisher", namespace = ns.name_any(), %error, "reconcile failed");
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let namespace = ns.name_any();
    let api = Api::<ConfigMap>::namespaced(ctx.client.clone(), &namespace);
    let existing = api.get_opt(NAME).await.map_err(|source| Error::Read {
        namespace: namespace.clone(),
        source,
    })?;
    let write_err = |source| Error::Write {
        namespace: namespace.clone(),
        source,
    };
    let result = match change(&ns, existing.as_ref(), &ctx.ca) {
        Change::Nothing => return Ok(Action::await_change()),
        Change::Create => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(NAME.into()),
                    namespace: Some(namespace.clone()),
                    annotations: Some(BTreeMap::from([(
                        "kubernetes.io/description".to_string(),
                        DESCRIPTION.to_string(),
                    )])),
                    ..Default::default()
                },
                data: Some(data(&ctx.ca)),
                ..Default::default()
            };
            api.create(&PostParams::default(), &cm).await.map(|_| ())
        }
        Change::Update => {
            let patch = serde_json::json!({"data": data(&ctx.ca), "binaryData": null});
            api.patch(NAME, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ())
        }
    };
    match result {
        Ok(()) => {}
        // The cache lagged (409), the namespace is terminating (403) or gone (404).
        Err(kube::Error::Api(s)) if matches!(s.code, 403 | 404 | 409) => {}
        Err(source) => return Err(write_err(source)),
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes() {
        let ns = |v: serde_json::Value| serde_json::from_value::<Namespace>(v).unwrap_or_default();
        let cm = |v: serde_json::Value| serde_json::from_value::<ConfigMap>(v).unwrap_or_default();
        let active = ns(json!({"metadata": {"name": "a"}, "status": {"phase": "Active"}}));
        let terminating =
            ns(json!({"metadata": {"name": "a"}, "status": {"phase": "Terminating"}}));
        let good = cm(json!({"metadata": {"name": NAME}, "data": {KEY: "CA"}}));
        let stale = cm(json!({"metadata": {"name": NAME}, "data": {KEY: "OLD"}}));
        let extra = cm(json!({"metadata": {"name": NAME}, "data": {KEY: "CA", "x": "y"}}));
        let empty = cm(json!({"metadata": {"name": NAME}}));
        let cases = [
            (&active, None, Change::Create),
            (&active, Some(&good), Change::Nothing),
            (&active, Some(&stale), Change::Update),
            (&active, Some(&extra), Change::Update),
            (&active, Some(&empty), Change::Update),
            (&terminating, None, Change::Nothing),
        ];
        for (n, c, want) in cases {
            assert_eq!(change(n, c, "CA"), want, "{c:?}");
        }
    }
}
