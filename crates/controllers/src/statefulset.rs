//! The StatefulSet controller: pods `<set>-<ordinal>` created in order (or in parallel), their
//! PersistentVolumeClaims `<claim>-<set>-<ordinal>` from volumeClaimTemplates, deletion from the
//! highest ordinal, rolling update down to the partition, ControllerRevision objects for the
//! current and update revisions, and status through `/status`.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use crate::ControllerFuture;
use crate::deployment::revision::template_hash;
use crate::ownership;
use crate::pod_informer::PodInformer;
use crate::pod_state::{self, PodName};
use crate::reconcile_error::{Error, is_status, retry_after};
use crate::statefulset_sync::{self, Policy, Slot, Step};

const HASH_LABEL: &str = "controller-revision-hash";

struct Ctx {
    client: Client,
    pods: Store<Pod>,
}

/// The StatefulSet controller.
pub fn controller(client: Client, informer: &PodInformer) -> ControllerFuture {
    let pods = informer.store();
    let pod_events = informer.touched_owners::<StatefulSet>("StatefulSet");
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        pods,
    });
    Controller::new(Api::<StatefulSet>::all(client), watcher::Config::default())
        .reconcile_on(pod_events)
        .run(
            reconcile,
            |s, e, _| retry_after("statefulset", &s.name_any(), e),
            ctx,
        )
        .for_each(|_| async {})
        .boxed()
}

/// The ordinal of a pod named `<set>-<n>`.
pub fn ordinal(set: &str, pod: &str) -> Option<usize> {
    pod.strip_prefix(set)?.strip_prefix('-')?.parse().ok()
}

async fn reconcile(sts: Arc<StatefulSet>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let _ = gantry_informer::ready(&ctx.pods).await;
    let name = sts.metadata.name.clone().ok_or(Error::Missing {
        kind: "statefulset",
        field: "name",
    })?;
    let ns = sts.namespace().ok_or(Error::Missing {
        kind: "statefulset",
        field: "namespace",
    })?;
    let uid = sts.metadata.uid.clone().ok_or(Error::Missing {
        kind: "statefulset",
        field: "uid",
    })?;
    let owner = ownership::controller_ref(sts.as_ref()).ok_or(Error::Missing {
        kind: "statefulset",
        field: "uid",
    })?;
    let spec = sts.spec.clone().unwrap_or_default();
    let old = sts.status.clone().unwrap_or_default();
    let now = Timestamp::now();
    let update_revision = format!(
        "{name}-{}",
        template_hash(&spec.template, old.collision_count)
    );
    let current_revision = old
        .current_revision
        .clone()
        .unwrap_or_else(|| update_revision.clone());

    // The ControllerRevision of the update revision (idempotent create).
    let revisions: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    if old.update_revision.as_deref() != Some(update_revision.as_str()) {
        let revision = ControllerRevision {
            metadata: ObjectMeta {
                name: Some(update_revision.clone()),
                namespace: Some(ns.clone()),
                labels: spec.selector.match_labels.clone(),
                owner_references: Some(vec![owner.clone()]),
                ..Default::default()
            },
            data: Some(RawExtension(
                json!({"spec": {"template": spec.template, "$patch": "replace"}}),
            )),
            revision: old.observed_generation.unwrap_or(0) + 1,
        };
        match revisions.create(&PostParams::default(), &revision).await {
            Ok(_) => {}
            Err(e) if is_status(&e, 409) => {}
            Err(e) => return Err(Error::api("creating revision of", "statefulset", &name)(e)),
        }
    }

    let owned: BTreeMap<usize, Arc<Pod>> = ctx
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(&ns))
        .filter(|p| ownership::controller_of(&p.metadata).is_some_and(|r| r.uid == uid))
        .filter_map(|p| Some((ordinal(&name, &p.name_any())?, p)))
        .collect();
    let len = owned.keys().next_back().map(|m| m + 1).unwrap_or(0);
    let slots: Vec<Slot> = (0..len)
        .map(|i| match owned.get(&i) {
            None => Slot::default(),
            Some(p) => Slot {
                exists: true,
                running_ready: pod_state::phase(p) == "Running" && pod_state::is_ready(p),
                failed: pod_state::phase(p) == "Failed",
                terminating: p.metadata.deletion_timestamp.is_some(),
                updated: p.labels().get(HASH_LABEL) == Some(&update_revision),
            },
        })
        .collect();
    let replicas = spec.replicas.unwrap_or(1).max(0) as usize;
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let policy = Policy {
        replicas,
        parallel: spec.pod_management_policy.as_deref() == Some("Parallel"),
        rolling: strategy.type_.as_deref() != Some("OnDelete"),
        partition: strategy
            .rolling_update
            .and_then(|r| r.partition)
            .unwrap_or(0)
            .max(0) as usize,
    };
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    for step in statefulset_sync::steps(policy, &slots) {
        match step {
            Step::Create(i) => {
                create_pod(&ctx.client, &sts, &name, &ns, i, &update_revision, &owner).await?
            }
            Step::Delete(i) => {
                let pod = format!("{name}-{i}");
                match pods_api.delete(&pod, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(e) if is_status(&e, 404) => {}
                    Err(e) => return Err(Error::api("deleting pod of", "statefulset", &name)(e)),
                }
            }
        }
    }

    let live: Vec<&Arc<Pod>> = owned
        .values()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let with = |rev: &str| {
        live.iter()
            .filter(|p| p.labels().get(HASH_LABEL).map(String::as_str) == Some(rev))
            .count() as i32
    };
    let updated = with(&update_revision);
    let ready = live.iter().filter(|p| pod_state::is_ready(p)).count() as i32;
    let rolled =
        updated as usize == replicas && ready as usize == replicas && live.len() == replicas;
    let current = if rolled {
        update_revision.clone()
    } else {
        current_revision
    };
    let status = json!({
        "replicas": live.len(),
        "readyReplicas": ready,
        "availableReplicas": live.iter().filter(|p| pod_state::is_available(p, min_ready, now)).count(),
        "currentReplicas": with(&current),
        "updatedReplicas": updated,
        "currentRevision": current,
        "updateRevision": update_revision,
        "observedGeneration": sts.metadata.generation,
    });
    let old_value = serde_json::to_value(&old).unwrap_or_default();
    let same = status.as_object().is_some_and(|m| {
        m.iter()
            .all(|(k, v)| old_value.get(k).unwrap_or(&json!(0)) == v)
    });
    if !same {
        let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
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
            Err(e) => return Err(Error::api("writing status of", "statefulset", &name)(e)),
        }
    }
    Ok(Action::await_change())
}

/// Creates the claims of ordinal `i` (when missing) and then its pod.
async fn create_pod(
    client: &Client,
    sts: &StatefulSet,
    name: &str,
    ns: &str,
    i: usize,
    revision: &str,
    owner: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
) -> Result<(), Error> {
    let spec = sts.spec.clone().unwrap_or_default();
    let pod_name = format!("{name}-{i}");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    let mut volumes: Vec<Volume> = Vec::new();
    for template in spec.volume_claim_templates.iter().flatten() {
        let claim = template.metadata.name.clone().unwrap_or_default();
        let claim_name = format!("{claim}-{pod_name}");
        let mut labels = template.metadata.labels.clone().unwrap_or_default();
        labels.extend(spec.selector.match_labels.clone().unwrap_or_default());
        let pvc = PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(claim_name.clone()),
                namespace: Some(ns.to_string()),
                labels: Some(labels),
                annotations: template.metadata.annotations.clone(),
                ..Default::default()
            },
            spec: template.spec.clone(),
            status: None,
        };
        match claims.create(&PostParams::default(), &pvc).await {
            Ok(_) => {}
            Err(e) if is_status(&e, 409) => {}
            Err(e) => return Err(Error::api("creating claim for", "statefulset", name)(e)),
        }
        volumes.push(Volume {
            name: claim,
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name,
                read_only: None,
            }),
            ..Default::default()
        });
    }
    let labels: BTreeMap<String, String> = [
        (HASH_LABEL.to_string(), revision.to_string()),
        (
            "statefulset.kubernetes.io/pod-name".to_string(),
            pod_name.clone(),
        ),
        ("apps.kubernetes.io/pod-index".to_string(), i.to_string()),
    ]
    .into();
    let mut pod = pod_state::pod_from_template(
        &spec.template,
        ns,
        owner.clone(),
        PodName::Fixed(pod_name.clone()),
        &labels,
    );
    if let Some(ps) = pod.spec.as_mut() {
        ps.hostname = Some(pod_name.clone());
        ps.subdomain = spec.service_name.clone().filter(|s| !s.is_empty());
        let existing = ps.volumes.get_or_insert_with(Vec::new);
        for v in volumes {
            if !existing.iter().any(|e| e.name == v.name) {
                existing.push(v);
            }
        }
    }
    match Api::<Pod>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &pod)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, 409) => Ok(()),
        Err(e) => Err(Error::api("creating pod for", "statefulset", name)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::ordinal;

    #[test]
    fn ordinal_table() {
        let cases = [
            ("web", "web-0", Some(0)),
            ("web", "web-12", Some(12)),
            ("web", "web-x", None),
            ("web", "webby-1", None),
            ("web", "web", None),
        ];
        for (set, pod, want) in cases {
            assert_eq!(ordinal(set, pod), want, "{pod}");
        }
    }
}
