//! A pod's volumes: read the objects they refer to, decide each volume's host path and
//! contents (pure, [`plan_volume`]), then make them on disk under the pod's directory.

pub mod atomic;
pub mod claim;
pub mod emptydir;
pub mod hostpath;
pub mod mounts;
pub mod payload;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Pod, Volume};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::PodRuntimeInfo;
use crate::objects::{Objects, References, fetch_claim, fetch_volume};
use crate::quantity::{Amount, InvalidQuantity};
use claim::ClaimTarget;
use payload::{DownwardContext, KeyedSource, Payload};

pub use mounts::{container_mounts, container_mounts_with_env};

mod error;
pub use error::VolumeError;

/// One volume, ready on this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedVolume {
    /// Where the volume lives on the host.
    pub host_path: PathBuf,
    /// Whether every mount of it is read-only (configMap, secret, downwardAPI, projected and
    /// read-only claims).
    pub read_only: bool,
}

/// The pod's volumes by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreparedVolumes {
    pub volumes: BTreeMap<String, PreparedVolume>,
}

impl PreparedVolumes {
    /// The volume called `name`.
    pub fn get(&self, name: &str) -> Option<&PreparedVolume> {
        self.volumes.get(name)
    }
}

/// What to make on disk for one volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// A directory; `tmpfs: Some(size)` mounts a tmpfs on it.
    EmptyDir {
        dir: PathBuf,
        tmpfs: Option<Option<u64>>,
    },
    /// A host path checked (and maybe created) according to its type.
    HostPath {
        volume: String,
        path: PathBuf,
        type_: String,
    },
    /// Files written atomically, group-owned by `gid` when set.
    Files {
        dir: PathBuf,
        payload: Payload,
        gid: Option<u32>,
    },
}

/// Prepares every volume of `pod` under `pod_dir/volumes/<plugin>/<name>`. Unset
/// `resourceFieldRef` limits in downwardAPI items read as zero; use
/// [`prepare_volumes_with_allocatable`] to default them to the node's allocatable.
pub async fn prepare_volumes(
    client: &kube::Client,
    pod: &Pod,
    pod_dir: &Path,
    info: &PodRuntimeInfo,
) -> Result<PreparedVolumes, VolumeError> {
    prepare_volumes_with_allocatable(client, pod, pod_dir, info, &BTreeMap::new()).await
}

/// [`prepare_volumes`], with the node's allocatable for `resourceFieldRef` limits.
pub async fn prepare_volumes_with_allocatable(
    client: &kube::Client,
    pod: &Pod,
    pod_dir: &Path,
    info: &PodRuntimeInfo,
    allocatable: &BTreeMap<String, Quantity>,
) -> Result<PreparedVolumes, VolumeError> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let volumes = pod.spec.iter().flat_map(|s| s.volumes.iter().flatten());
    let objects = Objects::fetch(client, namespace, &volume_references(pod)).await?;
    let mut claims = BTreeMap::new();
    for volume in volumes.clone() {
        let Some(source) = &volume.persistent_volume_claim else {
            continue;
        };
        let claim = fetch_claim(client, namespace, &source.claim_name).await?;
        let pv_name =
            claim::bound_volume_name(&volume.name, namespace, &source.claim_name, claim.as_ref())?;
        let pv = fetch_volume(client, &pv_name).await?;
        let target = claim::claim_target(&source.claim_name, &pv_name, pv.as_ref())?;
        claims.insert(volume.name.clone(), target);
    }
    let ctx = DownwardContext {
        pod,
        info,
        allocatable,
    };
    let mut plans = Vec::new();
    let mut prepared = PreparedVolumes::default();
    for volume in volumes {
        let (plan, ready) = plan_volume(volume, pod_dir, &objects, &claims, &ctx)?;
        plans.push(plan);
        prepared.volumes.insert(volume.name.clone(), ready);
    }
    tokio::task::spawn_blocking(move || plans.iter().try_for_each(apply))
        .await
        .map_err(|e| VolumeError::Task(e.to_string()))??;
    Ok(prepared)
}

/// The ConfigMaps and Secrets the pod's volumes refer to.
pub fn volume_references(pod: &Pod) -> References {
    let mut refs = References::default();
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        if let Some(cm) = &volume.config_map {
            refs.config_maps.insert(cm.name.clone());
        }
        if let Some(secret) = volume.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            refs.secrets.insert(secret);
        }
        for projection in volume
            .projected
            .iter()
            .flat_map(|p| p.sources.iter().flatten())
        {
            if let Some(cm) = &projection.config_map {
                refs.config_maps.insert(cm.name.clone());
            }
            if let Some(secret) = &projection.secret {
                refs.secrets.insert(secret.name.clone());
            }
        }
    }
    refs
}

/// Decides where `volume` lives and what it holds (pure); `claims` maps PVC volume names to
/// their bound volume's location.
pub fn plan_volume(
    volume: &Volume,
    pod_dir: &Path,
    objects: &Objects,
    claims: &BTreeMap<String, ClaimTarget>,
    ctx: &DownwardContext<'_>,
) -> Result<(Plan, PreparedVolume), VolumeError> {
    let name = volume.name.as_str();
    let dir = |plugin: &str| pod_dir.join("volumes").join(plugin).join(name);
    let fs_group = ctx
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.security_context.as_ref())
        .and_then(|s| s.fs_group);
    let gid = fs_group.and_then(|g| u32::try_from(g).ok());
    let files = |plugin: &str, payload: Payload| -> Result<(Plan, PreparedVolume), VolumeError> {
        let dir = dir(plugin);
        let payload = atomic::clean_payload(name, payload)?;
        let ready = PreparedVolume {
            host_path: dir.clone(),
            read_only: true,
        };
        Ok((Plan::Files { dir, payload, gid }, ready))
    };
    let writable = |path: PathBuf, read_only: bool| PreparedVolume {
        host_path: path,
        read_only,
    };
    if let Some(empty) = &volume.empty_dir {
        let dir = dir("kubernetes.io~empty-dir");
        let tmpfs = match empty.medium.as_deref() {
            Some("Memory") => Some(size_limit(name, empty.size_limit.as_ref())?),
            _ => None,
        };
        Ok((
            Plan::EmptyDir {
                dir: dir.clone(),
                tmpfs,
            },
            writable(dir, false),
        ))
    } else if let Some(host) = &volume.host_path {
        let path = PathBuf::from(&host.path);
        let type_ = host.type_.clone().unwrap_or_default();
        let plan = Plan::HostPath {
            volume: name.to_string(),
            path: path.clone(),
            type_,
        };
        Ok((plan, writable(path, false)))
    } else if let Some(cm) = &volume.config_map {
        let source = KeyedSource {
            volume: name,
            kind: "configmap",
            namespace: &objects.namespace,
            name: &cm.name,
            items: cm.items.as_deref(),
            default_mode: cm.default_mode,
            optional: cm.optional == Some(true),
            fs_group,
        };
        let entries = objects
            .config_map(&cm.name)
            .map(payload::config_map_entries);
        files(
            "kubernetes.io~configmap",
            payload::keyed_payload(&source, entries.as_ref())?,
        )
    } else if let Some(secret) = &volume.secret {
        let secret_name = secret.secret_name.as_deref().unwrap_or_default();
        let source = KeyedSource {
            volume: name,
            kind: "secret",
            namespace: &objects.namespace,
            name: secret_name,
            items: secret.items.as_deref(),
            default_mode: secret.default_mode,
            optional: secret.optional == Some(true),
            fs_group,
        };
        let entries = objects.secret(secret_name).map(payload::secret_entries);
        files(
            "kubernetes.io~secret",
            payload::keyed_payload(&source, entries.as_ref())?,
        )
    } else if let Some(downward) = &volume.downward_api {
        let items = downward.items.as_deref().unwrap_or_default();
        let payload = payload::downward_payload(name, items, downward.default_mode, fs_group, ctx)?;
        files("kubernetes.io~downward-api", payload)
    } else if let Some(projected) = &volume.projected {
        let payload = payload::projected_payload(name, projected, objects, fs_group, ctx)?;
        files("kubernetes.io~projected", payload)
    } else if let Some(source) = &volume.persistent_volume_claim {
        let target = claims.get(name).ok_or_else(|| VolumeError::ClaimNotFound {
            volume: name.to_string(),
            namespace: objects.namespace.clone(),
            claim: source.claim_name.clone(),
        })?;
        let plan = Plan::HostPath {
            volume: name.to_string(),
            path: target.path.clone(),
            type_: target.host_path_type.clone(),
        };
        Ok((
            plan,
            writable(target.path.clone(), source.read_only == Some(true)),
        ))
    } else {
        Err(VolumeError::UnsupportedVolume {
            volume: name.to_string(),
        })
    }
}

/// The tmpfs size of a memory-backed emptyDir: its `sizeLimit` in bytes, if set.
fn size_limit(volume: &str, limit: Option<&Quantity>) -> Result<Option<u64>, VolumeError> {
    let Some(limit) = limit else {
        return Ok(None);
    };
    let quantity_err = |source| VolumeError::Quantity {
        volume: volume.to_string(),
        source,
    };
    let bytes = Amount::parse(&limit.0).map_err(quantity_err)?.value();
    match u64::try_from(bytes) {
        Ok(0) => Ok(None),
        Ok(bytes) => Ok(Some(bytes)),
        Err(_) => Err(quantity_err(InvalidQuantity(limit.0.clone()))),
    }
}

/// Makes one planned volume on disk.
pub fn apply(plan: &Plan) -> Result<(), VolumeError> {
    match plan {
        Plan::EmptyDir { dir, tmpfs } => emptydir::prepare(dir, *tmpfs),
        Plan::HostPath {
            volume,
            path,
            type_,
        } => hostpath::prepare(volume, path, type_),
        Plan::Files { dir, payload, gid } => atomic::write(dir, payload, *gid),
    }
}

/// Unmounts every mount below `pod_dir/volumes` (deepest first) and removes that directory;
/// succeeds when there is nothing left to remove.
pub async fn cleanup_pod(pod_dir: &Path) -> Result<(), VolumeError> {
    let volumes = pod_dir.join("volumes");
    tokio::task::spawn_blocking(move || cleanup_blocking(&volumes))
        .await
        .map_err(|e| VolumeError::Task(e.to_string()))?
}

fn cleanup_blocking(volumes: &Path) -> Result<(), VolumeError> {
    let io_err = |op, path: &Path| {
        let path = path.to_path_buf();
        move |source| VolumeError::Io { op, path, source }
    };
    let root = match volumes.canonicalize() {
        Ok(root) => root,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("resolve volumes dir", volumes)(e)),
    };
    let mut below: Vec<PathBuf> = emptydir::mount_points()
        .map_err(io_err(
            "read mount table",
            Path::new("/proc/self/mountinfo"),
        ))?
        .into_iter()
        .filter(|p| p.starts_with(&root))
        .collect();
    below.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for point in below {
        emptydir::unmount(&point).map_err(|source| VolumeError::Unmount {
            path: point.clone(),
            source,
        })?;
    }
    match std::fs::remove_dir_all(&root) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(io_err("remove volumes dir", &root)(e))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "volume_tests.rs"]
mod tests;
