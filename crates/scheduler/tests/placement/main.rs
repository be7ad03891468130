//! Table-driven tests of placement over hand-built snapshots: every filter, every score, the
//! FailedScheduling message, and the decision throughput over 1,000 nodes.

mod filters;
mod fixtures;
mod inter_pod;
mod message;
mod scores;
mod throughput;
