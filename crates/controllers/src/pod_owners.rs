//! An index of the shared pod cache by controller: which pods each controller uid holds, and
//! which pods of a namespace have no controller (candidates for adoption). An owner's sync then
//! looks at its own pods and the orphans instead of every pod of its namespace.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::ObjectRef;

use crate::ownership;

/// Where a pod is filed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Holder {
    /// The uid of the pod's controller.
    Controller(String),
    /// No controller: the orphans of this namespace.
    Orphans(String),
}

impl Holder {
    /// The holder of `pod` as it is now.
    pub fn of(pod: &Pod) -> Holder {
        match ownership::controller_of(&pod.metadata) {
            Some(r) => Holder::Controller(r.uid.clone()),
            None => Holder::Orphans(pod.metadata.namespace.clone().unwrap_or_default()),
        }
    }
}

/// Pods by holder; updated from the same watch events as the cache.
#[derive(Debug, Default)]
pub struct OwnerIndex {
    members: HashMap<Holder, HashSet<ObjectRef<Pod>>>,
    filed: HashMap<ObjectRef<Pod>, Holder>,
}

impl OwnerIndex {
    /// Files `pod` under its current holder (moving it if its controller changed).
    pub fn apply(&mut self, pod: &Pod) {
        let key = ObjectRef::from_obj(pod);
        let holder = Holder::of(pod);
        if self.filed.get(&key) == Some(&holder) {
            return;
        }
        self.remove(&key);
        self.members
            .entry(holder.clone())
            .or_default()
            .insert(key.clone());
        self.filed.insert(key, holder);
    }

    /// Forgets `pod`.
    pub fn delete(&mut self, pod: &Pod) {
        self.remove(&ObjectRef::from_obj(pod));
    }

    fn remove(&mut self, key: &ObjectRef<Pod>) {
        if let Some(old) = self.filed.remove(key)
            && let Some(set) = self.members.get_mut(&old)
        {
            set.remove(key);
            if set.is_empty() {
                self.members.remove(&old);
            }
        }
    }

    /// The pods filed under `holder`.
    pub fn held_by(&self, holder: &Holder) -> Vec<ObjectRef<Pod>> {
        self.members
            .get(holder)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn pod(name: &str, controller: Option<&str>) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("ns".into());
        p.metadata.owner_references = controller.map(|uid| {
            vec![OwnerReference {
                uid: uid.into(),
                controller: Some(true),
                ..Default::default()
            }]
        });
        p
    }

    fn names(index: &OwnerIndex, holder: Holder) -> Vec<String> {
        let mut out: Vec<String> = index.held_by(&holder).into_iter().map(|r| r.name).collect();
        out.sort();
        out
    }

    #[test]
    fn index_table() {
        let rs = || Holder::Controller("rs".into());
        let orphans = || Holder::Orphans("ns".into());
        // (events: (pod, deleted), holder, expected names)
        let cases: Vec<(Vec<(Pod, bool)>, Holder, Vec<&str>)> = vec![
            (vec![(pod("a", Some("rs")), false)], rs(), vec!["a"]),
            (vec![(pod("a", None), false)], orphans(), vec!["a"]),
            (
                vec![(pod("a", None), false), (pod("a", Some("rs")), false)],
                orphans(),
                vec![],
            ),
            (
                vec![(pod("a", None), false), (pod("a", Some("rs")), false)],
                rs(),
                vec!["a"],
            ),
            (
                vec![(pod("a", Some("rs")), false), (pod("a", Some("rs")), true)],
                rs(),
                vec![],
            ),
            (
                vec![
                    (pod("a", Some("rs")), false),
                    (pod("b", Some("other")), false),
                ],
                rs(),
                vec!["a"],
            ),
        ];
        for (i, (events, holder, want)) in cases.into_iter().enumerate() {
            let mut index = OwnerIndex::default();
            for (p, deleted) in &events {
                if *deleted {
                    index.delete(p);
                } else {
                    index.apply(p);
                }
            }
            assert_eq!(names(&index, holder), want, "case {i}");
        }
    }
}
