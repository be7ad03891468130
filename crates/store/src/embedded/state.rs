//! The in-memory MVCC state: every key's versions since the compaction revision, and the
//! ordered event log of the revisions after it.
//!
//! Invariants (kept by `apply_*` and `compact`):
//! - `events` holds exactly the revisions `compacted + 1 ..= head`, in order.
//! - For each key, at most one version has `mod_revision <= compacted`, and it is not a
//!   tombstone; keys with no versions are removed from the map.
//!
//! Nothing here knows about files or durability: callers decide which revision to read at.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use super::record::write_record_size;
use crate::{Event, EventKind, KeyValue, Revision};

/// One version of a key; `value == None` is a deletion (tombstone).
#[derive(Clone, Debug)]
pub(crate) struct Version {
    pub mod_revision: Revision,
    pub create_revision: Revision,
    pub value: Option<Bytes>,
}

/// A value a key had before an event.
#[derive(Clone, Debug)]
pub(crate) struct PrevValue {
    pub value: Bytes,
    pub create_revision: Revision,
    pub mod_revision: Revision,
}

/// One entry of the event log; its revision is implied by its position.
#[derive(Clone, Debug)]
pub(crate) struct LoggedEvent {
    pub kind: EventKind,
    pub key: Arc<str>,
    /// The new value for a put, the last value for a delete.
    pub value: Bytes,
    pub create_revision: Revision,
    pub prev: Option<PrevValue>,
}

/// One live key of a snapshot, as written into a rewritten data file.
pub(crate) struct SnapshotKv {
    pub key: Arc<str>,
    pub value: Bytes,
    pub create_revision: Revision,
    pub mod_revision: Revision,
}

#[derive(Default)]
pub(crate) struct State {
    keys: BTreeMap<Arc<str>, Vec<Version>>,
    events: VecDeque<LoggedEvent>,
    /// The revision of the newest applied write (durable or not).
    pub head: Revision,
    /// Reads and watches before this revision are refused.
    pub compacted: Revision,
    /// Bytes of keys and values live at `head`.
    pub live_bytes: u64,
    /// Approximate encoded size of the records in the event log.
    pub event_bytes: u64,
}

fn visible(versions: &[Version], at: Revision) -> Option<&Version> {
    versions
        .iter()
        .rev()
        .find(|v| v.mod_revision <= at)
        .filter(|v| v.value.is_some())
}

fn to_kv(key: &str, v: &Version) -> Option<KeyValue> {
    Some(KeyValue {
        key: key.to_owned(),
        value: v.value.clone()?,
        create_revision: v.create_revision,
        mod_revision: v.mod_revision,
    })
}

impl State {
    /// A fresh state whose history starts after `compacted`.
    pub fn based_at(compacted: Revision) -> State {
        State {
            head: compacted,
            compacted,
            ..State::default()
        }
    }

    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The value of `key` as of revision `at`.
    pub fn get(&self, key: &str, at: Revision) -> Option<KeyValue> {
        to_kv(key, visible(self.keys.get(key)?, at)?)
    }

    /// The newest value of `key`, including writes that are not durable yet.
    pub fn latest(&self, key: &str) -> Option<KeyValue> {
        self.get(key, self.head)
    }

    /// Keys in `[start, end)` (`end == ""`: unbounded) as of `at`; at most `limit` (0 = all).
    /// Returns the keys and whether more were left out.
    pub fn range(
        &self,
        start: &str,
        end: &str,
        at: Revision,
        limit: usize,
    ) -> (Vec<KeyValue>, bool) {
        let mut kvs = Vec::new();
        if !end.is_empty() && start >= end {
            return (kvs, false);
        }
        let upper = if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(end)
        };
        for (key, versions) in self.keys.range::<str, _>((Bound::Included(start), upper)) {
            let Some(kv) = visible(versions, at).and_then(|v| to_kv(key, v)) else {
                continue;
            };
            if limit != 0 && kvs.len() == limit {
                return (kvs, true);
            }
            kvs.push(kv);
        }
        (kvs, false)
    }

    /// Applies a create or update as the next revision; the caller has checked preconditions.
    pub fn apply_put(&mut self, key: &str, value: Bytes) -> KeyValue {
        let revision = self.head + 1;
        let prev = self.latest_version(key);
        let create_revision = prev.as_ref().map_or(revision, |p| p.create_revision);
        let version = Version {
            mod_revision: revision,
            create_revision,
            value: Some(value.clone()),
        };
        let key = self.push_version(key, version);
        if let Some(p) = &prev {
            self.live_bytes = self
                .live_bytes
                .saturating_sub((key.len() + p.value.len()) as u64);
        }
        self.live_bytes += (key.len() + value.len()) as u64;
        self.event_bytes += write_record_size(&key, value.len());
        let kv = KeyValue {
            key: key.to_string(),
            value: value.clone(),
            create_revision,
            mod_revision: revision,
        };
        self.events.push_back(LoggedEvent {
            kind: EventKind::Put,
            key,
            value,
            create_revision,
            prev,
        });
        self.head = revision;
        kv
    }

    /// Deletes a live key as the next revision; `None` if it is absent.
    pub fn apply_delete(&mut self, key: &str) -> Option<KeyValue> {
        let prev = self.latest_version(key)?;
        let revision = self.head + 1;
        let tombstone = Version {
            mod_revision: revision,
            create_revision: prev.create_revision,
            value: None,
        };
        let key = self.push_version(key, tombstone);
        self.live_bytes = self
            .live_bytes
            .saturating_sub((key.len() + prev.value.len()) as u64);
        self.event_bytes += write_record_size(&key, 0);
        let kv = KeyValue {
            key: key.to_string(),
            value: prev.value.clone(),
            create_revision: prev.create_revision,
            mod_revision: revision,
        };
        self.events.push_back(LoggedEvent {
            kind: EventKind::Delete,
            key,
            value: prev.value.clone(),
            create_revision: prev.create_revision,
            prev: Some(prev),
        });
        self.head = revision;
        Some(kv)
    }

    /// Inserts a key of the base state (at or before `compacted`) while loading a file.
    pub fn insert_base(
        &mut self,
        key: &str,
        value: Bytes,
        create_revision: Revision,
        mod_revision: Revision,
    ) {
        self.live_bytes += (key.len() + value.len()) as u64;
        let version = Version {
            mod_revision,
            create_revision,
            value: Some(value),
        };
        self.keys.insert(Arc::from(key), vec![version]);
    }

    /// Discards history before `revision`; the caller ensures `compacted < revision <= head`.
    pub fn compact(&mut self, revision: Revision) {
        let drop_count = usize::try_from(revision - self.compacted)
            .unwrap_or(0)
            .min(self.events.len());
        self.compacted = revision;
        let dropped: Vec<LoggedEvent> = self.events.drain(..drop_count).collect();
        for event in &dropped {
            let len = if event.kind == EventKind::Put {
                event.value.len()
            } else {
                0
            };
            self.event_bytes = self
                .event_bytes
                .saturating_sub(write_record_size(&event.key, len));
            self.prune(&event.key);
        }
    }

    /// Drops the versions of `key` that no read at or after `compacted` can see.
    fn prune(&mut self, key: &str) {
        let Some(versions) = self.keys.get_mut(key) else {
            return;
        };
        let Some(newest_old) = versions
            .iter()
            .rposition(|v| v.mod_revision <= self.compacted)
        else {
            return;
        };
        let keep_from = if versions[newest_old].value.is_some() {
            newest_old
        } else {
            newest_old + 1
        };
        versions.drain(..keep_from);
        if versions.is_empty() {
            self.keys.remove(key);
        } else if versions.capacity() > 2 * versions.len() + 2 {
            versions.shrink_to_fit();
        }
    }

    /// The events at revisions `from ..= to` whose key starts with `prefix`, appended to `out`.
    /// The caller ensures `compacted < from` and `to <= head`.
    pub fn collect_events(
        &self,
        prefix: &str,
        from: Revision,
        to: Revision,
        out: &mut VecDeque<Event>,
    ) {
        let base = self.compacted + 1;
        for revision in from..=to {
            let Some(e) = usize::try_from(revision - base)
                .ok()
                .and_then(|i| self.events.get(i))
            else {
                return;
            };
            if !e.key.starts_with(prefix) {
                continue;
            }
            let kv = KeyValue {
                key: e.key.to_string(),
                value: e.value.clone(),
                create_revision: e.create_revision,
                mod_revision: revision,
            };
            let prev = e.prev.as_ref().map(|p| KeyValue {
                key: e.key.to_string(),
                value: p.value.clone(),
                create_revision: p.create_revision,
                mod_revision: p.mod_revision,
            });
            out.push_back(Event {
                kind: e.kind,
                kv,
                prev,
            });
        }
    }

    /// The live keys at `compacted` and the events after it up to `to`, for rewriting a file.
    pub fn snapshot(&self, to: Revision) -> (Vec<SnapshotKv>, Vec<(Revision, LoggedEvent)>) {
        let at = self.compacted;
        let kvs = self
            .keys
            .iter()
            .filter_map(|(key, versions)| {
                let v = visible(versions, at)?;
                Some(SnapshotKv {
                    key: key.clone(),
                    value: v.value.clone()?,
                    create_revision: v.create_revision,
                    mod_revision: v.mod_revision,
                })
            })
            .collect();
        let count = usize::try_from(to - at).unwrap_or(0);
        let events = (at + 1..)
            .zip(self.events.iter().take(count).cloned())
            .collect();
        (kvs, events)
    }

    fn latest_version(&self, key: &str) -> Option<PrevValue> {
        let v = self.keys.get(key)?.last()?;
        Some(PrevValue {
            value: v.value.clone()?,
            create_revision: v.create_revision,
            mod_revision: v.mod_revision,
        })
    }

    fn push_version(&mut self, key: &str, version: Version) -> Arc<str> {
        if let Some((k, _)) = self.keys.get_key_value(key) {
            let k = k.clone();
            self.keys.entry(k.clone()).or_default().push(version);
            k
        } else {
            let k: Arc<str> = Arc::from(key);
            self.keys.insert(k.clone(), vec![version]);
            k
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn reads_see_the_newest_version_at_or_before_the_revision() {
        let mut s = State::default();
        s.apply_put("/a", b("1")); // 1
        s.apply_put("/a", b("2")); // 2
        s.apply_delete("/a"); // 3
        assert_eq!(s.get("/a", 1).map(|kv| kv.value), Some(b("1")));
        assert_eq!(
            s.get("/a", 2).map(|kv| (kv.value, kv.create_revision)),
            Some((b("2"), 1))
        );
        assert_eq!(s.get("/a", 3), None);
    }

    #[test]
    fn compaction_keeps_only_what_reads_after_it_can_see() {
        let mut s = State::default();
        for i in 0..10 {
            s.apply_put("/a", b(&i.to_string())); // 1..=10
        }
        s.apply_put("/gone", b("x")); // 11
        s.apply_delete("/gone"); // 12
        s.apply_put("/a", b("last")); // 13
        s.compact(12);
        assert_eq!(s.keys.get("/a").map(Vec::len), Some(2));
        assert!(!s.keys.contains_key("/gone"));
        assert_eq!(s.events.len(), 1);
        assert_eq!(s.get("/a", 12).map(|kv| kv.value), Some(b("9")));
        assert_eq!(s.live_bytes, 2 + 4);
    }
}
