//! A container as CRI wants it: image, command and args, env, mounts, working dir, TTY/stdin,
//! linux resources from requests and limits, and the security context. Pure: the env and mounts
//! are resolved beforehand.

use std::collections::HashMap;

use gantry_cri::api;
use gantry_quantity::{milli_value, value};
use k8s_openapi::api::core::v1::{Container, Pod, SecurityContext};

use crate::labels;

/// CPU period of the CFS quota, as upstream.
const CPU_PERIOD: i64 = 100_000;

/// Converts milli-CPU requests to cgroup v1 cpu.shares (minimum 2, as upstream).
pub fn cpu_shares(milli_cpu: i64) -> i64 {
    if milli_cpu == 0 {
        return 2;
    }
    (milli_cpu * 1024 / 1000).max(2)
}

/// The container's linux resources from its requests and limits.
pub fn resources(container: &Container) -> api::LinuxContainerResources {
    let res = container.resources.as_ref();
    let requests = res.and_then(|r| r.requests.as_ref());
    let limits = res.and_then(|r| r.limits.as_ref());
    let cpu_request = requests
        .and_then(|r| r.get("cpu"))
        .or_else(|| limits.and_then(|l| l.get("cpu")))
        .map(milli_value)
        .unwrap_or(0);
    let mut out = api::LinuxContainerResources {
        cpu_shares: cpu_shares(cpu_request),
        ..Default::default()
    };
    if let Some(cpu) = limits.and_then(|l| l.get("cpu")).map(milli_value) {
        out.cpu_period = CPU_PERIOD;
        out.cpu_quota = (cpu * CPU_PERIOD / 1000).max(1000);
    }
    if let Some(mem) = limits.and_then(|l| l.get("memory")).map(value) {
        out.memory_limit_in_bytes = mem;
    }
    out
}

fn security(sc: Option<&SecurityContext>, pod: &Pod) -> api::LinuxContainerSecurityContext {
    let psc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let mut out = api::LinuxContainerSecurityContext::default();
    let user = sc
        .and_then(|s| s.run_as_user)
        .or(psc.and_then(|p| p.run_as_user));
    let group = sc
        .and_then(|s| s.run_as_group)
        .or(psc.and_then(|p| p.run_as_group));
    out.run_as_user = user.map(|value| api::Int64Value { value });
    out.run_as_group = group.map(|value| api::Int64Value { value });
    out.supplemental_groups = psc
        .and_then(|p| p.supplemental_groups.clone())
        .unwrap_or_default();
    if let Some(fs_group) = psc.and_then(|p| p.fs_group) {
        out.supplemental_groups.push(fs_group);
    }
    if let Some(sc) = sc {
        out.privileged = sc.privileged.unwrap_or(false);
        out.readonly_rootfs = sc.read_only_root_filesystem.unwrap_or(false);
        out.no_new_privs = sc.allow_privilege_escalation == Some(false);
        if let Some(caps) = &sc.capabilities {
            let norm = |v: &Option<Vec<String>>| -> Vec<String> {
                v.iter()
                    .flatten()
                    .map(|c| {
                        let c = c.to_uppercase();
                        if c == "ALL" || c.starts_with("CAP_") {
                            c
                        } else {
                            format!("CAP_{c}")
                        }
                    })
                    .collect()
            };
            out.capabilities = Some(api::Capability {
                add_capabilities: norm(&caps.add),
                drop_capabilities: norm(&caps.drop),
                ..Default::default()
            });
        }
    }
    let host = |f: fn(&k8s_openapi::api::core::v1::PodSpec) -> Option<bool>| {
        pod.spec.as_ref().and_then(f).unwrap_or(false)
    };
    let mode = |h: bool| if h { api::NamespaceMode::Node } else { api::NamespaceMode::Pod } as i32;
    out.namespace_options = Some(api::NamespaceOption {
        network: mode(host(|s| s.host_network)),
        ipc: mode(host(|s| s.host_ipc)),
        pid: if host(|s| s.host_pid) {
            api::NamespaceMode::Node as i32
        } else if host(|s| s.share_process_namespace) {
            api::NamespaceMode::Pod as i32
        } else {
            api::NamespaceMode::Container as i32
        },
        ..Default::default()
    });
    out
}

/// A cheap fingerprint of the container spec, stored as an annotation so a restarted kubelet
/// can tell whether a running container still matches its pod.
pub fn spec_hash(container: &Container) -> String {
    let json = serde_json::to_string(container).unwrap_or_default();
    // FNV-1a: stable across builds and processes (std's hasher is randomly seeded).
    let mut h: u64 = 0xcbf29ce484222325;
    for b in json.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// Everything CreateContainer needs for one container of `pod`.
pub struct ContainerInput<'a> {
    pub pod: &'a Pod,
    pub container: &'a Container,
    pub attempt: u32,
    pub init: bool,
    pub env: Vec<(String, String)>,
    pub mounts: Vec<api::Mount>,
    /// Host file mounted at terminationMessagePath.
    pub termination_log: Option<String>,
}

/// The CreateContainer config.
pub fn container_config(input: ContainerInput<'_>) -> api::ContainerConfig {
    let c = input.container;
    let mut labels_map = labels::pod_labels(input.pod);
    labels_map.insert(labels::CONTAINER_NAME.into(), c.name.clone());
    if input.init {
        labels_map.insert(labels::CONTAINER_TYPE.into(), "init".into());
    }
    let termination_path = c
        .termination_message_path
        .clone()
        .unwrap_or_else(|| "/dev/termination-log".into());
    let grace = input
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30);
    let annotations = HashMap::from([
        (labels::CONTAINER_HASH.to_string(), spec_hash(c)),
        (
            labels::TERMINATION_MESSAGE_PATH.to_string(),
            termination_path.clone(),
        ),
        (labels::GRACE_PERIOD.to_string(), grace.to_string()),
    ]);
    let mut mounts = input.mounts;
    if let Some(host) = input.termination_log {
        mounts.push(api::Mount {
            container_path: termination_path,
            host_path: host,
            ..Default::default()
        });
    }
    api::ContainerConfig {
        metadata: Some(api::ContainerMetadata {
            name: c.name.clone(),
            attempt: input.attempt,
        }),
        image: Some(api::ImageSpec {
            image: c.image.clone().unwrap_or_default(),
            ..Default::default()
        }),
        command: c.command.clone().unwrap_or_default(),
        args: c.args.clone().unwrap_or_default(),
        working_dir: c.working_dir.clone().unwrap_or_default(),
        envs: input
            .env
            .into_iter()
            .map(|(key, value)| api::KeyValue { key, value })
            .collect(),
        mounts,
        labels: labels_map,
        annotations,
        log_path: format!("{}/{}.log", c.name, input.attempt),
        stdin: c.stdin.unwrap_or(false),
        stdin_once: c.stdin_once.unwrap_or(false),
        tty: c.tty.unwrap_or(false),
        linux: Some(api::LinuxContainerConfig {
            resources: Some(resources(c)),
            security_context: Some(security(c.security_context.as_ref(), input.pod)),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container(v: serde_json::Value) -> Container {
        serde_json::from_value(v).expect("container")
    }

    #[test]
    fn resources_from_requests_and_limits() {
        let cases = [
            (json!({"name": "c"}), 2, 0, 0),
            (
                json!({"name": "c", "resources": {"requests": {"cpu": "500m"}}}),
                512,
                0,
                0,
            ),
            (
                json!({"name": "c", "resources": {"limits": {"cpu": "1", "memory": "64Mi"}}}),
                1024,
                100_000,
                64 << 20,
            ),
            (
                json!({"name": "c", "resources": {"requests": {"cpu": "1m"}, "limits": {"cpu": "1m"}}}),
                2,
                1000,
                0,
            ),
        ];
        for (c, shares, quota, mem) in cases {
            let r = resources(&container(c.clone()));
            assert_eq!(
                (r.cpu_shares, r.cpu_quota, r.memory_limit_in_bytes),
                (shares, quota, mem),
                "{c}"
            );
        }
    }

    #[test]
    fn security_context_maps_to_cri() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [], "securityContext": {"runAsUser": 1000, "fsGroup": 2000}}})).expect("pod");
        let c = container(
            json!({"name": "c", "securityContext": {"runAsGroup": 3000, "privileged": true, "readOnlyRootFilesystem": true, "capabilities": {"add": ["NET_ADMIN"], "drop": ["all"]}}}),
        );
        let s = security(c.security_context.as_ref(), &pod);
        assert_eq!(s.run_as_user.map(|v| v.value), Some(1000));
        assert_eq!(s.run_as_group.map(|v| v.value), Some(3000));
        assert!(s.privileged && s.readonly_rootfs);
        assert_eq!(s.supplemental_groups, vec![2000]);
        let caps = s.capabilities.expect("caps");
        assert_eq!(
            (caps.add_capabilities, caps.drop_capabilities),
            (vec!["CAP_NET_ADMIN".to_string()], vec!["ALL".to_string()])
        );
    }

    #[test]
    fn spec_hash_changes_with_the_spec() {
        let a = spec_hash(&container(json!({"name": "c", "image": "a"})));
        assert_eq!(a, spec_hash(&container(json!({"name": "c", "image": "a"}))));
        assert_ne!(a, spec_hash(&container(json!({"name": "c", "image": "b"}))));
    }
}
