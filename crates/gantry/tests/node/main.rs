//! End-to-end tests of real nodes: each test starts its own single-node cluster with `gantry up`
//! (control plane, managed containerd, kubelet) and checks user-visible outcomes with kubectl,
//! containerd's `ctr` and the host's /proc, /sys and network state.
//!
//! Every test picks a unique cluster number (pod CIDR 10.(60+n).0.0/16); ports are free ports,
//! bridge and node names carry the test binary's pid, so the tests run in parallel.

mod harness;
#[path = "../support/mod.rs"]
#[allow(dead_code)] // shared by the suites; each uses part of it
mod support;

mod agent_restart;
mod config;
mod failures;
mod probes;
mod registry;
mod teardown;
mod workloads;
