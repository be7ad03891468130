//! The node's pod network config for containerd's CNI plugin: a bridge with host-local IPAM over
//! the node's podCIDR (kept under the agent's data dir), masquerade for traffic leaving the
//! cluster, and portmap for hostPort. Written once the node has a podCIDR.

use std::path::Path;

use serde_json::json;

use crate::KubeletError;

/// The conflist for `pod_cidr`. `bridge` names the Linux bridge (one per node network namespace).
pub fn conflist(pod_cidr: &str, bridge: &str, ipam_dir: &Path) -> String {
    json!({
        "cniVersion": "1.0.0",
        "name": "gantry",
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": true,
                "ipMasq": true,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": ipam_dir.display().to_string(),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true},
        ],
    })
    .to_string()
}

/// Writes the conflist into `conf_dir` atomically; returns whether it changed.
pub fn write(conf_dir: &Path, pod_cidr: &str, bridge: &str, ipam_dir: &Path) -> Result<bool, KubeletError> {
    let io = |source| KubeletError::Io { what: "write the CNI config", source };
    let file = conf_dir.join("10-gantry.conflist");
    let text = conflist(pod_cidr, bridge, ipam_dir);
    if std::fs::read_to_string(&file).is_ok_and(|old| old == text) {
        return Ok(false);
    }
    std::fs::create_dir_all(conf_dir).map_err(io)?;
    std::fs::create_dir_all(ipam_dir).map_err(io)?;
    let tmp = conf_dir.join(".10-gantry.conflist.tmp");
    std::fs::write(&tmp, &text).map_err(io)?;
    std::fs::rename(&tmp, &file).map_err(io)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflist_uses_the_pod_cidr() {
        let text = conflist("10.42.3.0/24", "gantry0", Path::new("/data/cni/ipam"));
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["plugins"][0]["ipam"]["ranges"][0][0]["subnet"], "10.42.3.0/24");
        assert_eq!(v["plugins"][0]["ipam"]["dataDir"], "/data/cni/ipam");
        assert_eq!(v["plugins"][1]["type"], "portmap");
    }
}
