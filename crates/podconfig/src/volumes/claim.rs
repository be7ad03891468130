//! `persistentVolumeClaim` volumes: where the PersistentVolume bound to a claim lives on this
//! node (PVs with a `hostPath` or `local` source), decided from the read objects (pure).

use std::path::PathBuf;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

use super::VolumeError;

/// Where a bound claim's volume lives: its path, and the hostPath type to check (empty for
/// `local` volumes, which must already exist as set up by the administrator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimTarget {
    pub path: PathBuf,
    pub host_path_type: String,
}

/// The name of the PersistentVolume `claim` is bound to.
pub fn bound_volume_name(
    volume: &str,
    namespace: &str,
    claim_name: &str,
    claim: Option<&PersistentVolumeClaim>,
) -> Result<String, VolumeError> {
    let Some(claim) = claim else {
        return Err(VolumeError::ClaimNotFound {
            volume: volume.to_string(),
            namespace: namespace.to_string(),
            claim: claim_name.to_string(),
        });
    };
    let bound = claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    let pv = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .filter(|n| !n.is_empty());
    match pv {
        Some(pv) if bound => Ok(pv),
        _ => Err(VolumeError::ClaimUnbound {
            volume: volume.to_string(),
            namespace: namespace.to_string(),
            claim: claim_name.to_string(),
        }),
    }
}

/// Where the PersistentVolume `pv_name` lives on this node.
pub fn claim_target(
    claim_name: &str,
    pv_name: &str,
    pv: Option<&PersistentVolume>,
) -> Result<ClaimTarget, VolumeError> {
    let Some(pv) = pv else {
        return Err(VolumeError::PersistentVolumeNotFound {
            claim: claim_name.to_string(),
            name: pv_name.to_string(),
        });
    };
    let spec = pv.spec.as_ref();
    if let Some(host) = spec.and_then(|s| s.host_path.as_ref()) {
        return Ok(ClaimTarget {
            path: PathBuf::from(&host.path),
            host_path_type: host.type_.clone().unwrap_or_default(),
        });
    }
    if let Some(local) = spec.and_then(|s| s.local.as_ref()) {
        return Ok(ClaimTarget {
            path: PathBuf::from(&local.path),
            host_path_type: String::new(),
        });
    }
    Err(VolumeError::UnsupportedPersistentVolume {
        name: pv_name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claim(phase: &str, volume_name: Option<&str>) -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": "data"},
            "spec": {"volumeName": volume_name},
            "status": {"phase": phase}
        }))
        .unwrap()
    }

    #[test]
    fn bound_claims() {
        let cases = [
            (Some(claim("Bound", Some("pv-1"))), Ok("pv-1".to_string())),
            (Some(claim("Pending", None)), Err("is not bound")),
            (Some(claim("Pending", Some("pv-1"))), Err("is not bound")),
            (Some(claim("Bound", Some(""))), Err("is not bound")),
            (None, Err("not found")),
        ];
        for (claim, want) in cases {
            let got =
                bound_volume_name("vol", "shop", "data", claim.as_ref()).map_err(|e| e.to_string());
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want),
                (Err(got), Err(want)) => {
                    assert!(got.contains(want) && got.contains("shop/data"), "{got}")
                }
                (got, want) => panic!("got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn volume_sources() {
        let pv = |spec: serde_json::Value| -> PersistentVolume {
            serde_json::from_value(json!({"metadata": {"name": "pv-1"}, "spec": spec})).unwrap()
        };
        let host = pv(json!({"hostPath": {"path": "/srv/a", "type": "DirectoryOrCreate"}}));
        assert_eq!(
            claim_target("data", "pv-1", Some(&host)).unwrap(),
            ClaimTarget {
                path: "/srv/a".into(),
                host_path_type: "DirectoryOrCreate".into()
            }
        );
        let local = pv(json!({"local": {"path": "/mnt/disk1"}}));
        assert_eq!(
            claim_target("data", "pv-1", Some(&local)).unwrap(),
            ClaimTarget {
                path: "/mnt/disk1".into(),
                host_path_type: String::new()
            }
        );
        let nfs = pv(json!({"nfs": {"server": "x", "path": "/e"}}));
        let err = claim_target("data", "pv-1", Some(&nfs))
            .unwrap_err()
            .to_string();
        assert!(err.contains("pv-1"), "{err}");
        let err = claim_target("data", "pv-1", None).unwrap_err().to_string();
        assert!(err.contains("pv-1") && err.contains("data"), "{err}");
    }
}
