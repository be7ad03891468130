//! Tests of the atomic writer: path rules (table) and in-place updates on a temp dir.

use std::fs;
use std::path::Path;

use super::*;
use crate::volumes::payload::FileProjection;

#[test]
fn path_rules() {
    let cases: &[(&str, Result<&str, &str>)] = &[
        ("key", Ok("key")),
        ("a/b/c", Ok("a/b/c")),
        ("a//b/./c", Ok("a/b/c")),
        ("a/", Ok("a")),
        (".hidden", Ok(".hidden")),
        ("a/..b", Ok("a/..b")),
        ("", Err("must not be empty")),
        ("/etc/passwd", Err("must be a relative path")),
        ("..", Err("must not contain '..'")),
        ("a/../b", Err("must not contain '..'")),
        ("..data", Err("must not start with '..'")),
        ("..a/b", Err("must not start with '..'")),
        (".", Err("must name a file")),
    ];
    for (path, want) in cases {
        let got = clean_path(path);
        assert_eq!(
            got.as_deref(),
            want.map_err(|e| e.to_string()).as_deref(),
            "path {path:?}"
        );
    }
    let long = "x".repeat(256);
    assert!(clean_path(&long).is_err());
    assert!(clean_path(&format!("{}/y", "x/".repeat(2100))).is_err());
}

#[test]
fn timestamps() {
    assert_eq!(timestamp(0, 0), "..1970_01_01_00_00_00.000000000");
    assert_eq!(timestamp(951_782_400, 5), "..2000_02_29_00_00_00.000000005");
    assert_eq!(
        timestamp(1_714_564_800 + 3_723, 123_456_789),
        "..2024_05_01_13_02_03.123456789"
    );
}

fn payload(files: &[(&str, &str, u32)]) -> Payload {
    files
        .iter()
        .map(|(p, d, m)| {
            (
                p.to_string(),
                FileProjection {
                    data: d.as_bytes().to_vec(),
                    mode: *m,
                },
            )
        })
        .collect()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn update_swaps_data_and_removes_stale_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cfg");
    write(
        &dir,
        &payload(&[
            ("a", "one", 0o644),
            ("sub/b", "two", 0o600),
            ("gone", "x", 0o644),
        ]),
        None,
    )
    .unwrap();
    assert_eq!(fs::read_to_string(dir.join("a")).unwrap(), "one");
    assert_eq!(fs::read_to_string(dir.join("sub/b")).unwrap(), "two");
    assert_eq!(fs::read_link(dir.join("a")).unwrap(), Path::new("..data/a"));
    assert_eq!(
        fs::read_link(dir.join("sub")).unwrap(),
        Path::new("..data/sub")
    );
    let mode = fs::metadata(dir.join("sub/b"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let v1 = fs::read_link(dir.join("..data")).unwrap();

    // A process holding the volume dir (like a running container) sees the new files.
    write(
        &dir,
        &payload(&[("a", "uno", 0o644), ("sub/c", "tres", 0o644)]),
        None,
    )
    .unwrap();
    assert_eq!(fs::read_to_string(dir.join("a")).unwrap(), "uno");
    assert_eq!(fs::read_to_string(dir.join("sub/c")).unwrap(), "tres");
    assert!(!dir.join("sub/b").exists());
    assert!(
        fs::symlink_metadata(dir.join("gone")).is_err(),
        "stale entry remains"
    );
    let v2 = fs::read_link(dir.join("..data")).unwrap();
    assert_ne!(v1, v2);
    assert!(!dir.join(&v1).exists(), "old data dir remains");
    let names = entries(&dir);
    let ts_dirs: Vec<_> = names
        .iter()
        .filter(|n| n.starts_with("..") && *n != "..data")
        .collect();
    assert_eq!(ts_dirs.len(), 1, "{names:?}");
    assert_eq!(names.len(), 4, "{names:?}"); // ..data, ..<ts>, a, sub
}

#[test]
fn unchanged_payload_is_not_rewritten() {
    let tmp = tempfile::tempdir().unwrap();
    let files = payload(&[("a", "one", 0o644)]);
    write(tmp.path(), &files, None).unwrap();
    let v1 = fs::read_link(tmp.path().join("..data")).unwrap();
    // A deleted user-visible link is recreated even without a new version.
    fs::remove_file(tmp.path().join("a")).unwrap();
    write(tmp.path(), &files, None).unwrap();
    assert_eq!(fs::read_link(tmp.path().join("..data")).unwrap(), v1);
    assert_eq!(fs::read_to_string(tmp.path().join("a")).unwrap(), "one");
    // A mode change alone is a new version.
    write(tmp.path(), &payload(&[("a", "one", 0o400)]), None).unwrap();
    assert_ne!(fs::read_link(tmp.path().join("..data")).unwrap(), v1);
}

#[test]
fn empty_payload_writes_an_empty_volume() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), &Payload::new(), None).unwrap();
    write(tmp.path(), &payload(&[("k", "v", 0o644)]), None).unwrap();
    write(tmp.path(), &Payload::new(), None).unwrap();
    assert_eq!(entries(tmp.path()).len(), 2); // ..data and its dir
}

#[test]
fn clean_payload_names_the_volume() {
    let err = clean_payload("cfg", payload(&[("../x", "", 0o644)])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "volume cfg: invalid path \"../x\": must not contain '..'"
    );
}
