//! The Deployment controller: one ReplicaSet per template revision, rolled by RollingUpdate or
//! Recreate, scaled proportionally, paused, cleaned up past `revisionHistoryLimit`, with status
//! and conditions `kubectl rollout status` reads. Decisions live in `rollout`, `revision` and
//! `progress`; this file reads the caches and performs the writes.

mod new_set;
mod progress;
pub(crate) mod revision;
mod rollout;

use crate::events::{Kind, Recorder};
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use crate::ControllerFuture;
use crate::ownership::{self, Claim};
use crate::reconcile_error::{Error, is_status, retry_after};
use progress::NewRs;
use rollout::{Rs, Scale};

struct Ctx {
    client: Client,
    sets: Store<ReplicaSet>,
    events: Recorder,
}

/// The Deployment controller.
pub fn controller(client: Client) -> ControllerFuture {
    let (sets, writer) = reflector::store();
    let rs_events = reflector::reflector(
        writer,
        watcher(
            Api::<ReplicaSet>::all(client.clone()),
            watcher::Config::default(),
        ),
    )
    .default_backoff()
    .touched_objects();
    let ctl = Controller::new(
        Api::<Deployment>::all(client.clone()),
        watcher::Config::default(),
    );
    let deployments = ctl.store();
    let events = Recorder::new(client.clone(), "deployment-controller");
    let ctx = Arc::new(Ctx {
        client,
        sets,
        events,
    });
    ctl.watches_stream(rs_events, move |rs: ReplicaSet| {
        deployments_of(&deployments, &rs)
    })
    .run(
        reconcile,
        |d, e, _| retry_after("deployment", &d.name_any(), e),
        ctx,
    )
    .for_each(|_| async {})
    .boxed()
}

fn deployments_of(deployments: &Store<Deployment>, rs: &ReplicaSet) -> Vec<ObjectRef<Deployment>> {
    let ns = rs.namespace().unwrap_or_default();
    if let Some(r) = ownership::controller_of(&rs.metadata) {
        return if r.kind == "Deployment" {
            vec![ObjectRef::new(&r.name).within(&ns)]
        } else {
            Vec::new()
        };
    }
    let labels = rs.labels().clone();
    deployments
        .state()
        .iter()
        .filter(|d| {
            d.namespace().as_deref() == Some(ns.as_str())
                && d.spec
                    .as_ref()
                    .is_some_and(|s| ownership::selects(&s.selector, &labels))
        })
        .map(|d| ObjectRef::from_obj(d.as_ref()))
        .collect()
}

/// Records that the Deployment scaled one of its ReplicaSets (upstream's words).
fn scaled(events: &Recorder, d: &Deployment, set: &str, from: i32, to: i32) {
    let direction = if to > from { "up" } else { "down" };
    let message = format!("Scaled {direction} replica set {set} from {from} to {to}");
    events.record(d, Kind::Normal, "ScalingReplicaSet", message);
}

fn snapshot(rs: &ReplicaSet) -> Rs {
    Rs {
        name: rs.name_any(),
        replicas: rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
        available: rs
            .status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0),
        created: rs
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.as_second())
            .unwrap_or(i64::MAX),
        max_replicas: revision::int_annotation(&rs.metadata, revision::MAX),
    }
}

async fn reconcile(d: Arc<Deployment>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let _ = gantry_informer::ready(&ctx.sets).await;
    let name = d.metadata.name.clone().ok_or(Error::Missing {
        kind: "deployment",
        field: "name",
    })?;
    let ns = d.namespace().ok_or(Error::Missing {
        kind: "deployment",
        field: "namespace",
    })?;
    let uid = d.metadata.uid.clone().ok_or(Error::Missing {
        kind: "deployment",
        field: "uid",
    })?;
    let owner = ownership::controller_ref(d.as_ref()).ok_or(Error::Missing {
        kind: "deployment",
        field: "uid",
    })?;
    let rs_api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
    let deleting = d.metadata.deletion_timestamp.is_some();
    let spec = d.spec.clone().unwrap_or_default();
    let now = Timestamp::now();

    let mut owned: Vec<ReplicaSet> = Vec::new();
    for rs in ctx
        .sets
        .state()
        .iter()
        .filter(|r| r.namespace().as_deref() == Some(ns.as_str()))
    {
        let rs_uid = rs.uid().unwrap_or_default();
        let patch = match ownership::claim(&rs.metadata, &uid, &spec.selector, deleting) {
            Claim::Owned => {
                owned.push(rs.as_ref().clone());
                continue;
            }
            Claim::Ignore => continue,
            Claim::Adopt => ownership::adopt_patch(&owner, &rs_uid),
            Claim::Release => ownership::release_patch(&uid, &rs_uid),
        };
        match rs_api
            .patch(
                &rs.name_any(),
                &PatchParams::default(),
                &Patch::Strategic(patch),
            )
            .await
        {
            Ok(r) if ownership::controller_of(&r.metadata).is_some_and(|o| o.uid == uid) => {
                owned.push(r)
            }
            Ok(_) => {}
            Err(e) if is_status(&e, 404) || is_status(&e, 409) => {}
            Err(e) => return Err(Error::api("claiming", "replicaset", &rs.name_any())(e)),
        }
    }

    let replicas = spec.replicas.unwrap_or(1);
    let strategy = spec.strategy.clone().unwrap_or_default();
    let recreate = strategy.type_.as_deref() == Some("Recreate");
    let rolling = strategy.rolling_update.unwrap_or_default();
    let (surge, unavailable) = if recreate {
        (0, 0)
    } else {
        rollout::fenceposts(
            rolling.max_surge.as_ref(),
            rolling.max_unavailable.as_ref(),
            replicas,
        )
    };
    let collision = d.status.as_ref().and_then(|s| s.collision_count);
    let hash = revision::template_hash(&spec.template, collision);
    owned.sort_by_key(|r| r.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let new_idx = owned.iter().position(|r| {
        r.spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .is_some_and(|t| revision::equal_ignore_hash(t, &spec.template))
    });
    let max_old_revision = owned
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != new_idx)
        .map(|(_, r)| revision::revision(r))
        .max()
        .unwrap_or(0);

    let mut event = None;
    if !deleting {
        let paused = spec.paused == Some(true);
        let old: Vec<Rs> = owned
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != new_idx)
            .map(|(_, r)| snapshot(r))
            .collect();
        let scaling_event = owned.iter().any(|r| {
            r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0) > 0
                && revision::int_annotation(&r.metadata, revision::DESIRED)
                    .is_some_and(|n| n != replicas)
        });
        let new_snap = new_idx.map(|i| snapshot(&owned[i]));
        let scales: Vec<Scale> = if paused || scaling_event {
            rollout::proportional(replicas, surge, new_snap.as_ref(), &old)
        } else {
            let (new_rs, created) = new_set::ensure_new(
                &d,
                &rs_api,
                &owner,
                &hash,
                new_idx.map(|i| &owned[i]),
                max_old_revision,
                &old,
                recreate,
                replicas,
                surge,
            )
            .await?;
            event = Some(if created {
                NewRs::Created
            } else {
                NewRs::Found
            });
            let initial = new_rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
            if created && initial > 0 {
                scaled(&ctx.events, &d, &new_rs.name_any(), 0, initial);
            }
            new_set::sync_revision(&ctx.client, &d, revision::revision(&new_rs)).await?;
            let new_snap = snapshot(&new_rs);
            match new_idx {
                Some(i) => owned[i] = new_rs,
                None => owned.push(new_rs),
            }
            if recreate {
                let old_running = owned.iter().any(|r| {
                    r.name_any() != new_snap.name
                        && r.status.as_ref().is_some_and(|s| s.replicas > 0)
                });
                rollout::recreate_step(replicas, &new_snap, &old, old_running)
            } else {
                rollout::rolling_step(replicas, surge, unavailable, &new_snap, &old)
            }
        };
        for s in scales {
            let from = owned
                .iter()
                .find(|o| o.name_any() == s.name)
                .and_then(|o| o.spec.as_ref()?.replicas)
                .unwrap_or(0);
            let patch = json!({
                "metadata": {"annotations": {revision::DESIRED: replicas.to_string(), revision::MAX: (replicas + surge).to_string()}},
                "spec": {"replicas": s.replicas}
            });
            match rs_api
                .patch(&s.name, &PatchParams::default(), &Patch::Merge(patch))
                .await
            {
                Ok(r) => {
                    if from != s.replicas {
                        scaled(&ctx.events, &d, &s.name, from, s.replicas);
                    }
                    if let Some(slot) = owned.iter_mut().find(|o| o.name_any() == s.name) {
                        *slot = r;
                    }
                }
                Err(e) if is_status(&e, 404) => {}
                Err(e) => return Err(Error::api("scaling", "replicaset", &s.name)(e)),
            }
        }
    }

    let new_ref = owned.iter().find(|r| {
        r.spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .is_some_and(|t| revision::equal_ignore_hash(t, &spec.template))
    });
    let all: Vec<&ReplicaSet> = owned.iter().collect();
    let status = progress::status(&d, &all, new_ref, unavailable, event, now);
    if !deleting && progress::complete(replicas, &status) {
        let old: Vec<&ReplicaSet> = all
            .iter()
            .copied()
            .filter(|r| Some(r.name_any()) != new_ref.map(|n| n.name_any()))
            .collect();
        for victim in revision::to_clean_up(&old, spec.revision_history_limit.unwrap_or(10)) {
            match rs_api.delete(&victim, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(e) if is_status(&e, 404) => {}
                Err(e) => return Err(Error::api("deleting old", "replicaset", &victim)(e)),
            }
        }
    }
    let deadline = spec.progress_deadline_seconds.unwrap_or(600);
    let wake = progress::deadline_left(&status, deadline, now)
        .map(|s| Duration::from_secs(s.max(0) as u64 + 1));
    if serde_json::to_value(&status).ok()
        != serde_json::to_value(d.status.clone().unwrap_or_default()).ok()
    {
        let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
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
            Err(e) => return Err(Error::api("writing status of", "deployment", &name)(e)),
        }
    }
    Ok(wake
        .map(Action::requeue)
        .unwrap_or_else(Action::await_change))
}
