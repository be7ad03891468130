//! The CRI mounts of one container: each `volumeMount` over its prepared volume, with
//! `subPath`/`subPathExpr` resolved inside the volume, `readOnly` and `mountPropagation`.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use gantry_cri::api::{Mount, MountPropagation};
use k8s_openapi::api::core::v1::{Container, Pod, VolumeMount};

use super::{PreparedVolumes, VolumeError};
use crate::expand::expand_strict;

/// The CRI mounts of `container`; a `subPathExpr` is expanded against an empty environment
/// (use [`container_mounts_with_env`] to expand it against the container's env).
pub fn container_mounts(
    pod: &Pod,
    container: &Container,
    volumes: &PreparedVolumes,
) -> Result<Vec<Mount>, VolumeError> {
    container_mounts_with_env(pod, container, volumes, &[])
}

/// The CRI mounts of `container`, expanding `subPathExpr` against `env` (the result of
/// `container_env`).
pub fn container_mounts_with_env(
    _pod: &Pod,
    container: &Container,
    volumes: &PreparedVolumes,
    env: &[(String, String)],
) -> Result<Vec<Mount>, VolumeError> {
    let privileged = container
        .security_context
        .as_ref()
        .and_then(|s| s.privileged)
        .unwrap_or(false);
    let mut mounts = Vec::new();
    for vm in container.volume_mounts.iter().flatten() {
        let volume = volumes
            .get(&vm.name)
            .ok_or_else(|| VolumeError::VolumeNotPrepared {
                container: container.name.clone(),
                volume: vm.name.clone(),
            })?;
        let host_path = match sub_path(vm, env)? {
            Some(sub) => {
                check_sub_path(&sub).map_err(|reason| VolumeError::InvalidSubPath {
                    volume: vm.name.clone(),
                    sub_path: sub.clone(),
                    reason,
                })?;
                resolve_sub_path(&vm.name, &volume.host_path, &sub)?
            }
            None => volume.host_path.clone(),
        };
        let propagation =
            propagation(vm.mount_propagation.as_deref(), privileged).map_err(|reason| {
                VolumeError::Propagation {
                    container: container.name.clone(),
                    mount_path: vm.mount_path.clone(),
                    reason,
                }
            })?;
        mounts.push(Mount {
            container_path: vm.mount_path.clone(),
            host_path: host_path.to_string_lossy().into_owned(),
            readonly: vm.read_only == Some(true) || volume.read_only,
            propagation: propagation as i32,
            ..Mount::default()
        });
    }
    Ok(mounts)
}

/// The mount's sub path, if any: `subPath`, or `subPathExpr` expanded against `env`.
fn sub_path(vm: &VolumeMount, env: &[(String, String)]) -> Result<Option<String>, VolumeError> {
    if let Some(sub) = vm.sub_path.as_deref().filter(|s| !s.is_empty()) {
        return Ok(Some(sub.to_string()));
    }
    let Some(expr) = vm.sub_path_expr.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    expand_strict(expr, lookup)
        .map(Some)
        .map_err(|missing| VolumeError::SubPathExpr {
            volume: vm.name.clone(),
            expr: expr.to_string(),
            missing,
        })
}

/// A sub path must be relative and must not step back with `..`.
pub fn check_sub_path(sub: &str) -> Result<(), String> {
    let path = Path::new(sub);
    if path.is_absolute() {
        return Err("must be a relative path".into());
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err("must not contain '..'".into());
    }
    Ok(())
}

/// The mount propagation of a `mountPropagation` value; `Bidirectional` needs a privileged
/// container.
pub fn propagation(mode: Option<&str>, privileged: bool) -> Result<MountPropagation, String> {
    match mode {
        None | Some("") | Some("None") => Ok(MountPropagation::PropagationPrivate),
        Some("HostToContainer") => Ok(MountPropagation::PropagationHostToContainer),
        Some("Bidirectional") if privileged => Ok(MountPropagation::PropagationBidirectional),
        Some("Bidirectional") => {
            Err("Bidirectional mount propagation is available only to privileged containers".into())
        }
        Some(other) => Err(format!("invalid mount propagation mode {other:?}")),
    }
}

/// Walks `sub` below `volume_dir`, creating missing directories with the volume's mode and
/// refusing any existing component (a symlink, say) that resolves outside the volume.
/// Returns the resolved host path.
fn resolve_sub_path(volume: &str, volume_dir: &Path, sub: &str) -> Result<PathBuf, VolumeError> {
    let io_err = |op, path: &Path| {
        let path = path.to_path_buf();
        move |source| VolumeError::Io { op, path, source }
    };
    let root = volume_dir
        .canonicalize()
        .map_err(io_err("resolve volume", volume_dir))?;
    let mode = fs::metadata(&root)
        .map_err(io_err("stat volume", &root))?
        .permissions()
        .mode()
        & 0o7777;
    let mut current = root.clone();
    for component in Path::new(sub).components() {
        let Component::Normal(name) = component else {
            continue;
        };
        let next = current.join(name);
        if fs::symlink_metadata(&next).is_ok() {
            let resolved = next
                .canonicalize()
                .map_err(io_err("resolve sub path", &next))?;
            if !resolved.starts_with(&root) {
                return Err(VolumeError::SubPathEscapes {
                    volume: volume.to_string(),
                    sub_path: sub.to_string(),
                });
            }
            current = resolved;
        } else {
            fs::DirBuilder::new()
                .mode(mode)
                .create(&next)
                .map_err(io_err("create sub path", &next))?;
            fs::set_permissions(&next, fs::Permissions::from_mode(mode))
                .map_err(io_err("chmod sub path", &next))?;
            current = next;
        }
    }
    Ok(current)
}

#[cfg(test)]
#[path = "mounts_tests.rs"]
mod tests;
