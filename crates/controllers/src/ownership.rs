//! ownerReferences for workload controllers: the controller reference of an object, the
//! reference an owner puts on what it creates, and the adopt/release decision ("claim") upstream's
//! ControllerRefManager makes for objects matching or no longer matching a selector.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::Resource;
use kube::core::{Selector, SelectorExt};
use serde_json::json;

/// The reference with `controller: true` among the object's owners.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// The controller reference `owner` puts on its children (blockOwnerDeletion as upstream).
pub fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> Option<OwnerReference> {
    let meta = owner.meta();
    Some(OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: meta.name.clone()?,
        uid: meta.uid.clone()?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// Does `selector` match `labels`? An invalid selector matches nothing; an empty one everything.
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    match Selector::try_from(selector.clone()) {
        Ok(sel) => sel.matches(labels),
        Err(_) => false,
    }
}

/// What an owner does with one candidate object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Controlled by the owner and still matching: it counts.
    Owned,
    /// An orphan that matches: add our controller reference.
    Adopt,
    /// Controlled by the owner but no longer matching: remove our reference.
    Release,
    /// Someone else's, or not matching: leave alone.
    Ignore,
}

/// Upstream's ClaimObject: `owner_uid` is the owner's uid, `owner_deleting` whether the owner is
/// being deleted (a deleting owner neither adopts nor releases).
pub fn claim(
    meta: &ObjectMeta,
    owner_uid: &str,
    selector: &LabelSelector,
    owner_deleting: bool,
) -> Claim {
    let compiled = compile(selector);
    claim_compiled(meta, owner_uid, compiled.as_ref(), owner_deleting)
}

/// `selector` parsed once for many [`claim_compiled`] calls; `None` when invalid (matches nothing).
pub fn compile(selector: &LabelSelector) -> Option<Selector> {
    Selector::try_from(selector.clone()).ok()
}

/// [`claim`] with the selector parsed once (`None`: invalid, matches nothing). Objects another
/// controller owns are decided from their ownerReferences alone, without matching labels: an
/// owner's reconcile scans every object of its namespace, and most belong to someone else.
pub fn claim_compiled(
    meta: &ObjectMeta,
    owner_uid: &str,
    selector: Option<&Selector>,
    owner_deleting: bool,
) -> Claim {
    let controller = controller_of(meta);
    if controller.is_some_and(|r| r.uid != owner_uid) {
        return Claim::Ignore;
    }
    let empty = BTreeMap::new();
    let matches = selector.is_some_and(|s| s.matches(meta.labels.as_ref().unwrap_or(&empty)));
    match controller {
        Some(_) => match (matches, owner_deleting) {
            (true, _) | (false, true) => Claim::Owned,
            (false, false) => Claim::Release,
        },
        None if matches && !owner_deleting && meta.deletion_timestamp.is_none() => Claim::Adopt,
        None => Claim::Ignore,
    }
}

/// Strategic merge patch adding `owner` as controller reference, guarded by the child's uid.
pub fn adopt_patch(owner: &OwnerReference, child_uid: &str) -> serde_json::Value {
    json!({"metadata": {"ownerReferences": [owner], "uid": child_uid}})
}

/// Strategic merge patch removing the owner's reference, guarded by the child's uid.
pub fn release_patch(owner_uid: &str, child_uid: &str) -> serde_json::Value {
    json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}], "uid": child_uid}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(labels: &[(&str, &str)], owner: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            owner_references: owner.map(|uid| {
                vec![OwnerReference {
                    uid: uid.into(),
                    controller: Some(true),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }
    }

    #[test]
    fn claim_table() {
        let sel = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            ..Default::default()
        };
        let cases = [
            (meta(&[("app", "web")], Some("me")), false, Claim::Owned),
            (meta(&[("app", "db")], Some("me")), false, Claim::Release),
            (meta(&[("app", "db")], Some("me")), true, Claim::Owned),
            (meta(&[("app", "web")], None), false, Claim::Adopt),
            (meta(&[("app", "web")], None), true, Claim::Ignore),
            (meta(&[("app", "db")], None), false, Claim::Ignore),
            (meta(&[("app", "web")], Some("other")), false, Claim::Ignore),
        ];
        let compiled = compile(&sel);
        for (i, (m, deleting, want)) in cases.into_iter().enumerate() {
            assert_eq!(claim(&m, "me", &sel, deleting), want, "case {i}");
            assert_eq!(
                claim_compiled(&m, "me", compiled.as_ref(), deleting),
                want,
                "case {i}"
            );
        }
    }

    #[test]
    fn selector_table() {
        let labels: BTreeMap<String, String> = [("a".to_string(), "1".to_string())].into();
        assert!(selects(&LabelSelector::default(), &labels));
        let bad = LabelSelector {
            match_expressions: Some(vec![Default::default()]),
            ..Default::default()
        };
        assert!(!selects(&bad, &labels));
    }
}
