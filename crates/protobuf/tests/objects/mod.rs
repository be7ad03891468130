//! Test objects: each as a typed `k8s-pb` message and as the Kubernetes JSON it stands for.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::batch::v1 as batch;
use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::rbac::v1 as rbac;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn meta(name: &str, namespace: &str) -> Option<meta::ObjectMeta> {
    Some(meta::ObjectMeta {
        name: s(name),
        namespace: s(namespace),
        uid: s("0b5e6c1a-1111-2222-3333-444455556666"),
        resource_version: s("42"),
        generation: Some(3),
        creation_timestamp: Some(meta::Time {
            seconds: Some(1704164645),
            nanos: Some(0),
        }),
        labels: labels(&[("app", name)]),
        annotations: labels(&[("note", "x")]),
        ..Default::default()
    })
}

fn meta_json(name: &str, namespace: &str) -> Value {
    json!({
        "name": name, "namespace": namespace, "uid": "0b5e6c1a-1111-2222-3333-444455556666",
        "resourceVersion": "42", "generation": 3, "creationTimestamp": "2024-01-02T03:04:05Z",
        "labels": {"app": name}, "annotations": {"note": "x"},
    })
}

/// An `IntOrString` as Go writes it: all three fields, the unused ones zero.
fn int(v: i32) -> Option<IntOrString> {
    Some(IntOrString {
        r#type: Some(0),
        int_val: Some(v),
        str_val: Some(String::new()),
    })
}

fn string(v: &str) -> Option<IntOrString> {
    Some(IntOrString {
        r#type: Some(1),
        int_val: Some(0),
        str_val: s(v),
    })
}

fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Quantity { string: s(v) }))
        .collect()
}

pub fn config_map() -> (core::ConfigMap, Value) {
    let pb = core::ConfigMap {
        metadata: meta("settings", "default"),
        immutable: Some(false),
        data: labels(&[("a.conf", "x=1\n"), ("b", "two")]),
        binary_data: [("blob".to_string(), vec![0u8, 1, 2, 255])].into(),
    };
    let json = json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": meta_json("settings", "default"),
        "immutable": false, "data": {"a.conf": "x=1\n", "b": "two"},
        "binaryData": {"blob": "AAEC/w=="},
    });
    (pb, json)
}

pub fn secret() -> (core::Secret, Value) {
    let pb = core::Secret {
        metadata: meta("token", "kube-system"),
        data: [("password".to_string(), b"hunter2".to_vec())].into(),
        r#type: s("Opaque"),
        ..Default::default()
    };
    let json = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": meta_json("token", "kube-system"),
        "data": {"password": "aHVudGVyMg=="}, "type": "Opaque",
    });
    (pb, json)
}

pub fn namespace() -> (core::Namespace, Value) {
    let pb = core::Namespace {
        metadata: meta("team-a", "x"),
        spec: Some(core::NamespaceSpec {
            finalizers: vec!["kubernetes".into()],
        }),
        status: Some(core::NamespaceStatus {
            phase: s("Active"),
            conditions: vec![],
        }),
    };
    let json = json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": meta_json("team-a", "x"),
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"},
    });
    (pb, json)
}

fn pod_spec() -> core::PodSpec {
    core::PodSpec {
        containers: vec![core::Container {
            name: s("web"),
            image: s("nginx:1.27"),
            command: vec!["nginx".into(), "-g".into()],
            ports: vec![core::ContainerPort {
                container_port: Some(80),
                protocol: s("TCP"),
                name: s("http"),
                ..Default::default()
            }],
            env: vec![
                core::EnvVar {
                    name: s("MODE"),
                    value: s("prod"),
                    value_from: None,
                },
                core::EnvVar {
                    name: s("LEVEL"),
                    value: None,
                    value_from: Some(core::EnvVarSource {
                        config_map_key_ref: Some(core::ConfigMapKeySelector {
                            local_object_reference: Some(core::LocalObjectReference {
                                name: s("settings"),
                            }),
                            key: s("b"),
                            optional: Some(true),
                        }),
                        ..Default::default()
                    }),
                },
            ],
            resources: Some(core::ResourceRequirements {
                limits: quantities(&[("cpu", "500m"), ("memory", "128Mi")]),
                requests: quantities(&[("cpu", "100m")]),
                claims: vec![],
            }),
            stdin: Some(false),
            ..Default::default()
        }],
        restart_policy: s("Always"),
        termination_grace_period_seconds: Some(0),
        node_selector: labels(&[("disk", "ssd")]),
        ..Default::default()
    }
}

fn pod_spec_json() -> Value {
    json!({
        "containers": [{
            "name": "web", "image": "nginx:1.27", "command": ["nginx", "-g"],
            "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
            "env": [
                {"name": "MODE", "value": "prod"},
                {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "b", "optional": true}}},
            ],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}},
            "stdin": false,
        }],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 0,
        "nodeSelector": {"disk": "ssd"},
    })
}

fn template() -> Option<core::PodTemplateSpec> {
    Some(core::PodTemplateSpec {
        metadata: Some(meta::ObjectMeta {
            labels: labels(&[("app", "web")]),
            ..Default::default()
        }),
        spec: Some(pod_spec()),
    })
}

fn template_json() -> Value {
    json!({"metadata": {"labels": {"app": "web"}}, "spec": pod_spec_json()})
}

pub fn deployment() -> (apps::Deployment, Value) {
    let pb = apps::Deployment {
        metadata: meta("web", "default"),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(0),
            selector: Some(meta::LabelSelector {
                match_labels: labels(&[("app", "web")]),
                match_expressions: vec![meta::LabelSelectorRequirement {
                    key: s("tier"),
                    operator: s("In"),
                    values: vec!["front".into()],
                }],
            }),
            template: template(),
            strategy: Some(apps::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_unavailable: int(0),
                    max_surge: string("25%"),
                }),
            }),
            revision_history_limit: Some(10),
            ..Default::default()
        }),
        status: Some(apps::DeploymentStatus {
            observed_generation: Some(3),
            conditions: vec![apps::DeploymentCondition {
                r#type: s("Available"),
                status: s("True"),
                last_update_time: Some(meta::Time {
                    seconds: Some(1704164645),
                    nanos: Some(0),
                }),
                reason: s("MinimumReplicasAvailable"),
                ..Default::default()
            }],
            ..Default::default()
        }),
    };
    let json = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta_json("web", "default"),
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]},
            "template": template_json(),
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "revisionHistoryLimit": 10,
        },
        "status": {
            "observedGeneration": 3,
            "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": "2024-01-02T03:04:05Z", "reason": "MinimumReplicasAvailable"}],
        },
    });
    (pb, json)
}

pub fn service() -> (core::Service, Value) {
    let pb = core::Service {
        metadata: meta("web", "default"),
        spec: Some(core::ServiceSpec {
            ports: vec![
                core::ServicePort {
                    name: s("http"),
                    protocol: s("TCP"),
                    port: Some(80),
                    target_port: int(8080),
                    node_port: Some(30080),
                    ..Default::default()
                },
                core::ServicePort {
                    name: s("metrics"),
                    port: Some(9090),
                    target_port: string("metrics"),
                    ..Default::default()
                },
            ],
            selector: labels(&[("app", "web")]),
            cluster_ip: s("10.96.0.10"),
            cluster_ips: vec!["10.96.0.10".into()],
            external_ips: vec!["192.0.2.1".into()],
            r#type: s("NodePort"),
            ip_families: vec!["IPv4".into()],
            ..Default::default()
        }),
        status: Some(core::ServiceStatus::default()),
    };
    let json = json!({
        "apiVersion": "v1", "kind": "Service", "metadata": meta_json("web", "default"),
        "spec": {
            "ports": [
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080},
                {"name": "metrics", "port": 9090, "targetPort": "metrics"},
            ],
            "selector": {"app": "web"}, "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
            "externalIPs": ["192.0.2.1"], "type": "NodePort", "ipFamilies": ["IPv4"],
        },
        "status": {},
    });
    (pb, json)
}

fn job_spec() -> batch::JobSpec {
    batch::JobSpec {
        backoff_limit: Some(0),
        completions: Some(1),
        template: template(),
        ttl_seconds_after_finished: Some(60),
        ..Default::default()
    }
}

fn job_spec_json() -> Value {
    json!({"backoffLimit": 0, "completions": 1, "template": template_json(), "ttlSecondsAfterFinished": 60})
}

pub fn job() -> (batch::Job, Value) {
    let pb = batch::Job {
        metadata: meta("once", "default"),
        spec: Some(job_spec()),
        status: Some(batch::JobStatus {
            start_time: Some(meta::Time {
                seconds: Some(1704164645),
                nanos: Some(0),
            }),
            succeeded: Some(1),
            ..Default::default()
        }),
    };
    let json = json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": meta_json("once", "default"),
        "spec": job_spec_json(),
        "status": {"startTime": "2024-01-02T03:04:05Z", "succeeded": 1},
    });
    (pb, json)
}

pub fn cron_job() -> (batch::CronJob, Value) {
    let pb = batch::CronJob {
        metadata: meta("nightly", "default"),
        spec: Some(batch::CronJobSpec {
            schedule: s("0 3 * * *"),
            suspend: Some(false),
            job_template: Some(batch::JobTemplateSpec {
                metadata: None,
                spec: Some(job_spec()),
            }),
            successful_jobs_history_limit: Some(0),
            ..Default::default()
        }),
        status: None,
    };
    let json = json!({
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta_json("nightly", "default"),
        "spec": {
            "schedule": "0 3 * * *", "suspend": false,
            "jobTemplate": {"spec": job_spec_json()}, "successfulJobsHistoryLimit": 0,
        },
    });
    (pb, json)
}

pub fn role() -> (rbac::Role, Value) {
    let pb = rbac::Role {
        metadata: meta("reader", "default"),
        rules: vec![rbac::PolicyRule {
            verbs: vec!["get".into(), "list".into()],
            api_groups: vec![String::new(), "apps".into()],
            resources: vec!["pods".into(), "deployments".into()],
            resource_names: vec!["web".into()],
            non_resource_ur_ls: vec![],
        }],
    };
    let json = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": meta_json("reader", "default"),
        "rules": [{"verbs": ["get", "list"], "apiGroups": ["", "apps"], "resources": ["pods", "deployments"], "resourceNames": ["web"]}],
    });
    (pb, json)
}

pub fn role_binding() -> (rbac::RoleBinding, Value) {
    let pb = rbac::RoleBinding {
        metadata: meta("read", "default"),
        subjects: vec![rbac::Subject {
            kind: s("ServiceAccount"),
            name: s("default"),
            namespace: s("default"),
            api_group: None,
        }],
        role_ref: Some(rbac::RoleRef {
            api_group: s("rbac.authorization.k8s.io"),
            kind: s("Role"),
            name: s("reader"),
        }),
    };
    let json = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": meta_json("read", "default"),
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
    });
    (pb, json)
}

pub fn pod() -> (core::Pod, Value) {
    let t = |seconds| {
        Some(meta::Time {
            seconds: Some(seconds),
            nanos: Some(0),
        })
    };
    let pb = core::Pod {
        metadata: meta("web-1", "default"),
        spec: Some(pod_spec()),
        status: Some(core::PodStatus {
            phase: s("Running"),
            conditions: vec![core::PodCondition {
                r#type: s("Ready"),
                status: s("True"),
                last_transition_time: t(1704164700),
                ..Default::default()
            }],
            host_ip: s("192.168.1.10"),
            host_ips: vec![core::HostIp {
                ip: s("192.168.1.10"),
            }],
            pod_ip: s("10.244.0.5"),
            pod_ips: vec![core::PodIp {
                ip: s("10.244.0.5"),
            }],
            start_time: t(1704164645),
            container_statuses: vec![core::ContainerStatus {
                name: s("web"),
                state: Some(core::ContainerState {
                    running: Some(core::ContainerStateRunning {
                        started_at: t(1704164650),
                    }),
                    ..Default::default()
                }),
                ready: Some(true),
                restart_count: Some(0),
                image: s("nginx:1.27"),
                image_id: s("docker.io/library/nginx@sha256:abc"),
                container_id: s("containerd://123"),
                started: Some(true),
                ..Default::default()
            }],
            qos_class: s("Burstable"),
            ..Default::default()
        }),
    };
    let json = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": meta_json("web-1", "default"),
        "spec": pod_spec_json(),
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-02T03:05:00Z"}],
            "hostIP": "192.168.1.10", "hostIPs": [{"ip": "192.168.1.10"}],
            "podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}],
            "startTime": "2024-01-02T03:04:05Z",
            "containerStatuses": [{
                "name": "web", "state": {"running": {"startedAt": "2024-01-02T03:04:10Z"}},
                "ready": true, "restartCount": 0, "image": "nginx:1.27",
                "imageID": "docker.io/library/nginx@sha256:abc", "containerID": "containerd://123",
                "started": true,
            }],
            "qosClass": "Burstable",
        },
    });
    (pb, json)
}

pub fn lease() -> (coordination::Lease, Value) {
    let pb = coordination::Lease {
        metadata: meta("node-a", "kube-node-lease"),
        spec: Some(coordination::LeaseSpec {
            holder_identity: s("node-a"),
            lease_duration_seconds: Some(40),
            acquire_time: Some(meta::MicroTime {
                seconds: Some(1704164645),
                nanos: Some(123_456_000),
            }),
            renew_time: Some(meta::MicroTime {
                seconds: Some(1704164700),
                nanos: Some(0),
            }),
            lease_transitions: Some(2),
            ..Default::default()
        }),
    };
    let json = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": meta_json("node-a", "kube-node-lease"),
        "spec": {
            "holderIdentity": "node-a", "leaseDurationSeconds": 40,
            "acquireTime": "2024-01-02T03:04:05.123456Z", "renewTime": "2024-01-02T03:05:00.000000Z",
            "leaseTransitions": 2,
        },
    });
    (pb, json)
}

pub fn status() -> (meta::Status, Value) {
    let pb = meta::Status {
        metadata: Some(meta::ListMeta::default()),
        status: s("Failure"),
        message: s("pods \"x\" not found"),
        reason: s("NotFound"),
        details: Some(meta::StatusDetails {
            name: s("x"),
            kind: s("pods"),
            causes: vec![meta::StatusCause {
                reason: s("FieldValueRequired"),
                message: s("required"),
                field: s("spec.containers"),
            }],
            ..Default::default()
        }),
        code: Some(404),
    };
    let json = json!({
        "apiVersion": "v1", "kind": "Status", "metadata": {},
        "status": "Failure", "message": "pods \"x\" not found", "reason": "NotFound",
        "details": {"name": "x", "kind": "pods", "causes": [{"reason": "FieldValueRequired", "message": "required", "field": "spec.containers"}]},
        "code": 404,
    });
    (pb, json)
}
