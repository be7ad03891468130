//! The core shared by the API handle, the writer thread and watchers: validating and ordering
//! writes under one lock, the durable revision, and reads at it.
//!
//! Lock order: `state` before `pending`. Neither lock is held across an `.await`.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{
    Condvar, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

use bytes::Bytes;
use tokio::sync::watch;

use super::EmbeddedOptions;
use super::record::Record;
use super::state::State;
use crate::{KeyValue, Result, Revision, StoreError};

/// The largest key plus value accepted: bigger records could not be read back.
pub(crate) const MAX_ENTRY_BYTES: usize = 128 << 20;

/// Encoded records waiting for the writer thread.
#[derive(Default)]
pub(crate) struct Pending {
    pub buf: Vec<u8>,
    /// The revision of the newest record in `buf` (or already written).
    pub last_revision: Revision,
    /// Set by `close`: no new records are accepted; the writer drains and exits.
    pub closing: bool,
}

/// A write, before validation.
pub(crate) enum Op<'a> {
    Create {
        key: &'a str,
        value: Bytes,
    },
    Update {
        key: &'a str,
        value: Bytes,
        expected: Revision,
    },
    Delete {
        key: &'a str,
        expected: Option<Revision>,
    },
}

#[derive(Default)]
pub(crate) struct Counters {
    pub writes: AtomicU64,
    pub fsyncs: AtomicU64,
    pub rewrites: AtomicU64,
    pub file_bytes: AtomicU64,
}

pub(crate) struct Shared {
    pub dir: PathBuf,
    pub options: EmbeddedOptions,
    state: RwLock<State>,
    pending: Mutex<Pending>,
    pub pending_cv: Condvar,
    /// The newest revision whose record is fsynced; reads and watches see up to here.
    durable: AtomicI64,
    /// Publishes `durable` (and wakes waiters on failure or shutdown).
    pub durable_tx: watch::Sender<Revision>,
    /// Set once when an fsync fails; every later write is refused.
    failure: OnceLock<(io::ErrorKind, String)>,
    /// Set by the writer thread after its final flush.
    pub shut_down: AtomicBool,
    pub counters: Counters,
}

impl Shared {
    pub fn new(dir: PathBuf, options: EmbeddedOptions, state: State, file_len: u64) -> Shared {
        let head = state.head;
        let counters = Counters::default();
        counters.file_bytes.store(file_len, Ordering::Relaxed);
        Shared {
            dir,
            options,
            state: RwLock::new(state),
            pending: Mutex::new(Pending {
                last_revision: head,
                ..Pending::default()
            }),
            pending_cv: Condvar::new(),
            durable: AtomicI64::new(head),
            durable_tx: watch::Sender::new(head),
            failure: OnceLock::new(),
            shut_down: AtomicBool::new(false),
            counters,
        }
    }

    pub fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn lock_pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn durable(&self) -> Revision {
        self.durable.load(Ordering::Acquire)
    }

    /// Called by the writer after an fsync covering every record up to `revision`.
    pub fn publish_durable(&self, revision: Revision) {
        self.durable.fetch_max(revision, Ordering::AcqRel);
        self.durable_tx.send_replace(self.durable());
    }

    /// Called by the writer when the log can no longer be written: refuse all later writes
    /// and wake everyone waiting so they see the error.
    pub fn fail(&self, error: &StoreError) {
        let kind = match error {
            StoreError::Io { source, .. } => source.kind(),
            _ => io::ErrorKind::Other,
        };
        tracing::error!(%error, "store log write failed; refusing further writes");
        let _ = self.failure.set((kind, error.to_string()));
        self.durable_tx.send_replace(self.durable());
    }

    pub fn failure(&self) -> Option<StoreError> {
        self.failure.get().map(|(kind, message)| StoreError::Io {
            path: self.dir.display().to_string(),
            source: io::Error::new(*kind, message.clone()),
        })
    }

    fn check_open(&self, pending: &Pending) -> Result<()> {
        if let Some(e) = self.failure() {
            return Err(e);
        }
        if pending.closing {
            return Err(StoreError::Closed);
        }
        Ok(())
    }

    /// Validates and applies `op`, then waits until it (or, for a failed precondition, the
    /// state it was checked against) is durable.
    pub async fn write(&self, op: Op<'_>) -> Result<KeyValue> {
        let (outcome, wait_for) = self.apply(op)?;
        self.wait_durable(wait_for).await?;
        outcome
    }

    fn apply(&self, op: Op<'_>) -> Result<(Result<KeyValue>, Revision)> {
        let mut st = self.write_state();
        let mut pending = self.lock_pending();
        self.check_open(&pending)?;
        let key = match &op {
            Op::Create { key, .. } | Op::Update { key, .. } | Op::Delete { key, .. } => *key,
        };
        if let Op::Create { value, .. } | Op::Update { value, .. } = &op
            && key.len() + value.len() > MAX_ENTRY_BYTES
        {
            return Err(StoreError::Backend(format!(
                "value of {key} is {} bytes; the limit is {MAX_ENTRY_BYTES}",
                value.len()
            )));
        }
        let latest = st.latest(key);
        let refused = match (&op, &latest) {
            (Op::Create { .. }, Some(_)) => Some(StoreError::AlreadyExists {
                key: key.to_owned(),
            }),
            (Op::Update { .. } | Op::Delete { .. }, None) => Some(StoreError::NotFound {
                key: key.to_owned(),
            }),
            (Op::Update { expected, .. }, Some(cur))
            | (
                Op::Delete {
                    expected: Some(expected),
                    ..
                },
                Some(cur),
            ) if cur.mod_revision != *expected => Some(StoreError::Conflict {
                key: key.to_owned(),
                current: latest.clone(),
            }),
            _ => None,
        };
        if let Some(e) = refused {
            return Ok((Err(e), st.head));
        }
        let revision = st.head + 1;
        let kv = match op {
            Op::Create { value, .. } | Op::Update { value, .. } => {
                Record::Put {
                    revision,
                    key,
                    value: &value,
                }
                .encode_frame(&mut pending.buf);
                st.apply_put(key, value)
            }
            Op::Delete { .. } => {
                Record::Delete { revision, key }.encode_frame(&mut pending.buf);
                st.apply_delete(key).ok_or_else(|| StoreError::NotFound {
                    key: key.to_owned(),
                })?
            }
        };
        pending.last_revision = revision;
        drop(pending);
        drop(st);
        self.counters.writes.fetch_add(1, Ordering::Relaxed);
        self.pending_cv.notify_one();
        Ok((Ok(kv), revision))
    }

    /// Waits until `revision` is durable, or the store failed.
    pub async fn wait_durable(&self, revision: Revision) -> Result<()> {
        let mut rx = self.durable_tx.subscribe();
        loop {
            if *rx.borrow_and_update() >= revision {
                return Ok(());
            }
            if let Some(e) = self.failure() {
                return Err(e);
            }
            if self.shut_down.load(Ordering::Acquire) && self.durable() < revision {
                return Err(StoreError::Closed);
            }
            if rx.changed().await.is_err() {
                return Err(StoreError::Closed);
            }
        }
    }

    /// Discards history before `revision` and logs that it did.
    pub fn compact(&self, revision: Revision) -> Result<()> {
        let durable = self.durable();
        if revision > durable {
            return Err(StoreError::FutureRevision {
                requested: revision,
                current: durable,
            });
        }
        let mut st = self.write_state();
        if revision <= st.compacted {
            return Ok(());
        }
        let mut pending = self.lock_pending();
        self.check_open(&pending)?;
        st.compact(revision);
        Record::Compact { revision }.encode_frame(&mut pending.buf);
        drop(pending);
        drop(st);
        self.pending_cv.notify_one();
        Ok(())
    }

    /// Runs `read` on the state as of `revision` (0 = the durable revision).
    pub fn read<T>(
        &self,
        revision: Revision,
        read: impl FnOnce(&State, Revision) -> T,
    ) -> Result<T> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let durable = self.durable();
        let at = if revision == 0 { durable } else { revision };
        if at > durable {
            return Err(StoreError::FutureRevision {
                requested: at,
                current: durable,
            });
        }
        let st = self.read_state();
        if at < st.compacted {
            return Err(StoreError::Compacted {
                requested: at,
                compacted: st.compacted,
            });
        }
        Ok(read(&st, at))
    }

    /// Marks the store closing and wakes the writer so it drains and exits.
    pub fn begin_close(&self) {
        self.lock_pending().closing = true;
        self.pending_cv.notify_one();
    }
}
