//! The Job controller: runs pods until `completions` succeed (or, without completions, until one
//! succeeds and the rest end), at most `parallelism` at once; fails the Job past `backoffLimit`
//! or `activeDeadlineSeconds`; counts each finished pod once through the job-tracking finalizer
//! and `uncountedTerminatedPods`; deletes finished Jobs after `ttlSecondsAfterFinished`.

use crate::events::{Kind, Recorder};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use crate::ControllerFuture;
use crate::expectations::{Expectations, Pending};
use crate::job_sync::{self, Accounting, JobSpecView, Outcome, PodView, TRACKING_FINALIZER};
use crate::ownership;
use crate::pod_informer::PodInformer;
use crate::pod_state::{self, PodName};
use crate::reconcile_error::{Error, is_status, retry_after};
use crate::replica_sync;

struct Ctx {
    client: Client,
    pods: Store<Pod>,
    expectations: Expectations,
    events: Recorder,
}

/// The Job controller.
pub fn controller(client: Client, informer: &PodInformer) -> ControllerFuture {
    let pods = informer.store();
    let pod_events = informer.touched_owners::<Job>("Job");
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        pods,
        expectations: Expectations::default(),
        events: Recorder::new(client.clone(), "job-controller"),
    });
    Controller::new(Api::<Job>::all(client), watcher::Config::default())
        .reconcile_on(pod_events)
        .run(
            reconcile,
            |j, e, _| retry_after("job", &j.name_any(), e),
            ctx,
        )
        .for_each(|_| async {})
        .boxed()
}

fn has_condition<'a>(status: &'a JobStatus, type_: &str) -> Option<&'a JobCondition> {
    status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
}

fn set_condition(status: &mut JobStatus, type_: &str, reason: &str, message: &str, now: &Time) {
    if has_condition(status, type_).is_some() {
        return;
    }
    status
        .conditions
        .get_or_insert_with(Vec::new)
        .push(JobCondition {
            type_: type_.into(),
            status: "True".into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_probe_time: Some(now.clone()),
            last_transition_time: Some(now.clone()),
        });
}

async fn reconcile(job: Arc<Job>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let _ = gantry_informer::ready(&ctx.pods).await;
    let name = job.metadata.name.clone().ok_or(Error::Missing {
        kind: "job",
        field: "name",
    })?;
    let ns = job.namespace().ok_or(Error::Missing {
        kind: "job",
        field: "namespace",
    })?;
    let uid = job.metadata.uid.clone().ok_or(Error::Missing {
        kind: "job",
        field: "uid",
    })?;
    let key = format!("{ns}/{name}");
    let spec = job.spec.clone().unwrap_or_default();
    let old = job.status.clone().unwrap_or_default();
    let now = Timestamp::now();
    let tnow = Time(now);
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let owned: Vec<Arc<Pod>> = ctx
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(&ns))
        .filter(|p| ownership::controller_of(&p.metadata).is_some_and(|r| r.uid == uid))
        .collect();
    let views: Vec<PodView> = owned
        .iter()
        .map(|p| PodView {
            uid: p.uid().unwrap_or_default(),
            name: p.name_any(),
            phase: pod_state::phase(p).to_string(),
            has_finalizer: p.finalizers().iter().any(|f| f == TRACKING_FINALIZER),
            deleting: p.metadata.deletion_timestamp.is_some(),
        })
        .collect();
    let uncounted = old.uncounted_terminated_pods.clone().unwrap_or_default();
    let before = Accounting {
        succeeded: old.succeeded.unwrap_or(0),
        failed: old.failed.unwrap_or(0),
        uncounted_succeeded: uncounted
            .succeeded
            .unwrap_or_default()
            .into_iter()
            .collect(),
        uncounted_failed: uncounted.failed.unwrap_or_default().into_iter().collect(),
    };
    let (acc, release) = job_sync::account(&before, &views);
    let active: Vec<&Pod> = owned
        .iter()
        .map(|p| p.as_ref())
        .filter(|p| pod_state::is_active(p))
        .collect();
    let finished =
        has_condition(&old, "Complete").is_some() || has_condition(&old, "Failed").is_some();
    let view = JobSpecView {
        completions: spec.completions,
        parallelism: spec.parallelism.unwrap_or(1),
        backoff_limit: spec.backoff_limit.unwrap_or(6),
        active_deadline_seconds: spec.active_deadline_seconds,
        suspend: spec.suspend == Some(true),
    };
    let mut status = old.clone();
    if status.start_time.is_none() && !view.suspend {
        status.start_time = Some(tnow.clone());
    }
    let active_for = status
        .start_time
        .as_ref()
        .map(|t| now.as_second() - t.0.as_second());
    let total_s = acc.succeeded + acc.uncounted_succeeded.len() as i32;
    let total_f = acc.failed + acc.uncounted_failed.len() as i32;
    let outcome = if finished {
        Outcome::Running
    } else {
        job_sync::outcome(&view, total_s, total_f, active.len() as i32, active_for)
    };
    let flushed = acc.uncounted_succeeded.is_empty() && acc.uncounted_failed.is_empty();

    let names: HashSet<String> = owned.iter().map(|p| p.name_any()).collect();
    let mut to_delete: Vec<&Pod> = Vec::new();
    let mut to_create = 0usize;
    match &outcome {
        Outcome::Failed(reason, message) => {
            set_condition(&mut status, "FailureTarget", reason, message, &tnow);
            to_delete = active.clone();
            if active.is_empty() && flushed {
                set_condition(&mut status, "Failed", reason, message, &tnow);
                if !finished {
                    ctx.events
                        .record(job.as_ref(), Kind::Warning, reason, message.to_string());
                }
            }
        }
        Outcome::Complete => {
            set_condition(
                &mut status,
                "SuccessCriteriaMet",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                &tnow,
            );
            to_delete = active.clone();
            if active.is_empty() && flushed {
                set_condition(
                    &mut status,
                    "Complete",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    &tnow,
                );
                status.completion_time = Some(tnow.clone());
                if !finished {
                    ctx.events.record(
                        job.as_ref(),
                        Kind::Normal,
                        "Completed",
                        "Job completed".into(),
                    );
                }
            }
        }
        Outcome::Running
            if !finished
                && ctx
                    .expectations
                    .satisfied(&key, |n| names.contains(n), |_| true) =>
        {
            let want = job_sync::want_active(&view, total_s) as usize;
            if active.len() < want {
                to_create = (want - active.len()).min(replica_sync::BURST);
            } else if active.len() > want {
                let order = replica_sync::delete_order(&active, now);
                to_delete = order
                    .into_iter()
                    .take(active.len() - want)
                    .filter_map(|i| active.get(i).copied())
                    .collect();
            }
        }
        Outcome::Running => {}
    }

    let mut pending = Pending::default();
    let mut failure = None;
    if to_create > 0 {
        let owner = ownership::controller_ref(job.as_ref()).ok_or(Error::Missing {
            kind: "job",
            field: "uid",
        })?;
        let template = spec.template.clone();
        let labels: BTreeMap<String, String> = [
            ("batch.kubernetes.io/controller-uid", uid.as_str()),
            ("controller-uid", uid.as_str()),
            ("batch.kubernetes.io/job-name", name.as_str()),
            ("job-name", name.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut pod = pod_state::pod_from_template(
            &template,
            &ns,
            owner,
            PodName::Generate(name.clone()),
            &labels,
        );
        pod.metadata
            .finalizers
            .get_or_insert_with(Vec::new)
            .push(TRACKING_FINALIZER.into());
        let params = PostParams::default();
        for batch in replica_sync::slow_start_batches(to_create) {
            let results =
                futures::future::join_all((0..batch).map(|_| pods_api.create(&params, &pod))).await;
            for r in results {
                match r {
                    Ok(p) => pending.created.push(p.name_any()),
                    Err(e) => failure = Some(Error::api("creating pod for", "job", &name)(e)),
                }
            }
            if failure.is_some() {
                break;
            }
        }
    }
    for p in &to_delete {
        match pods_api
            .delete(&p.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(e) if is_status(&e, 404) => {}
            Err(e) => failure = Some(Error::api("deleting pod of", "job", &name)(e)),
        }
    }
    for created in &pending.created {
        ctx.events.record(
            job.as_ref(),
            Kind::Normal,
            "SuccessfulCreate",
            format!("Created pod: {created}"),
        );
    }
    ctx.expectations.expect(&key, pending);

    let created_active = active.len() + to_create;
    status.active = Some((created_active.saturating_sub(to_delete.len())) as i32);
    status.ready = Some(active.iter().filter(|p| pod_state::is_ready(p)).count() as i32);
    status.terminating = Some(
        owned
            .iter()
            .filter(|p| {
                p.metadata.deletion_timestamp.is_some()
                    && !matches!(pod_state::phase(p), "Succeeded" | "Failed")
            })
            .count() as i32,
    );
    status.succeeded = Some(acc.succeeded);
    status.failed = Some(acc.failed);
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods {
        succeeded: Some(acc.uncounted_succeeded.iter().cloned().collect()),
        failed: Some(acc.uncounted_failed.iter().cloned().collect()),
    });
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    if serde_json::to_value(&status).ok() != serde_json::to_value(&old).ok() {
        match api
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await
        {
            Ok(_) => {}
            Err(e) if is_status(&e, 404) => return Ok(Action::await_change()),
            Err(e) => return Err(Error::api("writing status of", "job", &name)(e)),
        }
    }
    // Finalizers go only for pods the stored status already records.
    for pod_name in release {
        let Some(p) = owned.iter().find(|p| p.name_any() == pod_name) else {
            continue;
        };
        let rest: Vec<&String> = p
            .finalizers()
            .iter()
            .filter(|f| *f != TRACKING_FINALIZER)
            .collect();
        let patch =
            json!({"metadata": {"finalizers": rest, "resourceVersion": p.resource_version()}});
        match pods_api
            .patch(&pod_name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => {}
            Err(e) if is_status(&e, 404) || is_status(&e, 409) => {}
            Err(e) => failure = Some(Error::api("removing finalizer of", "pod", &pod_name)(e)),
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(t) = finished_at(&status) {
        if let Some(ttl) = spec.ttl_seconds_after_finished {
            let left = t.as_second() + i64::from(ttl) - now.as_second();
            if left > 0 {
                return Ok(Action::requeue(Duration::from_secs(left as u64)));
            }
            match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(e) if is_status(&e, 404) => {}
                Err(e) => return Err(Error::api("deleting finished", "job", &name)(e)),
            }
        }
        return Ok(Action::await_change());
    }
    match (view.active_deadline_seconds, active_for) {
        (Some(limit), Some(t)) if limit > t => {
            Ok(Action::requeue(Duration::from_secs((limit - t) as u64)))
        }
        _ => Ok(Action::await_change()),
    }
}

/// When the Job finished: its Complete or Failed condition's transition time.
fn finished_at(status: &JobStatus) -> Option<Timestamp> {
    let c = has_condition(status, "Complete").or_else(|| has_condition(status, "Failed"))?;
    c.last_transition_time.as_ref().map(|t| t.0)
}
