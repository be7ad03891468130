//! Where a proxied request goes, as pure functions over the pod, the node and the query:
//! container defaulting, the kubelet's address, and the kubelet path and query (upstream's
//! `LogLocation`, `streamLocation` and `PortForwardLocation`).

use std::net::IpAddr;

use serde_json::Value;

use crate::error::ApiError;

/// The kubelet port when a Node does not publish one.
const DEFAULT_KUBELET_PORT: u16 = 10250;

/// A pod subresource served by the kubelet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodSubresource {
    Log,
    Exec,
    Attach,
    PortForward,
}

impl PodSubresource {
    pub fn parse(name: &str) -> Option<PodSubresource> {
        Some(match name {
            "log" => PodSubresource::Log,
            "exec" => PodSubresource::Exec,
            "attach" => PodSubresource::Attach,
            "portforward" => PodSubresource::PortForward,
            _ => return None,
        })
    }
}

/// A kubelet's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeletEndpoint {
    pub ip: IpAddr,
    pub port: u16,
}

/// The request to send to the pod's kubelet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodTarget {
    pub node_name: String,
    /// Path and query, e.g. `/containerLogs/default/web/nginx?follow=true`.
    pub path_and_query: String,
}

fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A boolean query parameter, parsed as Go's `strconv.ParseBool` (absent is false).
fn flag(pairs: &[(String, String)], key: &str) -> Result<bool, ApiError> {
    match get(pairs, key) {
        None => Ok(false),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("" | "0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(other) => Err(ApiError::BadRequest(format!(
            "invalid value {other:?} for {key}: want true or false"
        ))),
    }
}

/// An integer query parameter that must be at least `min`.
fn number(pairs: &[(String, String)], key: &str, min: i64) -> Result<Option<i64>, ApiError> {
    match get(pairs, key) {
        None | Some("") => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= min => Ok(Some(n)),
            Ok(_) if min > 0 => Err(ApiError::BadRequest(format!(
                "{key} must be greater than 0"
            ))),
            Ok(_) => Err(ApiError::BadRequest(format!(
                "{key} must be greater than or equal to 0"
            ))),
            Err(_) => Err(ApiError::BadRequest(format!(
                "invalid value {v:?} for {key}: want an integer"
            ))),
        },
    }
}

fn names(list: &Value) -> impl Iterator<Item = &str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
}

/// The container a request is about: `requested` if the pod has it, else the only container;
/// upstream's messages otherwise.
pub fn container(pod: &Value, requested: Option<&str>) -> Result<String, ApiError> {
    let spec = &pod["spec"];
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let all = || {
        names(&spec["initContainers"])
            .chain(names(&spec["containers"]))
            .chain(names(&spec["ephemeralContainers"]))
    };
    match requested.filter(|c| !c.is_empty()) {
        Some(c) if all().any(|n| n == c) => Ok(c.to_string()),
        Some(c) => Err(ApiError::BadRequest(format!(
            "container {c} is not valid for pod {pod_name}"
        ))),
        None => {
            let regular: Vec<&str> = names(&spec["containers"]).collect();
            match regular.as_slice() {
                [only] => Ok(only.to_string()),
                [] => Err(ApiError::BadRequest(format!(
                    "a container name must be specified for pod {pod_name}"
                ))),
                _ => Err(ApiError::BadRequest(format!(
                    "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                    all().collect::<Vec<_>>().join(" ")
                ))),
            }
        }
    }
}

/// The node a pod runs on, or upstream's 400 when it is not scheduled.
fn node_name(pod: &Value) -> Result<String, ApiError> {
    match pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
        Some(n) => Ok(n.to_string()),
        None => Err(ApiError::BadRequest(format!(
            "pod {} does not have a host assigned",
            pod["metadata"]["name"].as_str().unwrap_or_default()
        ))),
    }
}

/// The kubelet path and query for `sub` of `pod`, from the client's query.
pub fn pod_target(
    sub: PodSubresource,
    pod: &Value,
    query: Option<&str>,
) -> Result<PodTarget, ApiError> {
    let q = pairs(query);
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let mut out = form_urlencoded::Serializer::new(String::new());
    let path = match sub {
        PodSubresource::Log => {
            let container = container(pod, get(&q, "container"))?;
            for key in ["follow", "previous", "timestamps"] {
                if flag(&q, key)? {
                    out.append_pair(key, "true");
                }
            }
            let since_seconds = number(&q, "sinceSeconds", 1)?;
            let since_time = get(&q, "sinceTime").filter(|t| !t.is_empty());
            if since_seconds.is_some() && since_time.is_some() {
                return Err(ApiError::BadRequest(
                    "at most one of sinceTime or sinceSeconds may be specified".into(),
                ));
            }
            if let Some(n) = since_seconds {
                out.append_pair("sinceSeconds", &n.to_string());
            }
            if let Some(t) = since_time {
                let parsed: k8s_openapi::jiff::Timestamp = t.parse().map_err(|_| {
                    ApiError::BadRequest(format!("invalid sinceTime {t:?}: want RFC 3339"))
                })?;
                out.append_pair(
                    "sinceTime",
                    &parsed.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                );
            }
            if let Some(n) = number(&q, "tailLines", 0)? {
                out.append_pair("tailLines", &n.to_string());
            }
            if let Some(n) = number(&q, "limitBytes", 1)? {
                out.append_pair("limitBytes", &n.to_string());
            }
            format!("/containerLogs/{ns}/{name}/{container}")
        }
        PodSubresource::Exec | PodSubresource::Attach => {
            let container = container(pod, get(&q, "container"))?;
            // The kubelet's spelling of the streams (upstream's `streamParams`).
            for (key, kubelet) in [
                ("stdin", "input"),
                ("stdout", "output"),
                ("stderr", "error"),
                ("tty", "tty"),
            ] {
                if flag(&q, key)? {
                    out.append_pair(kubelet, "1");
                }
            }
            let verb = if sub == PodSubresource::Exec {
                for (_, command) in q.iter().filter(|(k, _)| k == "command") {
                    out.append_pair("command", command);
                }
                "exec"
            } else {
                "attach"
            };
            format!("/{verb}/{ns}/{name}/{container}")
        }
        PodSubresource::PortForward => {
            for (_, ports) in q.iter().filter(|(k, _)| k == "ports") {
                for port in ports.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    match port.parse::<u16>() {
                        Ok(p) if p > 0 => out.append_pair("port", port),
                        _ => {
                            return Err(ApiError::BadRequest(format!(
                                "invalid port {port:?}: want 1-65535"
                            )));
                        }
                    };
                }
            }
            format!("/portForward/{ns}/{name}")
        }
    };
    let node_name = node_name(pod)?;
    let query = out.finish();
    Ok(PodTarget {
        node_name,
        path_and_query: if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        },
    })
}

/// The kubelet of `node`: its InternalIP (then ExternalIP) and its published kubelet port.
pub fn kubelet_endpoint(node: &Value) -> Result<KubeletEndpoint, ApiError> {
    let addresses = node["status"]["addresses"].as_array();
    let of_type = |wanted: &str| {
        addresses.into_iter().flatten().find_map(|a| {
            (a["type"].as_str() == Some(wanted))
                .then(|| a["address"].as_str()?.parse::<IpAddr>().ok())
                .flatten()
        })
    };
    let ip = of_type("InternalIP")
        .or_else(|| of_type("ExternalIP"))
        .ok_or_else(|| {
            let known: Vec<String> = addresses
                .into_iter()
                .flatten()
                .map(|a| {
                    format!(
                        "{{{} {}}}",
                        a["type"].as_str().unwrap_or_default(),
                        a["address"].as_str().unwrap_or_default()
                    )
                })
                .collect();
            ApiError::Internal(format!(
                "no preferred addresses found; known addresses: [{}]",
                known.join(" ")
            ))
        })?;
    let port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(DEFAULT_KUBELET_PORT);
    Ok(KubeletEndpoint { ip, port })
}

#[cfg(test)]
#[path = "target_tests.rs"]
mod tests;
