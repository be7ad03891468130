//! `follow=true`: after the selected lines, keep reading the log file as the container writes
//! it (polling), across rotations, until the container has exited and the file is drained, the
//! byte limit is reached, or the client goes away.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use gantry_cri::Cri;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;

use super::files::Reader;
use super::parse::Line;
use super::select::{Budget, Selection};
use crate::locate;

const POLL: Duration = Duration::from_millis(100);
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// Where following starts: the file, how much of it was read, and the reader's state.
pub struct Follow {
    pub path: PathBuf,
    pub offset: u64,
    pub reader: Reader,
    pub selection: Selection,
    pub budget: Budget,
    pub cri: Cri,
    pub container_id: String,
}

/// Sends rendered lines until the end; returns when done or when `tx`'s receiver is gone.
pub async fn follow(mut f: Follow, tx: mpsc::Sender<Bytes>) {
    let mut file = match open_at(&f.path, f.offset).await {
        Ok(file) => file,
        Err(err) => {
            tracing::debug!(path = %f.path.display(), %err, "log file not open yet");
            None
        }
    };
    let mut last_status = tokio::time::Instant::now();
    let mut exited = false;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let mut lines = Vec::new();
        let mut got = 0;
        if let Some((handle, _)) = &mut file {
            loop {
                match handle.read(&mut chunk).await {
                    Ok(0) => break,
                    Ok(n) => {
                        got += n;
                        lines.extend(f.reader.feed(&chunk[..n]));
                    }
                    Err(err) => {
                        tracing::debug!(path = %f.path.display(), %err, "reading the log file");
                        break;
                    }
                }
            }
        }
        if got == 0 && rotated(&f.path, file.as_ref().map(|(_, ino)| *ino)).await {
            lines.extend(f.reader.end_of_file());
            file = open_at(&f.path, 0).await.unwrap_or(None);
            last_status = tokio::time::Instant::now() - STATUS_EVERY;
        }
        if !send(&lines, &f.selection, &mut f.budget, &tx).await {
            return;
        }
        if got > 0 {
            continue;
        }
        if exited {
            // Drained after the exit was seen: the last records are out.
            let rest: Vec<Line> = f
                .reader
                .end_of_file()
                .into_iter()
                .chain(std::mem::take(&mut f.reader.assembler).finish())
                .collect();
            send(&rest, &f.selection, &mut f.budget, &tx).await;
            return;
        }
        if last_status.elapsed() >= STATUS_EVERY {
            last_status = tokio::time::Instant::now();
            exited = match locate::status(&f.cri, &f.container_id).await {
                Ok(info) => !info.running,
                Err(err) => {
                    tracing::debug!(container = %f.container_id, %err, "container status while following logs");
                    true
                }
            };
            if exited {
                continue;
            }
        }
        tokio::select! {
            _ = tx.closed() => return,
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Renders and sends lines; false when the client is gone or the limit is reached.
async fn send(
    lines: &[Line],
    selection: &Selection,
    budget: &mut Budget,
    tx: &mpsc::Sender<Bytes>,
) -> bool {
    let mut out = Vec::new();
    for line in lines.iter().filter(|l| selection.admits(l)) {
        if budget.exhausted() {
            break;
        }
        selection.render(line, false, budget, &mut out);
    }
    if !out.is_empty() && tx.send(Bytes::from(out)).await.is_err() {
        return false;
    }
    !budget.exhausted()
}

async fn open_at(path: &PathBuf, offset: u64) -> std::io::Result<Option<(tokio::fs::File, u64)>> {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let ino = file.metadata().await?.ino();
    file.seek(std::io::SeekFrom::Start(offset)).await?;
    Ok(Some((file, ino)))
}

/// Whether the path now names another file than the one open (rotated), or a file appeared.
async fn rotated(path: &PathBuf, open: Option<u64>) -> bool {
    match tokio::fs::metadata(path).await {
        Ok(meta) => open != Some(meta.ino()),
        Err(_) => false,
    }
}
