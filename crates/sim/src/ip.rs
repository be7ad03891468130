//! Made-up addresses: a stable InternalIP per node and a per-node pod range with a small
//! allocator. Nothing here is routable; the addresses only have to be unique and stable enough
//! for Endpoints, `kubectl get -o wide` and tests.
//!
//! Node IPs live in 10.0.0.0/16 and pod ranges are /24s in 10.128.0.0/9, both chosen by a
//! hash of the node name, so a node keeps its addresses across sim restarts and node groups
//! run by different sim processes do not need to coordinate. Collisions are possible (hash
//! space of 65,024 node IPs and 32,768 pod ranges) and harmless for a simulation.

use std::net::Ipv4Addr;

/// FNV-1a: stable across processes and Rust versions, unlike `DefaultHasher`.
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The simulated InternalIP of `node`: 10.0.x.y with y in 1..=254.
pub fn node_ip(node: &str) -> Ipv4Addr {
    let h = fnv1a(node);
    let x = (h >> 8) as u8;
    let y = 1 + (h % 254) as u8;
    Ipv4Addr::new(10, 0, x, y)
}

/// The /24 pods of `node` get their addresses from, as its first three octets.
pub fn pod_range(node: &str) -> [u8; 3] {
    // Salted so the pod range is not a function of the node IP's bits alone.
    let h = fnv1a(&format!("pods/{node}")) & 0x7fff;
    [10, 128 | (h >> 8) as u8, h as u8]
}

/// Pod addresses of one node: .2 to .254 of its /24 (.1 would be the bridge), lowest free first.
#[derive(Debug, Clone)]
pub struct PodIps {
    range: [u8; 3],
    used: [u64; 4],
}

impl PodIps {
    pub fn new(node: &str) -> PodIps {
        PodIps {
            range: pod_range(node),
            used: [0; 4],
        }
    }

    fn is_used(&self, host: u8) -> bool {
        self.used[usize::from(host / 64)] & (1 << (host % 64)) != 0
    }

    fn set(&mut self, host: u8, used: bool) {
        let word = &mut self.used[usize::from(host / 64)];
        if used {
            *word |= 1 << (host % 64);
        } else {
            *word &= !(1 << (host % 64));
        }
    }

    /// The lowest free address, now taken; `None` when all 253 are in use.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        let host = (2..=254u8).find(|h| !self.is_used(*h))?;
        self.set(host, true);
        let [a, b, c] = self.range;
        Some(Ipv4Addr::new(a, b, c, host))
    }

    /// Marks `ip` as taken (a pod that already had it, seen after a restart); false when it is
    /// outside this node's range.
    pub fn reserve(&mut self, ip: Ipv4Addr) -> bool {
        match self.host_of(ip) {
            Some(host) => {
                self.set(host, true);
                true
            }
            None => false,
        }
    }

    /// Returns `ip` to the pool; addresses outside the range are ignored.
    pub fn release(&mut self, ip: Ipv4Addr) {
        if let Some(host) = self.host_of(ip) {
            self.set(host, false);
        }
    }

    fn host_of(&self, ip: Ipv4Addr) -> Option<u8> {
        let [a, b, c, host] = ip.octets();
        ([a, b, c] == self.range && (2..=254).contains(&host)).then_some(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ips_are_stable_and_in_range() {
        assert_eq!(node_ip("sim-0"), node_ip("sim-0"));
        assert_ne!(node_ip("sim-0"), node_ip("sim-1"));
        for i in 0..2000 {
            let [a, b, _, y] = node_ip(&format!("sim-{i}")).octets();
            assert_eq!((a, b), (10, 0));
            assert!((1..=254).contains(&y));
        }
    }

    #[test]
    fn pod_ranges_are_in_the_upper_half_of_ten() {
        for i in 0..2000 {
            let [a, b, _] = pod_range(&format!("sim-{i}"));
            assert_eq!(a, 10);
            assert!(b >= 128);
        }
        assert_eq!(pod_range("n"), pod_range("n"));
    }

    #[test]
    fn allocation_takes_the_lowest_free_and_reuses_released() {
        let mut ips = PodIps::new("sim-0");
        let [a, b, c] = pod_range("sim-0");
        let first = ips.allocate().expect("an address");
        let second = ips.allocate().expect("an address");
        assert_eq!(first, Ipv4Addr::new(a, b, c, 2));
        assert_eq!(second, Ipv4Addr::new(a, b, c, 3));
        ips.release(first);
        assert_eq!(ips.allocate(), Some(first));
        ips.release(Ipv4Addr::new(192, 168, 0, 2));
        assert_eq!(ips.allocate(), Some(Ipv4Addr::new(a, b, c, 4)));
    }

    #[test]
    fn allocation_runs_out_after_253_and_reserve_checks_the_range() {
        let mut ips = PodIps::new("sim-7");
        let [a, b, c] = pod_range("sim-7");
        assert!(ips.reserve(Ipv4Addr::new(a, b, c, 2)));
        assert!(!ips.reserve(Ipv4Addr::new(a, b, c, 1)));
        assert!(!ips.reserve(Ipv4Addr::new(10, 0, 0, 2)));
        let mut got = std::collections::HashSet::new();
        while let Some(ip) = ips.allocate() {
            assert!(got.insert(ip), "{ip} allocated twice");
        }
        assert_eq!(got.len(), 252);
        assert!(!got.contains(&Ipv4Addr::new(a, b, c, 2)));
    }
}
