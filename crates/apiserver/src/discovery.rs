//! Discovery documents (/api, /apis, per group-version resource lists, aggregated discovery
//! v2 and v2beta1), /version, and the cached OpenAPI documents.

use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::registry::ResourceDef;
use crate::response::{self, Format, Response};

/// The Kubernetes version gantry serves the API of.
pub const KUBE_MAJOR: &str = "1";
pub const KUBE_MINOR: &str = "33";

pub fn version() -> Value {
    json!({
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "gitVersion": format!("v{KUBE_MAJOR}.{KUBE_MINOR}.0+gantry-{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, if std::env::consts::ARCH == "x86_64" { "amd64" } else { std::env::consts::ARCH }),
    })
}

const SUBRESOURCE_VERBS: &[&str] = &["get", "patch", "update"];

fn subresource_kind(
    def: &ResourceDef,
    sub: &str,
) -> (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
) {
    match sub {
        "scale" => ("autoscaling", "v1", "Scale", SUBRESOURCE_VERBS),
        "binding" => ("", "v1", "Binding", &["create"]),
        "eviction" => ("policy", "v1", "Eviction", &["create"]),
        "token" => ("authentication.k8s.io", "v1", "TokenRequest", &["create"]),
        "finalize" => (def.group, def.version, def.kind, &["update"]),
        "log" => ("", "v1", "Pod", &["get"]),
        "exec" => ("", "v1", "PodExecOptions", &["create", "get"]),
        "attach" => ("", "v1", "PodAttachOptions", &["create", "get"]),
        "portforward" => ("", "v1", "PodPortForwardOptions", &["create", "get"]),
        "proxy" => (
            "",
            "v1",
            "NodeProxyOptions",
            &["create", "delete", "get", "patch", "update"],
        ),
        _ => (def.group, def.version, def.kind, SUBRESOURCE_VERBS),
    }
}

/// Precomputed discovery documents; OpenAPI documents are built on first request.
pub struct Discovery {
    core_versions: Value,
    groups: Value,
    group: Vec<(String, Value)>,
    resources: Vec<(String, String, Value)>,
    aggregated_core: [Value; 2],
    aggregated_groups: [Value; 2],
    docs: Vec<gantry_openapi::ResourceDoc>,
    openapi: OnceLock<gantry_openapi::Documents>,
}

fn group_json(group: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": versions, "preferredVersion": versions[0]})
}

fn in_group_version<'a>(
    defs: &'a [&'a ResourceDef],
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'a ResourceDef> + 'a {
    defs.iter()
        .copied()
        .filter(move |d| d.group == group && d.version == version)
}

fn resource_list(defs: &[&ResourceDef], group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for def in in_group_version(defs, group, version) {
        let mut r = json!({
            "name": def.plural,
            "singularName": def.singular,
            "namespaced": def.namespaced,
            "kind": def.kind,
            "verbs": def.verbs(),
        });
        if !def.short_names.is_empty() {
            r["shortNames"] = json!(def.short_names);
        }
        if !def.categories.is_empty() {
            r["categories"] = json!(def.categories);
        }
        resources.push(r);
        for sub in def.subresources {
            let (g, v, kind, verbs) = subresource_kind(def, sub);
            let mut r = json!({"name": format!("{}/{sub}", def.plural), "singularName": "", "namespaced": def.namespaced, "kind": kind, "verbs": verbs});
            if g != group || v != version {
                r["group"] = json!(g);
                r["version"] = json!(v);
            }
            resources.push(r);
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

fn aggregated_item(defs: &[&ResourceDef], group: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|version| {
            let resources: Vec<Value> = in_group_version(defs, group, version)
                .map(|def| {
                    let subs: Vec<Value> = def
                        .subresources
                        .iter()
                        .map(|sub| {
                            let (g, v, kind, verbs) = subresource_kind(def, sub);
                            json!({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": kind}, "verbs": verbs})
                        })
                        .collect();
                    let mut r = json!({
                        "resource": def.plural,
                        "responseKind": {"group": def.group, "version": def.version, "kind": def.kind},
                        "scope": if def.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": def.singular,
                        "verbs": def.verbs(),
                        "subresources": subs,
                    });
                    if !def.short_names.is_empty() {
                        r["shortNames"] = json!(def.short_names);
                    }
                    if !def.categories.is_empty() {
                        r["categories"] = json!(def.categories);
                    }
                    r
                })
                .collect();
            json!({"version": version, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
}

fn aggregated_list(items: Vec<Value>, version: &str) -> Value {
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{version}"), "metadata": {}, "items": items})
}

impl Discovery {
    /// Discovery of `defs` (built-in resources first, then custom ones).
    pub fn new(defs: &[&ResourceDef], server_address: String) -> Discovery {
        let mut gvs: Vec<(&str, &str)> = Vec::new();
        for d in defs {
            if !gvs.contains(&(d.group, d.version)) {
                gvs.push((d.group, d.version));
            }
        }
        let mut group_names: Vec<&str> = Vec::new();
        for (g, _) in &gvs {
            if !g.is_empty() && !group_names.contains(g) {
                group_names.push(g);
            }
        }
        let versions_of = |g: &str| {
            gvs.iter()
                .filter(|(gg, _)| *gg == g)
                .map(|(_, v)| *v)
                .collect::<Vec<_>>()
        };
        let group: Vec<(String, Value)> = group_names
            .iter()
            .map(|g| {
                let mut doc = group_json(g, &versions_of(g));
                doc["kind"] = json!("APIGroup");
                doc["apiVersion"] = json!("v1");
                (g.to_string(), doc)
            })
            .collect();
        let groups = json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": group_names.iter().map(|g| group_json(g, &versions_of(g))).collect::<Vec<_>>()});
        let resources = gvs
            .iter()
            .map(|(g, v)| (g.to_string(), v.to_string(), resource_list(defs, g, v)))
            .collect();
        let core_item = aggregated_item(defs, "", &versions_of(""));
        let group_items: Vec<Value> = group_names
            .iter()
            .map(|g| aggregated_item(defs, g, &versions_of(g)))
            .collect();
        Discovery {
            core_versions: json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}),
            groups,
            group,
            resources,
            aggregated_core: [
                aggregated_list(vec![core_item.clone()], "v2"),
                aggregated_list(vec![core_item], "v2beta1"),
            ],
            aggregated_groups: [
                aggregated_list(group_items.clone(), "v2"),
                aggregated_list(group_items, "v2beta1"),
            ],
            docs: defs.iter().filter_map(|d| d.openapi.clone()).collect(),
            openapi: OnceLock::new(),
        }
    }

    fn aggregated(docs: &[Value; 2], version: &'static str) -> Response {
        let doc = if version == "v2" { &docs[0] } else { &docs[1] };
        response::json_with_type(
            doc,
            &format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"),
        )
    }

    pub fn core_versions(&self, format: &Format) -> Response {
        match format {
            Format::AggregatedDiscovery(v) => Self::aggregated(&self.aggregated_core, v),
            _ => response::json(200, &self.core_versions),
        }
    }

    pub fn groups(&self, format: &Format) -> Response {
        match format {
            Format::AggregatedDiscovery(v) => Self::aggregated(&self.aggregated_groups, v),
            _ => response::json(200, &self.groups),
        }
    }

    pub fn group(&self, name: &str) -> ApiResult<Value> {
        self.group
            .iter()
            .find(|(g, _)| g == name)
            .map(|(_, v)| v.clone())
            .ok_or(ApiError::NoRoute)
    }

    pub fn resources(&self, group: &str, version: &str) -> ApiResult<Value> {
        self.resources
            .iter()
            .find(|(g, v, _)| g == group && v == version)
            .map(|(_, _, d)| d.clone())
            .ok_or(ApiError::NoRoute)
    }

    fn documents(&self) -> &gantry_openapi::Documents {
        self.openapi
            .get_or_init(|| gantry_openapi::Documents::build(&self.docs))
    }

    /// `/openapi/v2`, as protobuf when the client asks for it (kubectl always does).
    pub fn openapi_v2(&self, accept: Option<&str>) -> Response {
        let docs = self.documents();
        if accept.is_some_and(|a| a.contains("protobuf")) {
            return response::bytes(
                docs.v2_protobuf().to_vec(),
                gantry_openapi::V2_PROTOBUF_CONTENT_TYPE,
            );
        }
        response::raw_json(Bytes::from(docs.v2().json.clone()))
    }

    pub fn openapi_v3_index(&self) -> Response {
        response::raw_json(Bytes::from(self.documents().index().json.clone()))
    }

    pub fn openapi_v3(&self, group: &str, version: &str) -> Option<Response> {
        let doc = self.documents().group_version(group, version)?;
        Some(response::raw_json(Bytes::from(doc.json.clone())))
    }

    /// Builds the OpenAPI documents now rather than on the first request.
    pub fn warm(&self) {
        self.documents();
    }
}
