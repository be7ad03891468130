//! The namespace controller: empties a terminating namespace (every namespaced resource found
//! by discovery, through deletecollection), reports progress in the namespace's deletion
//! conditions, and once nothing is left removes the `kubernetes` finalizer through
//! `namespaces/NAME/finalize`, after which the API server removes the namespace.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::discovery::{Discovery, Scope, verbs};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use crate::reconcile_error::is_status;

/// Why a namespace reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{step} namespace {name}: {source}")]
    Api {
        step: &'static str,
        name: String,
        source: kube::Error,
    },
}

/// The finalizer the namespace controller owns.
pub const FINALIZER: &str = "kubernetes";

/// What deleting a namespace's content found, for its conditions.
#[derive(Debug, Default, PartialEq)]
pub struct Progress {
    /// Discovery failed: the message.
    pub discovery_failure: Option<String>,
    /// Deletions that failed: one message each.
    pub deletion_failures: Vec<String>,
    /// Objects left, by `resource.group` (core resources without a group).
    pub remaining: BTreeMap<String, usize>,
    /// Finalizers held by the objects left, with how many objects hold each.
    pub finalizers: BTreeMap<String, usize>,
}

impl Progress {
    /// Nothing left and nothing failed: the namespace can be finalized.
    pub fn done(&self) -> bool {
        self.discovery_failure.is_none()
            && self.deletion_failures.is_empty()
            && self.remaining.is_empty()
    }
}

fn condition(
    type_: &str,
    problem: Option<(&str, String)>,
    (ok_reason, ok_message): (&str, &str),
) -> NamespaceCondition {
    let (status, reason, message) = match problem {
        Some((reason, message)) => ("True", reason, Some(message)),
        None => ("False", ok_reason, Some(ok_message.to_string())),
    };
    NamespaceCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message,
        last_transition_time: None,
    }
}

/// Upstream's deletion conditions for `progress`, keeping transition times of unchanged ones.
pub fn conditions(
    previous: &[NamespaceCondition],
    progress: &Progress,
    now: Timestamp,
) -> Vec<NamespaceCondition> {
    let listed = |m: &BTreeMap<String, usize>, what: &str| {
        let parts: Vec<String> = m
            .iter()
            .map(|(k, n)| format!("{k}{what}{n} resource instances"))
            .collect();
        parts.join(", ")
    };
    let next = [
        condition(
            "NamespaceDeletionDiscoveryFailure",
            progress
                .discovery_failure
                .clone()
                .map(|m| ("DiscoveryFailed", m)),
            (
                "ResourcesDiscovered",
                "All resources successfully discovered",
            ),
        ),
        condition(
            "NamespaceDeletionGroupVersionParsingFailure",
            None,
            (
                "ParsedGroupVersions",
                "All legacy kube types successfully parsed",
            ),
        ),
        condition(
            "NamespaceDeletionContentFailure",
            (!progress.deletion_failures.is_empty()).then(|| {
                (
                    "ContentDeletionFailed",
                    format!(
                        "Failed to delete all resource types, {} remaining: {}",
                        progress.deletion_failures.len(),
                        progress.deletion_failures.join(", ")
                    ),
                )
            }),
            (
                "ContentDeleted",
                "All content successfully deleted, may be waiting on finalization",
            ),
        ),
        condition(
            "NamespaceContentRemaining",
            (!progress.remaining.is_empty()).then(|| {
                (
                    "SomeResourcesRemain",
                    format!(
                        "Some resources are remaining: {}",
                        listed(&progress.remaining, " has ")
                    ),
                )
            }),
            ("ContentRemoved", "All content successfully removed"),
        ),
        condition(
            "NamespaceFinalizersRemaining",
            (!progress.finalizers.is_empty()).then(|| {
                (
                    "SomeFinalizersRemain",
                    format!(
                        "Some content in the namespace has finalizers remaining: {}",
                        listed(&progress.finalizers, " in ")
                    ),
                )
            }),
            (
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished",
            ),
        ),
    ];
    next.into_iter()
        .map(|mut c| {
            let same = previous
                .iter()
                .find(|p| p.type_ == c.type_ && p.status == c.status);
            c.last_transition_time = Some(
                same.and_then(|p| p.last_transition_time.clone())
                    .unwrap_or(Time(now)),
            );
            c
        })
        .collect()
}

/// The namespace's spec finalizers without ours.
pub fn without_finalizer(ns: &Namespace) -> Vec<String> {
    let all = ns
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default();
    all.into_iter().filter(|f| f != FINALIZER).collect()
}

/// The namespace controller's main loop.
pub async fn run(client: kube::Client) {
    Controller::new(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
    )
    .run(reconcile, error_policy, Arc::new(client))
    .for_each(|_| async {})
    .await;
}

fn error_policy(ns: Arc<Namespace>, error: &Error, _: Arc<kube::Client>) -> Action {
    tracing::warn!(controller = "namespace", namespace = ns.name_any(), %error, "reconcile failed");
    Action::requeue(Duration::from_secs(2))
}

/// Deletes every namespaced resource in `ns` and reports what is left.
async fn empty(client: &kube::Client, ns: &str) -> Progress {
    let mut progress = Progress::default();
    let discovery = match Discovery::new(client.clone()).run().await {
        Ok(d) => d,
        Err(e) => {
            progress.discovery_failure = Some(format!("Discovery failed for some groups: {e}"));
            return progress;
        }
    };
    for group in discovery.groups() {
        for (resource, caps) in group.recommended_resources() {
            if caps.scope != Scope::Namespaced || !caps.supports_operation(verbs::LIST) {
                continue;
            }
            let label = if resource.group.is_empty() {
                resource.plural.clone()
            } else {
                format!("{}.{}", resource.plural, resource.group)
            };
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
            if caps.supports_operation(verbs::DELETE_COLLECTION) {
                if let Err(e) = api
                    .delete_collection(&DeleteParams::background(), &ListParams::default())
                    .await
                {
                    progress.deletion_failures.push(format!("{label}: {e}"));
                    continue;
                }
            }
            match api.list_metadata(&ListParams::default()).await {
                Ok(left) if !left.items.is_empty() => {
                    progress.remaining.insert(label, left.items.len());
                    for item in &left.items {
                        for f in item.finalizers() {
                            *progress.finalizers.entry(f.clone()).or_default() += 1;
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => progress.deletion_failures.push(format!("{label}: {e}")),
            }
        }
    }
    progress
}

async fn reconcile(ns: Arc<Namespace>, client: Arc<kube::Client>) -> Result<Action, Error> {
    if ns.meta().deletion_timestamp.is_none() {
        return Ok(Action::await_change());
    }
    let name = ns.name_any();
    let rest = without_finalizer(&ns);
    if rest.len()
        == ns
            .spec
            .as_ref()
            .and_then(|s| s.finalizers.as_ref())
            .map_or(0, Vec::len)
    {
        return Ok(Action::await_change());
    }
    let progress = empty(&client, &name).await;
    let api: Api<Namespace> = Api::all((*client).clone());
    let previous = ns
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let next = conditions(&previous, &progress, Timestamp::now());
    if !progress.done() {
        let same = previous.len() == next.len()
            && next.iter().all(|c| {
                previous
                    .iter()
                    .any(|p| p.type_ == c.type_ && p.status == c.status && p.message == c.message)
            });
        if !same {
            let mut updated = (*ns).clone();
            let mut status = updated.status.clone().unwrap_or_default();
            status.conditions = Some(next);
            updated.status = Some(status);
            match api
                .replace_status(&name, &PostParams::default(), &updated)
                .await
            {
                Ok(_) => {}
                Err(e) if is_status(&e, 409) || is_status(&e, 404) => {}
                Err(e) => {
                    return Err(Error::Api {
                        step: "updating status of",
                        name,
                        source: e,
                    });
                }
            }
        }
        // Content held by finalizers or graceful deletion: look again shortly.
        return Ok(Action::requeue(Duration::from_secs(2)));
    }
    let mut finalized = (*ns).clone();
    finalized
        .spec
        .get_or_insert_with(Default::default)
        .finalizers = Some(rest);
    match api
        .replace_subresource("finalize", &name, &PostParams::default(), &finalized)
        .await
    {
        Ok(_) => tracing::info!(controller = "namespace", namespace = name, "finalized"),
        Err(e) if is_status(&e, 404) => {}
        Err(e) if is_status(&e, 409) => return Ok(Action::requeue(Duration::from_millis(200))),
        Err(e) => {
            return Err(Error::Api {
                step: "finalizing",
                name,
                source: e,
            });
        }
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests;
