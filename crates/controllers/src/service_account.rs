//! The ServiceAccount controller: a `default` ServiceAccount in every active namespace,
//! recreated when deleted. Triggered by namespaces and by ServiceAccounts named `default`.

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

/// The ServiceAccount every namespace gets.
pub const DEFAULT: &str = "default";

/// Why a namespace reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("creating the default service account in {namespace}: {source}")]
    Create {
        namespace: String,
        source: kube::Error,
    },
}

struct Ctx {
    client: kube::Client,
    accounts: Store<ServiceAccount>,
}

/// Does this namespace need its default ServiceAccount created? Only active namespaces do.
pub fn needs_default(namespace: &Namespace, has_default: bool) -> bool {
    let terminating = namespace.metadata.deletion_timestamp.is_some()
        || namespace.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
    !terminating && !has_default
}

/// The ServiceAccount controller's main loop.
pub async fn run(client: kube::Client) {
    let (accounts, writer) = reflector::store();
    let account_stream = reflector::reflector(
        writer,
        watcher(
            Api::<ServiceAccount>::all(client.clone()),
            watcher::Config::default(),
        ),
    )
    .default_backoff()
    .touched_objects()
    .try_filter(|sa| futures::future::ready(sa.name_any() == DEFAULT));
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        accounts,
    });
    Controller::new(Api::<Namespace>::all(client), watcher::Config::default())
        .watches_stream(account_stream, |sa: ServiceAccount| {
            sa.namespace().map(|ns| ObjectRef::<Namespace>::new(&ns))
        })
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy(ns: Arc<Namespace>, error: &Error, _: Arc<Ctx>) -> Action {
    tracing::warn!(controller = "serviceaccount", namespace = ns.name_any(), %error, "reconcile failed");
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if gantry_informer::ready(&ctx.accounts).await.is_err() {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let name = ns.name_any();
    let has_default = ctx
        .accounts
        .get(&ObjectRef::new(DEFAULT).within(&name))
        .is_some();
    if !needs_default(&ns, has_default) {
        return Ok(Action::await_change());
    }
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT.into()),
            namespace: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    match Api::<ServiceAccount>::namespaced(ctx.client.clone(), &name)
        .create(&PostParams::default(), &sa)
        .await
    {
        Ok(_) => tracing::info!(
            controller = "serviceaccount",
            namespace = name,
            "created default service account"
        ),
        // Already there (the cache lags) or the namespace began terminating: nothing to do.
        Err(kube::Error::Api(s)) if s.code == 409 || s.code == 403 || s.code == 404 => {}
        Err(source) => {
            return Err(Error::Create {
                namespace: name,
                source,
            });
        }
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_account_only_in_active_namespaces() {
        let ns = |v: serde_json::Value| serde_json::from_value::<Namespace>(v).unwrap_or_default();
        let active = ns(json!({"metadata": {"name": "a"}, "status": {"phase": "Active"}}));
        let terminating =
            ns(json!({"metadata": {"name": "a"}, "status": {"phase": "Terminating"}}));
        let deleting =
            ns(json!({"metadata": {"name": "a", "deletionTimestamp": "2024-01-01T00:00:00Z"}}));
        let cases = [
            (&active, false, true),
            (&active, true, false),
            (&terminating, false, false),
            (&deleting, false, false),
        ];
        for (n, has, want) in cases {
            assert_eq!(needs_default(n, has), want, "{n:?} {has}");
        }
    }
}
