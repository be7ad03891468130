//! The embedded store: the default durable backend, an in-memory MVCC map backed by an
//! append-only, group-committed write-ahead log in one directory.
//!
//! # Design
//! - Writes are validated, given the next revision and applied in memory under one lock, and
//!   their record is appended to a pending buffer. A single writer thread writes each batch of
//!   pending records and fdatasyncs it (group commit), then publishes the new *durable
//!   revision*. A write is acknowledged only once its record is durable, and reads at
//!   "latest" and watches never go beyond the durable revision, so nothing a crash can lose
//!   is ever observed. After a failed write or fsync the store refuses all writes.
//! - On open, the data file (base snapshot + records) is replayed; a torn last record is cut
//!   off, damage elsewhere is reported as `Corrupt`.
//! - History is bounded by compaction (explicit, or automatic via
//!   [`EmbeddedOptions::retain_revisions`]); the file is bounded by rewriting it (state at the
//!   compaction revision + later records) once it outgrows its live content.
//!
//! The directory is locked while the store is open; call [`EmbeddedStore::close`] to flush
//! and release it. `compact` to a revision at or below the current compaction revision is a
//! no-op; its log marker becomes durable with the next batch (a crash just before that only
//! forgets the compaction).
//!
//! # Code map
//! - `record`: frame and record encoding of the log.
//! - `state`: the in-memory MVCC map and event log (no I/O).
//! - `shared`: write validation/ordering, durable revision, reads.
//! - `writer`: the writer thread (group commit, auto-compaction, file rewrite).
//! - `data_file`: replay on open, fresh files, the directory lock.
//! - `watch`: watch streams over the event log.

mod data_file;
mod record;
mod shared;
mod state;
mod watch;
mod writer;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use bytes::Bytes;

use self::shared::{Op, Shared};
use crate::{KeyValue, RangeResult, Result, Revision, Store, StoreError, WatchStream};

/// Tuning of an [`EmbeddedStore`].
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// Automatic compaction keeps at least this many revisions of history (it runs when
    /// about an eighth more have accumulated). `None` disables it.
    pub retain_revisions: Option<u64>,
    /// The data file is rewritten once it is larger than this and more than twice the size of
    /// its live content (the state at the compaction revision plus the history after it).
    pub rewrite_min_bytes: u64,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            retain_revisions: Some(10_000),
            rewrite_min_bytes: 64 << 20,
        }
    }
}

/// Counters and sizes of an open [`EmbeddedStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddedStats {
    /// The durable (readable) revision.
    pub revision: Revision,
    /// The compaction revision.
    pub compacted: Revision,
    /// Keys with retained versions (live keys plus recently deleted ones).
    pub keys: usize,
    /// Writes accepted since open.
    pub writes: u64,
    /// Batches written and fdatasynced since open.
    pub fsyncs: u64,
    /// Data file rewrites since open.
    pub rewrites: u64,
    /// Current size of the data file.
    pub file_bytes: u64,
    /// Bytes of a torn tail discarded when the store was opened.
    pub truncated_on_open: u64,
}

/// The embedded, durable [`Store`].
pub struct EmbeddedStore {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
    truncated_on_open: u64,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `dir`, replaying its data file.
    pub async fn open(dir: &Path, options: EmbeddedOptions) -> Result<Arc<EmbeddedStore>> {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&dir, options))
            .await
            .map_err(|e| StoreError::Backend(format!("store open task failed: {e}")))?
    }

    /// Like [`EmbeddedStore::open`], for callers outside an async context.
    pub fn open_blocking(dir: &Path, options: EmbeddedOptions) -> Result<Arc<EmbeddedStore>> {
        std::fs::create_dir_all(dir).map_err(data_file::io_error(dir))?;
        let lock = data_file::lock_dir(dir)?;
        data_file::remove_temp(dir);
        let loaded = data_file::load(dir)?;
        let shared = Arc::new(Shared::new(
            dir.to_path_buf(),
            options,
            loaded.state,
            loaded.len,
        ));
        let writer = writer::spawn(shared.clone(), loaded.file, loaded.len, lock)?;
        Ok(Arc::new(EmbeddedStore {
            shared,
            writer: Mutex::new(Some(writer)),
            truncated_on_open: loaded.truncated,
        }))
    }

    /// Flushes pending writes, stops the writer and releases the directory. Later calls on
    /// the store (and open watches, once drained) fail with `Closed`. Returns the write
    /// failure if the store had failed.
    pub async fn close(&self) -> Result<()> {
        self.shared.begin_close();
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|e| StoreError::Backend(format!("store close task failed: {e}")))?
                .map_err(|_| StoreError::Backend("store writer thread panicked".into()))?;
        }
        match self.shared.failure() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Current counters and sizes.
    pub fn stats(&self) -> EmbeddedStats {
        let c = &self.shared.counters;
        let st = self.shared.read_state();
        EmbeddedStats {
            revision: self.shared.durable(),
            compacted: st.compacted,
            keys: st.key_count(),
            writes: c.writes.load(Ordering::Relaxed),
            fsyncs: c.fsyncs.load(Ordering::Relaxed),
            rewrites: c.rewrites.load(Ordering::Relaxed),
            file_bytes: c.file_bytes.load(Ordering::Relaxed),
            truncated_on_open: self.truncated_on_open,
        }
    }
}

impl Drop for EmbeddedStore {
    /// Flushes and stops the writer (blocking briefly) if `close` was not called.
    fn drop(&mut self) {
        self.shared.begin_close();
        let handle = self
            .writer
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

#[async_trait::async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, key: &str) -> Result<(Option<KeyValue>, Revision)> {
        self.shared.read(0, |st, at| (st.get(key, at), at))
    }

    async fn range(
        &self,
        start: &str,
        end: &str,
        revision: Revision,
        limit: usize,
    ) -> Result<RangeResult> {
        self.shared.read(revision, |st, at| {
            let (kvs, more) = st.range(start, end, at, limit);
            RangeResult {
                kvs,
                more,
                revision: at,
            }
        })
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        self.shared.write(Op::Create { key, value }).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        self.shared
            .write(Op::Update {
                key,
                value,
                expected,
            })
            .await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        self.shared.write(Op::Delete { key, expected }).await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        watch::start(self.shared.clone(), prefix, after)
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.shared.compact(revision)
    }

    async fn revisions(&self) -> Result<(Revision, Revision)> {
        self.shared.read(0, |st, at| (at, st.compacted))
    }
}
