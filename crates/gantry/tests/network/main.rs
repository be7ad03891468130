//! End-to-end tests of the cluster network: each test starts its own multi-node cluster with
//! `gantry up --nodes N` (every agent in its own network namespace, pods on real containerd)
//! and checks what clients see: Service DNS names and ClusterIPs across nodes, NodePorts and
//! LoadBalancer addresses from the host, Ingress routing and TLS, headless Services, endpoint
//! and node failures, the client's address under `externalTrafficPolicy: Local`.
//!
//! Every test picks a unique cluster number k (node subnet 172.31.k.0/24, pod CIDR
//! 10.(100+k).0.0/16); the HTTPS port is a free port and names the bridge and namespaces, node
//! names carry the test binary's pid, so the tests run in parallel.

mod harness;
#[path = "../support/mod.rs"]
#[allow(dead_code)] // shared by the suites; each uses part of it
mod support;

mod dns;
mod external;
mod failover;
mod ingress;
mod netpol;
