//! Durability of the embedded backend: reopen, torn tails, corruption, `kill -9`, bounded
//! file size under churn, and group commit.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gantry_store::embedded::{EmbeddedOptions, EmbeddedStore};
use gantry_store::{Store, StoreError, prefix_end};

const DATA_FILE: &str = "store.wal";
const KILL9_DIR_ENV: &str = "GANTRY_STORE_KILL9_DIR";

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn open(dir: &Path) -> Arc<EmbeddedStore> {
    EmbeddedStore::open(dir, EmbeddedOptions::default())
        .await
        .expect("open store")
}

async fn create_numbered(store: &EmbeddedStore, count: usize) {
    for i in 0..count {
        store
            .create(&format!("/k/{i:03}"), b(&format!("value-{i:03}")))
            .await
            .expect("create");
    }
}

async fn keys(store: &EmbeddedStore) -> Vec<String> {
    let r = store.range("/", "", 0, 0).await.expect("range");
    r.kvs.into_iter().map(|kv| kv.key).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_keeps_data_revisions_and_compaction() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (a1, a2, deleted) = {
        let store = open(dir.path()).await;
        let a1 = store.create("/a", b("1")).await.expect("create a");
        store.create("/b", b("1")).await.expect("create b");
        let a2 = store
            .update("/a", b("2"), a1.mod_revision)
            .await
            .expect("update a");
        let deleted = store.delete("/b", None).await.expect("delete b");
        store.compact(a2.mod_revision).await.expect("compact");
        store.close().await.expect("close");
        assert!(matches!(
            store.create("/c", b("1")).await,
            Err(StoreError::Closed)
        ));
        (a1, a2, deleted)
    };
    let store = open(dir.path()).await;
    assert_eq!(
        store.revisions().await.expect("revisions"),
        (deleted.mod_revision, a2.mod_revision)
    );
    assert_eq!(store.get("/a").await.expect("get").0, Some(a2.clone()));
    assert_eq!(store.get("/b").await.expect("get").0, None);
    let at_compaction = store
        .range("/", "", a2.mod_revision, 0)
        .await
        .expect("range at compaction");
    assert_eq!(
        at_compaction.kvs.len(),
        2,
        "both keys were live at the compaction revision"
    );
    assert!(matches!(
        store.range("/", "", a1.mod_revision, 0).await,
        Err(StoreError::Compacted { .. })
    ));
    let c = store
        .create("/c", b("1"))
        .await
        .expect("create after reopen");
    assert_eq!(c.mod_revision, deleted.mod_revision + 1);
    store.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path()).await;
    match EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).await {
        Err(StoreError::Backend(message)) => assert!(message.contains("in use"), "{message}"),
        Err(e) => panic!("expected Backend(in use), got {e}"),
        Ok(_) => panic!("second open succeeded"),
    }
    store.close().await.expect("close");
    open(dir.path())
        .await
        .close()
        .await
        .expect("reopen after close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_tail_is_cut_off_and_writing_resumes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(DATA_FILE);
    let store = open(dir.path()).await;
    create_numbered(&store, 20).await;
    store.close().await.expect("close");

    // A frame header promising 100 bytes, followed by only 10 of them.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open data file");
    file.write_all(&100u32.to_le_bytes())
        .and_then(|()| file.write_all(&[7u8; 14]))
        .expect("append");
    drop(file);
    let store = open(dir.path()).await;
    assert_eq!(store.stats().truncated_on_open, 18);
    assert_eq!(keys(&store).await.len(), 20);
    store
        .create("/k/new", b("x"))
        .await
        .expect("write after repair");
    store.close().await.expect("close");

    // Cut the last record in half: that write is lost, everything before it survives.
    let len = std::fs::metadata(&path).expect("metadata").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(len - 5))
        .expect("truncate");
    let store = open(dir.path()).await;
    let k = keys(&store).await;
    assert_eq!(k.len(), 20);
    assert!(!k.contains(&"/k/new".to_owned()));
    assert_eq!(store.revisions().await.expect("revisions").0, 20);
    store.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_before_the_tail_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(DATA_FILE);
    let store = open(dir.path()).await;
    create_numbered(&store, 20).await;
    store.close().await.expect("close");
    let mut data = std::fs::read(&path).expect("read data file");
    let at = data
        .windows(9)
        .position(|w| w == b"value-010")
        .expect("value in file");
    data[at] ^= 0x20;
    std::fs::write(&path, &data).expect("write data file");
    match EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).await {
        Err(StoreError::Corrupt { detail, .. }) => assert!(detail.contains("checksum"), "{detail}"),
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(_) => panic!("opened a corrupt store"),
    }
}

/// Not a test by itself: the child process of `acknowledged_writes_survive_kill_9`. It writes
/// keys from several tasks forever and prints each one once it is acknowledged.
#[test]
#[ignore = "helper process, started by acknowledged_writes_survive_kill_9"]
fn kill9_child_writer() {
    let Ok(dir) = std::env::var(KILL9_DIR_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let store = open(Path::new(&dir)).await;
        let tasks = (0..8).map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("/kill9/{task}/{i:06}");
                    store.create(&key, b("acknowledged")).await.expect("create");
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "acked {key}")
                        .and_then(|()| out.flush())
                        .expect("stdout");
                }
            })
        });
        futures::future::join_all(tasks).await;
    });
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "kill9_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(KILL9_DIR_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child writer");
    let stdout = child.stdout.take().expect("child stdout");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout);
        let mut line = String::new();
        // Only complete lines count: a line cut by the kill was not fully reported.
        while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
            if let Some(key) = line
                .strip_suffix('\n')
                .and_then(|l| l.strip_prefix("acked "))
                && tx.send(key.to_owned()).is_err()
            {
                return;
            }
            line.clear();
        }
    });
    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.len() < 3000 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(key) => acked.push(key),
            Err(e) => panic!(
                "child stopped acknowledging after {} writes: {e}",
                acked.len()
            ),
        }
    }
    child.kill().expect("kill -9 child");
    child.wait().expect("reap child");
    reader.join().expect("reader thread");
    acked.extend(rx.try_iter());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let store = open(dir.path()).await;
        let stored = store
            .range("/kill9/", &prefix_end("/kill9/"), 0, 0)
            .await
            .expect("range");
        let stored: std::collections::HashSet<String> =
            stored.kvs.into_iter().map(|kv| kv.key).collect();
        let missing: Vec<_> = acked.iter().filter(|k| !stored.contains(*k)).collect();
        assert!(
            missing.is_empty(),
            "{} acknowledged keys lost, e.g. {:?}",
            missing.len(),
            missing.first()
        );
        assert!(stored.len() >= acked.len());
        store.close().await.expect("close");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_stays_bounded_under_churn() {
    const KEYS: usize = 100;
    const WRITES: usize = 50_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let options = EmbeddedOptions {
        retain_revisions: Some(1_000),
        rewrite_min_bytes: 256 << 10,
    };
    let store = EmbeddedStore::open(dir.path(), options.clone())
        .await
        .expect("open");
    let value = Bytes::from(vec![b'x'; 100]);
    let writers = (0..KEYS).map(|k| {
        let (store, value) = (store.clone(), value.clone());
        tokio::spawn(async move {
            let key = format!("/churn/{k:03}");
            let mut rev = store
                .create(&key, value.clone())
                .await
                .expect("create")
                .mod_revision;
            let mut max_file = 0;
            for _ in 1..WRITES / KEYS {
                rev = store
                    .update(&key, value.clone(), rev)
                    .await
                    .expect("update")
                    .mod_revision;
                max_file = max_file.max(store.stats().file_bytes);
            }
            max_file
        })
    });
    let max_file = futures::future::join_all(writers)
        .await
        .into_iter()
        .map(|r| r.expect("writer"))
        .max();
    let stats = store.stats();
    let on_disk = std::fs::metadata(dir.path().join(DATA_FILE))
        .expect("metadata")
        .len();
    eprintln!("churn: {stats:?}, largest file seen {max_file:?}");
    assert_eq!(stats.revision, WRITES as i64);
    assert!(stats.rewrites > 0, "the file was never rewritten");
    assert!(
        stats.compacted >= WRITES as i64 - 2_000,
        "automatic compaction lagged: {stats:?}"
    );
    assert!(
        on_disk < 1 << 20,
        "file is {on_disk} bytes after {WRITES} writes"
    );
    assert!(
        max_file.unwrap_or(0) < 1 << 20,
        "file reached {max_file:?} bytes"
    );
    store.close().await.expect("close");

    let store = EmbeddedStore::open(dir.path(), options)
        .await
        .expect("reopen");
    let r = store
        .range("/churn/", &prefix_end("/churn/"), 0, 0)
        .await
        .expect("range");
    assert_eq!(r.kvs.len(), KEYS);
    assert!(
        r.kvs
            .iter()
            .all(|kv| kv.value == value && kv.create_revision < kv.mod_revision)
    );
    assert_eq!(r.revision, WRITES as i64);
    store.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_fsyncs() {
    const WRITERS: usize = 64;
    const WRITES: usize = 50;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path()).await;
    let value = Bytes::from(vec![b'v'; 1500]);
    let started = Instant::now();
    let writers = (0..WRITERS).map(|w| {
        let (store, value) = (store.clone(), value.clone());
        tokio::spawn(async move {
            for i in 0..WRITES {
                store
                    .create(&format!("/gc/{w:02}/{i:03}"), value.clone())
                    .await
                    .expect("create");
            }
        })
    });
    for writer in futures::future::join_all(writers).await {
        writer.expect("writer task");
    }
    let elapsed = started.elapsed();
    let stats = store.stats();
    let total = (WRITERS * WRITES) as u64;
    eprintln!(
        "group commit: {total} creates in {elapsed:?} ({:.0}/s), {} fsyncs",
        total as f64 / elapsed.as_secs_f64(),
        stats.fsyncs
    );
    assert_eq!(stats.writes, total);
    assert!(
        stats.fsyncs * 4 <= total,
        "{} fsyncs for {total} writes",
        stats.fsyncs
    );
    store.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_watchers_receive_every_write_promptly() {
    const WATCHERS: usize = 100;
    const WRITERS: usize = 64;
    const WRITES: usize = 30;
    const TOTAL: usize = WRITERS * WRITES;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path()).await;
    let epoch = Instant::now();
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let mut w = store.watch("/lat/", 0).await.expect("watch");
        watchers.push(tokio::spawn(async move {
            use futures::StreamExt;
            let mut delays = Vec::with_capacity(TOTAL);
            while delays.len() < TOTAL {
                let next = tokio::time::timeout(Duration::from_secs(30), w.next()).await;
                let event = next
                    .expect("event within deadline")
                    .expect("stream open")
                    .expect("event");
                let sent: u128 = std::str::from_utf8(&event.kv.value)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .expect("timestamp");
                delays.push(epoch.elapsed().as_micros().saturating_sub(sent));
            }
            delays
        }));
    }
    let writers = (0..WRITERS).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..WRITES {
                let stamp = epoch.elapsed().as_micros().to_string();
                store
                    .create(&format!("/lat/{w:02}/{i:03}"), b(&stamp))
                    .await
                    .expect("create");
            }
        })
    });
    for writer in futures::future::join_all(writers).await {
        writer.expect("writer task");
    }
    let mut delays: Vec<u128> = Vec::with_capacity(WATCHERS * TOTAL);
    for watcher in futures::future::join_all(watchers).await {
        delays.extend(watcher.expect("watcher task"));
    }
    delays.sort_unstable();
    let p99 = delays[delays.len() * 99 / 100];
    eprintln!(
        "{WATCHERS} watchers x {TOTAL} events: p50 {}us p99 {p99}us (write start to delivery)",
        delays[delays.len() / 2]
    );
    assert_eq!(
        delays.len(),
        WATCHERS * TOTAL,
        "every watcher saw every write"
    );
    store.close().await.expect("close");
}
