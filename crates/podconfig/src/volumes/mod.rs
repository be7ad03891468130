//! Volumes (placeholder).
