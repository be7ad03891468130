//! A pod's sandbox as CRI wants it: metadata and labels that find the pod again, hostname, DNS
//! config, port mappings, sysctls, namespaces and the pod cgroup. Pure: from the Pod and the
//! node's settings only.

use std::collections::HashMap;

use gantry_cri::api;
use k8s_openapi::api::core::v1::Pod;

use crate::labels;

/// Node settings a sandbox depends on.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    pub cluster_dns: Vec<String>,
    pub cluster_domain: String,
    /// The host's resolv.conf nameservers and search domains (for dnsPolicy Default).
    pub host_nameservers: Vec<String>,
    pub host_searches: Vec<String>,
    /// Where the pod's logs go: `<logs dir>/<ns>_<name>_<uid>`.
    pub log_root: String,
}

fn host_network(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false)
}

/// The pod's DNS configuration by dnsPolicy (ClusterFirst, ClusterFirstWithHostNet, Default, None).
pub fn dns_config(pod: &Pod, settings: &SandboxSettings) -> api::DnsConfig {
    let spec = pod.spec.as_ref();
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let policy = spec
        .and_then(|s| s.dns_policy.as_deref())
        .unwrap_or("ClusterFirst");
    let cluster_first = match policy {
        "ClusterFirst" => !host_network(pod),
        "ClusterFirstWithHostNet" => true,
        _ => false,
    };
    let mut cfg = api::DnsConfig::default();
    if policy == "None" {
        // Only what dnsConfig says.
    } else if cluster_first && !settings.cluster_dns.is_empty() {
        let d = &settings.cluster_domain;
        cfg.servers = settings.cluster_dns.clone();
        cfg.searches = vec![format!("{ns}.svc.{d}"), format!("svc.{d}"), d.clone()];
        cfg.options = vec!["ndots:5".into()];
    } else {
        cfg.servers = settings.host_nameservers.clone();
        cfg.searches = settings.host_searches.clone();
    }
    if let Some(extra) = spec.and_then(|s| s.dns_config.as_ref()) {
        for s in extra.nameservers.iter().flatten() {
            if !cfg.servers.contains(s) {
                cfg.servers.push(s.clone());
            }
        }
        for s in extra.searches.iter().flatten() {
            if !cfg.searches.contains(s) {
                cfg.searches.push(s.clone());
            }
        }
        for o in extra.options.iter().flatten() {
            let opt = match &o.value {
                Some(v) => format!("{}:{v}", o.name.as_deref().unwrap_or_default()),
                None => o.name.clone().unwrap_or_default(),
            };
            let key = opt.split(':').next().unwrap_or_default().to_string();
            cfg.options
                .retain(|x| x.split(':').next() != Some(key.as_str()));
            cfg.options.push(opt);
        }
    }
    cfg
}

/// The pod's hostname: spec.hostname or the pod name, truncated to 63 characters.
pub fn hostname(pod: &Pod) -> String {
    let name = pod
        .spec
        .as_ref()
        .and_then(|s| s.hostname.clone())
        .or_else(|| pod.metadata.name.clone())
        .unwrap_or_default();
    name.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches(['-', '.'])
        .to_string()
}

/// hostPort mappings of every container port that asks for one.
pub fn port_mappings(pod: &Pod) -> Vec<api::PortMapping> {
    let mut out = vec![];
    let Some(spec) = &pod.spec else { return out };
    for c in &spec.containers {
        for p in c.ports.iter().flatten() {
            let Some(host_port) = p.host_port.filter(|p| *p > 0) else {
                continue;
            };
            let protocol = match p.protocol.as_deref() {
                Some("UDP") => api::Protocol::Udp,
                Some("SCTP") => api::Protocol::Sctp,
                _ => api::Protocol::Tcp,
            };
            out.push(api::PortMapping {
                protocol: protocol as i32,
                container_port: p.container_port,
                host_port,
                host_ip: p.host_ip.clone().unwrap_or_default(),
            });
        }
    }
    out
}

/// The whole RunPodSandbox config. `cgroup_parent` is the pod cgroup the kubelet created.
pub fn sandbox_config(
    pod: &Pod,
    attempt: u32,
    cgroup_parent: &str,
    settings: &SandboxSettings,
) -> api::PodSandboxConfig {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let spec = pod.spec.as_ref();
    let host_net = host_network(pod);
    let mode = |host: bool| if host { api::NamespaceMode::Node } else { api::NamespaceMode::Pod } as i32;
    let sysctls: HashMap<String, String> = spec
        .and_then(|s| s.security_context.as_ref())
        .and_then(|sc| sc.sysctls.as_ref())
        .map(|v| {
            v.iter()
                .map(|s| (s.name.clone(), s.value.clone()))
                .collect()
        })
        .unwrap_or_default();
    let psc = spec.and_then(|s| s.security_context.as_ref());
    let mut pod_labels: HashMap<String, String> = pod
        .metadata
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    pod_labels.extend(labels::pod_labels(pod));
    api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: name.clone(),
            uid: uid.clone(),
            namespace: namespace.clone(),
            attempt,
        }),
        hostname: if host_net {
            String::new()
        } else {
            hostname(pod)
        },
        log_directory: format!("{}/{namespace}_{name}_{uid}", settings.log_root),
        dns_config: Some(dns_config(pod, settings)),
        port_mappings: port_mappings(pod),
        labels: pod_labels,
        annotations: pod
            .metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        linux: Some(api::LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent.to_string(),
            sysctls,
            security_context: Some(api::LinuxSandboxSecurityContext {
                namespace_options: Some(api::NamespaceOption {
                    network: mode(host_net),
                    pid: if spec.and_then(|s| s.host_pid).unwrap_or(false) {
                        api::NamespaceMode::Node as i32
                    } else if spec
                        .and_then(|s| s.share_process_namespace)
                        .unwrap_or(false)
                    {
                        api::NamespaceMode::Pod as i32
                    } else {
                        api::NamespaceMode::Container as i32
                    },
                    ipc: mode(spec.and_then(|s| s.host_ipc).unwrap_or(false)),
                    ..Default::default()
                }),
                run_as_user: psc
                    .and_then(|s| s.run_as_user)
                    .map(|value| api::Int64Value { value }),
                run_as_group: psc
                    .and_then(|s| s.run_as_group)
                    .map(|value| api::Int64Value { value }),
                supplemental_groups: psc
                    .and_then(|s| s.supplemental_groups.clone())
                    .unwrap_or_default(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": "web", "namespace": "shop", "uid": "u"}, "spec": spec}),
        )
        .expect("pod")
    }

    fn settings() -> SandboxSettings {
        SandboxSettings {
            cluster_dns: vec!["10.43.0.10".into()],
            cluster_domain: "cluster.local".into(),
            host_nameservers: vec!["192.0.2.53".into()],
            host_searches: vec!["example.org".into()],
            log_root: "/logs".into(),
        }
    }

    #[test]
    fn dns_by_policy() {
        let cases = [
            (
                json!({"containers": []}),
                vec!["10.43.0.10"],
                vec![
                    "shop.svc.cluster.local",
                    "svc.cluster.local",
                    "cluster.local",
                ],
                vec!["ndots:5"],
            ),
            (
                json!({"containers": [], "hostNetwork": true}),
                vec!["192.0.2.53"],
                vec!["example.org"],
                vec![],
            ),
            (
                json!({"containers": [], "hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet"}),
                vec!["10.43.0.10"],
                vec![
                    "shop.svc.cluster.local",
                    "svc.cluster.local",
                    "cluster.local",
                ],
                vec!["ndots:5"],
            ),
            (
                json!({"containers": [], "dnsPolicy": "Default"}),
                vec!["192.0.2.53"],
                vec!["example.org"],
                vec![],
            ),
            (
                json!({"containers": [], "dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["a.b"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}),
                vec!["1.1.1.1"],
                vec!["a.b"],
                vec!["ndots:2", "edns0"],
            ),
            (
                json!({"containers": [], "dnsConfig": {"options": [{"name": "ndots", "value": "1"}]}}),
                vec!["10.43.0.10"],
                vec![
                    "shop.svc.cluster.local",
                    "svc.cluster.local",
                    "cluster.local",
                ],
                vec!["ndots:1"],
            ),
        ];
        for (spec, servers, searches, options) in cases {
            let cfg = dns_config(&pod(spec.clone()), &settings());
            assert_eq!(cfg.servers, servers, "{spec}");
            assert_eq!(cfg.searches, searches, "{spec}");
            assert_eq!(cfg.options, options, "{spec}");
        }
    }

    #[test]
    fn sandbox_names_ports_and_hostname() {
        let p = pod(
            json!({"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 53, "protocol": "UDP"}]}], "hostname": "front"}),
        );
        let cfg = sandbox_config(&p, 2, "/gantry/n/podu", &settings());
        let meta = cfg.metadata.expect("metadata");
        assert_eq!(
            (
                meta.name.as_str(),
                meta.namespace.as_str(),
                meta.uid.as_str(),
                meta.attempt
            ),
            ("web", "shop", "u", 2)
        );
        assert_eq!(cfg.hostname, "front");
        assert_eq!(cfg.log_directory, "/logs/shop_web_u");
        assert_eq!(cfg.port_mappings.len(), 1);
        assert_eq!(cfg.port_mappings[0].host_port, 8080);
        assert_eq!(
            cfg.labels.get(labels::POD_UID).map(String::as_str),
            Some("u")
        );
        let host = sandbox_config(
            &pod(json!({"containers": [], "hostNetwork": true})),
            0,
            "/x",
            &settings(),
        );
        assert_eq!(
            host.hostname, "",
            "a host-network sandbox has no UTS namespace of its own"
        );
    }
}
