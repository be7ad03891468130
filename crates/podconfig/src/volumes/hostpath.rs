//! `hostPath` volumes: the `type` check of the path on the host, decided from what exists
//! there (pure) and then applied (creating a directory or file when the type asks for it).

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt};
use std::path::Path;

use super::VolumeError;

/// What is at a host path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Missing,
    Directory,
    File,
    Socket,
    CharDevice,
    BlockDevice,
    Other,
}

/// What to do before using a host path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostPathAction {
    Use,
    CreateDirectory,
    CreateFile,
}

/// Decides whether a host path of `kind` satisfies `type_` (upstream's hostPath type checker).
pub fn check_type(type_: &str, kind: FileKind) -> Result<HostPathAction, String> {
    use FileKind as K;
    let want = |ok: bool, what: &str| {
        if kind == K::Missing {
            Err("does not exist".to_string())
        } else if ok {
            Ok(HostPathAction::Use)
        } else {
            Err(format!("is not a {what}"))
        }
    };
    match type_ {
        "" => Ok(HostPathAction::Use),
        "DirectoryOrCreate" => match kind {
            K::Missing => Ok(HostPathAction::CreateDirectory),
            K::Directory => Ok(HostPathAction::Use),
            _ => Err("is not a directory".into()),
        },
        "FileOrCreate" => match kind {
            K::Missing => Ok(HostPathAction::CreateFile),
            K::Directory => Err("is a directory, not a file".into()),
            _ => Ok(HostPathAction::Use),
        },
        "Directory" => want(kind == K::Directory, "directory"),
        "File" => want(kind == K::File, "file"),
        "Socket" => want(kind == K::Socket, "socket"),
        "CharDevice" => want(kind == K::CharDevice, "character device"),
        "BlockDevice" => want(kind == K::BlockDevice, "block device"),
        other => Err(format!("has unknown hostPath type {other:?}")),
    }
}

/// What is at `path` (following symlinks, as upstream's checker does).
pub fn kind_of(path: &Path) -> io::Result<FileKind> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(FileKind::Missing),
        Err(e) => return Err(e),
    };
    let t = meta.file_type();
    Ok(if t.is_dir() {
        FileKind::Directory
    } else if t.is_file() {
        FileKind::File
    } else if t.is_socket() {
        FileKind::Socket
    } else if t.is_char_device() {
        FileKind::CharDevice
    } else if t.is_block_device() {
        FileKind::BlockDevice
    } else {
        FileKind::Other
    })
}

/// Checks `path` against `type_`, creating it when the type says so.
pub fn prepare(volume: &str, path: &Path, type_: &str) -> Result<(), VolumeError> {
    let io_err = |op| {
        move |source| VolumeError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    };
    let kind = kind_of(path).map_err(io_err("stat host path"))?;
    let action = check_type(type_, kind).map_err(|reason| VolumeError::HostPathType {
        volume: volume.to_string(),
        path: path.to_path_buf(),
        type_: type_.to_string(),
        reason,
    })?;
    match action {
        HostPathAction::Use => Ok(()),
        HostPathAction::CreateDirectory => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(path)
            .map_err(io_err("create host directory")),
        HostPathAction::CreateFile => fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map(drop)
            .map_err(io_err("create host file")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FileKind as K;
    use HostPathAction as A;

    #[test]
    fn type_checks() {
        let ok = |a| Ok::<_, String>(a);
        let err = |m: &str| Err::<HostPathAction, _>(m.to_string());
        let cases = [
            ("", K::Missing, ok(A::Use)),
            ("", K::Socket, ok(A::Use)),
            ("DirectoryOrCreate", K::Missing, ok(A::CreateDirectory)),
            ("DirectoryOrCreate", K::Directory, ok(A::Use)),
            ("DirectoryOrCreate", K::File, err("is not a directory")),
            ("Directory", K::Directory, ok(A::Use)),
            ("Directory", K::Missing, err("does not exist")),
            ("Directory", K::File, err("is not a directory")),
            ("FileOrCreate", K::Missing, ok(A::CreateFile)),
            ("FileOrCreate", K::File, ok(A::Use)),
            (
                "FileOrCreate",
                K::Directory,
                err("is a directory, not a file"),
            ),
            ("File", K::File, ok(A::Use)),
            ("File", K::Missing, err("does not exist")),
            ("File", K::Socket, err("is not a file")),
            ("Socket", K::Socket, ok(A::Use)),
            ("Socket", K::File, err("is not a socket")),
            ("CharDevice", K::CharDevice, ok(A::Use)),
            (
                "CharDevice",
                K::BlockDevice,
                err("is not a character device"),
            ),
            ("BlockDevice", K::BlockDevice, ok(A::Use)),
            ("BlockDevice", K::Missing, err("does not exist")),
            ("Fifo", K::File, err("has unknown hostPath type \"Fifo\"")),
        ];
        for (type_, kind, want) in cases {
            assert_eq!(check_type(type_, kind), want, "type {type_:?} on {kind:?}");
        }
    }

    #[test]
    fn creates_and_checks_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        prepare("v", &dir, "DirectoryOrCreate").unwrap();
        assert_eq!(kind_of(&dir).unwrap(), K::Directory);
        let file = dir.join("f");
        prepare("v", &file, "FileOrCreate").unwrap();
        assert_eq!(kind_of(&file).unwrap(), K::File);
        prepare("v", &file, "File").unwrap();
        prepare("v", Path::new("/dev/null"), "CharDevice").unwrap();
        let err = prepare("v", &tmp.path().join("none"), "Directory").unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
}
