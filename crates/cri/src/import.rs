//! Importing image archives into containerd's `k8s.io` namespace (where the CRI plugin looks),
//! through containerd's own `ctr` tool, and the pause image every sandbox runs.

use std::path::Path;

use crate::CriError;
use crate::oci::{Entry, ImageSpec, build_archive};

/// The name of the pause image gantry builds; containerd's `sandbox_image`.
pub const PAUSE_IMAGE: &str = "gantry.local/pause:1";

const PAUSE_BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pause"));

/// The pause image: one static binary, `/pause`, as its entrypoint.
pub fn pause_image() -> ImageSpec {
    ImageSpec {
        name: PAUSE_IMAGE.into(),
        entries: vec![Entry::File {
            path: "pause".into(),
            mode: 0o755,
            data: PAUSE_BINARY.to_vec(),
        }],
        entrypoint: vec!["/pause".into()],
        ..Default::default()
    }
}

/// Imports an OCI or Docker archive file into the containerd at `socket`.
pub async fn import_file(socket: &Path, archive: &Path) -> Result<(), CriError> {
    let out = tokio::process::Command::new("ctr")
        .arg("--address")
        .arg(socket)
        .args([
            "--namespace",
            "k8s.io",
            "images",
            "import",
            "--no-unpack=false",
        ])
        .arg(archive)
        .output()
        .await
        .map_err(|source| CriError::Containerd {
            step: "run ctr images import",
            source,
        })?;
    if !out.status.success() {
        return Err(CriError::Import {
            file: archive.display().to_string(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Builds `spec` and imports it, through a file in `scratch_dir`.
pub async fn import_spec(
    socket: &Path,
    spec: &ImageSpec,
    scratch_dir: &Path,
) -> Result<(), CriError> {
    let bytes = build_archive(spec)?;
    let file = scratch_dir.join(format!("{}.tar", spec.name.replace(['/', ':'], "_")));
    tokio::fs::write(&file, bytes)
        .await
        .map_err(|source| CriError::Image {
            step: "write image archive",
            source,
        })?;
    let result = import_file(socket, &file).await;
    let _ = tokio::fs::remove_file(&file).await;
    result
}

/// Imports every `*.tar` in `dir` (a missing dir is not an error); returns how many.
pub async fn import_dir(socket: &Path, dir: &Path) -> Result<usize, CriError> {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return Ok(0);
    };
    let mut n = 0;
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "tar") {
            import_file(socket, &path).await?;
            n += 1;
        }
    }
    Ok(n)
}
