//! The single writer thread: group commit (one write + fdatasync per batch of pending
//! records), automatic compaction, and rewriting the data file when it has grown too large.
//!
//! It is an OS thread rather than a tokio task because every step blocks on the disk.

use std::fs::File;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use super::data_file::{self, io_error};
use super::shared::Shared;
use crate::Result;

/// Buffers above this capacity are not kept for reuse.
const MAX_SPARE_CAPACITY: usize = 16 << 20;

/// Starts the writer. `lock` (the directory lock) is released when the writer exits.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    file: File,
    len: u64,
    lock: File,
) -> Result<JoinHandle<()>> {
    let dir = shared.dir.clone();
    std::thread::Builder::new()
        .name("gantry-store-writer".into())
        .spawn(move || {
            let mut writer = Writer {
                shared,
                file,
                len,
                spare: Vec::new(),
                rewrite_floor: 0,
            };
            writer.run();
            let shared = writer.shared;
            drop(writer.file);
            drop(lock);
            shared.shut_down.store(true, Ordering::Release);
            shared.durable_tx.send_replace(shared.durable());
        })
        .map_err(io_error(&dir))
}

struct Writer {
    shared: Arc<Shared>,
    file: File,
    len: u64,
    spare: Vec<u8>,
    /// No rewrite before the file reaches this size (twice the size of the last rewrite), so
    /// an estimate that is off cannot cause a rewrite per batch.
    rewrite_floor: u64,
}

impl Writer {
    fn run(&mut self) {
        loop {
            let (buf, last_revision, closing) = {
                let mut pending = self.shared.lock_pending();
                while pending.buf.is_empty() && !pending.closing {
                    pending = self
                        .shared
                        .pending_cv
                        .wait(pending)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                let buf = std::mem::replace(&mut pending.buf, std::mem::take(&mut self.spare));
                (buf, pending.last_revision, pending.closing)
            };
            if buf.is_empty() && closing {
                return;
            }
            if !buf.is_empty() && !self.commit(buf, last_revision) {
                return;
            }
            self.auto_compact();
            if self.should_rewrite()
                && let Err(e) = self.rewrite()
            {
                self.shared.fail(&e);
                return;
            }
        }
    }

    /// Writes and fsyncs one batch, then publishes it. False if the store has failed.
    fn commit(&mut self, mut buf: Vec<u8>, last_revision: i64) -> bool {
        let path = self.shared.dir.join(data_file::DATA_FILE);
        let result = self
            .file
            .write_all(&buf)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = result {
            self.shared.fail(&io_error(&path)(e));
            return false;
        }
        self.len += buf.len() as u64;
        let counters = &self.shared.counters;
        counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        counters.file_bytes.store(self.len, Ordering::Relaxed);
        self.shared.publish_durable(last_revision);
        if buf.capacity() <= MAX_SPARE_CAPACITY {
            buf.clear();
            self.spare = buf;
        }
        true
    }

    fn auto_compact(&self) {
        let Some(retain) = self.shared.options.retain_revisions else {
            return;
        };
        let retain = i64::try_from(retain).unwrap_or(i64::MAX);
        let slack = (retain / 8).max(1);
        let durable = self.shared.durable();
        let compacted = self.shared.read_state().compacted;
        if durable.saturating_sub(compacted) > retain.saturating_add(slack)
            && let Err(e) = self.shared.compact(durable - retain)
        {
            tracing::debug!(error = %e, "automatic compaction skipped");
        }
    }

    fn should_rewrite(&self) -> bool {
        if self.len
            < self
                .shared
                .options
                .rewrite_min_bytes
                .max(self.rewrite_floor)
        {
            return false;
        }
        let st = self.shared.read_state();
        let estimate = st.live_bytes + st.event_bytes + 64 * st.key_count() as u64;
        self.len > 2 * estimate
    }

    /// Replaces the file with the state at the compaction revision plus the records after it.
    /// A failure before the rename leaves the old file in use; one after it is fatal.
    fn rewrite(&mut self) -> Result<()> {
        let dir = self.shared.dir.clone();
        // Everything up to `durable` is in the current file; later records are still pending
        // and will be appended to the new file.
        let durable = self.shared.durable();
        let (compacted, kvs, events) = {
            let st = self.shared.read_state();
            let (kvs, events) = st.snapshot(durable);
            (st.compacted, kvs, events)
        };
        let (file, len) = match data_file::write_temp(&dir, compacted, &kvs, &events) {
            Ok(written) => written,
            Err(e) => {
                tracing::warn!(error = %e, "store log rewrite failed; keeping the current file");
                data_file::remove_temp(&dir);
                return Ok(());
            }
        };
        data_file::install_temp(&dir)?;
        tracing::debug!(old = self.len, new = len, "rewrote store log");
        self.file = file;
        self.len = len;
        self.rewrite_floor = len.saturating_mul(2);
        self.shared
            .counters
            .rewrites
            .fetch_add(1, Ordering::Relaxed);
        self.shared
            .counters
            .file_bytes
            .store(len, Ordering::Relaxed);
        Ok(())
    }
}
