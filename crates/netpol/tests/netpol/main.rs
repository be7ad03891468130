//! The crate's one integration test binary: tables of compile cases and the real-traffic
//! test in network namespaces.

mod egress;
mod fixture;
mod ingress;
mod render;
mod traffic;
