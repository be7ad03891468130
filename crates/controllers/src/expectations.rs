//! Expectations, upstream's guard against acting twice on a stale cache: after creating or
//! deleting children, an owner waits until its informer cache shows those writes before it
//! decides again. Here they are checked against the cache itself (names created, uids deleted),
//! with a deadline so a lost event never wedges an owner.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an unobserved write is waited for (upstream's ExpectationsTimeout).
const EXPIRY: Duration = Duration::from_secs(60);

/// Writes an owner made and has not yet seen in its cache.
#[derive(Debug, Default, Clone)]
pub struct Pending {
    /// Names of children created (in the owner's namespace).
    pub created: Vec<String>,
    /// uids of children deleted.
    pub deleted: Vec<String>,
}

/// Pending writes per owner key (`namespace/name`).
#[derive(Debug, Default)]
pub struct Expectations {
    inner: Mutex<HashMap<String, (Pending, Instant)>>,
}

impl Expectations {
    /// Records writes just made for `owner`.
    pub fn expect(&self, owner: &str, pending: Pending) {
        if pending.created.is_empty() && pending.deleted.is_empty() {
            return;
        }
        if let Ok(mut map) = self.inner.lock() {
            map.insert(owner.to_string(), (pending, Instant::now()));
        }
    }

    /// True when every write recorded for `owner` is visible: `seen(name)` says whether a created
    /// child is in the cache, `gone(uid)` whether a deleted child left it (or is terminating).
    pub fn satisfied(
        &self,
        owner: &str,
        seen: impl Fn(&str) -> bool,
        gone: impl Fn(&str) -> bool,
    ) -> bool {
        let Ok(mut map) = self.inner.lock() else {
            return true;
        };
        let Some((pending, at)) = map.get(owner) else {
            return true;
        };
        let done = at.elapsed() > EXPIRY
            || (pending.created.iter().all(|n| seen(n)) && pending.deleted.iter().all(|u| gone(u)));
        if done {
            map.remove(owner);
        }
        done
    }

    /// Forgets `owner` (it was deleted).
    pub fn forget(&self, owner: &str) {
        if let Ok(mut map) = self.inner.lock() {
            map.remove(owner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_until_seen() {
        let e = Expectations::default();
        assert!(e.satisfied("ns/a", |_| false, |_| false));
        e.expect(
            "ns/a",
            Pending {
                created: vec!["ns/p1".into()],
                deleted: vec!["u1".into()],
            },
        );
        assert!(!e.satisfied("ns/a", |_| true, |_| false));
        assert!(!e.satisfied("ns/a", |_| false, |_| true));
        assert!(e.satisfied("ns/a", |_| true, |_| true));
        assert!(
            e.satisfied("ns/a", |_| false, |_| false),
            "cleared once satisfied"
        );
        e.expect("ns/b", Pending::default());
        assert!(e.satisfied("ns/b", |_| false, |_| false), "nothing pending");
    }
}
