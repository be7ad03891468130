//! Node IPAM: every node gets `spec.podCIDR` / `spec.podCIDRs`, a distinct block (a /24 by
//! default) of the cluster CIDR (10.42.0.0/16 by default). The allocation map is rebuilt from
//! the node cache on every decision, so a deleted node's block is free again and a restarted
//! controller converges; blocks handed out but not yet seen in the cache are remembered.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use serde_json::json;

/// The cluster CIDR and the size of each node's block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub cluster: Ipv4Addr,
    pub cluster_prefix: u8,
    pub node_prefix: u8,
}

/// Why a node could not get a block.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid cluster CIDR {0:?}")]
    Cidr(String),
    #[error("the cluster CIDR has no free block for node {0}")]
    Exhausted(String),
    #[error("setting the pod CIDR of node {name}: {source}")]
    Api { name: String, source: kube::Error },
}

impl Config {
    /// Parses `10.42.0.0/16` and a node prefix length (24).
    pub fn parse(cidr: &str, node_prefix: u8) -> Result<Config, Error> {
        let bad = || Error::Cidr(cidr.to_string());
        let (ip, len) = cidr.split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let len: u8 = len.parse().map_err(|_| bad())?;
        if len > node_prefix || node_prefix > 32 {
            return Err(bad());
        }
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        Ok(Config {
            cluster: Ipv4Addr::from(u32::from(ip) & mask),
            cluster_prefix: len,
            node_prefix,
        })
    }

    /// The cluster default: 10.42.0.0/16 cut into /24 blocks.
    pub fn cluster_default() -> Config {
        Config {
            cluster: Ipv4Addr::new(10, 42, 0, 0),
            cluster_prefix: 16,
            node_prefix: 24,
        }
    }

    fn blocks(&self) -> u32 {
        1u32.checked_shl(u32::from(self.node_prefix - self.cluster_prefix))
            .unwrap_or(u32::MAX)
    }

    /// The block with this index, as CIDR text.
    pub fn block(&self, index: u32) -> String {
        let size = 1u64 << (32 - u32::from(self.node_prefix));
        let base = u64::from(u32::from(self.cluster)) + u64::from(index) * size;
        format!("{}/{}", Ipv4Addr::from(base as u32), self.node_prefix)
    }

    /// The index of a block of this cluster CIDR, if `cidr` is one (by arithmetic: this runs
    /// for every node on every reconcile).
    pub fn index_of(&self, cidr: &str) -> Option<u32> {
        let (ip, len) = cidr.split_once('/')?;
        let ip = u32::from(ip.parse::<Ipv4Addr>().ok()?);
        if len.parse::<u8>().ok()? != self.node_prefix {
            return None;
        }
        let size = 1u64 << (32 - u32::from(self.node_prefix));
        let offset = u64::from(ip).checked_sub(u64::from(u32::from(self.cluster)))?;
        let index = offset / size;
        (offset % size == 0 && index < u64::from(self.blocks())).then_some(index as u32)
    }
}

/// The lowest block index not in `used`.
pub fn next_free(config: &Config, used: &HashSet<u32>) -> Option<u32> {
    (0..config.blocks()).find(|i| !used.contains(i))
}

struct Ctx {
    client: kube::Client,
    config: Config,
    nodes: Store<Node>,
    /// Blocks handed out that the cache may not show yet, by node name.
    pending: Mutex<HashMap<String, u32>>,
}

/// The IPAM controller's main loop.
pub async fn run(client: kube::Client, config: Config) {
    let controller = Controller::new(Api::<Node>::all(client.clone()), watcher::Config::default());
    let ctx = Arc::new(Ctx {
        client,
        config,
        nodes: controller.store(),
        pending: Mutex::default(),
    });
    controller
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy(node: Arc<Node>, error: &Error, _: Arc<Ctx>) -> Action {
    tracing::warn!(controller = "node-ipam", node = node.name_any(), %error, "reconcile failed");
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(node: Arc<Node>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let name = node.name_any();
    if node
        .spec
        .as_ref()
        .and_then(|s| s.pod_cidr.as_deref())
        .is_some_and(|c| !c.is_empty())
    {
        if let Ok(mut pending) = ctx.pending.lock() {
            pending.remove(&name);
        }
        return Ok(Action::await_change());
    }
    let index = {
        let mut pending = ctx
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let nodes = ctx.nodes.state();
        let live: HashSet<String> = nodes.iter().map(|n| n.name_any()).collect();
        pending.retain(|n, _| live.contains(n));
        let mut used: HashSet<u32> = nodes
            .iter()
            .filter_map(|n| {
                n.spec
                    .as_ref()?
                    .pod_cidr
                    .as_deref()
                    .and_then(|c| ctx.config.index_of(c))
            })
            .collect();
        used.extend(pending.iter().filter(|(n, _)| **n != name).map(|(_, i)| *i));
        let index = match pending.get(&name) {
            Some(i) if !used.contains(i) => *i,
            _ => next_free(&ctx.config, &used).ok_or_else(|| Error::Exhausted(name.clone()))?,
        };
        pending.insert(name.clone(), index);
        index
    };
    let cidr = ctx.config.block(index);
    let patch = json!({"metadata": {"resourceVersion": node.resource_version()}, "spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
    Api::<Node>::all(ctx.client.clone())
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| Error::Api {
            name: name.clone(),
            source,
        })?;
    tracing::info!(
        controller = "node-ipam",
        node = name,
        cidr,
        "allocated pod CIDR"
    );
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_free_cidr() {
        let Ok(c) = Config::parse("10.42.0.0/16", 24) else {
            panic!("valid cidr")
        };
        let used = |v: &[u32]| v.iter().copied().collect::<HashSet<_>>();
        let cases = [
            (vec![], Some("10.42.0.0/24")),
            (vec![0, 1], Some("10.42.2.0/24")),
            (vec![0, 2], Some("10.42.1.0/24")),
            ((0..256).collect(), None),
        ];
        for (taken, want) in cases {
            assert_eq!(
                next_free(&c, &used(&taken)).map(|i| c.block(i)).as_deref(),
                want,
                "{taken:?}"
            );
        }
        assert_eq!(c.index_of("10.42.7.0/24"), Some(7));
        assert_eq!(c.index_of("10.43.0.0/24"), None);
    }

    #[test]
    fn parse_cidrs() {
        let Ok(c) = Config::parse("10.0.5.9/22", 26) else {
            panic!("valid cidr")
        };
        assert_eq!(c.block(0), "10.0.4.0/26");
        assert_eq!(c.block(1), "10.0.4.64/26");
        assert_eq!(next_free(&c, &(0..16).collect()), None);
        assert!(Config::parse("10.0.0.0/24", 16).is_err());
        assert!(Config::parse("nonsense", 24).is_err());
    }
}
