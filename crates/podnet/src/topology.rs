//! Nodes on one machine: a bridge in the host's network namespace (its address is the nodes'
//! gateway and where the API server listens), and per node a network namespace joined to it by
//! a veth pair, with its own address. Traffic between nodes really crosses a network, and a
//! node can be cut off (its veth set down) or stopped.

use std::net::Ipv4Addr;

use crate::{NetError, run};

/// The addressing of a multi-node setup: `subnet` is a /24 like `172.30.0.0`, `tag` keeps the
/// names of several setups on one host apart (at most 6 characters).
#[derive(Debug, Clone)]
pub struct Topology {
    pub tag: String,
    pub subnet: Ipv4Addr,
}

/// One node's network: its namespace, the host end of its veth, its address.
#[derive(Debug, Clone)]
pub struct NodeNet {
    pub netns: String,
    pub host_veth: String,
    pub ip: Ipv4Addr,
}

impl Topology {
    pub fn new(tag: &str, subnet: Ipv4Addr) -> Result<Self, NetError> {
        if tag.is_empty() || tag.len() > 6 || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(NetError::Invalid {
                what: "topology tag (1-6 letters or digits)",
                value: tag.into(),
            });
        }
        Ok(Self {
            tag: tag.into(),
            subnet,
        })
    }

    pub fn bridge(&self) -> String {
        format!("gbr{}", self.tag)
    }

    /// The bridge's address: the nodes' gateway (`.1`).
    pub fn gateway(&self) -> Ipv4Addr {
        let o = self.subnet.octets();
        Ipv4Addr::new(o[0], o[1], o[2], 1)
    }

    /// Node `i` (1-based): namespace `gantry-<tag>-<i>`, address `.(10+i)`.
    pub fn node(&self, i: u8) -> NodeNet {
        let o = self.subnet.octets();
        NodeNet {
            netns: format!("gantry-{}-{i}", self.tag),
            host_veth: format!("gv{}-{i}", self.tag),
            ip: Ipv4Addr::new(o[0], o[1], o[2], 10u8.saturating_add(i)),
        }
    }

    /// Creates the bridge with the gateway address (idempotent).
    pub async fn create_bridge(&self) -> Result<(), NetError> {
        let br = self.bridge();
        if run("ip", &["link", "show", &br], None).await.is_err() {
            run("ip", &["link", "add", &br, "type", "bridge"], None).await?;
        }
        let addr = format!("{}/24", self.gateway());
        let _ = run("ip", &["addr", "add", &addr, "dev", &br], None).await;
        run("ip", &["link", "set", &br, "up"], None).await?;
        Ok(())
    }

    /// Creates node `i`'s namespace, veth and addresses (an existing namespace is recreated).
    pub async fn create_node(&self, i: u8) -> Result<NodeNet, NetError> {
        let n = self.node(i);
        let _ = run("ip", &["netns", "del", &n.netns], None).await;
        run("ip", &["netns", "add", &n.netns], None).await?;
        run(
            "ip",
            &[
                "link",
                "add",
                &n.host_veth,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &n.netns,
            ],
            None,
        )
        .await?;
        run(
            "ip",
            &["link", "set", &n.host_veth, "master", &self.bridge(), "up"],
            None,
        )
        .await?;
        let ns = |args: &[&str]| {
            let mut v = vec!["-n", n.netns.as_str()];
            v.extend_from_slice(args);
            v.into_iter().map(String::from).collect::<Vec<_>>()
        };
        let addr = format!("{}/24", n.ip);
        let gw = self.gateway().to_string();
        for args in [
            ns(&["addr", "add", &addr, "dev", "eth0"]),
            ns(&["link", "set", "eth0", "up"]),
            ns(&["link", "set", "lo", "up"]),
            ns(&["route", "add", "default", "via", &gw]),
        ] {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            run("ip", &refs, None).await?;
        }
        run(
            "ip",
            &[
                "netns",
                "exec",
                &n.netns,
                "sysctl",
                "-qw",
                "net.ipv4.ip_forward=1",
            ],
            None,
        )
        .await?;
        Ok(n)
    }

    /// Cuts node `i` off the network (or reconnects it).
    pub async fn set_connected(&self, i: u8, connected: bool) -> Result<(), NetError> {
        let n = self.node(i);
        run(
            "ip",
            &[
                "link",
                "set",
                &n.host_veth,
                if connected { "up" } else { "down" },
            ],
            None,
        )
        .await
        .map(|_| ())
    }

    /// Removes node `i`'s namespace (its veth goes with it); idempotent.
    pub async fn delete_node(&self, i: u8) {
        let _ = run("ip", &["netns", "del", &self.node(i).netns], None).await;
    }

    /// Removes the bridge; idempotent.
    pub async fn delete_bridge(&self) {
        let _ = run("ip", &["link", "del", &self.bridge()], None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses() {
        let t = Topology::new("16443", Ipv4Addr::new(172, 30, 0, 0)).expect("topology");
        assert_eq!(t.bridge(), "gbr16443");
        assert_eq!(t.gateway(), Ipv4Addr::new(172, 30, 0, 1));
        let n = t.node(2);
        assert_eq!(
            (n.netns.as_str(), n.host_veth.as_str(), n.ip),
            ("gantry-16443-2", "gv16443-2", Ipv4Addr::new(172, 30, 0, 12))
        );
        assert!(n.host_veth.len() <= 15);
        assert!(Topology::new("toolongtag", Ipv4Addr::new(172, 30, 0, 0)).is_err());
        assert!(Topology::new("a-b", Ipv4Addr::new(172, 30, 0, 0)).is_err());
    }
}
