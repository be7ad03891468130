//! Runs the shared store conformance suite against the embedded backend.

use std::ops::Deref;
use std::sync::Arc;

use gantry_store::embedded::{EmbeddedOptions, EmbeddedStore};

/// An embedded store in a temporary directory that lives as long as the store.
struct TempStore {
    store: Arc<EmbeddedStore>,
    _dir: tempfile::TempDir,
}

impl Deref for TempStore {
    type Target = EmbeddedStore;
    fn deref(&self) -> &EmbeddedStore {
        &self.store
    }
}

async fn temp_store() -> TempStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .expect("open store");
    TempStore { store, _dir: dir }
}

gantry_store::store_conformance_tests!(temp_store());
