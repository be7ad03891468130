//! The route table: every served Ingress of the class merged into host rules, path rules and
//! one default backend, oldest Ingress first so it wins conflicts. Pure: built from snapshots.

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};

/// Annotation that names the class on Ingresses older than `spec.ingressClassName`.
pub const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// A Service port as an Ingress names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BackendPort {
    Number(i32),
    Name(String),
}

/// Where a request goes: a Service port in a namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Backend {
    pub namespace: String,
    pub service: String,
    pub port: BackendPort,
}

/// Which request hosts a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMatch {
    /// A rule without `host`: every host.
    Any,
    /// `foo.example.com` (lowercase).
    Exact(String),
    /// `*.example.com`, kept as the suffix `.example.com` (lowercase).
    Wildcard(String),
}

impl HostMatch {
    pub fn parse(host: Option<&str>) -> HostMatch {
        match host.map(str::to_ascii_lowercase) {
            None => HostMatch::Any,
            Some(h) if h.is_empty() => HostMatch::Any,
            Some(h) => match h.strip_prefix('*') {
                Some(suffix) => HostMatch::Wildcard(suffix.to_string()),
                None => HostMatch::Exact(h),
            },
        }
    }
}

/// How a path rule compares with the request path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    Exact,
    /// Element-wise prefix on `/`-separated segments; also `ImplementationSpecific`.
    Prefix,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathRule {
    pub path: String,
    pub kind: PathKind,
    pub backend: Backend,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRule {
    pub host: HostMatch,
    pub paths: Vec<PathRule>,
}

/// All routes of the class; see [`crate::routes::route`] for how a request is matched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteTable {
    pub rules: Vec<HostRule>,
    pub default_backend: Option<Backend>,
}

impl RouteTable {
    /// Adds a path for a host unless an older Ingress already routes the same (host, path,
    /// type): the first one added wins.
    pub fn add(&mut self, host: HostMatch, rule: PathRule) {
        let position = match self.rules.iter().position(|r| r.host == host) {
            Some(position) => position,
            None => {
                self.rules.push(HostRule {
                    host,
                    paths: Vec::new(),
                });
                self.rules.len() - 1
            }
        };
        let paths = &mut self.rules[position].paths;
        if !paths
            .iter()
            .any(|p| p.path == rule.path && p.kind == rule.kind)
        {
            paths.push(rule);
        }
    }

    /// Every backend the table can route to (for resolving endpoints).
    pub fn backends(&self) -> impl Iterator<Item = &Backend> {
        self.rules
            .iter()
            .flat_map(|r| r.paths.iter().map(|p| &p.backend))
            .chain(self.default_backend.iter())
    }
}

/// Whether the controller of `class` serves this Ingress: it names the class (field, or the
/// legacy annotation), or names none while the class is the cluster default.
pub fn serves(ingress: &Ingress, class: &str, is_default: bool) -> bool {
    let named = ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref());
    let annotated = ingress
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(LEGACY_CLASS_ANNOTATION))
        .map(String::as_str);
    match named.or(annotated) {
        Some(name) => name == class,
        None => is_default,
    }
}

/// Oldest first (creation time, then namespace/name), the order conflicts are decided in.
pub fn oldest_first(ingresses: &mut [&Ingress]) {
    ingresses.sort_by(|a, b| {
        let key = |i: &Ingress| {
            (
                i.metadata.creation_timestamp.as_ref().map(|t| t.0),
                i.metadata.namespace.clone().unwrap_or_default(),
                i.metadata.name.clone().unwrap_or_default(),
            )
        };
        key(a).cmp(&key(b))
    });
}

fn backend(namespace: &str, backend: &IngressBackend) -> Option<Backend> {
    // Resource backends (`backend.resource`) are not served.
    let service = backend.service.as_ref()?;
    let port = service.port.as_ref()?;
    let port = match (port.number, port.name.as_ref()) {
        (Some(number), _) => BackendPort::Number(number),
        (None, Some(name)) if !name.is_empty() => BackendPort::Name(name.clone()),
        _ => return None,
    };
    Some(Backend {
        namespace: namespace.to_string(),
        service: service.name.clone(),
        port,
    })
}

/// Merges the given (already selected) Ingresses into one table, oldest winning conflicts.
pub fn build(ingresses: &[&Ingress]) -> RouteTable {
    let mut sorted = ingresses.to_vec();
    oldest_first(&mut sorted);
    let mut table = RouteTable::default();
    for ingress in sorted {
        let namespace = ingress.metadata.namespace.as_deref().unwrap_or("default");
        let Some(spec) = ingress.spec.as_ref() else {
            continue;
        };
        if table.default_backend.is_none() {
            table.default_backend = spec
                .default_backend
                .as_ref()
                .and_then(|b| backend(namespace, b));
        }
        for rule in spec.rules.iter().flatten() {
            let host = HostMatch::parse(rule.host.as_deref());
            for path in rule.http.iter().flat_map(|h| h.paths.iter()) {
                let Some(target) = backend(namespace, &path.backend) else {
                    continue;
                };
                let kind = match path.path_type.as_str() {
                    "Exact" => PathKind::Exact,
                    _ => PathKind::Prefix,
                };
                let path = match path.path.as_deref() {
                    Some(p) if p.starts_with('/') => p.to_string(),
                    _ => "/".to_string(),
                };
                table.add(
                    host.clone(),
                    PathRule {
                        path,
                        kind,
                        backend: target,
                    },
                );
            }
        }
    }
    table
}
