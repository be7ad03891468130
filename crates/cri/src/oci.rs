//! OCI image archives built in process: a filesystem described as entries becomes one gzip
//! layer, a config, a manifest and an `index.json` naming the image, packed as an OCI image
//! layout tarball that containerd imports without any registry. Fixed mtimes, owners and gzip
//! headers make the digests reproducible: the same entries always give the same image ID.

use std::io::Write;

use flate2::{Compression, GzBuilder};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::CriError;

/// One path in the image's filesystem (paths are relative, without a leading `/`).
#[derive(Debug, Clone)]
pub enum Entry {
    Dir {
        path: String,
        mode: u32,
    },
    File {
        path: String,
        mode: u32,
        data: Vec<u8>,
    },
    Symlink {
        path: String,
        target: String,
    },
}

/// What an image is: its name (with tag), its files and its default process.
#[derive(Debug, Clone, Default)]
pub struct ImageSpec {
    pub name: String,
    pub entries: Vec<Entry>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
}

/// A built blob: its bytes and their `sha256:` digest.
struct Blob {
    digest: String,
    bytes: Vec<u8>,
}

fn blob(bytes: Vec<u8>) -> Blob {
    Blob {
        digest: sha256(&bytes),
        bytes,
    }
}

fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn io_err(step: &'static str) -> impl Fn(std::io::Error) -> CriError {
    move |source| CriError::Image { step, source }
}

/// The uncompressed layer tar of `entries`.
fn layer_tar(entries: &[Entry]) -> Result<Vec<u8>, CriError> {
    let mut tar = tar::Builder::new(Vec::new());
    for entry in entries {
        match entry {
            Entry::Dir { path, mode } => {
                let mut h = header(tar::EntryType::Directory, *mode, 0);
                tar.append_data(
                    &mut h,
                    format!("{}/", path.trim_end_matches('/')),
                    std::io::empty(),
                )
                .map_err(io_err("write layer directory"))?;
            }
            Entry::File { path, mode, data } => {
                let mut h = header(tar::EntryType::Regular, *mode, data.len() as u64);
                tar.append_data(&mut h, path, data.as_slice())
                    .map_err(io_err("write layer file"))?;
            }
            Entry::Symlink { path, target } => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                tar.append_link(&mut h, path, target)
                    .map_err(io_err("write layer symlink"))?;
            }
        }
    }
    tar.into_inner().map_err(io_err("finish layer"))
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, CriError> {
    let mut gz = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::fast());
    gz.write_all(bytes).map_err(io_err("compress layer"))?;
    gz.finish().map_err(io_err("compress layer"))
}

fn json_blob(value: &serde_json::Value) -> Blob {
    blob(value.to_string().into_bytes())
}

/// Builds the OCI image layout tarball of `spec`.
pub fn build_archive(spec: &ImageSpec) -> Result<Vec<u8>, CriError> {
    let layer = layer_tar(&spec.entries)?;
    let diff_id = sha256(&layer);
    let layer = blob(gzip(&layer)?);
    let mut config = json!({
        "Entrypoint": spec.entrypoint,
        "Cmd": spec.cmd,
        "Env": spec.env,
    });
    if !spec.working_dir.is_empty() {
        config["WorkingDir"] = json!(spec.working_dir);
    }
    let config = json_blob(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }));
    let manifest = json_blob(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config.digest,
            "size": config.bytes.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": layer.digest,
            "size": layer.bytes.len(),
        }],
    }));
    let tag = spec
        .name
        .rsplit_once(':')
        .map(|(_, t)| t)
        .unwrap_or("latest");
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest.digest,
            "size": manifest.bytes.len(),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {
                "io.containerd.image.name": spec.name,
                "org.opencontainers.image.ref.name": tag,
            },
        }],
    });
    let mut out = tar::Builder::new(Vec::new());
    let mut add = |path: String, data: &[u8]| {
        let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
        out.append_data(&mut h, path, data)
            .map_err(io_err("write image archive"))
    };
    add("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    add("index.json".into(), index.to_string().as_bytes())?;
    for b in [&config, &manifest, &layer] {
        let hex = b.digest.trim_start_matches("sha256:");
        add(format!("blobs/sha256/{hex}"), &b.bytes)?;
    }
    out.into_inner().map_err(io_err("finish image archive"))
}

/// The entries of a busybox image made from a static busybox binary on the host: the binary
/// at `bin/busybox`, one symlink per applet it lists, and the directories programs expect.
pub fn busybox_entries(busybox: &std::path::Path) -> Result<Vec<Entry>, CriError> {
    let data = std::fs::read(busybox).map_err(io_err("read busybox"))?;
    let list = std::process::Command::new(busybox)
        .arg("--list-full")
        .output()
        .map_err(io_err("run busybox --list-full"))?;
    let mut entries = vec![];
    for dir in [
        "bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "tmp", "var", "var/www", "root", "home",
    ] {
        let mode = if dir == "tmp" { 0o1777 } else { 0o755 };
        entries.push(Entry::Dir {
            path: dir.into(),
            mode,
        });
    }
    entries.push(Entry::File {
        path: "bin/busybox".into(),
        mode: 0o755,
        data,
    });
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim().trim_start_matches('/');
        if applet.is_empty() || applet == "bin/busybox" {
            continue;
        }
        entries.push(Entry::Symlink {
            path: applet.into(),
            target: "/bin/busybox".into(),
        });
    }
    entries.push(Entry::File {
        path: "etc/passwd".into(),
        mode: 0o644,
        data: b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
            .to_vec(),
    });
    entries.push(Entry::File {
        path: "etc/group".into(),
        mode: 0o644,
        data: b"root:x:0:\nnobody:x:65534:\n".to_vec(),
    });
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_reproducible_and_name_the_image() {
        let spec = ImageSpec {
            name: "gantry.local/test:1".into(),
            entries: vec![
                Entry::Dir {
                    path: "bin".into(),
                    mode: 0o755,
                },
                Entry::File {
                    path: "bin/x".into(),
                    mode: 0o755,
                    data: b"hello".to_vec(),
                },
                Entry::Symlink {
                    path: "bin/y".into(),
                    target: "x".into(),
                },
            ],
            cmd: vec!["/bin/x".into()],
            ..Default::default()
        };
        let a = build_archive(&spec).expect("build");
        let b = build_archive(&spec).expect("build");
        assert_eq!(sha256(&a), sha256(&b));
        let mut archive = tar::Archive::new(a.as_slice());
        let mut names = vec![];
        let mut index = String::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let path = entry.path().expect("path").display().to_string();
            if path == "index.json" {
                std::io::Read::read_to_string(&mut entry, &mut index).expect("read");
            }
            names.push(path);
        }
        assert_eq!(names.len(), 5, "{names:?}");
        assert!(names.contains(&"oci-layout".to_string()));
        assert!(
            index.contains("\"io.containerd.image.name\":\"gantry.local/test:1\""),
            "{index}"
        );
    }
}
