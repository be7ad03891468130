//! Watch streams: each watcher reads the shared event log from its own position whenever the
//! durable revision advances, so no event is dropped however slow the consumer is (until
//! compaction overtakes it, which ends the stream with `Compacted`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::watch;

use super::shared::Shared;
use crate::{Event, Result, Revision, StoreError, WatchStream};

/// At most this many revisions are scanned per lock acquisition.
const SCAN_CHUNK: Revision = 512;

struct Watcher {
    shared: Arc<Shared>,
    prefix: String,
    /// The next revision to look at.
    next: Revision,
    durable_rx: watch::Receiver<Revision>,
    buf: VecDeque<Event>,
    done: bool,
}

/// Starts a watch of keys under `prefix` for revisions after `after`.
pub(crate) fn start(shared: Arc<Shared>, prefix: &str, after: Revision) -> Result<WatchStream> {
    if shared.shut_down.load(Ordering::Acquire) {
        return Err(StoreError::Closed);
    }
    let compacted = shared.read_state().compacted;
    if after < compacted {
        return Err(StoreError::Compacted {
            requested: after,
            compacted,
        });
    }
    let durable_rx = shared.durable_tx.subscribe();
    let watcher = Watcher {
        shared,
        prefix: prefix.to_owned(),
        next: after.saturating_add(1),
        durable_rx,
        buf: VecDeque::new(),
        done: false,
    };
    Ok(Box::pin(futures::stream::unfold(
        watcher,
        |mut w| async move {
            let item = w.next_event().await?;
            Some((item, w))
        },
    )))
}

impl Watcher {
    async fn next_event(&mut self) -> Option<Result<Event>> {
        loop {
            if let Some(event) = self.buf.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            let durable = *self.durable_rx.borrow_and_update();
            if self.next <= durable {
                if let Err(e) = self.fill(durable) {
                    self.done = true;
                    return Some(Err(e));
                }
                continue;
            }
            if let Some(end) = self.ended() {
                self.done = true;
                return Some(Err(end));
            }
            if self.durable_rx.changed().await.is_err() {
                self.done = true;
                return Some(Err(StoreError::Closed));
            }
        }
    }

    /// Copies matching events from `next` up to (at most) `durable` into the buffer.
    fn fill(&mut self, durable: Revision) -> Result<()> {
        let st = self.shared.read_state();
        if self.next <= st.compacted {
            return Err(StoreError::Compacted {
                requested: self.next - 1,
                compacted: st.compacted,
            });
        }
        let to = durable.min(self.next + SCAN_CHUNK - 1).min(st.head);
        st.collect_events(&self.prefix, self.next, to, &mut self.buf);
        self.next = to + 1;
        Ok(())
    }

    /// The error that ends the stream once everything durable has been delivered, if the
    /// store was closed or failed.
    fn ended(&self) -> Option<StoreError> {
        let final_state =
            self.shared.shut_down.load(Ordering::Acquire) || self.shared.failure().is_some();
        // Re-read the durable revision: it may have advanced just before shutting down.
        if final_state && self.next > self.shared.durable() {
            return Some(self.shared.failure().unwrap_or(StoreError::Closed));
        }
        None
    }
}
