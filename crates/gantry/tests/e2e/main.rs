//! End-to-end tests: the real `gantry server` binary driven by real kubectl binaries.
//!
//! One test binary (`cargo test -p gantry --test e2e`); every test starts its own server in
//! its own data dir on its own port, so tests run in parallel.

mod apply;
mod auth;
mod bad_input;
mod batch;
mod cascade;
mod controller_events;
mod crd;
mod describe;
mod field_managers;
mod harness;
mod join;
mod kubelet_echo;
mod kubelet_proxy;
mod machinery;
mod nodes;
mod patch;
mod protobuf;
mod regressions;
mod restart;
mod rollout;
mod scenario;
mod scheduler;
mod service_account_token;
mod sim;
#[path = "../support/mod.rs"]
#[allow(dead_code)] // shared by the suites; each uses part of it
mod support;
mod tables;
