//! ReplicaSets as a Deployment's revisions: the pod-template-hash, which ReplicaSet is the new
//! one, the revision/desired-replicas/max-replicas annotations, building a new ReplicaSet and
//! choosing old ones to delete past `revisionHistoryLimit`. Pure functions.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};

pub const HASH_LABEL: &str = "pod-template-hash";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX: &str = "deployment.kubernetes.io/max-replicas";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";

/// An int-or-percent of `total` (re-exported for other workload controllers).
pub use super::rollout::scaled_value as scaled;

/// Annotations of a Deployment that are not copied onto its ReplicaSets (upstream skipCopyAnnotation).
const NOT_COPIED: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED,
    MAX,
    "deprecated.deployment.rollback.to",
];

/// The template hash: FNV-1a (32 bit) of the template's JSON and the collision count, as decimal
/// digits mapped onto upstream's DNS-safe alphabet (rand.SafeEncodeString).
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut h: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    feed(canonical(template).to_string().as_bytes());
    if let Some(c) = collision_count {
        feed(&c.to_le_bytes());
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|b| ALPHABET[usize::from(b) % ALPHABET.len()] as char)
        .collect()
}

/// The template without the pod-template-hash label.
fn without_hash(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(HASH_LABEL);
    }
    t
}

/// Upstream EqualIgnoreHash: equal templates apart from the pod-template-hash label, compared
/// as Go compares them (a false, zero, empty or null field equals an absent one).
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    canonical(a) == canonical(b)
}

/// The template without its hash label and without zero-valued fields.
fn canonical(t: &PodTemplateSpec) -> serde_json::Value {
    let mut v = serde_json::to_value(without_hash(t)).unwrap_or_default();
    prune(&mut v);
    v
}

/// Removes false, 0, "", null and empty containers, recursively; true when `v` itself is empty.
fn prune(v: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Null => true,
        Value::Bool(b) => !*b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => {
            items.iter_mut().for_each(|i| {
                prune(i);
            });
            items.is_empty()
        }
        Value::Object(map) => {
            map.retain(|_, x| !prune(x));
            map.is_empty()
        }
    }
}

/// The revision annotation of a ReplicaSet (0 when missing or unparsable).
pub fn revision(rs: &ReplicaSet) -> i64 {
    annotation(&rs.metadata, REVISION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// An integer annotation.
pub fn int_annotation(meta: &ObjectMeta, key: &str) -> Option<i32> {
    annotation(meta, key)?.parse().ok()
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// The annotations a ReplicaSet of `d` carries at `revision`, scaled for `replicas` + `surge`.
pub fn annotations(
    d: &Deployment,
    revision: i64,
    replicas: i32,
    surge: i32,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = d
        .metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.insert(REVISION.into(), revision.to_string());
    out.insert(DESIRED.into(), replicas.to_string());
    out.insert(MAX.into(), (replicas + surge).to_string());
    out
}

/// The new ReplicaSet for `d`'s current template: `<deployment>-<hash>`, the hash label on its
/// selector, template and itself.
pub fn new_replica_set(
    d: &Deployment,
    owner: OwnerReference,
    hash: &str,
    replicas: i32,
    annotations: BTreeMap<String, String>,
) -> ReplicaSet {
    let name = format!("{}-{hash}", d.metadata.name.as_deref().unwrap_or_default());
    let spec = d.spec.clone().unwrap_or_default();
    let mut template = spec.template.clone();
    let meta = template.metadata.get_or_insert_with(Default::default);
    meta.labels
        .get_or_insert_with(Default::default)
        .insert(HASH_LABEL.into(), hash.into());
    let labels = meta.labels.clone();
    let mut selector: LabelSelector = spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(Default::default)
        .insert(HASH_LABEL.into(), hash.into());
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: d.metadata.namespace.clone(),
            labels,
            annotations: Some(annotations),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            min_ready_seconds: spec.min_ready_seconds,
            selector,
            template: Some(template),
        }),
        status: None,
    }
}

/// Old ReplicaSets to delete so at most `limit` scaled-down ones remain (oldest revisions go first;
/// sets with replicas or pods are kept).
pub fn to_clean_up(old: &[&ReplicaSet], limit: i32) -> Vec<String> {
    let mut idle: Vec<&ReplicaSet> = old
        .iter()
        .copied()
        .filter(|rs| rs.metadata.deletion_timestamp.is_none())
        .filter(|rs| rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0) == 0)
        .filter(|rs| rs.status.as_ref().map(|s| s.replicas).unwrap_or(0) == 0)
        .collect();
    let excess = idle.len().saturating_sub(limit.max(0) as usize);
    idle.sort_by_key(|rs| {
        (
            revision(rs),
            rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
        )
    });
    idle.into_iter()
        .take(excess)
        .filter_map(|rs| rs.metadata.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(image: &str, hash: Option<&str>) -> PodTemplateSpec {
        let mut labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
        if let Some(h) = hash {
            labels.insert(HASH_LABEL.into(), h.into());
        }
        let spec = serde_json::json!({"containers": [{"name": "c", "image": image}]});
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels),
                ..Default::default()
            }),
            spec: serde_json::from_value(spec).ok(),
        }
    }

    fn rs(name: &str, rev: i64, replicas: i32) -> ReplicaSet {
        let mut rs = ReplicaSet::default();
        rs.metadata.name = Some(name.into());
        rs.metadata.annotations = Some([(REVISION.to_string(), rev.to_string())].into());
        rs.spec = Some(ReplicaSetSpec {
            replicas: Some(replicas),
            ..Default::default()
        });
        rs
    }

    #[test]
    fn hash_is_stable_dns_safe_and_ignores_its_label() {
        let a = template_hash(&template("nginx:1", None), None);
        assert_eq!(a, template_hash(&template("nginx:1", Some("xyz")), None));
        assert_ne!(a, template_hash(&template("nginx:2", None), None));
        assert_ne!(a, template_hash(&template("nginx:1", None), Some(1)));
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && !a.is_empty()
        );
    }

    #[test]
    fn equality_ignores_hash() {
        assert!(equal_ignore_hash(
            &template("a", Some("h1")),
            &template("a", None)
        ));
        assert!(!equal_ignore_hash(
            &template("a", Some("h1")),
            &template("b", Some("h1"))
        ));
        let mut defaulted = template("a", None);
        if let Some(c) = defaulted
            .spec
            .as_mut()
            .and_then(|s| s.containers.first_mut())
        {
            c.stdin = Some(false);
        }
        defaulted
            .metadata
            .get_or_insert_with(Default::default)
            .generation = Some(0);
        assert!(
            equal_ignore_hash(&defaulted, &template("a", None)),
            "zero values equal absent ones"
        );
        assert_eq!(
            template_hash(&defaulted, None),
            template_hash(&template("a", None), None)
        );
    }

    #[test]
    fn cleanup_table() {
        let sets = [
            rs("r1", 1, 0),
            rs("r2", 2, 0),
            rs("r3", 3, 1),
            rs("r4", 4, 0),
        ];
        let refs: Vec<&ReplicaSet> = sets.iter().collect();
        let cases = [
            (10, vec![]),
            (2, vec!["r1"]),
            (1, vec!["r1", "r2"]),
            (0, vec!["r1", "r2", "r4"]),
        ];
        for (limit, want) in cases {
            assert_eq!(to_clean_up(&refs, limit), want, "limit {limit}");
        }
    }

    #[test]
    fn annotations_skip_kubectl_state() {
        let mut d = Deployment::default();
        d.metadata.annotations = Some(
            [
                (
                    "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                    "{}".to_string(),
                ),
                (
                    "kubernetes.io/change-cause".to_string(),
                    "set image".to_string(),
                ),
            ]
            .into(),
        );
        let a = annotations(&d, 3, 4, 1);
        assert_eq!(a.get(REVISION).map(String::as_str), Some("3"));
        assert_eq!(a.get(MAX).map(String::as_str), Some("5"));
        assert!(a.contains_key("kubernetes.io/change-cause"));
        assert!(!a.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
    }
}
