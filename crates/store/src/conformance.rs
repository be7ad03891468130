//! The shared conformance suite: the behaviour every [`Store`] backend must have.
//!
//! Each case is a public async fn over `&dyn Store` that panics on a violation. Cases use
//! their own key prefix under `/conformance/` and tolerate other keys in the store, so they
//! can run each on a fresh store ([`store_conformance_tests!`](crate::store_conformance_tests))
//! or all in sequence on one store ([`run_all`]). They need a multi-threaded tokio runtime.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use crate::{Event, EventKind, KeyValue, Revision, Store, StoreError, WatchStream, prefix_end};

/// How long a case waits for an expected event before failing.
const EVENT_DEADLINE: Duration = Duration::from_secs(20);

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn next_event(w: &mut WatchStream) -> Event {
    match tokio::time::timeout(EVENT_DEADLINE, w.next()).await {
        Ok(Some(Ok(e))) => e,
        Ok(Some(Err(e))) => panic!("watch failed: {e}"),
        Ok(None) => panic!("watch ended early"),
        Err(_) => panic!("no watch event within {EVENT_DEADLINE:?}"),
    }
}

async fn create(store: &dyn Store, key: &str, value: &str) -> KeyValue {
    store
        .create(key, b(value))
        .await
        .unwrap_or_else(|e| panic!("create {key}: {e}"))
}

async fn current(store: &dyn Store) -> Revision {
    store.revisions().await.expect("revisions").0
}

/// `create` stores a key; a second `create` is `AlreadyExists`; `get` reads it back.
pub async fn create_and_get(store: &dyn Store) {
    let key = "/conformance/create/a";
    let (absent, _) = store.get(key).await.expect("get absent");
    assert_eq!(absent, None);
    let kv = create(store, key, "v1").await;
    assert_eq!((kv.key.as_str(), &kv.value[..]), (key, &b"v1"[..]));
    assert_eq!(kv.create_revision, kv.mod_revision);
    let (got, revision) = store.get(key).await.expect("get");
    assert_eq!(got.as_ref(), Some(&kv));
    assert!(
        revision >= kv.mod_revision,
        "get revision {revision} < write {}",
        kv.mod_revision
    );
    match store.create(key, b("v2")).await {
        Err(StoreError::AlreadyExists { key: k }) => assert_eq!(k, key),
        other => panic!("second create: expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(store.get(key).await.expect("get").0, Some(kv));
}

/// `update` succeeds only at the expected revision; `Conflict` carries the current value.
pub async fn update_compare_and_swap(store: &dyn Store) {
    let key = "/conformance/update/a";
    let v1 = create(store, key, "v1").await;
    let v2 = store
        .update(key, b("v2"), v1.mod_revision)
        .await
        .expect("update at current revision");
    assert_eq!(&v2.value[..], b"v2");
    assert_eq!(v2.create_revision, v1.create_revision);
    assert!(v2.mod_revision > v1.mod_revision);
    match store.update(key, b("v3"), v1.mod_revision).await {
        Err(StoreError::Conflict { key: k, current }) => {
            assert_eq!(k, key);
            assert_eq!(current.as_ref(), Some(&v2));
        }
        other => panic!("stale update: expected Conflict, got {other:?}"),
    }
    assert_eq!(store.get(key).await.expect("get").0, Some(v2));
    match store.update("/conformance/update/absent", b("x"), 1).await {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("update of absent key: expected NotFound, got {other:?}"),
    }
}

/// `delete` with and without a precondition; it returns the value at the delete revision.
pub async fn delete_with_and_without_precondition(store: &dyn Store) {
    let (ka, kb) = ("/conformance/delete/a", "/conformance/delete/b");
    let a = create(store, ka, "a").await;
    create(store, kb, "b").await;
    match store.delete(ka, Some(a.mod_revision - 1)).await {
        Err(StoreError::Conflict { current, .. }) => assert_eq!(current.as_ref(), Some(&a)),
        other => panic!("delete with stale precondition: expected Conflict, got {other:?}"),
    }
    let deleted = store
        .delete(ka, Some(a.mod_revision))
        .await
        .expect("delete with precondition");
    assert_eq!(
        (&deleted.value, deleted.create_revision),
        (&a.value, a.create_revision)
    );
    assert!(deleted.mod_revision > a.mod_revision);
    assert_eq!(store.get(ka).await.expect("get").0, None);
    store
        .delete(kb, None)
        .await
        .expect("delete without precondition");
    for expected in [None, Some(1)] {
        match store.delete(kb, expected).await {
            Err(StoreError::NotFound { .. }) => {}
            other => panic!("delete of absent key: expected NotFound, got {other:?}"),
        }
    }
    let again = create(store, ka, "a2").await;
    assert!(
        again.create_revision > deleted.mod_revision,
        "recreate starts a new create_revision"
    );
}

/// Every write takes a new, larger value of one global counter.
pub async fn revisions_are_monotonic(store: &dyn Store) {
    let before = current(store).await;
    let x = create(store, "/conformance/revisions/x", "1").await;
    let y = create(store, "/conformance/revisions/y", "1").await;
    let x2 = store
        .update(&x.key, b("2"), x.mod_revision)
        .await
        .expect("update");
    let y2 = store.delete(&y.key, None).await.expect("delete");
    let revisions = [
        before,
        x.mod_revision,
        y.mod_revision,
        x2.mod_revision,
        y2.mod_revision,
    ];
    assert!(
        revisions.windows(2).all(|w| w[0] < w[1]),
        "not increasing: {revisions:?}"
    );
    assert_eq!(
        x2.create_revision, x.mod_revision,
        "create_revision is kept across updates"
    );
    assert!(current(store).await >= y2.mod_revision);
}

/// `limit` cuts a range short with `more`; continuing after the last key yields the rest.
pub async fn range_with_limit_and_continuation(store: &dyn Store) {
    let prefix = "/conformance/range/";
    for i in 0..10 {
        create(store, &format!("{prefix}k{i:02}"), &i.to_string()).await;
    }
    create(store, "/conformance/rangeX", "outside").await;
    let end = prefix_end(prefix);
    let full = store.range(prefix, &end, 0, 0).await.expect("range");
    let keys: Vec<_> = full.kvs.iter().map(|kv| kv.key.clone()).collect();
    let expected: Vec<_> = (0..10).map(|i| format!("{prefix}k{i:02}")).collect();
    assert_eq!(keys, expected);
    assert!(!full.more);
    assert!(
        !store.range(prefix, &end, 0, 10).await.expect("range").more,
        "limit == count"
    );

    let mut start = prefix.to_owned();
    let (mut pages, mut collected) = (Vec::new(), Vec::new());
    loop {
        let page = store
            .range(&start, &end, full.revision, 3)
            .await
            .expect("page");
        assert_eq!(page.revision, full.revision);
        pages.push((page.kvs.len(), page.more));
        collected.extend(page.kvs.iter().cloned());
        if !page.more {
            break;
        }
        start = format!(
            "{}\0",
            page.kvs.last().expect("a page with more is not empty").key
        );
    }
    assert_eq!(pages, [(3, true), (3, true), (3, true), (1, false)]);
    assert_eq!(collected, full.kvs);

    let unbounded = store
        .range(prefix, "", 0, 0)
        .await
        .expect("unbounded range");
    assert!(
        unbounded
            .kvs
            .iter()
            .any(|kv| kv.key == "/conformance/rangeX"),
        "end \"\" is unbounded"
    );
    let empty = store
        .range(&end, prefix, 0, 0)
        .await
        .expect("inverted range");
    assert!(empty.kvs.is_empty() && !empty.more);
}

/// Ranges at an older revision see the values as of that revision.
pub async fn range_at_older_revision(store: &dyn Store) {
    let prefix = "/conformance/history/";
    let end = prefix_end(prefix);
    let end = end.as_str();
    let a1 = create(store, &format!("{prefix}a"), "v1").await;
    let a2 = store
        .update(&a1.key, b("v2"), a1.mod_revision)
        .await
        .expect("update");
    let b1 = create(store, &format!("{prefix}b"), "b").await;
    let del = store.delete(&a1.key, None).await.expect("delete");
    let at = |revision| async move {
        let r = store
            .range(prefix, end, revision, 0)
            .await
            .expect("range at revision");
        assert_eq!(r.revision, revision);
        r.kvs
    };
    assert_eq!(at(a1.mod_revision).await, std::slice::from_ref(&a1));
    assert_eq!(at(a2.mod_revision).await, std::slice::from_ref(&a2));
    assert_eq!(at(b1.mod_revision).await, [a2.clone(), b1.clone()]);
    assert_eq!(at(del.mod_revision).await, std::slice::from_ref(&b1));
    let now = current(store).await;
    match store.range(prefix, "", now + 1000, 0).await {
        Err(StoreError::FutureRevision { requested, .. }) => assert_eq!(requested, now + 1000),
        other => panic!("range in the future: expected FutureRevision, got {other:?}"),
    }
}

/// After `compact(r)`, reads before `r` and watches from before `r` are `Compacted`; the
/// newest version at or before `r` stays readable.
pub async fn compaction_refuses_old_revisions(store: &dyn Store) {
    let key = "/conformance/compact/a";
    let v1 = create(store, key, "v1").await;
    let v2 = store
        .update(key, b("v2"), v1.mod_revision)
        .await
        .expect("update");
    let v3 = store
        .update(key, b("v3"), v2.mod_revision)
        .await
        .expect("update");
    store.compact(v2.mod_revision).await.expect("compact");
    assert!(store.revisions().await.expect("revisions").1 >= v2.mod_revision);
    match store.range(key, "", v1.mod_revision, 0).await {
        Err(StoreError::Compacted { .. }) => {}
        other => panic!("read before compaction: expected Compacted, got {other:?}"),
    }
    let end = prefix_end(key);
    let at_compaction = store
        .range(key, &end, v2.mod_revision, 0)
        .await
        .expect("read at compaction");
    assert_eq!(at_compaction.kvs, std::slice::from_ref(&v2));
    assert_eq!(
        store
            .range(key, &end, v3.mod_revision, 0)
            .await
            .expect("read")
            .kvs,
        std::slice::from_ref(&v3)
    );
    match store.watch(key, v1.mod_revision - 1).await {
        Err(StoreError::Compacted { .. }) => {}
        Err(e) => panic!("watch before compaction: expected Compacted, got {e}"),
        Ok(_) => panic!("watch before compaction: expected Compacted, got a stream"),
    }
    let mut w = store
        .watch(key, v2.mod_revision)
        .await
        .expect("watch at compaction");
    assert_eq!(next_event(&mut w).await.kv, v3);
}

/// A watch replays retained events after its revision, then delivers live ones.
pub async fn watch_replays_then_follows(store: &dyn Store) {
    let prefix = "/conformance/watch-replay/";
    let a1 = create(store, &format!("{prefix}a"), "1").await;
    let a2 = store
        .update(&a1.key, b("2"), a1.mod_revision)
        .await
        .expect("update");
    let b1 = create(store, &format!("{prefix}b"), "1").await;
    let mut w = store
        .watch(prefix, a1.mod_revision - 1)
        .await
        .expect("watch");
    let e1 = next_event(&mut w).await;
    assert_eq!((e1.kind, &e1.kv, &e1.prev), (EventKind::Put, &a1, &None));
    let e2 = next_event(&mut w).await;
    assert_eq!(
        (e2.kind, &e2.kv, &e2.prev),
        (EventKind::Put, &a2, &Some(a1.clone()))
    );
    assert_eq!(next_event(&mut w).await.kv, b1);
    let c1 = create(store, &format!("{prefix}c"), "live").await;
    assert_eq!(next_event(&mut w).await.kv, c1);

    let mut from_middle = store
        .watch(prefix, a2.mod_revision)
        .await
        .expect("watch from middle");
    assert_eq!(next_event(&mut from_middle).await.kv, b1);
}

/// A watch may start after the current revision; it delivers events once the store gets there.
pub async fn watch_from_future_revision(store: &dyn Store) {
    let prefix = "/conformance/watch-future/";
    let start = current(store).await + 3;
    let mut w = store
        .watch(prefix, start)
        .await
        .expect("watch from the future");
    let mut written = Vec::new();
    for i in 0..6 {
        written.push(create(store, &format!("{prefix}{i}"), "x").await);
    }
    let expected: Vec<_> = written
        .into_iter()
        .filter(|kv| kv.mod_revision > start)
        .collect();
    assert!(!expected.is_empty());
    for kv in expected {
        assert_eq!(next_event(&mut w).await.kv, kv);
    }
}

/// A watch only delivers keys under its prefix.
pub async fn watch_filters_by_prefix(store: &dyn Store) {
    let prefix = "/conformance/watch-prefix/";
    let mut w = store
        .watch(&format!("{prefix}in/"), current(store).await)
        .await
        .expect("watch");
    let a = create(store, &format!("{prefix}in/a"), "1").await;
    create(store, &format!("{prefix}out/a"), "1").await;
    create(store, &format!("{prefix}inx"), "1").await;
    let c = create(store, &format!("{prefix}in/c"), "1").await;
    assert_eq!(next_event(&mut w).await.kv, a);
    assert_eq!(
        next_event(&mut w).await.kv,
        c,
        "keys outside the prefix were delivered"
    );
}

/// Concurrent writers: a watcher sees every acknowledged write exactly once, in order.
pub async fn watch_sees_concurrent_writes_in_order(store: &dyn Store) {
    const WRITERS: usize = 16;
    const WRITES: usize = 200;
    let prefix = "/conformance/watch-concurrent/";
    let mut w = store
        .watch(prefix, current(store).await)
        .await
        .expect("watch");
    let collector = tokio::spawn(async move {
        let mut events = Vec::with_capacity(WRITERS * WRITES);
        while events.len() < WRITERS * WRITES {
            events.push(next_event(&mut w).await);
        }
        events
    });
    let writers = (0..WRITERS).map(|writer| async move {
        let mut acked = Vec::with_capacity(WRITES);
        for i in 0..WRITES {
            acked.push(
                create(store, &format!("{prefix}{writer:02}/{i:04}"), "v")
                    .await
                    .mod_revision,
            );
        }
        acked
    });
    let acked: Vec<Revision> = futures::future::join_all(writers)
        .await
        .into_iter()
        .flatten()
        .collect();
    let events = collector.await.expect("collector task");
    let seen: Vec<Revision> = events.iter().map(|e| e.kv.mod_revision).collect();
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "events out of order or repeated"
    );
    let seen: HashSet<Revision> = seen.into_iter().collect();
    let acked: HashSet<Revision> = acked.into_iter().collect();
    assert_eq!(
        acked.len(),
        WRITERS * WRITES,
        "every write got its own revision"
    );
    assert_eq!(
        seen, acked,
        "watch delivered exactly the acknowledged writes"
    );
}

/// Delete events carry the deleted value at the delete revision, and the previous value.
pub async fn delete_events_carry_prev(store: &dyn Store) {
    let key = "/conformance/watch-delete/a";
    let v1 = create(store, key, "v1").await;
    let v2 = store
        .update(key, b("v2"), v1.mod_revision)
        .await
        .expect("update");
    let mut w = store.watch(key, v2.mod_revision).await.expect("watch");
    let deleted = store.delete(key, None).await.expect("delete");
    let e = next_event(&mut w).await;
    assert_eq!(e.kind, EventKind::Delete);
    assert_eq!(e.kv, deleted);
    assert_eq!(
        (&e.kv.value, e.kv.create_revision),
        (&v2.value, v2.create_revision)
    );
    assert_eq!(e.prev, Some(v2));
}

/// Runs every case in sequence on one store.
pub async fn run_all(store: &dyn Store) {
    create_and_get(store).await;
    update_compare_and_swap(store).await;
    delete_with_and_without_precondition(store).await;
    revisions_are_monotonic(store).await;
    range_with_limit_and_continuation(store).await;
    range_at_older_revision(store).await;
    watch_replays_then_follows(store).await;
    watch_from_future_revision(store).await;
    watch_filters_by_prefix(store).await;
    watch_sees_concurrent_writes_in_order(store).await;
    delete_events_carry_prev(store).await;
    compaction_refuses_old_revisions(store).await;
}

/// Generates one `#[tokio::test]` per conformance case, each on a fresh store from `$make`
/// (an expression evaluating to a future of something that derefs to a `Store`), plus one
/// test that runs them all on a single store.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(@cases $make;
            create_and_get, update_compare_and_swap, delete_with_and_without_precondition,
            revisions_are_monotonic, range_with_limit_and_continuation, range_at_older_revision,
            compaction_refuses_old_revisions, watch_replays_then_follows, watch_from_future_revision,
            watch_filters_by_prefix, watch_sees_concurrent_writes_in_order, delete_events_carry_prev,
            run_all);
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $make.await;
                $crate::conformance::$case(&*store).await;
            }
        )*
    };
}
