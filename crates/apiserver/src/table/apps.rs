//! Printers of the workload kinds: deployments, replica sets, stateful sets, daemon sets,
//! controller revisions (apps/v1), jobs and cron jobs (batch/v1).

use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch};
use serde_json::{Value, json};

use super::format::{
    containers, human_duration, int, label_selector, labels, list, selector, since, text, timestamp,
};
use super::{Printer, age_column, column, doc, name_column};

const CONTAINERS: &str = "Names of each container in the template.";
const IMAGES: &str = "Images referenced by each container in the template.";

fn wide(with_selector: Option<String>) -> Vec<Value> {
    let mut cols = vec![
        column("Containers", "string", CONTAINERS, 1),
        column("Images", "string", IMAGES, 1),
    ];
    if let Some(desc) = with_selector {
        cols.push(column("Selector", "string", desc, 1));
    }
    cols
}

fn name_age(o: &Value, now: i64) -> (Value, Value) {
    (
        o["metadata"]["name"].clone(),
        json!(since(&o["metadata"]["creationTimestamp"], now)),
    )
}

pub fn printer(kind: &str) -> Option<Printer> {
    Some(match kind {
        "Deployment" => Printer::new(
            || {
                let mut cols = vec![
                    name_column(),
                    column("Ready", "string", "Number of the pod with ready state", 0),
                    column(
                        "Up-to-date",
                        "string",
                        doc::<apps::DeploymentStatus>("updatedReplicas"),
                        0,
                    ),
                    column(
                        "Available",
                        "string",
                        doc::<apps::DeploymentStatus>("availableReplicas"),
                        0,
                    ),
                    age_column(),
                ];
                cols.extend(wide(Some(doc::<apps::DeploymentSpec>("selector"))));
                cols
            },
            |o, now| {
                let (name, age) = name_age(o, now);
                let s = &o["status"];
                let (names, images) = containers(&o["spec"]["template"]["spec"]);
                let sel = selector(&o["spec"]["selector"]).unwrap_or_else(|| "<invalid>".into());
                let desired = o["spec"]["replicas"].as_i64().unwrap_or(1);
                vec![
                    name,
                    json!(format!("{}/{desired}", int(&s["readyReplicas"]))),
                    json!(int(&s["updatedReplicas"])),
                    json!(int(&s["availableReplicas"])),
                    age,
                    json!(names),
                    json!(images),
                    json!(sel),
                ]
            },
        ),
        "ReplicaSet" => Printer::new(
            || {
                let mut cols = vec![
                    name_column(),
                    column(
                        "Desired",
                        "integer",
                        doc::<apps::ReplicaSetSpec>("replicas"),
                        0,
                    ),
                    column(
                        "Current",
                        "integer",
                        doc::<apps::ReplicaSetStatus>("replicas"),
                        0,
                    ),
                    column(
                        "Ready",
                        "integer",
                        doc::<apps::ReplicaSetStatus>("readyReplicas"),
                        0,
                    ),
                    age_column(),
                ];
                cols.extend(wide(Some(doc::<apps::ReplicaSetSpec>("selector"))));
                cols
            },
            |o, now| {
                let (name, age) = name_age(o, now);
                let s = &o["status"];
                let (names, images) = containers(&o["spec"]["template"]["spec"]);
                let desired = o["spec"]["replicas"].as_i64().unwrap_or(1);
                vec![
                    name,
                    json!(desired),
                    json!(int(&s["replicas"])),
                    json!(int(&s["readyReplicas"])),
                    age,
                    json!(names),
                    json!(images),
                    json!(label_selector(&o["spec"]["selector"])),
                ]
            },
        ),
        "StatefulSet" => Printer::new(
            || {
                let mut cols = vec![
                    name_column(),
                    column("Ready", "string", "Number of the pod with ready state", 0),
                    age_column(),
                ];
                cols.extend(wide(None));
                cols
            },
            |o, now| {
                let (name, age) = name_age(o, now);
                let (names, images) = containers(&o["spec"]["template"]["spec"]);
                let desired = o["spec"]["replicas"].as_i64().unwrap_or(1);
                vec![
                    name,
                    json!(format!("{}/{desired}", int(&o["status"]["readyReplicas"]))),
                    age,
                    json!(names),
                    json!(images),
                ]
            },
        ),
        "DaemonSet" => Printer::new(
            || {
                let mut cols = vec![
                    name_column(),
                    column(
                        "Desired",
                        "integer",
                        doc::<apps::DaemonSetStatus>("desiredNumberScheduled"),
                        0,
                    ),
                    column(
                        "Current",
                        "integer",
                        doc::<apps::DaemonSetStatus>("currentNumberScheduled"),
                        0,
                    ),
                    column(
                        "Ready",
                        "integer",
                        doc::<apps::DaemonSetStatus>("numberReady"),
                        0,
                    ),
                    column(
                        "Up-to-date",
                        "integer",
                        doc::<apps::DaemonSetStatus>("updatedNumberScheduled"),
                        0,
                    ),
                    column(
                        "Available",
                        "integer",
                        doc::<apps::DaemonSetStatus>("numberAvailable"),
                        0,
                    ),
                    column(
                        "Node Selector",
                        "string",
                        doc::<k8s_openapi::api::core::v1::PodSpec>("nodeSelector"),
                        0,
                    ),
                    age_column(),
                ];
                cols.extend(wide(Some(doc::<apps::DaemonSetSpec>("selector"))));
                cols
            },
            |o, now| {
                let (name, age) = name_age(o, now);
                let s = &o["status"];
                let pod_spec = &o["spec"]["template"]["spec"];
                let (names, images) = containers(pod_spec);
                vec![
                    name,
                    json!(int(&s["desiredNumberScheduled"])),
                    json!(int(&s["currentNumberScheduled"])),
                    json!(int(&s["numberReady"])),
                    json!(int(&s["updatedNumberScheduled"])),
                    json!(int(&s["numberAvailable"])),
                    json!(labels(&pod_spec["nodeSelector"])),
                    age,
                    json!(names),
                    json!(images),
                    json!(label_selector(&o["spec"]["selector"])),
                ]
            },
        ),
        "ControllerRevision" => Printer::new(
            || {
                vec![
                    name_column(),
                    column("Controller", "string", "Controller of the object", 0),
                    column(
                        "Revision",
                        "string",
                        doc::<apps::ControllerRevision>("revision"),
                        0,
                    ),
                    age_column(),
                ]
            },
            |o, now| {
                let (name, age) = name_age(o, now);
                let owner = list(&o["metadata"]["ownerReferences"])
                    .iter()
                    .find(|r| r["controller"] == true);
                let controller = owner.map_or("<none>".to_string(), |r| {
                    let group = text(&r["apiVersion"])
                        .rsplit_once('/')
                        .map_or("", |(g, _)| g);
                    let kind = text(&r["kind"]);
                    let group_kind = if group.is_empty() {
                        kind.to_string()
                    } else {
                        format!("{kind}.{group}")
                    };
                    if group_kind.is_empty() {
                        text(&r["name"]).to_string()
                    } else {
                        format!("{}/{}", group_kind.to_lowercase(), text(&r["name"]))
                    }
                });
                vec![name, json!(controller), json!(int(&o["revision"])), age]
            },
        ),
        "Job" => Printer::new(
            || {
                let mut cols = vec![
                    name_column(),
                    column("Status", "string", "Status of the job.", 0),
                    column(
                        "Completions",
                        "string",
                        doc::<batch::JobStatus>("succeeded"),
                        0,
                    ),
                    column(
                        "Duration",
                        "string",
                        "Time required to complete the job.",
                        0,
                    ),
                    age_column(),
                ];
                cols.extend(wide(Some(doc::<batch::JobSpec>("selector"))));
                cols
            },
            job,
        ),
        "CronJob" => Printer::new(
            || {
                let mut cols = vec![
                    name_column(),
                    column(
                        "Schedule",
                        "string",
                        doc::<batch::CronJobSpec>("schedule"),
                        0,
                    ),
                    column(
                        "Timezone",
                        "string",
                        doc::<batch::CronJobSpec>("timeZone"),
                        0,
                    ),
                    column(
                        "Suspend",
                        "boolean",
                        doc::<batch::CronJobSpec>("suspend"),
                        0,
                    ),
                    column(
                        "Active",
                        "integer",
                        doc::<batch::CronJobStatus>("active"),
                        0,
                    ),
                    column(
                        "Last Schedule",
                        "string",
                        doc::<batch::CronJobStatus>("lastScheduleTime"),
                        0,
                    ),
                    age_column(),
                ];
                cols.extend(wide(Some(doc::<batch::JobSpec>("selector"))));
                cols
            },
            |o, now| {
                let (name, age) = name_age(o, now);
                let spec = &o["spec"];
                let last = if o["status"]["lastScheduleTime"].is_null() {
                    "<none>".to_string()
                } else {
                    since(&o["status"]["lastScheduleTime"], now)
                };
                let suspend = match spec["suspend"].as_bool() {
                    Some(true) => "True",
                    Some(false) => "False",
                    None => "<unset>",
                };
                let job_spec = &spec["jobTemplate"]["spec"];
                let (names, images) = containers(&job_spec["template"]["spec"]);
                vec![
                    name,
                    json!(text(&spec["schedule"])),
                    json!(spec["timeZone"].as_str().unwrap_or("<none>")),
                    json!(suspend),
                    json!(list(&o["status"]["active"]).len()),
                    json!(last),
                    age,
                    json!(names),
                    json!(images),
                    json!(label_selector(&job_spec["selector"])),
                ]
            },
        ),
        _ => return None,
    })
}

fn job_condition(o: &Value, ty: &str) -> bool {
    list(&o["status"]["conditions"])
        .iter()
        .find(|c| c["type"] == ty)
        .is_some_and(|c| c["status"] == "True")
}

fn job(o: &Value, now: i64) -> Vec<Value> {
    let (name, age) = name_age(o, now);
    let spec = &o["spec"];
    let succeeded = int(&o["status"]["succeeded"]);
    let completions = match spec["completions"].as_i64() {
        Some(c) => format!("{succeeded}/{c}"),
        None => match spec["parallelism"].as_i64().unwrap_or(0) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        timestamp(&o["status"]["startTime"]),
        timestamp(&o["status"]["completionTime"]),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now - start),
        (Some(start), Some(done)) => human_duration(done - start),
    };
    let status = if job_condition(o, "Complete") {
        "Complete"
    } else if job_condition(o, "Failed") {
        "Failed"
    } else if !o["metadata"]["deletionTimestamp"].is_null() {
        "Terminating"
    } else if job_condition(o, "Suspended") {
        "Suspended"
    } else if job_condition(o, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = containers(&spec["template"]["spec"]);
    vec![
        name,
        json!(status),
        json!(completions),
        json!(duration),
        age,
        json!(names),
        json!(images),
        json!(label_selector(&spec["selector"])),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::printer;
    use crate::table::tests::{ago, cells};

    fn check(kind: &str, obj: Value, want: Value) {
        let p = printer(kind).expect(kind);
        assert_eq!(Value::from(cells(&p, &obj)), want, "{kind}");
    }

    #[test]
    fn workloads_like_upstream() {
        let template = json!({"spec": {"containers": [{"name": "web", "image": "nginx:1"}, {"name": "log", "image": "busybox"}]}});
        let meta = json!({"name": "w", "creationTimestamp": ago(3 * 86400)});
        check(
            "Deployment",
            json!({"metadata": meta, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "w"}}, "template": template}, "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}),
            json!([
                "w",
                "2/3",
                3,
                2,
                "3d",
                "web,log",
                "nginx:1,busybox",
                "app=w"
            ]),
        );
        check(
            "ReplicaSet",
            json!({"metadata": meta, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "w", "pod-template-hash": "abc"}}, "template": template}, "status": {"replicas": 2}}),
            json!([
                "w",
                2,
                2,
                0,
                "3d",
                "web,log",
                "nginx:1,busybox",
                "app=w,pod-template-hash=abc"
            ]),
        );
        check(
            "StatefulSet",
            json!({"metadata": meta, "spec": {"replicas": 1, "template": template}, "status": {"readyReplicas": 1}}),
            json!(["w", "1/1", "3d", "web,log", "nginx:1,busybox"]),
        );
        check(
            "DaemonSet",
            json!({"metadata": meta, "spec": {"selector": {"matchLabels": {"app": "w"}}, "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": []}}}, "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1, "updatedNumberScheduled": 2, "numberAvailable": 1}}),
            json!([
                "w",
                2,
                2,
                1,
                2,
                1,
                "kubernetes.io/os=linux",
                "3d",
                "",
                "",
                "app=w"
            ]),
        );
        check(
            "ControllerRevision",
            json!({"metadata": {"name": "w-1", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "w", "controller": true}]}, "revision": 4}),
            json!(["w-1", "daemonset.apps/w", 4, "<unknown>"]),
        );
    }

    #[test]
    fn jobs_and_cron_jobs_like_upstream() {
        let meta = json!({"name": "j", "creationTimestamp": ago(600)});
        let template = json!({"spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        check(
            "Job",
            json!({"metadata": meta, "spec": {"completions": 3, "template": template, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}}}, "status": {"succeeded": 3, "startTime": ago(600), "completionTime": ago(540), "conditions": [{"type": "Complete", "status": "True"}]}}),
            json!([
                "j",
                "Complete",
                "3/3",
                "60s",
                "10m",
                "c",
                "busybox",
                "batch.kubernetes.io/controller-uid=u"
            ]),
        );
        check(
            "Job",
            json!({"metadata": meta, "spec": {"parallelism": 2, "template": template}, "status": {"startTime": ago(150)}}),
            json!([
                "j", "Running", "0/1 of 2", "2m30s", "10m", "c", "busybox", "<none>"
            ]),
        );
        check(
            "Job",
            json!({"metadata": meta, "spec": {"suspend": true}, "status": {"conditions": [{"type": "Suspended", "status": "True"}]}}),
            json!(["j", "Suspended", "0/1", "", "10m", "", "", "<none>"]),
        );
        check(
            "CronJob",
            json!({"metadata": meta, "spec": {"schedule": "*/5 * * * *", "suspend": false, "jobTemplate": {"spec": {"template": template}}}, "status": {"active": [{"name": "j-1"}], "lastScheduleTime": ago(90)}}),
            json!([
                "j",
                "*/5 * * * *",
                "<none>",
                "False",
                1,
                "90s",
                "10m",
                "c",
                "busybox",
                "<none>"
            ]),
        );
    }
}
