//! All documents of a resource list, built once and served from memory.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha512};

use crate::{ResourceDoc, v2, v2_protobuf, v3};

/// One served document: its JSON value, its serialized bytes and the hash
/// of those bytes (uppercase hex SHA-512, as Kubernetes publishes).
#[derive(Clone, Debug)]
pub struct Document {
    pub value: Value,
    pub json: Vec<u8>,
    pub hash: String,
}

impl Document {
    fn new(value: Value) -> Self {
        let json = serde_json::to_vec(&value).unwrap_or_default();
        let digest = Sha512::digest(&json);
        let hash = digest.iter().map(|byte| format!("{byte:02X}")).collect();
        Document { value, json, hash }
    }
}

/// The v3 index, each v3 group-version document and the v2 document (JSON
/// and protobuf).
#[derive(Clone, Debug)]
pub struct Documents {
    index: Document,
    /// Keyed by the index path: `api/v1`, `apis/apps/v1`.
    group_versions: BTreeMap<String, Document>,
    v2: Document,
    v2_protobuf: Vec<u8>,
}

/// The index key of a group-version: `api/v1` or `apis/GROUP/VERSION`.
pub fn index_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

impl Documents {
    /// Builds every document for `resources`.
    pub fn build(resources: &[ResourceDoc]) -> Self {
        let mut by_gv: BTreeMap<(&str, &str), Vec<ResourceDoc>> = BTreeMap::new();
        for resource in resources {
            by_gv
                .entry((resource.group, resource.version))
                .or_default()
                .push(resource.clone());
        }
        let mut group_versions = BTreeMap::new();
        let mut paths = serde_json::Map::new();
        for ((group, version), members) in by_gv {
            let key = index_key(group, version);
            let document = Document::new(v3::group_version_document(&members, group, version));
            paths.insert(
                key.clone(),
                json!({ "serverRelativeURL": format!("/openapi/v3/{key}?hash={}", document.hash) }),
            );
            group_versions.insert(key, document);
        }
        let v2 = Document::new(v2::document(resources));
        Documents {
            index: Document::new(json!({ "paths": paths })),
            group_versions,
            v2_protobuf: v2_protobuf::encode(&v2.value),
            v2,
        }
    }

    /// `GET /openapi/v3`.
    pub fn index(&self) -> &Document {
        &self.index
    }

    /// `GET /openapi/v3/api/v1` and `/openapi/v3/apis/GROUP/VERSION`.
    pub fn group_version(&self, group: &str, version: &str) -> Option<&Document> {
        self.group_versions.get(&index_key(group, version))
    }

    /// The document at an index path such as `apis/apps/v1` (what follows
    /// `/openapi/v3/` in the request path, without the query).
    pub fn by_index_path(&self, path: &str) -> Option<&Document> {
        self.group_versions.get(path.trim_matches('/'))
    }

    /// Every group-version document with its index path.
    pub fn group_versions(&self) -> impl Iterator<Item = (&str, &Document)> {
        self.group_versions.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// `GET /openapi/v2` as JSON.
    pub fn v2(&self) -> &Document {
        &self.v2
    }

    /// `GET /openapi/v2` as protobuf (what kubectl requests).
    pub fn v2_protobuf(&self) -> &[u8] {
        &self.v2_protobuf
    }
}
