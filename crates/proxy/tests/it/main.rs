//! The proxy's integration tests, in one binary: rule tables, LB status, real nftables in a
//! network namespace, and traffic through namespaces.

mod fixtures;
mod lb;
mod netns;
mod nft;
mod rules;
mod traffic;
