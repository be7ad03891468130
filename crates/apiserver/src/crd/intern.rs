//! Interned strings for custom resource names: `ResourceDef` names are `&'static str`, and a
//! CRD's names are leaked once per distinct value (the set of names a cluster ever serves is
//! small and bounded by its CRDs), never once per update.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

fn strings() -> &'static Mutex<HashSet<&'static str>> {
    static STRINGS: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    STRINGS.get_or_init(Default::default)
}

fn lists() -> &'static Mutex<HashSet<&'static [&'static str]>> {
    static LISTS: OnceLock<Mutex<HashSet<&'static [&'static str]>>> = OnceLock::new();
    LISTS.get_or_init(Default::default)
}

pub fn intern(s: &str) -> &'static str {
    let mut set = strings()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(existing) = set.get(s) {
        return existing;
    }
    let leaked: &'static str = Box::leak(s.to_string().into_boxed_str());
    set.insert(leaked);
    leaked
}

pub fn intern_list(items: &[String]) -> &'static [&'static str] {
    let interned: Vec<&'static str> = items.iter().map(|s| intern(s)).collect();
    let mut set = lists()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(existing) = set.get(interned.as_slice()) {
        return existing;
    }
    let leaked: &'static [&'static str] = Box::leak(interned.into_boxed_slice());
    set.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_returns_the_same_allocation() {
        let a = intern("widgets");
        let b = intern(&String::from("widgets"));
        assert!(std::ptr::eq(a, b));
        let l1 = intern_list(&["all".to_string()]);
        let l2 = intern_list(&["all".to_string()]);
        assert!(std::ptr::eq(l1, l2));
    }
}
