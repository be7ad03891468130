//! The new ReplicaSet of a Deployment: created when the template has none, its revision and
//! scale annotations kept current, its revision mirrored on the Deployment, and hash collisions
//! resolved through `status.collisionCount` as upstream.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use super::revision;
use super::rollout::{self, Rs};
use crate::ownership;
use crate::reconcile_error::{Error, is_status};

/// The new ReplicaSet, created if missing, with its revision and annotations brought up to date;
/// also whether it was created now.
#[allow(clippy::too_many_arguments)]
pub(super) async fn ensure_new(
    d: &Deployment,
    api: &Api<ReplicaSet>,
    owner: &OwnerReference,
    hash: &str,
    existing: Option<&ReplicaSet>,
    max_old_revision: i64,
    old: &[Rs],
    recreate: bool,
    replicas: i32,
    surge: i32,
) -> Result<(ReplicaSet, bool), Error> {
    let spec = d.spec.clone().unwrap_or_default();
    if let Some(rs) = existing {
        let rev = revision::revision(rs).max(max_old_revision + 1).max(1);
        let current = rs.metadata.annotations.clone().unwrap_or_default();
        let want = revision::annotations(d, rev, replicas, surge);
        let same = [revision::REVISION, revision::DESIRED, revision::MAX]
            .iter()
            .all(|k| current.get(*k) == want.get(*k));
        if same {
            return Ok((rs.clone(), false));
        }
        let patch = json!({"metadata": {"annotations": {revision::REVISION: rev.to_string(), revision::DESIRED: replicas.to_string(), revision::MAX: (replicas + surge).to_string()}}});
        let rs = api
            .patch(
                &rs.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
            .map_err(Error::api("annotating", "replicaset", &rs.name_any()))?;
        return Ok((rs, false));
    }
    let start = if recreate {
        0
    } else {
        let fresh = Rs {
            name: String::new(),
            replicas: 0,
            available: 0,
            created: 0,
            max_replicas: None,
        };
        let mut all = old.to_vec();
        all.push(fresh.clone());
        rollout::new_rs_replicas(replicas, surge, &fresh, &all)
    };
    let rs = revision::new_replica_set(
        d,
        owner.clone(),
        hash,
        start,
        revision::annotations(d, max_old_revision + 1, replicas, surge),
    );
    let name = rs.name_any();
    match api.create(&PostParams::default(), &rs).await {
        Ok(created) => Ok((created, true)),
        Err(e) if is_status(&e, 409) => {
            let found = api
                .get(&name)
                .await
                .map_err(Error::api("reading", "replicaset", &name))?;
            let ours =
                ownership::controller_of(&found.metadata).is_some_and(|o| o.uid == owner.uid);
            let same = found
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| revision::equal_ignore_hash(t, &spec.template));
            if ours && same {
                return Ok((found, false));
            }
            // A hash collision: bump collisionCount so the next hash differs.
            let count = d
                .status
                .as_ref()
                .and_then(|s| s.collision_count)
                .unwrap_or(0)
                + 1;
            let dapi: Api<Deployment> = Api::namespaced(
                api.clone().into_client(),
                &d.namespace().unwrap_or_default(),
            );
            dapi.patch_status(
                &d.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"collisionCount": count}})),
            )
            .await
            .map_err(Error::api(
                "bumping collisionCount of",
                "deployment",
                &d.name_any(),
            ))?;
            Err(Error::api("creating", "replicaset", &name)(e))
        }
        Err(e) => Err(Error::api("creating", "replicaset", &name)(e)),
    }
}

/// Upstream keeps the new ReplicaSet's revision on the Deployment too (kubectl rollout undo
/// replaces `/metadata/annotations`, which must then exist).
pub(super) async fn sync_revision(client: &Client, d: &Deployment, rev: i64) -> Result<(), Error> {
    let current = d
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(revision::REVISION));
    if current.map(String::as_str) == Some(rev.to_string().as_str()) {
        return Ok(());
    }
    let api: Api<Deployment> = Api::namespaced(client.clone(), &d.namespace().unwrap_or_default());
    let patch = json!({"metadata": {"annotations": {revision::REVISION: rev.to_string()}}});
    match api
        .patch(&d.name_any(), &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, 404) => Ok(()),
        Err(e) => Err(Error::api("annotating", "deployment", &d.name_any())(e)),
    }
}
