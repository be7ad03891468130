//! The garbage collector's object graph (every object's owners, and the reverse index from an
//! owner to its dependents) and the pure decisions taken over it: what happens to a dependent
//! given the state of its owners, and what a foreground or orphaning owner still has to do.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// The finalizer asking the collector to orphan an owner's dependents.
pub const ORPHAN: &str = "orphan";
/// The finalizer asking the collector to delete an owner's dependents first.
pub const FOREGROUND: &str = "foregroundDeletion";

/// Which resource an object belongs to, as discovery described it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kind {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

/// One object of the graph: the metadata the collector acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Arc<Kind>,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
    pub resource_version: Option<String>,
    pub owners: Vec<OwnerReference>,
    pub finalizers: Vec<String>,
    pub deleting: bool,
}

impl Node {
    /// The node for an object's metadata; `None` without a name or uid.
    pub fn from_meta(kind: Arc<Kind>, meta: ObjectMeta) -> Option<Node> {
        Some(Node {
            kind,
            namespace: meta.namespace,
            name: meta.name?,
            uid: meta.uid?,
            resource_version: meta.resource_version,
            owners: meta.owner_references.unwrap_or_default(),
            finalizers: meta.finalizers.unwrap_or_default(),
            deleting: meta.deletion_timestamp.is_some(),
        })
    }

    fn has_finalizer(&self, f: &str) -> bool {
        self.finalizers.iter().any(|x| x == f)
    }

    /// Deleting and waiting for its blocking dependents to go first.
    pub fn waiting_for_dependents(&self) -> bool {
        self.deleting && self.has_finalizer(FOREGROUND)
    }

    /// Deleting and waiting for its dependents to be orphaned.
    pub fn orphaning(&self) -> bool {
        self.deleting && self.has_finalizer(ORPHAN)
    }

    /// Whether the fields the collector decides on differ (status churn does not count).
    fn same_shape(&self, other: &Node) -> bool {
        self.owners == other.owners
            && self.finalizers == other.finalizers
            && self.deleting == other.deleting
    }
}

/// Every object the collector watches, by uid, and each owner's dependents.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// The objects naming `owner` in their ownerReferences.
    pub fn dependents_of(&self, owner: &str) -> Vec<&Node> {
        self.dependents
            .get(owner)
            .into_iter()
            .flatten()
            .filter_map(|d| self.nodes.get(d))
            .collect()
    }

    /// Adds or replaces a node; returns the uids to look at again (empty when nothing the
    /// collector decides on changed).
    pub fn upsert(&mut self, node: Node) -> Vec<String> {
        let old = self.nodes.get(&node.uid);
        if old.is_some_and(|o| o.same_shape(&node)) {
            self.nodes.insert(node.uid.clone(), node);
            return Vec::new();
        }
        let mut touched: Vec<String> = old
            .map(|o| o.owners.iter().map(|r| r.uid.clone()).collect())
            .unwrap_or_default();
        if let Some(old) = old.cloned() {
            self.unlink(&old);
        }
        for r in &node.owners {
            self.dependents
                .entry(r.uid.clone())
                .or_default()
                .insert(node.uid.clone());
            touched.push(r.uid.clone());
        }
        touched.push(node.uid.clone());
        self.nodes.insert(node.uid.clone(), node);
        touched
    }

    /// Removes a node; returns its owners and dependents, which may now act.
    pub fn remove(&mut self, uid: &str) -> Vec<String> {
        let Some(old) = self.nodes.remove(uid) else {
            return Vec::new();
        };
        self.unlink(&old);
        let mut touched: Vec<String> = old.owners.iter().map(|r| r.uid.clone()).collect();
        touched.extend(self.dependents.get(uid).into_iter().flatten().cloned());
        touched
    }

    /// Replaces every node of `kind` with `nodes` (a relist); returns the uids touched.
    pub fn replace(&mut self, kind: &Kind, nodes: Vec<Node>) -> Vec<String> {
        let keep: HashSet<&str> = nodes.iter().map(|n| n.uid.as_str()).collect();
        let stale: Vec<String> = self
            .nodes
            .values()
            .filter(|n| *n.kind == *kind && !keep.contains(n.uid.as_str()))
            .map(|n| n.uid.clone())
            .collect();
        let mut touched: Vec<String> = stale.iter().flat_map(|uid| self.remove(uid)).collect();
        for n in nodes {
            touched.extend(self.upsert(n));
        }
        touched
    }

    fn unlink(&mut self, old: &Node) {
        for r in &old.owners {
            if let Some(set) = self.dependents.get_mut(&r.uid) {
                set.remove(&old.uid);
                if set.is_empty() {
                    self.dependents.remove(&r.uid);
                }
            }
        }
    }
}

/// What the collector knows about one owner of a dependent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerState {
    /// The owner exists (with the uid the reference names).
    Present,
    /// The owner is being deleted in the foreground.
    Waiting,
    /// No object with that uid exists.
    Absent,
}

/// What to do with a dependent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// Some owners are gone but others remain: drop the references to the gone ones.
    RemoveRefs(Vec<String>),
    /// No owner remains: delete it, in the foreground when an owner waits for it.
    Delete {
        foreground: bool,
    },
}

/// Upstream's attemptToDeleteItem decision for a dependent, given its owners' states.
pub fn dependent_verdict(owners: &[(String, OwnerState)]) -> Verdict {
    if owners.is_empty() {
        return Verdict::Keep;
    }
    let present = owners.iter().any(|(_, s)| *s == OwnerState::Present);
    let absent: Vec<String> = owners
        .iter()
        .filter(|(_, s)| *s == OwnerState::Absent)
        .map(|(u, _)| u.clone())
        .collect();
    let waiting = owners.iter().any(|(_, s)| *s == OwnerState::Waiting);
    match (present, absent.is_empty()) {
        (true, true) => Verdict::Keep,
        (true, false) => Verdict::RemoveRefs(absent),
        (false, _) => Verdict::Delete {
            foreground: waiting,
        },
    }
}

/// For an owner deleted in the foreground: the dependents still to delete, and whether any
/// dependent with `blockOwnerDeletion` still exists (the finalizer stays until none does).
pub fn foreground_progress(owner_uid: &str, dependents: &[&Node]) -> (Vec<String>, bool) {
    let to_delete = dependents
        .iter()
        .filter(|d| !d.deleting)
        .map(|d| d.uid.clone())
        .collect();
    let blocked = dependents.iter().any(|d| {
        d.owners
            .iter()
            .any(|r| r.uid == owner_uid && r.block_owner_deletion == Some(true))
    });
    (to_delete, blocked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind() -> Arc<Kind> {
        Arc::new(Kind {
            group: "apps".into(),
            version: "v1".into(),
            kind: "ReplicaSet".into(),
            plural: "replicasets".into(),
            namespaced: true,
        })
    }

    fn node(uid: &str, owners: &[(&str, bool)], deleting: bool) -> Node {
        Node {
            kind: kind(),
            namespace: Some("default".into()),
            name: uid.into(),
            uid: uid.into(),
            resource_version: None,
            owners: owners
                .iter()
                .map(|(u, block)| OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: "ReplicaSet".into(),
                    name: u.to_string(),
                    uid: u.to_string(),
                    controller: None,
                    block_owner_deletion: Some(*block),
                })
                .collect(),
            finalizers: Vec::new(),
            deleting,
        }
    }

    #[test]
    fn which_dependents_to_delete() {
        use OwnerState::*;
        let s = |v: &[(&str, OwnerState)]| {
            v.iter()
                .map(|(u, s)| (u.to_string(), *s))
                .collect::<Vec<_>>()
        };
        let cases = [
            (s(&[]), Verdict::Keep),
            (s(&[("a", Present)]), Verdict::Keep),
            (s(&[("a", Absent)]), Verdict::Delete { foreground: false }),
            (
                s(&[("a", Absent), ("b", Absent)]),
                Verdict::Delete { foreground: false },
            ),
            (
                s(&[("a", Absent), ("b", Present)]),
                Verdict::RemoveRefs(vec!["a".into()]),
            ),
            (s(&[("a", Waiting)]), Verdict::Delete { foreground: true }),
            (s(&[("a", Waiting), ("b", Present)]), Verdict::Keep),
            (
                s(&[("a", Waiting), ("b", Absent)]),
                Verdict::Delete { foreground: true },
            ),
        ];
        for (owners, want) in cases {
            assert_eq!(dependent_verdict(&owners), want, "{owners:?}");
        }
    }

    #[test]
    fn foreground_waits_for_blocking_dependents() {
        let blocking = node("p1", &[("rs", true)], false);
        let gone_soon = node("p2", &[("rs", true)], true);
        let loose = node("p3", &[("rs", false)], false);
        assert_eq!(
            foreground_progress("rs", &[&blocking, &loose]),
            (vec!["p1".into(), "p3".into()], true)
        );
        assert_eq!(foreground_progress("rs", &[&gone_soon]), (vec![], true));
        assert_eq!(
            foreground_progress("rs", &[&loose]),
            (vec!["p3".into()], false)
        );
        assert_eq!(foreground_progress("rs", &[]), (vec![], false));
    }

    #[test]
    fn graph_tracks_dependents_and_touches_neighbours() {
        let mut g = Graph::default();
        g.upsert(node("rs", &[], false));
        let touched = g.upsert(node("p1", &[("rs", true)], false));
        assert!(touched.contains(&"rs".to_string()) && touched.contains(&"p1".to_string()));
        assert_eq!(g.dependents_of("rs").len(), 1);
        assert!(
            g.upsert(node("p1", &[("rs", true)], false)).is_empty(),
            "unchanged shape touches nothing"
        );
        assert_eq!(g.remove("rs"), vec!["p1".to_string()]);
        g.upsert(node("p1", &[], false));
        assert!(g.dependents_of("rs").is_empty());
        let touched = g.replace(&kind(), vec![]);
        assert!(g.get("p1").is_none() && touched.is_empty());
    }
}
