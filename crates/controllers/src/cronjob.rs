//! The CronJob controller: creates a Job `<cronjob>-<scheduled minute since epoch>` for each
//! scheduled time (in `spec.timeZone`), honouring suspend, startingDeadlineSeconds and
//! concurrencyPolicy Allow/Forbid/Replace; tracks active Jobs, lastScheduleTime and
//! lastSuccessfulTime; deletes finished Jobs past the history limits.

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use crate::ControllerFuture;
use crate::cron_schedule::{self, Schedule};
use crate::ownership;
use crate::reconcile_error::{Error, is_status, retry_after};

struct Ctx {
    client: Client,
    jobs: Store<Job>,
}

/// The CronJob controller.
pub fn controller(client: Client) -> ControllerFuture {
    let (jobs, writer) = reflector::store();
    let job_events = reflector::reflector(
        writer,
        watcher(Api::<Job>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        jobs,
    });
    Controller::new(Api::<CronJob>::all(client), watcher::Config::default())
        .watches_stream(job_events, |job: Job| {
            let ns = job.namespace().unwrap_or_default();
            ownership::controller_of(&job.metadata)
                .filter(|r| r.kind == "CronJob")
                .map(|r| ObjectRef::<CronJob>::new(&r.name).within(&ns))
        })
        .run(
            reconcile,
            |c, e, _| retry_after("cronjob", &c.name_any(), e),
            ctx,
        )
        .for_each(|_| async {})
        .boxed()
}

/// The Job name for a scheduled time: `<cronjob>-<minutes since epoch>`.
pub fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second().div_euclid(60))
}

/// Whether a Job finished, and if so whether it succeeded.
fn finished(job: &Job) -> Option<bool> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some(true),
            "Failed" => Some(false),
            _ => None,
        })
}

/// Finished Jobs to delete beyond `limit`, oldest start first: `(name, start seconds)` pairs.
pub fn over_limit(mut finished: Vec<(String, i64)>, limit: i32) -> Vec<String> {
    finished.sort_by_key(|(n, t)| (*t, n.clone()));
    let excess = finished.len().saturating_sub(limit.max(0) as usize);
    finished.into_iter().take(excess).map(|(n, _)| n).collect()
}

async fn reconcile(cj: Arc<CronJob>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let _ = gantry_informer::ready(&ctx.jobs).await;
    let name = cj.metadata.name.clone().ok_or(Error::Missing {
        kind: "cronjob",
        field: "name",
    })?;
    let ns = cj.namespace().ok_or(Error::Missing {
        kind: "cronjob",
        field: "namespace",
    })?;
    let uid = cj.metadata.uid.clone().ok_or(Error::Missing {
        kind: "cronjob",
        field: "uid",
    })?;
    let spec = cj.spec.clone().unwrap_or_default();
    let old = cj.status.clone().unwrap_or_default();
    let now = Timestamp::now();
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let owned: Vec<Arc<Job>> = ctx
        .jobs
        .state()
        .into_iter()
        .filter(|j| j.namespace().as_deref() == Some(&ns))
        .filter(|j| ownership::controller_of(&j.metadata).is_some_and(|r| r.uid == uid))
        .collect();

    let mut last_success = old.last_successful_time.as_ref().map(|t| t.0);
    let (mut succeeded, mut failed) = (Vec::new(), Vec::new());
    let mut active: Vec<&Job> = Vec::new();
    for j in &owned {
        let start = j
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .or(j.metadata.creation_timestamp.as_ref())
            .map(|t| t.0.as_second())
            .unwrap_or(0);
        match finished(j) {
            Some(true) => {
                let done = j
                    .status
                    .as_ref()
                    .and_then(|s| s.completion_time.as_ref())
                    .map(|t| t.0);
                last_success = last_success.max(done);
                succeeded.push((j.name_any(), start));
            }
            Some(false) => failed.push((j.name_any(), start)),
            None if j.metadata.deletion_timestamp.is_none() => active.push(j.as_ref()),
            None => {}
        }
    }
    let mut victims = over_limit(succeeded, spec.successful_jobs_history_limit.unwrap_or(3));
    victims.extend(over_limit(
        failed,
        spec.failed_jobs_history_limit.unwrap_or(1),
    ));
    for v in victims {
        delete_job(&jobs_api, &v).await?;
    }

    let tz = match spec.time_zone.as_deref() {
        Some(z) => TimeZone::get(z).ok(),
        None => Some(TimeZone::UTC),
    };
    let schedule = Schedule::parse(&spec.schedule);
    let mut last_schedule = old.last_schedule_time.as_ref().map(|t| t.0);
    let mut wake = None;
    match (&schedule, &tz) {
        (Ok(schedule), Some(tz)) if spec.suspend != Some(true) => {
            let created = cj
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0)
                .unwrap_or(now);
            let mut earliest = last_schedule.unwrap_or(created);
            if let Some(d) = spec.starting_deadline_seconds {
                let floor = Timestamp::from_second(now.as_second() - d).unwrap_or(now);
                earliest = earliest.max(floor);
            }
            let (due, missed) = cron_schedule::most_recent(schedule, earliest, now, tz);
            if missed > 0 {
                tracing::info!(cronjob = %name, missed, "missed schedules");
            }
            if let Some(t) = due {
                let jname = job_name(&name, t);
                let exists = owned.iter().any(|j| j.name_any() == jname);
                let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
                let forbidden = policy == "Forbid" && !active.is_empty();
                if !exists && !forbidden {
                    if policy == "Replace" {
                        for j in active.drain(..) {
                            delete_job(&jobs_api, &j.name_any()).await?;
                        }
                    }
                    let owner = ownership::controller_ref(cj.as_ref()).ok_or(Error::Missing {
                        kind: "cronjob",
                        field: "uid",
                    })?;
                    let tmpl = spec.job_template.clone();
                    let tmeta = tmpl.metadata.unwrap_or_default();
                    let mut annotations = tmeta.annotations.unwrap_or_default();
                    annotations.insert(
                        "batch.kubernetes.io/cronjob-scheduled-timestamp".into(),
                        t.to_string(),
                    );
                    let job = Job {
                        metadata: ObjectMeta {
                            name: Some(jname.clone()),
                            namespace: Some(ns.clone()),
                            labels: tmeta.labels,
                            annotations: Some(annotations),
                            owner_references: Some(vec![owner]),
                            ..Default::default()
                        },
                        spec: tmpl.spec,
                        status: None,
                    };
                    match jobs_api.create(&PostParams::default(), &job).await {
                        Ok(_) => {}
                        Err(e) if is_status(&e, 409) => {}
                        Err(e) => return Err(Error::api("creating job for", "cronjob", &name)(e)),
                    }
                    last_schedule = Some(t);
                }
                if exists || !forbidden {
                    last_schedule = last_schedule.max(Some(t));
                }
            }
            wake = schedule
                .next_after(now, tz)
                .map(|n| Duration::from_secs((n.as_second() - now.as_second()).max(0) as u64 + 1));
        }
        (Err(e), _) => tracing::warn!(cronjob = %name, error = %e, "unparsable schedule"),
        (_, None) => tracing::warn!(cronjob = %name, "unknown time zone"),
        _ => {}
    }

    let refs: Vec<ObjectReference> = ctx
        .jobs
        .state()
        .iter()
        .filter(|j| {
            j.namespace().as_deref() == Some(&ns)
                && ownership::controller_of(&j.metadata).is_some_and(|r| r.uid == uid)
        })
        .filter(|j| finished(j).is_none() && j.metadata.deletion_timestamp.is_none())
        .filter(|j| active.iter().any(|a| a.uid() == j.uid()))
        .map(|j| ObjectReference {
            api_version: Some("batch/v1".into()),
            kind: Some("Job".into()),
            name: j.metadata.name.clone(),
            namespace: j.metadata.namespace.clone(),
            uid: j.metadata.uid.clone(),
            resource_version: j.metadata.resource_version.clone(),
            ..Default::default()
        })
        .collect();
    let status = json!({
        "active": if refs.is_empty() { serde_json::Value::Null } else { json!(refs) },
        "lastScheduleTime": last_schedule.map(Time),
        "lastSuccessfulTime": last_success.map(Time),
    });
    let current = json!({
        "active": old.active.as_ref().filter(|a| !a.is_empty()).map(|a| a.iter().map(|r| r.uid.clone()).collect::<Vec<_>>()),
        "lastScheduleTime": old.last_schedule_time,
        "lastSuccessfulTime": old.last_successful_time,
    });
    let wanted = json!({
        "active": (!refs.is_empty()).then(|| refs.iter().map(|r| r.uid.clone()).collect::<Vec<_>>()),
        "lastScheduleTime": status["lastScheduleTime"],
        "lastSuccessfulTime": status["lastSuccessfulTime"],
    });
    if current != wanted {
        let api: Api<CronJob> = Api::namespaced(ctx.client.clone(), &ns);
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
            Err(e) => return Err(Error::api("writing status of", "cronjob", &name)(e)),
        }
    }
    Ok(wake
        .map(Action::requeue)
        .unwrap_or_else(Action::await_change))
}

async fn delete_job(api: &Api<Job>, name: &str) -> Result<(), Error> {
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, 404) => Ok(()),
        Err(e) => Err(Error::api("deleting", "job", name)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_history() {
        let t = Timestamp::from_second(1_700_000_040).unwrap_or(Timestamp::UNIX_EPOCH);
        assert_eq!(job_name("backup", t), "backup-28333334");
        let jobs = vec![
            ("c".to_string(), 3),
            ("a".to_string(), 1),
            ("b".to_string(), 2),
        ];
        assert_eq!(
            over_limit(jobs.clone(), 1),
            vec!["a".to_string(), "b".to_string()]
        );
        assert_eq!(over_limit(jobs.clone(), 3), Vec::<String>::new());
        assert_eq!(over_limit(jobs, 0).len(), 3);
    }
}
