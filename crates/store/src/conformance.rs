//! Shared conformance suite (in progress).
