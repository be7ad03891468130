//! The Kubernetes protobuf wire format (`application/vnd.kubernetes.protobuf`) to and from
//! Kubernetes JSON.
//!
//! A protobuf body is the magic `k8s\0` followed by a `runtime.Unknown` envelope whose `raw` field
//! holds the object's own message. [`decode`] turns such a body into the JSON that k8s-openapi
//! types serialize to (with `apiVersion`/`kind`); [`encode`] is the inverse.
//!
//! Design: one generic wire-level reader/writer ([`wire`]) walks a table of every Kubernetes
//! message (tag -> JSON name, type, cardinality), so no per-kind code exists. The table
//! (`generated.rs`) is produced by our generator `examples/generate_table.rs` from the prost
//! attributes of the `k8s-pb` crate and the JSON names of the `k8s-openapi` crate. Regenerate
//! after bumping either crate with:
//!
//! ```text
//! cargo run -p gantry-protobuf --example generate_table > crates/protobuf/src/generated.rs
//! cargo fmt -p gantry-protobuf
//! ```
//!
//! Architecture invariant: this crate knows no HTTP and no storage; it maps bytes to JSON values.
//! Invariant: no input makes it panic; malformed input yields a [`DecodeError`].

mod decode;
mod encode;
mod envelope;
mod error;
mod generated;
mod schema;
mod watch;
mod wellknown;
mod wire;

pub use error::{DecodeError, EncodeError};
pub use watch::{
    MAX_FRAME, Split, decode_watch_event, encode_watch_event, encode_watch_frame, frame,
    split_frame,
};

/// The four bytes that start every Kubernetes protobuf body.
pub const MAGIC: [u8; 4] = *b"k8s\0";

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The media type of protobuf watch streams (length-delimited `WatchEvent` frames).
pub const WATCH_CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// Decodes a `k8s\0`-prefixed `runtime.Unknown` body into the object's Kubernetes JSON, with
/// `apiVersion` and `kind` set from the envelope.
pub fn decode(body: &[u8]) -> Result<serde_json::Value, DecodeError> {
    envelope::decode_at(body, 0)
}

/// Encodes a Kubernetes JSON object (which must carry `apiVersion` and `kind`) into a
/// `k8s\0`-prefixed `runtime.Unknown` body.
pub fn encode(value: &serde_json::Value) -> Result<Vec<u8>, EncodeError> {
    envelope::encode_at(value, 0)
}

/// Whether objects of this `apiVersion` and `kind` have a protobuf form this crate knows, so a
/// server can decide to answer in protobuf.
pub fn supports(api_version: &str, kind: &str) -> bool {
    schema::message_for_kind(api_version, kind).is_some()
}
