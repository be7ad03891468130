//! Watches: initial state for resourceVersion "" and "0", replay from an exact version, selector
//! transitions (an object leaving the selection is DELETED for the watcher), bookmarks,
//! timeouts, and the 410 `Expired` error event once history is compacted.

use std::time::Duration;

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use gantry_store::{Event, EventKind, prefix_end};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::list::{check_field_selector, matches};
use super::{Storage, subject};
use crate::error::{ApiError, ApiResult};
use crate::query::Query;
use crate::registry::ResourceDef;

/// How often a watcher that asked for bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(30);
/// The longest a watch lasts before the client must re-establish it.
const MAX_TIMEOUT: Duration = Duration::from_secs(1800);

pub struct WatchOptions {
    pub kind: &'static str,
    pub api_version: String,
}

fn frame(kind: &str, object: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(object.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

fn expired_frame(message: &str) -> Bytes {
    let status = ApiError::Gone(message.to_string()).status();
    frame("ERROR", status.to_string().as_bytes())
}

/// Turns each event's object into what the watcher asked for (a Table, PartialObjectMetadata);
/// called with the event type and the object.
pub type Convert = std::sync::Arc<dyn Fn(&str, Value) -> Value + Send + Sync>;

/// A watch frame; without a conversion the stored bytes are copied untouched (the fast path).
fn emit(convert: Option<&Convert>, kind: &str, object: &[u8]) -> Bytes {
    match convert.map(|f| serde_json::from_slice::<Value>(object).map(|v| f(kind, v))) {
        Some(Ok(converted)) => frame(kind, converted.to_string().as_bytes()),
        _ => frame(kind, object),
    }
}

/// What a watcher with selectors sees of one store event.
fn classify(
    def: &ResourceDef,
    event: &Event,
    q: &Query,
) -> ApiResult<Option<(&'static str, Vec<u8>)>> {
    let filtering = !q.label_selector.is_empty() || !q.field_selector.is_empty();
    let kv = &event.kv;
    let body = || def.render(&kv.value, kv.mod_revision);
    if !filtering {
        let kind = match (event.kind, &event.prev) {
            (EventKind::Delete, _) => "DELETED",
            (EventKind::Put, None) => "ADDED",
            (EventKind::Put, Some(_)) => "MODIFIED",
        };
        return Ok(Some((kind, body())));
    }
    let now = matches(&def.decode(&kv.value, kv.mod_revision)?, q);
    let before = match &event.prev {
        Some(prev) => matches(&def.decode(&prev.value, prev.mod_revision)?, q),
        None => false,
    };
    Ok(match (event.kind, before, now) {
        (EventKind::Delete, _, true) => Some(("DELETED", body())),
        (EventKind::Delete, _, false) => None,
        (EventKind::Put, false, true) => Some(("ADDED", body())),
        (EventKind::Put, true, true) => Some(("MODIFIED", body())),
        // The object left the selection: to this watcher it is gone.
        (EventKind::Put, true, false) => Some(("DELETED", body())),
        (EventKind::Put, false, false) => None,
    })
}

/// How a watch begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// Events after the given resource version.
    After,
    /// The current state as ADDED events, then changes (resourceVersion "" or "0").
    InitialEvents,
    /// Watch-list: the state as ADDED events, a bookmark marking their end, then changes.
    InitialEventsThenBookmark,
}

fn watch_start(q: &Query) -> ApiResult<Start> {
    match (q.send_initial_events, q.resource_version_match.as_deref()) {
        (Some(true), Some("NotOlderThan")) if q.allow_watch_bookmarks => {
            Ok(Start::InitialEventsThenBookmark)
        }
        (Some(true), _) => Err(ApiError::Invalid(
            Default::default(),
            vec![crate::error::FieldError::forbidden(
                "sendInitialEvents",
                "sendInitialEvents requires allowWatchBookmarks=true and resourceVersionMatch=NotOlderThan",
            )],
        )),
        (Some(false), Some("NotOlderThan")) => Ok(Start::After),
        (_, Some(_)) => Err(ApiError::Invalid(
            Default::default(),
            vec![crate::error::FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            )],
        )),
        (_, None) if q.exact_revision().ok().flatten().is_some() => Ok(Start::After),
        _ => Ok(Start::InitialEvents),
    }
}

/// A BOOKMARK object; `initial_events_end` marks the end of watch-list's initial events.
fn bookmark(def: &ResourceDef, rv: i64, initial_events_end: bool) -> Value {
    let mut mark = json!({"kind": def.kind, "apiVersion": def.api_version(), "metadata": {"resourceVersion": rv.to_string()}});
    if initial_events_end {
        mark["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    mark
}

impl Storage {
    /// Starts a watch; events arrive on the returned channel as encoded lines.
    pub async fn watch(
        self: &std::sync::Arc<Self>,
        def: &ResourceDef,
        ns: Option<String>,
        q: Query,
    ) -> ApiResult<mpsc::Receiver<Bytes>> {
        self.watch_converted(def, ns, q, None).await
    }

    /// A watch whose events' objects go through `convert` (`as=Table`, `as=PartialObjectMetadata`).
    pub async fn watch_converted(
        self: &std::sync::Arc<Self>,
        def: &ResourceDef,
        ns: Option<String>,
        q: Query,
        convert: Option<Convert>,
    ) -> ApiResult<mpsc::Receiver<Bytes>> {
        check_field_selector(def, &q)?;
        let prefix = def.collection_key(ns.as_deref());
        let (tx, rx) = mpsc::channel::<Bytes>(256);
        let start = watch_start(&q)?;
        // "" and "0" begin with the current state as ADDED events; an exact version replays
        // after it; watch-list mode sends the state (not older than the version) then a bookmark.
        let (after, initial) = match (start, q.exact_revision()?) {
            (Start::After, Some(rv)) => (rv, Vec::new()),
            _ => {
                let page = self
                    .store
                    .range(&prefix, &prefix_end(&prefix), 0, 0)
                    .await
                    .map_err(|e| ApiError::from_store(e, &subject(def, "")))?;
                if let (Start::InitialEventsThenBookmark, Some(rv)) = (start, q.exact_revision()?) {
                    if rv > page.revision {
                        return Err(ApiError::Timeout(format!(
                            "Too large resource version: {rv}, current: {}",
                            page.revision
                        )));
                    }
                }
                (page.revision, page.kvs)
            }
        };
        let mut events = match self.store.watch(&prefix, after).await {
            Ok(events) => events,
            Err(gantry_store::StoreError::Compacted { requested, .. }) => {
                let _ = tx
                    .send(expired_frame(&format!(
                        "too old resource version: {requested}"
                    )))
                    .await;
                return Ok(rx);
            }
            Err(e) => return Err(ApiError::from_store(e, &subject(def, ""))),
        };
        let timeout = q
            .timeout_seconds
            .map_or(MAX_TIMEOUT, |s| Duration::from_secs(s).min(MAX_TIMEOUT));
        let storage = self.clone();
        let (group, version, plural) = (def.group, def.version, def.plural);
        tokio::spawn(async move {
            let Some(def) = storage.resolve(group, version, plural) else {
                return;
            };
            let def = &*def;
            for kv in initial {
                let obj = match def.decode(&kv.value, kv.mod_revision) {
                    Ok(o) => o,
                    Err(_) => continue,
                };
                if matches(&obj, &q)
                    && tx
                        .send(emit(
                            convert.as_ref(),
                            "ADDED",
                            &def.render(&kv.value, kv.mod_revision),
                        ))
                        .await
                        .is_err()
                {
                    return;
                }
            }
            if start == Start::InitialEventsThenBookmark {
                let mark = bookmark(def, after, true);
                if tx
                    .send(emit(
                        convert.as_ref(),
                        "BOOKMARK",
                        mark.to_string().as_bytes(),
                    ))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            let mut bookmarks = tokio::time::interval_at(
                tokio::time::Instant::now() + BOOKMARK_EVERY,
                BOOKMARK_EVERY,
            );
            let mut last_rev = after;
            loop {
                tokio::select! {
                    _ = &mut deadline => return,
                    _ = bookmarks.tick(), if q.allow_watch_bookmarks => {
                        // The current revision is safe to report once every event up to it
                        // that this watcher can see has been sent: drain what is ready first.
                        let current = storage.store.revisions().await.map(|(rev, _)| rev).unwrap_or(last_rev);
                        while let Some(next) = events.next().now_or_never() {
                            let Some(Ok(event)) = next else { return };
                            last_rev = event.kv.mod_revision;
                            if let Ok(Some((kind, body))) = classify(def, &event, &q) {
                                if tx.send(emit(convert.as_ref(), kind, &body)).await.is_err() {
                                    return;
                                }
                            }
                        }
                        last_rev = last_rev.max(current);
                        let mark = bookmark(def, last_rev, false);
                        if tx.send(emit(convert.as_ref(), "BOOKMARK", mark.to_string().as_bytes())).await.is_err() {
                            return;
                        }
                    }
                    next = events.next() => match next {
                        None => return,
                        Some(Err(gantry_store::StoreError::Compacted { requested, .. })) => {
                            let _ = tx.send(expired_frame(&format!("too old resource version: {requested}"))).await;
                            return;
                        }
                        Some(Err(_)) => return,
                        Some(Ok(event)) => {
                            last_rev = event.kv.mod_revision;
                            match classify(def, &event, &q) {
                                Ok(Some((kind, body))) => {
                                    if tx.send(emit(convert.as_ref(), kind, &body)).await.is_err() {
                                        return;
                                    }
                                }
                                Ok(None) => {}
                                Err(_) => return,
                            }
                        }
                    }
                }
            }
        });
        Ok(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_start_table() {
        let q = |raw: &str| Query::parse(Some(raw)).unwrap();
        let cases = [
            ("", Ok(Start::InitialEvents)),
            ("resourceVersion=0", Ok(Start::InitialEvents)),
            ("resourceVersion=12", Ok(Start::After)),
            (
                "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
                Ok(Start::InitialEventsThenBookmark),
            ),
            (
                "sendInitialEvents=true&resourceVersionMatch=NotOlderThan",
                Err(422),
            ),
            ("sendInitialEvents=true", Err(422)),
            (
                "sendInitialEvents=false&resourceVersionMatch=NotOlderThan&resourceVersion=5",
                Ok(Start::After),
            ),
            ("resourceVersionMatch=Exact&resourceVersion=5", Err(422)),
        ];
        for (raw, want) in cases {
            assert_eq!(
                watch_start(&q(raw)).map_err(|e| e.code_reason().0),
                want,
                "{raw}"
            );
        }
    }

    #[test]
    fn initial_events_end_bookmark() {
        let registry = crate::registry::Registry::builtin();
        let def = registry.get("", "v1", "pods").unwrap();
        let mark = bookmark(def, 42, true);
        assert_eq!(mark["metadata"]["resourceVersion"], "42");
        assert_eq!(
            mark["metadata"]["annotations"]["k8s.io/initial-events-end"],
            "true"
        );
        assert!(bookmark(def, 1, false)["metadata"]["annotations"].is_null());
    }

    #[test]
    fn frames_are_json_lines() {
        let f = frame("ADDED", br#"{"a":1}"#);
        assert_eq!(
            &f[..],
            b"{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n".as_slice()
        );
        let e: Value =
            serde_json::from_slice(&expired_frame("too old resource version: 3")).unwrap();
        assert_eq!(e["type"], "ERROR");
        assert_eq!(e["object"]["code"], 410);
        assert_eq!(e["object"]["reason"], "Expired");
    }
}
