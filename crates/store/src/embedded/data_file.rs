//! The data file on disk: replaying it on open (repairing a torn tail) and writing fresh
//! files (on creation and when the writer rewrites a grown log).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::record::{Frame, MAGIC, Record, next_frame};
use super::state::{LoggedEvent, SnapshotKv, State};
use crate::{EventKind, Result, Revision, StoreError};

/// The name of the data file inside the store directory.
pub(crate) const DATA_FILE: &str = "store.wal";
const TEMP_FILE: &str = "store.wal.tmp";
const LOCK_FILE: &str = "LOCK";

pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn corrupt(path: &Path, detail: String) -> StoreError {
    StoreError::Corrupt {
        path: path.display().to_string(),
        detail,
    }
}

/// The state read from a data file, and the file opened for appending.
pub(crate) struct Loaded {
    pub state: State,
    pub file: File,
    pub len: u64,
    /// Bytes of a torn tail that were cut off.
    pub truncated: u64,
}

/// Takes the exclusive lock on `dir` (released when the returned file is dropped).
pub(crate) fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Backend(format!(
            "store directory {} is in use by another process",
            dir.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(io_error(&path)(e)),
    }
}

/// Reads and replays the data file in `dir`, creating an empty one if there is none.
pub(crate) fn load(dir: &Path) -> Result<Loaded> {
    let path = dir.join(DATA_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let (file, len) = write_temp(dir, 0, &[], &[])?;
            install_temp(dir)?;
            return Ok(Loaded {
                state: State::based_at(0),
                file,
                len,
                truncated: 0,
            });
        }
        Err(e) => return Err(io_error(&path)(e)),
    };
    if bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return Err(corrupt(&path, "missing file header".into()));
    }
    let mut state: Option<State> = None;
    let mut in_base = true;
    let mut offset = MAGIC.len();
    let mut truncated = 0;
    loop {
        match next_frame(&bytes, offset) {
            Frame::Valid { payload, next } => {
                let record = Record::decode(payload)
                    .map_err(|d| corrupt(&path, format!("offset {offset}: {d}")))?;
                replay(&mut state, &mut in_base, record)
                    .map_err(|d| corrupt(&path, format!("offset {offset}: {d}")))?;
                offset = next;
            }
            Frame::End => break,
            Frame::Torn => {
                truncated = (bytes.len() - offset) as u64;
                tracing::warn!(path = %path.display(), offset, truncated, "discarding torn tail of the store log");
                break;
            }
            Frame::Corrupt(detail) => return Err(corrupt(&path, detail)),
        }
    }
    let state = state.ok_or_else(|| corrupt(&path, "missing base record".into()))?;
    let file = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(io_error(&path))?;
    if truncated > 0 {
        file.set_len(offset as u64)
            .and_then(|()| file.sync_all())
            .map_err(io_error(&path))?;
    }
    let mut file = file;
    io::Seek::seek(&mut file, io::SeekFrom::Start(offset as u64)).map_err(io_error(&path))?;
    Ok(Loaded {
        state,
        file,
        len: offset as u64,
        truncated,
    })
}

fn replay(state: &mut Option<State>, in_base: &mut bool, record: Record<'_>) -> Result<(), String> {
    if let Record::Base { compacted } = record {
        if state.is_some() {
            return Err("second base record".into());
        }
        if compacted < 0 {
            return Err(format!("negative base revision {compacted}"));
        }
        *state = Some(State::based_at(compacted));
        return Ok(());
    }
    let st = state.as_mut().ok_or("record before the base record")?;
    match record {
        Record::Base { .. } => {}
        Record::BaseKv {
            key,
            value,
            create_revision,
            mod_revision,
        } => {
            if !*in_base {
                return Err("base entry after a write".into());
            }
            if mod_revision > st.compacted || create_revision > mod_revision || create_revision < 1
            {
                return Err(format!(
                    "base entry {key} has bad revisions {create_revision}/{mod_revision}"
                ));
            }
            st.insert_base(
                key,
                Bytes::copy_from_slice(value),
                create_revision,
                mod_revision,
            );
        }
        Record::Put {
            revision,
            key,
            value,
        } => {
            *in_base = false;
            check_next(st, revision)?;
            st.apply_put(key, Bytes::copy_from_slice(value));
        }
        Record::Delete { revision, key } => {
            *in_base = false;
            check_next(st, revision)?;
            st.apply_delete(key)
                .ok_or_else(|| format!("delete of absent key {key}"))?;
        }
        Record::Compact { revision } => {
            if revision > st.head {
                return Err(format!(
                    "compaction to {revision} beyond revision {}",
                    st.head
                ));
            }
            if revision > st.compacted {
                st.compact(revision);
            }
        }
    }
    Ok(())
}

fn check_next(st: &State, revision: Revision) -> Result<(), String> {
    if revision != st.head + 1 {
        return Err(format!("revision {revision} follows {}", st.head));
    }
    Ok(())
}

/// Writes a complete data file (base state at `compacted` plus `events`) to the temporary
/// path and fsyncs it. Returns the file, positioned at its end, and its length.
pub(crate) fn write_temp(
    dir: &Path,
    compacted: Revision,
    kvs: &[SnapshotKv],
    events: &[(Revision, LoggedEvent)],
) -> Result<(File, u64)> {
    let path = dir.join(TEMP_FILE);
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .map_err(io_error(&path))?;
    let mut buf = Vec::with_capacity(1 << 20);
    let mut len = 0u64;
    let mut flush = |buf: &mut Vec<u8>, force: bool| -> Result<()> {
        if force || buf.len() >= 1 << 20 {
            file.write_all(buf).map_err(io_error(&path))?;
            len += buf.len() as u64;
            buf.clear();
        }
        Ok(())
    };
    buf.extend_from_slice(MAGIC);
    Record::Base { compacted }.encode_frame(&mut buf);
    for kv in kvs {
        let record = Record::BaseKv {
            key: &kv.key,
            value: &kv.value,
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
        };
        record.encode_frame(&mut buf);
        flush(&mut buf, false)?;
    }
    for (revision, event) in events {
        let record = match event.kind {
            EventKind::Put => Record::Put {
                revision: *revision,
                key: &event.key,
                value: &event.value,
            },
            EventKind::Delete => Record::Delete {
                revision: *revision,
                key: &event.key,
            },
        };
        record.encode_frame(&mut buf);
        flush(&mut buf, false)?;
    }
    flush(&mut buf, true)?;
    file.sync_all().map_err(io_error(&path))?;
    Ok((file, len))
}

/// Atomically replaces the data file with the temporary one and makes the rename durable.
pub(crate) fn install_temp(dir: &Path) -> Result<()> {
    let temp = dir.join(TEMP_FILE);
    let path: PathBuf = dir.join(DATA_FILE);
    std::fs::rename(&temp, &path).map_err(io_error(&path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

/// Removes a leftover temporary file (after a failed rewrite); errors are only logged.
pub(crate) fn remove_temp(dir: &Path) {
    let temp = dir.join(TEMP_FILE);
    if let Err(e) = std::fs::remove_file(&temp)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %temp.display(), error = %e, "could not remove temporary store file");
    }
}
