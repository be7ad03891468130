//! A container's log files on disk: the current file and its rotated, uncompressed siblings
//! (`0.log.20240501-100000`), read in order.

use std::path::{Path, PathBuf};

use super::parse::{Assembler, Line, parse_chunk, parse_record};

/// The rotated siblings of `path` (`<name>.<suffix>`, compressed ones skipped), oldest first:
/// the suffix is a timestamp, so name order is time order.
pub fn rotated(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let prefix = format!("{name}.");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let file = e.file_name().to_str()?.to_string();
            let suffix = file.strip_prefix(&prefix)?;
            (!suffix.is_empty() && !suffix.ends_with(".gz") && !suffix.ends_with(".tmp"))
                .then(|| e.path())
        })
        .collect();
    found.sort();
    found
}

/// Lines read so far and what is left to finish them.
#[derive(Debug, Default)]
pub struct Reader {
    pub assembler: Assembler,
    /// Bytes of a record not yet terminated by a newline.
    pub pending: Vec<u8>,
}

impl Reader {
    /// Feeds more bytes of the current file; returns the lines they complete.
    pub fn feed(&mut self, data: &[u8]) -> Vec<Line> {
        self.pending.extend_from_slice(data);
        let mut out = Vec::new();
        let consumed = parse_chunk(&self.pending, &mut self.assembler, &mut out);
        self.pending.drain(..consumed);
        out
    }

    /// The file being read is complete (rotated away): an unterminated last record counts.
    pub fn end_of_file(&mut self) -> Vec<Line> {
        let rest = std::mem::take(&mut self.pending);
        parse_record(&rest)
            .and_then(|r| self.assembler.push(&r))
            .into_iter()
            .collect()
    }
}

/// Reads every rotated sibling and then the current file (absent is empty). Returns the lines and
/// the reader state, to go on with the current file's later bytes, and its length.
pub fn read_all(path: &Path) -> std::io::Result<(Vec<Line>, Reader, u64)> {
    let mut reader = Reader::default();
    let mut lines = Vec::new();
    for old in rotated(path) {
        match std::fs::read(&old) {
            Ok(data) => {
                lines.extend(reader.feed(&data));
                lines.extend(reader.end_of_file());
            }
            Err(err) => tracing::debug!(file = %old.display(), %err, "skipping a rotated log file"),
        }
    }
    let data = match std::fs::read(path) {
        Ok(data) => data,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(err) => return Err(err),
    };
    lines.extend(reader.feed(&data));
    Ok((lines, reader, data.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_files_come_first_in_name_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let current = dir.path().join("0.log");
        let write =
            |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
        write(
            "0.log",
            "2024-05-01T10:00:03Z stdout F three\n2024-05-01T10:00:04Z stdout P fo",
        );
        write("0.log.20240501-100002", "2024-05-01T10:00:02Z stdout F two");
        write(
            "0.log.20240501-100001",
            "2024-05-01T10:00:01Z stdout F one\n",
        );
        write("0.log.20240501-100000.gz", "junk");
        write("1.log", "2024-05-01T10:00:09Z stdout F other\n");
        let names: Vec<String> = rotated(&current)
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(String::from))
            .collect();
        assert_eq!(names, ["0.log.20240501-100001", "0.log.20240501-100002"]);

        let (lines, mut reader, len) = read_all(&current).expect("read");
        let text: Vec<String> = lines
            .iter()
            .map(|l| String::from_utf8_lossy(&l.bytes).into_owned())
            .collect();
        assert_eq!(text, ["one\n", "two\n", "three\n"]);
        assert_eq!(len, 68);
        assert!(
            reader.feed(b"ur\n").is_empty(),
            "an unterminated P record waits"
        );
        let more = reader.feed(b"2024-05-01T10:00:05Z stdout F !\n");
        assert_eq!(more.len(), 1);
        assert_eq!(more[0].bytes, b"four!\n");
        assert_eq!(more[0].time, "2024-05-01T10:00:04Z");
    }

    #[test]
    fn a_missing_file_is_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (lines, _, len) = read_all(&dir.path().join("0.log")).expect("read");
        assert!(lines.is_empty());
        assert_eq!(len, 0);
    }
}
