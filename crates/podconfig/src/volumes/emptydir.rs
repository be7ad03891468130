//! `emptyDir` volumes: a world-writable directory, or a tmpfs mounted on it for
//! `medium: Memory`; and the mount table reading that cleanup needs to unmount them.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::VolumeError;

/// Creates the emptyDir at `dir` (mode 0777, like upstream) and, when `tmpfs_size` is
/// `Some`, mounts a tmpfs on it (`Some(None)`: no size limit). Calling it again keeps the
/// existing contents and mount.
pub fn prepare(dir: &Path, tmpfs_size: Option<Option<u64>>) -> Result<(), VolumeError> {
    let io_err = |op| {
        move |source| VolumeError::Io {
            op,
            path: dir.to_path_buf(),
            source,
        }
    };
    fs::create_dir_all(dir).map_err(io_err("create emptyDir"))?;
    if let Some(size) = tmpfs_size {
        let mounted = mount_points().map_err(io_err("read mount table"))?;
        let canonical = dir.canonicalize().map_err(io_err("resolve emptyDir"))?;
        if !mounted.contains(&canonical) {
            mount_tmpfs(&canonical, size).map_err(|source| VolumeError::Mount {
                path: canonical.clone(),
                source,
            })?;
        }
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).map_err(io_err("chmod emptyDir"))
}

/// The `mount(2)` data for a tmpfs of `size` bytes.
pub fn tmpfs_options(size: Option<u64>) -> String {
    match size {
        Some(bytes) => format!("mode=0777,size={bytes}"),
        None => "mode=0777".to_string(),
    }
}

fn mount_tmpfs(target: &Path, size: Option<u64>) -> io::Result<()> {
    let source = c"tmpfs";
    let target = CString::new(target.as_os_str().as_bytes())?;
    let options = CString::new(tmpfs_options(size))?;
    // SAFETY: every pointer is a valid NUL-terminated string that outlives the call.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            source.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            options.as_ptr().cast(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Unmounts `target`, detaching it lazily if it is busy.
pub fn unmount(target: &Path) -> io::Result<()> {
    let path = CString::new(target.as_os_str().as_bytes())?;
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::umount2(path.as_ptr(), 0) } == 0 {
        return Ok(());
    }
    let first = io::Error::last_os_error();
    if first.raw_os_error() != Some(libc::EBUSY) {
        return Err(first);
    }
    // SAFETY: as above.
    if unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The mount points of this process's mount namespace.
pub fn mount_points() -> io::Result<Vec<PathBuf>> {
    Ok(parse_mountinfo(&fs::read_to_string(
        "/proc/self/mountinfo",
    )?))
}

/// The mount points (field 5) of a `/proc/<pid>/mountinfo` text, octal escapes decoded.
pub fn parse_mountinfo(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(std::ffi::OsString::from(unescape_octal(field))))
        .collect()
}

/// Decodes the `\040`-style escapes the kernel uses for spaces, tabs, newlines, backslashes.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes.get(i + 1..i + 4);
        let octal = digits.filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                let value = d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                out.push(value as u8);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_parsing() {
        let text = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                    40 22 0:45 / /var/lib/pods/a\\040b/vol rw - tmpfs tmpfs rw,size=1024k\n\
                    41 22 0:46 / /x\\134y rw - tmpfs tmpfs rw\n";
        let points = parse_mountinfo(text);
        let want: Vec<PathBuf> = ["/", "/var/lib/pods/a b/vol", "/x\\y"]
            .into_iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(points, want);
    }

    #[test]
    fn tmpfs_option_strings() {
        assert_eq!(tmpfs_options(None), "mode=0777");
        assert_eq!(tmpfs_options(Some(1 << 20)), "mode=0777,size=1048576");
    }

    #[test]
    fn plain_empty_dir_is_world_writable_and_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        prepare(&dir, None).unwrap();
        fs::write(dir.join("f"), b"x").unwrap();
        prepare(&dir, None).unwrap();
        assert_eq!(fs::read(dir.join("f")).unwrap(), b"x");
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o777
        );
    }
}
