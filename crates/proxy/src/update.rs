//! The incremental transaction: re-define our table in place so that ClientIP affinity sets
//! keep their (dynamic) elements across re-applies. Every chain, map and static set we
//! declared last time is flushed, the ones gone are deleted, the new text re-declares the rest.
//! Pure text in, text out; the applier falls back to the full replacement if nft refuses it.

use std::collections::BTreeSet;

/// A top-level object of our table, as found in a ruleset we generated.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Object {
    Chain(String),
    Map(String),
    Set(String),
}

/// Affinity sets (`aff-...`) hold state; everything else is re-declared from scratch.
fn holds_state(object: &Object) -> bool {
    matches!(object, Object::Set(name) if name.starts_with("aff-"))
}

/// The chains, maps and sets declared in `ruleset` (text produced by [`crate::ruleset`]).
pub fn objects(ruleset: &str) -> BTreeSet<Object> {
    ruleset
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix('\t')?;
            if rest.starts_with('\t') {
                return None;
            }
            let (kind, rest) = rest.split_once(' ')?;
            let name = rest.strip_suffix(" {")?.to_string();
            match kind {
                "chain" => Some(Object::Chain(name)),
                "map" => Some(Object::Map(name)),
                "set" => Some(Object::Set(name)),
                _ => None,
            }
        })
        .collect()
}

/// The transaction turning table `ip <table>`, last programmed with `previous`, into `next`.
pub fn update_transaction(table: &str, previous: &str, next: &str) -> String {
    let before = objects(previous);
    let after = objects(next);
    let mut out = String::new();
    // Empty everything first: rules and map elements are what reference other objects.
    for object in &before {
        match object {
            Object::Chain(name) => out.push_str(&format!("flush chain ip {table} {name}\n")),
            Object::Map(name) => out.push_str(&format!("flush map ip {table} {name}\n")),
            Object::Set(_) if holds_state(object) => {}
            Object::Set(name) => out.push_str(&format!("flush set ip {table} {name}\n")),
        }
    }
    for object in before.difference(&after) {
        match object {
            Object::Chain(name) => out.push_str(&format!("delete chain ip {table} {name}\n")),
            Object::Map(name) => out.push_str(&format!("delete map ip {table} {name}\n")),
            Object::Set(name) => out.push_str(&format!("delete set ip {table} {name}\n")),
        }
    }
    out.push_str(next);
    out
}
