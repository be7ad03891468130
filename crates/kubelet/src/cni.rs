//! The node's pod network config for containerd's CNI plugin: a bridge with host-local IPAM over
//! the node's podCIDR (kept under the agent's data dir) and portmap for hostPort, written once
//! the node has a podCIDR. Masquerading traffic that leaves the cluster is the pod network's job
//! (gantry-podnet), so pod-to-pod traffic across nodes keeps its source address.

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
                "ipMasq": false,
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
pub fn write(
    conf_dir: &Path,
    pod_cidr: &str,
    bridge: &str,
    ipam_dir: &Path,
) -> Result<bool, KubeletError> {
    let io = |source| KubeletError::Io {
        what: "write the CNI config",
        source,
    };
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

/// The host-local allocations in `ipam_dir/gantry` (one file per IP whose first line is the
/// sandbox ID) that belong to no live sandbox: leaked by a crash between ADD and DEL.
pub fn stale_allocations(
    files: &[(String, String)],
    live: &std::collections::HashSet<String>,
) -> Vec<String> {
    files
        .iter()
        .filter(|(name, _)| name.parse::<std::net::IpAddr>().is_ok())
        .filter(|(_, content)| {
            let owner = content.lines().next().unwrap_or_default().trim();
            !owner.is_empty() && !live.contains(owner)
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// Removes stale allocations (see [`stale_allocations`]) older than a minute (a sandbox being
/// created right now has its address before the runtime lists it); returns how many.
pub fn collect_allocations(ipam_dir: &Path, live: &std::collections::HashSet<String>) -> usize {
    let dir = ipam_dir.join("gantry");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let files: Vec<(String, String)> = entries
        .flatten()
        .filter(|e| {
            let age = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            age.is_some_and(|a| a > std::time::Duration::from_secs(60))
        })
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            std::fs::read_to_string(e.path()).ok().map(|c| (name, c))
        })
        .collect();
    let stale = stale_allocations(&files, live);
    for name in &stale {
        let _ = std::fs::remove_file(dir.join(name));
    }
    stale.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_allocations_are_those_of_dead_sandboxes() {
        let files = vec![
            (
                "10.42.0.2".to_string(),
                "abc\r\neth0".replace("\\r\\n", "\r\n"),
            ),
            ("10.42.0.3".to_string(), "dead\neth0".replace("\\n", "\n")),
            ("last_reserved_ip.0".to_string(), "10.42.0.3".to_string()),
            ("lock".to_string(), String::new()),
        ];
        let live = std::collections::HashSet::from(["abc".to_string()]);
        assert_eq!(
            stale_allocations(&files, &live),
            vec!["10.42.0.3".to_string()]
        );
    }

    #[test]
    fn conflist_uses_the_pod_cidr() {
        let text = conflist("10.42.3.0/24", "gantry0", Path::new("/data/cni/ipam"));
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            v["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.42.3.0/24"
        );
        assert_eq!(v["plugins"][0]["ipam"]["dataDir"], "/data/cni/ipam");
        assert_eq!(v["plugins"][1]["type"], "portmap");
    }
}
