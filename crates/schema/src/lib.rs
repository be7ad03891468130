//! Merge metadata and structure of the Kubernetes built-in types, for strategic merge patch
//! and the OpenAPI documents.
//!
//! - [`table`]: per `(schema name, JSON field)`, the list/map type
//!   (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`) and the
//!   patch strategy and merge key (`x-kubernetes-patch-strategy`,
//!   `x-kubernetes-patch-merge-key`). Generated from the upstream field markers by
//!   `examples/generate.rs` (see there for the regenerate command), plus a small table of
//!   hand-maintained exceptions.
//! - [`Schema`]: a walker over k8s-openapi's `schemars` schemas answering "for object type X,
//!   what does field f hold" ([`Shape`]) joined with its merge metadata ([`FieldInfo`]).
//!
//! **Architecture invariant:** pure data, no I/O; nothing here knows about HTTP or storage.

mod generated;
pub mod table;
mod walker;

pub use table::{Collection, Row};
pub use walker::{FieldInfo, LazySchema, Schema, Shape};
