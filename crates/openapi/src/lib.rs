//! OpenAPI v2 and v3 documents describing the resources the API server serves.
//!
//! Everything here is pure: the caller passes the list of served resources
//! ([`ResourceDoc`]) and gets JSON documents back. The schemas come from
//! k8s-openapi's `schemars` implementations, so definitions are keyed by the
//! `io.k8s...` names real Kubernetes uses.
//!
//! What kubectl relies on (1.27 - 1.33):
//! - `GET /openapi/v3` lists group-versions with a `serverRelativeURL` carrying
//!   a `?hash=` that changes with the document (kubectl caches by URL).
//! - `kubectl explain` looks up `/api(s)/...` paths of the resource, reads the
//!   operation's `x-kubernetes-group-version-kind` object, then finds the
//!   schema in `components/schemas` whose `x-kubernetes-group-version-kind`
//!   list contains that object, and walks `properties`, `$ref`, `items`.
//! - The field-validation verifier scans the group-version document for PATCH
//!   operations carrying the resource's GVK and requires a `fieldValidation`
//!   parameter on the operation itself (not on the path item).
//!
//! - Every kubectl command that validates (`create`, `apply`, `replace`) or
//!   explains first downloads `/openapi/v2` as protobuf and fails if it
//!   does not decode; [`v2_protobuf`] / [`Documents::v2_protobuf`] provide it.
//!
//! Build all documents once with [`Documents::build`] and serve them from
//! memory; the free functions are conveniences over it.

mod documents;
mod model;
mod operations;
mod parameters;
mod schemas;
mod v2;
mod v2_protobuf;
mod v3;

pub use documents::{Document, Documents};

/// Where a resource's schema comes from.
#[derive(Clone)]
pub enum SchemaSource {
    /// A k8s-openapi type: adds the kind's schema to the generator and returns a `$ref` to
    /// it, e.g. `|g| g.subschema_for::<Pod>()`.
    Typed(fn(&mut schemars::SchemaGenerator) -> schemars::Schema),
    /// A custom resource's structural schema, from its CRD.
    Json(std::sync::Arc<serde_json::Value>),
}

/// One served resource, as the documents describe it.
#[derive(Clone)]
pub struct ResourceDoc {
    /// API group; `""` for the core group.
    pub group: &'static str,
    /// API version, e.g. `"v1"`.
    pub version: &'static str,
    /// Kind, e.g. `"Pod"`.
    pub kind: &'static str,
    /// Plural resource name used in paths, e.g. `"pods"`.
    pub plural: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Served subresources. Known names get their real shapes: `status`
    /// (same kind), `scale` (autoscaling/v1 Scale), `binding` (core/v1
    /// Binding, create only), `eviction` (policy/v1 Eviction, create only),
    /// `log` (text). Others get a plain GET without a GVK.
    pub subresources: &'static [&'static str],
    /// The kind's schema. The list kind (`PodList`) is derived from it: its
    /// schema is built here from the item schema.
    pub schema: SchemaSource,
}

impl std::fmt::Debug for ResourceDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceDoc")
            .field("group", &self.group)
            .field("version", &self.version)
            .field("kind", &self.kind)
            .field("plural", &self.plural)
            .field("namespaced", &self.namespaced)
            .field("subresources", &self.subresources)
            .finish_non_exhaustive()
    }
}

/// `GET /openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}}}`.
pub fn v3_index(resources: &[ResourceDoc]) -> serde_json::Value {
    Documents::build(resources).index().value.clone()
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/GROUP/VERSION`; `None` when
/// no served resource belongs to that group-version.
pub fn v3_group_version(
    resources: &[ResourceDoc],
    group: &str,
    version: &str,
) -> Option<serde_json::Value> {
    let in_gv: Vec<ResourceDoc> = resources
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .cloned()
        .collect();
    if in_gv.is_empty() {
        return None;
    }
    Some(v3::group_version_document(&in_gv, group, version))
}

/// `GET /openapi/v2` as JSON (swagger 2.0).
pub fn v2(resources: &[ResourceDoc]) -> serde_json::Value {
    v2::document(resources)
}

/// `GET /openapi/v2` as gnostic's `openapi.v2.Document` protobuf, served for
/// `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`
/// (kubectl's only accepted form).
pub fn v2_protobuf(resources: &[ResourceDoc]) -> Vec<u8> {
    v2_protobuf::encode(&v2::document(resources))
}

/// The `Content-Type` to serve [`v2_protobuf`] with. kubectl asks with
/// `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, but
/// Go's media-type parser rejects the `@` in a response, so the API server
/// answers with this spelling (as Kubernetes does).
pub const V2_PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
