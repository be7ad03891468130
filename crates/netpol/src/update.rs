//! Cheap updates: when only the members of peer or port sets changed (pods came, went or
//! changed labels, policies did not), rewrite just those sets instead of the whole table.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::render::FAMILY;
use crate::ruleset::Ruleset;

/// The transaction (for `nft -f`) that turns our table, programmed from `previous`, into the
/// one `next` renders to, by flushing and refilling the sets whose members changed; `None`
/// when the chains or maps differ (the caller then replaces the whole table). All lines run
/// as one transaction, so a packet sees either the old or the new members.
pub fn set_update(previous: &Ruleset, next: &Ruleset, table: &str) -> Option<String> {
    if previous.pods != next.pods
        || !same_keys(&previous.peer_sets, &next.peer_sets)
        || !same_keys(&previous.port_sets, &next.port_sets)
    {
        return None;
    }
    let mut out = String::new();
    for (name, members) in &next.peer_sets {
        if previous.peer_sets.get(name) != Some(members) {
            let elements: Vec<String> = members.iter().map(|ip| ip.to_string()).collect();
            refill(&mut out, table, name, &elements);
        }
    }
    for (name, members) in &next.port_sets {
        if previous.port_sets.get(name) != Some(members) {
            let elements: Vec<String> = members
                .iter()
                .map(|(ip, proto, port)| format!("{ip} . {} . {port}", proto.nft()))
                .collect();
            refill(&mut out, table, name, &elements);
        }
    }
    Some(out)
}

fn same_keys<V>(a: &BTreeMap<String, V>, b: &BTreeMap<String, V>) -> bool {
    a.keys().eq(b.keys())
}

fn refill(out: &mut String, table: &str, set: &str, elements: &[String]) {
    let _ = writeln!(out, "flush set {FAMILY} {table} {set}");
    if !elements.is_empty() {
        let _ = writeln!(
            out,
            "add element {FAMILY} {table} {set} {{ {} }}",
            elements.join(", ")
        );
    }
}
