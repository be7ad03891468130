//! The cluster state store: a revisioned key-value API (`Store`) that only the API server uses.
//!
//! Every write gets the next value of one global revision counter. Reads can be served at any
//! revision that compaction has not discarded; watches replay history from a revision and then
//! follow live writes without ever dropping an event.

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;

#[doc(hidden)]
pub mod conformance;
pub mod embedded;

/// A revision of the whole store. Revision 0 is "nothing written yet"; the first write is 1.
pub type Revision = i64;

/// One key at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// Revision of the write that created this key (kept across updates).
    pub create_revision: Revision,
    /// Revision of the last write to this key.
    pub mod_revision: Revision,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change, as seen by a watcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// For `Put`, the new value. For `Delete`, the last value before deletion, with
    /// `mod_revision` set to the revision of the delete.
    pub kv: KeyValue,
    /// The value before this change (`None` for a create).
    pub prev: Option<KeyValue>,
}

/// The result of a range read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeResult {
    pub kvs: Vec<KeyValue>,
    /// True when `limit` cut the result short.
    pub more: bool,
    /// The revision the read was served at.
    pub revision: Revision,
}

/// The closed set of store failures; the API server maps each to one Status.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("key {key} already exists")]
    AlreadyExists { key: String },
    #[error("key {key} not found")]
    NotFound { key: String },
    /// A compare-and-swap precondition failed; `current` is the value now stored.
    #[error("key {key} was modified (current revision {})", .current.as_ref().map_or(0, |c| c.mod_revision))]
    Conflict {
        key: String,
        current: Option<KeyValue>,
    },
    #[error("revision {requested} has been compacted (oldest available is {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    #[error("store i/o on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("store data in {path} is corrupt: {detail}")]
    Corrupt { path: String, detail: String },
    #[error("store is closed")]
    Closed,
    #[error("store backend: {0}")]
    Backend(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A stream of events in revision order. It ends with `Err(Compacted)` if the watcher fell
/// behind retained history, and never skips an event otherwise.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Event>> + Send>>;

/// The store API. Implementations: [`embedded::EmbeddedStore`] (and etcd later).
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The latest value of `key` and the current store revision.
    async fn get(&self, key: &str) -> Result<(Option<KeyValue>, Revision)>;

    /// Keys in `[start, end)` in key order, as of `revision` (0 = latest), at most `limit`
    /// of them (0 = no limit).
    async fn range(
        &self,
        start: &str,
        end: &str,
        revision: Revision,
        limit: usize,
    ) -> Result<RangeResult>;

    /// Creates `key`; fails with `AlreadyExists` if it is present.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue>;

    /// Replaces `key` if its `mod_revision` equals `expected`; `Conflict` otherwise,
    /// `NotFound` if it is absent.
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue>;

    /// Deletes `key` (if `expected` is set, only when its `mod_revision` matches). Returns the
    /// deleted value with `mod_revision` set to the revision of the delete.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue>;

    /// Events for keys starting with `prefix` with revision greater than `after`.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream>;

    /// Discards history before `revision` (reads at older revisions get `Compacted`).
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// The current revision and the oldest revision still readable.
    async fn revisions(&self) -> Result<(Revision, Revision)>;
}

/// The exclusive end of the key range that holds every key starting with `prefix`.
pub fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0x7f {
            end.push(last + 1);
            // Keys are ASCII paths; stepping the last byte below 0x7f stays valid UTF-8.
            return String::from_utf8(end).unwrap_or_default();
        }
    }
    String::new()
}
