//! Request routing: turns a URL path into what it addresses, as a pure function.

/// A path under `/api` or `/apis` that addresses resources.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The deprecated `/watch/` path prefix was used.
    pub watch_prefix: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Health(&'static str),
    Version,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/GROUP`
    Group(String),
    /// `/api/v1` or `/apis/GROUP/VERSION`
    GroupVersion {
        group: String,
        version: String,
    },
    OpenApiV2,
    OpenApiV3Index,
    OpenApiV3 {
        group: String,
        version: String,
    },
    Resource(ResourcePath),
    /// `/api/v1/nodes/NAME/proxy[/PATH]`: `PATH` (at least `/`) on the node's kubelet.
    NodeProxy {
        node: String,
        path: String,
    },
    /// `/cacerts`: the cluster CA, for joining nodes.
    CaCerts,
    /// `/v1-gantry/node-credentials`: node certificates for a holder of the node token.
    NodeCredentials,
    NotFound,
}

impl Route {
    /// Whether an unauthenticated client may see this route.
    pub fn is_public(&self) -> bool {
        matches!(
            self,
            Route::Health(_) | Route::Version | Route::CaCerts | Route::NodeCredentials
        )
    }
}

/// `/api/v1/nodes/NAME/proxy[/PATH]`, keeping `PATH` as sent (trailing slash included).
fn node_proxy(path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/api/v1/nodes/")?;
    let (node, rest) = rest.split_once('/')?;
    let tail = rest.strip_prefix("proxy")?;
    if node.is_empty() || !(tail.is_empty() || tail.starts_with('/')) {
        return None;
    }
    Some(Route::NodeProxy {
        node: node.to_string(),
        path: if tail.is_empty() { "/" } else { tail }.to_string(),
    })
}

pub fn route(path: &str) -> Route {
    if let Some(proxy) = node_proxy(path) {
        return proxy;
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["healthz", ..] => Route::Health("healthz"),
        ["livez", ..] => Route::Health("livez"),
        ["readyz", ..] => Route::Health("readyz"),
        ["version"] => Route::Version,
        ["cacerts"] => Route::CaCerts,
        ["v1-gantry", "node-credentials"] => Route::NodeCredentials,
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", group] => Route::Group(group.to_string()),
        ["api", version] => Route::GroupVersion {
            group: String::new(),
            version: version.to_string(),
        },
        ["apis", group, version] => Route::GroupVersion {
            group: group.to_string(),
            version: version.to_string(),
        },
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3Index,
        ["openapi", "v3", "api", version] => Route::OpenApiV3 {
            group: String::new(),
            version: version.to_string(),
        },
        ["openapi", "v3", "apis", group, version] => Route::OpenApiV3 {
            group: group.to_string(),
            version: version.to_string(),
        },
        ["api", version, rest @ ..] => resource_route("", version, rest),
        ["apis", group, version, rest @ ..] => resource_route(group, version, rest),
        _ => Route::NotFound,
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Route {
    let (watch_prefix, rest) = match rest {
        ["watch", tail @ ..] => (true, tail),
        _ => (false, rest),
    };
    let mut path = ResourcePath {
        group: group.into(),
        version: version.into(),
        watch_prefix,
        ..Default::default()
    };
    let owned = |s: &&str| s.to_string();
    match rest {
        // namespaces/{name}/status and /finalize are subresources of the namespace itself.
        ["namespaces", name, sub @ ("status" | "finalize")] => {
            path.resource = "namespaces".into();
            path.name = Some(name.to_string());
            path.subresource = Some(sub.to_string());
        }
        ["namespaces", ns, resource, tail @ ..] if tail.len() <= 2 => {
            path.namespace = Some(ns.to_string());
            path.resource = resource.to_string();
            path.name = tail.first().map(owned);
            path.subresource = tail.get(1).map(owned);
        }
        [resource, tail @ ..] if tail.len() <= 2 => {
            path.resource = resource.to_string();
            path.name = tail.first().map(owned);
            path.subresource = tail.get(1).map(owned);
        }
        _ => return Route::NotFound,
    }
    Route::Resource(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(
        group: &str,
        ns: Option<&str>,
        resource: &str,
        name: Option<&str>,
        sub: Option<&str>,
    ) -> Route {
        Route::Resource(ResourcePath {
            group: group.into(),
            version: "v1".into(),
            namespace: ns.map(Into::into),
            resource: resource.into(),
            name: name.map(Into::into),
            subresource: sub.map(Into::into),
            watch_prefix: false,
        })
    }

    #[test]
    fn routes_table() {
        let cases = vec![
            ("/healthz", Route::Health("healthz")),
            ("/readyz/ping", Route::Health("readyz")),
            ("/version", Route::Version),
            ("/api", Route::CoreVersions),
            ("/apis", Route::Groups),
            ("/apis/apps", Route::Group("apps".into())),
            (
                "/api/v1",
                Route::GroupVersion {
                    group: "".into(),
                    version: "v1".into(),
                },
            ),
            (
                "/apis/apps/v1",
                Route::GroupVersion {
                    group: "apps".into(),
                    version: "v1".into(),
                },
            ),
            (
                "/openapi/v3/apis/apps/v1",
                Route::OpenApiV3 {
                    group: "apps".into(),
                    version: "v1".into(),
                },
            ),
            ("/api/v1/pods", rp("", None, "pods", None, None)),
            ("/api/v1/namespaces", rp("", None, "namespaces", None, None)),
            (
                "/api/v1/namespaces/kube-system",
                rp("", None, "namespaces", Some("kube-system"), None),
            ),
            (
                "/api/v1/namespaces/x/status",
                rp("", None, "namespaces", Some("x"), Some("status")),
            ),
            (
                "/api/v1/namespaces/x/finalize",
                rp("", None, "namespaces", Some("x"), Some("finalize")),
            ),
            (
                "/api/v1/namespaces/default/pods",
                rp("", Some("default"), "pods", None, None),
            ),
            (
                "/api/v1/namespaces/default/pods/p1",
                rp("", Some("default"), "pods", Some("p1"), None),
            ),
            (
                "/api/v1/namespaces/default/pods/p1/binding",
                rp("", Some("default"), "pods", Some("p1"), Some("binding")),
            ),
            (
                "/api/v1/nodes/n1/status",
                rp("", None, "nodes", Some("n1"), Some("status")),
            ),
            (
                "/apis/apps/v1/namespaces/d/deployments/web/scale",
                rp("apps", Some("d"), "deployments", Some("web"), Some("scale")),
            ),
            (
                "/api/v1/namespaces/default/pods/p1/status/extra",
                Route::NotFound,
            ),
            ("/nope", Route::NotFound),
            ("/cacerts", Route::CaCerts),
            ("/v1-gantry/node-credentials", Route::NodeCredentials),
            (
                "/api/v1/namespaces/default/pods/p1/log",
                rp("", Some("default"), "pods", Some("p1"), Some("log")),
            ),
            (
                "/api/v1/nodes/n1/proxy",
                Route::NodeProxy {
                    node: "n1".into(),
                    path: "/".into(),
                },
            ),
            (
                "/api/v1/nodes/n1/proxy/",
                Route::NodeProxy {
                    node: "n1".into(),
                    path: "/".into(),
                },
            ),
            (
                "/api/v1/nodes/n1/proxy/stats/summary/",
                Route::NodeProxy {
                    node: "n1".into(),
                    path: "/stats/summary/".into(),
                },
            ),
            (
                "/api/v1/nodes/n1/proxyx",
                rp("", None, "nodes", Some("n1"), Some("proxyx")),
            ),
        ];
        for (path, want) in cases {
            assert_eq!(route(path), want, "{path}");
        }
    }

    #[test]
    fn legacy_watch_prefix() {
        let Route::Resource(p) = route("/api/v1/watch/namespaces/default/pods") else {
            panic!("not a resource")
        };
        assert!(p.watch_prefix);
        assert_eq!(p.namespace.as_deref(), Some("default"));
        assert_eq!(p.resource, "pods");
    }

    #[test]
    fn only_health_version_and_join_are_public() {
        assert!(route("/livez").is_public());
        assert!(route("/version").is_public());
        assert!(!route("/api").is_public());
        assert!(!route("/api/v1/secrets").is_public());
        assert!(!route("/api/v1/nodes/n1/proxy/pods").is_public());
        // Joining nodes have no certificate yet: the token secret authenticates them.
        assert!(route("/cacerts").is_public());
        assert!(route("/v1-gantry/node-credentials").is_public());
    }
}
