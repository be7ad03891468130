//! Writes a volume's files the way upstream's AtomicWriter does, so a running container sees
//! either the old or the new set, never a mix:
//!
//! ```text
//! <dir>/..2024_05_01_12_00_00.123456789_42/   the data of one version
//! <dir>/..data -> ..2024_05_01_12_00_00.123456789_42
//! <dir>/key    -> ..data/key                   user-visible entries
//! ```
//!
//! A new version is written to a new timestamped dir, `..data` is swapped to it with one
//! `rename(2)`, then user-visible entries the new version lacks and the old dir are removed.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Component, Path};
use std::time::{SystemTime, UNIX_EPOCH};

use super::VolumeError;
use super::payload::Payload;

const DATA_LINK: &str = "..data";
const DATA_LINK_TMP: &str = "..data_tmp";

/// Checks one payload path and returns it cleaned (`a//b/./c` -> `a/b/c`): relative, no `..`
/// element, not starting with `..`, names at most 255 bytes, the whole at most 4096.
pub fn clean_path(path: &str) -> Result<String, String> {
    if path.is_empty() {
        return Err("must not be empty".into());
    }
    if path.len() > 4096 {
        return Err("must be at most 4096 bytes".into());
    }
    if path.starts_with('/') {
        return Err("must be a relative path".into());
    }
    let items: Vec<&str> = path.split('/').collect();
    if items.contains(&"..") {
        return Err("must not contain '..'".into());
    }
    if items.iter().any(|item| item.len() > 255) {
        return Err("file names must be at most 255 bytes".into());
    }
    if items[0].starts_with("..") {
        return Err("must not start with '..'".into());
    }
    let cleaned: Vec<&str> = Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => name.to_str(),
            _ => None,
        })
        .collect();
    if cleaned.is_empty() {
        return Err("must name a file".into());
    }
    Ok(cleaned.join("/"))
}

/// Validates and cleans every path of `payload`.
pub fn clean_payload(volume: &str, payload: Payload) -> Result<Payload, VolumeError> {
    payload
        .into_iter()
        .map(|(path, file)| match clean_path(&path) {
            Ok(clean) => Ok((clean, file)),
            Err(reason) => Err(VolumeError::InvalidPath {
                volume: volume.to_string(),
                path,
                reason,
            }),
        })
        .collect()
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> VolumeError + 'a {
    move |source| VolumeError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Makes `dir` hold exactly `payload` (paths already cleaned), swapping atomically when the
/// content changed; files are chowned to `gid` when set.
pub fn write(dir: &Path, payload: &Payload, gid: Option<u32>) -> Result<(), VolumeError> {
    fs::create_dir_all(dir).map_err(io_err("create volume dir", dir))?;
    let link = dir.join(DATA_LINK);
    let old_ts = match fs::read_link(&link) {
        Ok(target) => Some(target),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err("read link", &link)(e)),
    };
    let old_dir = old_ts.map(|ts| dir.join(ts));
    let old_files = match &old_dir {
        Some(old) => files_under(old).map_err(io_err("list old data", old))?,
        None => BTreeSet::new(),
    };
    let changed = match &old_dir {
        Some(old) => !same_content(old, &old_files, payload),
        None => true,
    };
    if changed {
        let ts_name = new_ts_dir(dir)?;
        let ts_dir = dir.join(&ts_name);
        write_files(&ts_dir, payload, gid)?;
        let tmp = dir.join(DATA_LINK_TMP);
        let _ = fs::remove_file(&tmp);
        symlink(&ts_name, &tmp).map_err(io_err("create symlink", &tmp))?;
        fs::rename(&tmp, &link).map_err(io_err("rename symlink", &link))?;
    }
    for top in top_levels(payload.keys()) {
        let visible = dir.join(&top);
        if fs::symlink_metadata(&visible).is_err() {
            symlink(Path::new(DATA_LINK).join(&top), &visible)
                .map_err(io_err("create symlink", &visible))?;
        }
    }
    if changed {
        let new_tops = top_levels(payload.keys());
        for stale in top_levels(old_files.iter()).difference(&new_tops) {
            let path = dir.join(stale);
            fs::remove_file(&path).map_err(io_err("remove stale entry", &path))?;
        }
        if let Some(old) = old_dir {
            fs::remove_dir_all(&old).map_err(io_err("remove old data", &old))?;
        }
    }
    Ok(())
}

/// First path components of `paths`.
fn top_levels<'a>(paths: impl Iterator<Item = &'a String>) -> BTreeSet<String> {
    paths
        .filter_map(|p| p.split('/').next())
        .map(str::to_string)
        .collect()
}

/// Relative paths of the regular files under `root`.
fn files_under(root: &Path) -> io::Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if entry.file_type()?.is_dir() {
                stack.push((entry.path(), rel));
            } else {
                found.insert(rel);
            }
        }
    }
    Ok(found)
}

fn same_content(old_dir: &Path, old_files: &BTreeSet<String>, payload: &Payload) -> bool {
    if old_files.len() != payload.len() {
        return false;
    }
    payload.iter().all(|(path, file)| {
        let full = old_dir.join(path);
        let same_mode = fs::metadata(&full)
            .map(|m| m.permissions().mode() & 0o7777 == file.mode)
            .unwrap_or(false);
        same_mode && fs::read(&full).is_ok_and(|data| data == file.data)
    })
}

fn write_files(ts_dir: &Path, payload: &Payload, gid: Option<u32>) -> Result<(), VolumeError> {
    for (path, file) in payload {
        let full = ts_dir.join(path);
        if let Some(parent) = full.parent() {
            fs::create_dir_all(parent).map_err(io_err("create dir", parent))?;
        }
        fs::write(&full, &file.data).map_err(io_err("write file", &full))?;
        fs::set_permissions(&full, fs::Permissions::from_mode(file.mode))
            .map_err(io_err("chmod", &full))?;
        if let Some(gid) = gid {
            std::os::unix::fs::chown(&full, None, Some(gid)).map_err(io_err("chown", &full))?;
        }
    }
    if let Some(gid) = gid {
        std::os::unix::fs::chown(ts_dir, None, Some(gid)).map_err(io_err("chown", ts_dir))?;
    }
    Ok(())
}

/// Creates `..YYYY_MM_DD_HH_MM_SS.<nanos>_<n>` (UTC) under `dir` and returns its name.
fn new_ts_dir(dir: &Path) -> Result<String, VolumeError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let stamp = timestamp(now.as_secs(), now.subsec_nanos());
    let mut attempt = 0u32;
    loop {
        let name = format!("{stamp}_{attempt}");
        let path = dir.join(&name);
        match fs::create_dir(&path) {
            Ok(()) => {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
                    .map_err(io_err("chmod", &path))?;
                return Ok(name);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 1000 => attempt += 1,
            Err(e) => return Err(io_err("create data dir", &path)(e)),
        }
    }
}

/// `..YYYY_MM_DD_HH_MM_SS.NNNNNNNNN` for a UNIX time.
pub fn timestamp(secs: u64, nanos: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "..{year:04}_{month:02}_{day:02}_{:02}_{:02}_{:02}.{nanos:09}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
#[path = "atomic_tests.rs"]
mod tests;
