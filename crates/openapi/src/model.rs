//! Format-neutral description of paths and operations, rendered by `v2` and `v3`.

use crate::parameters::Param;

/// A group/version/kind triple as the `x-kubernetes-group-version-kind`
/// extension spells it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Gvk {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        }
    }

    /// The extension value: an object on operations, list items on schemas.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "group": self.group,
            "kind": self.kind,
            "version": self.version,
        })
    }
}

/// HTTP methods used by Kubernetes resource paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn key(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }
}

/// What an operation's body or response carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Payload {
    /// A named schema in the document's definitions.
    Schema(String),
    /// Plain text (logs).
    Text,
}

/// The request body of an operation.
#[derive(Clone, Debug)]
pub(crate) struct Body {
    pub payload: Payload,
    /// Patch bodies are sent with the patch media types.
    pub patch: bool,
    pub required: bool,
}

/// One operation on a path.
#[derive(Clone, Debug)]
pub(crate) struct Operation {
    pub method: Method,
    pub operation_id: String,
    pub description: String,
    pub tag: String,
    /// `x-kubernetes-action`: list, post, get, put, patch, delete,
    /// deletecollection.
    pub action: &'static str,
    pub gvk: Option<Gvk>,
    /// Operation-level parameters (query parameters).
    pub params: Vec<&'static Param>,
    pub body: Option<Body>,
    /// Status codes and their payloads.
    pub responses: Vec<(u16, Payload)>,
    /// Lists can also be watched: they produce the streaming media types.
    pub watchable: bool,
}

/// One path with its path-level parameters and operations.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    pub path: String,
    /// Path-level parameters (`name`, `namespace`, `pretty`).
    pub params: Vec<&'static Param>,
    pub operations: Vec<Operation>,
}

/// Media types responses are served in.
pub(crate) const RESPONSE_MEDIA: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

/// Extra media types of watchable lists.
pub(crate) const WATCH_MEDIA: &[&str] = &[
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
];

/// Media types a PATCH accepts.
pub(crate) const PATCH_MEDIA: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];
