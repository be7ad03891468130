//! Lists in a strategic merge patch: merging by key or as sets, `$patch` items,
//! `$deleteFromPrimitiveList`, and the order of the result (`$setElementOrder` first, then the
//! patch's order, then the live object's), as upstream's `mergeSlice` and
//! `normalizeElementOrder` do.

use gantry_schema::Shape;
use serde_json::{Map, Value};

use super::{DIRECTIVE, Field, Merger, SET_ELEMENT_ORDER, SmpError, strip};

impl Merger<'_> {
    /// A list field: merged when its strategy says so (or for a deletion list), else replaced.
    pub(super) fn merge_list_field(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        field: &Field,
        name: &str,
        delete_list: bool,
    ) -> Result<Vec<Value>, SmpError> {
        if field.merges || delete_list {
            self.merge_list(
                original,
                patch,
                field.element(),
                field.merge_key,
                name,
                delete_list,
            )
        } else {
            Ok(patch.into_iter().filter_map(strip).collect())
        }
    }

    fn merge_list(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        item: &Shape,
        key: Option<&str>,
        name: &str,
        delete_list: bool,
    ) -> Result<Vec<Value>, SmpError> {
        if original.is_empty() && patch.is_empty() {
            return Ok(original);
        }
        let maps = element_kind(&original, &patch, name)?;
        let (server_order, merged, patch) = if !maps {
            if delete_list {
                return Ok(original
                    .into_iter()
                    .filter(|v| !patch.contains(v))
                    .collect());
            }
            let mut merged: Vec<Value> = Vec::new();
            for v in original.iter().chain(&patch) {
                if !merged.contains(v) {
                    merged.push(v.clone());
                }
            }
            (original, merged, patch)
        } else {
            let key = key.ok_or(SmpError::NoMergeKey {
                item: name.to_owned(),
                key: String::new(),
            })?;
            let (original, plain) = special_items(original, &patch, key)?;
            let merged = self.merge_items(original.clone(), plain.clone(), item, key)?;
            (original, merged, plain)
        };
        let key = if maps { key } else { None };
        let (in_patch, server_only) = partition(merged, &patch, key);
        Ok(normalize(in_patch, server_only, &patch, &server_order, key))
    }

    /// Merges patch items into the original items with the same key; appends new ones.
    fn merge_items(
        &self,
        mut original: Vec<Value>,
        patch: Vec<Value>,
        item: &Shape,
        key: &str,
    ) -> Result<Vec<Value>, SmpError> {
        for p in patch {
            let Value::Object(p) = p else {
                return Err(SmpError::ElementTypes(key.to_owned()));
            };
            let Some(k) = p.get(key).cloned() else {
                return Err(SmpError::NoMergeKey {
                    item: Value::Object(p).to_string(),
                    key: key.to_owned(),
                });
            };
            match original.iter().position(|o| o.get(key) == Some(&k)) {
                Some(i) => {
                    let o = match std::mem::take(&mut original[i]) {
                        Value::Object(o) => o,
                        _ => Map::new(),
                    };
                    original[i] = Value::Object(self.merge_map(o, p, item)?);
                }
                None => original.extend(strip(Value::Object(p))),
            }
        }
        Ok(original)
    }

    /// `$setElementOrder/<field>`: merges the field's list (if the patch has one) and orders the
    /// result: listed items in the directive's order, others where the live list had them.
    pub(super) fn set_element_orders(
        &self,
        original: &mut Map<String, Value>,
        patch: &mut Map<String, Value>,
        at: &Shape,
    ) -> Result<(), SmpError> {
        let keys: Vec<String> = patch
            .keys()
            .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
            .cloned()
            .collect();
        for directive in keys {
            let Some(Value::Array(order)) = patch.remove(&directive) else {
                return Err(SmpError::BadFormat("$setElementOrder must be a list"));
            };
            let name = &directive[SET_ELEMENT_ORDER.len()..];
            let live = match original.get(name) {
                None => None,
                Some(Value::Array(l)) => Some(l.clone()),
                Some(_) => {
                    return Err(SmpError::BadFormat(
                        "$setElementOrder refers to a field that is not a list",
                    ));
                }
            };
            let patched = match patch.remove(name) {
                None => None,
                Some(Value::Array(l)) => Some(l),
                Some(_) => {
                    return Err(SmpError::BadFormat(
                        "$setElementOrder refers to a field that is not a list",
                    ));
                }
            };
            let field = self.field(at, name);
            let key = field.merge_key;
            if let Some(p) = &patched {
                check_order(p, &order, key, name)?;
            }
            let server_order = live.clone().unwrap_or_default();
            let merged = match (live, patched) {
                (Some(l), None) => l,
                (None, Some(p)) => p.into_iter().filter_map(strip).collect(),
                (Some(l), Some(p)) => self.merge_list_field(l, p, &field, name, false)?,
                (None, None) => continue,
            };
            let maps = merged.first().is_some_and(Value::is_object);
            let key = if maps { key } else { None };
            let (in_order, server_only) = partition(merged, &order, key);
            original.insert(
                name.to_owned(),
                Value::Array(normalize(in_order, server_only, &order, &server_order, key)),
            );
        }
        Ok(())
    }
}

/// Whether the items of both lists are maps (`true`) or scalars; they must not be mixed.
fn element_kind(original: &[Value], patch: &[Value], name: &str) -> Result<bool, SmpError> {
    let mut kind = None;
    for v in original.iter().chain(patch) {
        if v.is_array() {
            return Err(SmpError::ListOfLists);
        }
        let this = std::mem::discriminant(v);
        match kind {
            None => kind = Some((this, v.is_object())),
            Some((k, _)) if k != this => return Err(SmpError::ElementTypes(name.to_owned())),
            Some(_) => {}
        }
    }
    Ok(kind.is_some_and(|(_, maps)| maps))
}

/// Applies `$patch: delete` and `$patch: replace` items; returns the original to merge into
/// and the patch items left to merge.
fn special_items(
    original: Vec<Value>,
    patch: &[Value],
    key: &str,
) -> Result<(Vec<Value>, Vec<Value>), SmpError> {
    let mut original = original;
    let mut plain = Vec::new();
    let mut replace = false;
    for item in patch {
        match item.get(DIRECTIVE) {
            None => plain.push(item.clone()),
            Some(d) if d == "delete" => {
                let Some(k) = item.get(key) else {
                    return Err(SmpError::NoMergeKey {
                        item: item.to_string(),
                        key: key.to_owned(),
                    });
                };
                original.retain(|o| o.get(key) != Some(k));
            }
            Some(d) if d == "replace" => replace = true,
            Some(d) if d == "merge" => return Err(SmpError::MergeList),
            Some(d) => return Err(SmpError::BadPatchType(d.to_string())),
        }
    }
    if replace {
        return Ok((plain.into_iter().filter_map(strip).collect(), Vec::new()));
    }
    Ok((original, plain))
}

/// Checks that the patch's items appear in the same relative order as in `$setElementOrder`.
fn check_order(
    patch: &[Value],
    order: &[Value],
    key: Option<&str>,
    name: &str,
) -> Result<(), SmpError> {
    let items: Vec<&Value> = patch
        .iter()
        .filter(|v| v.get(DIRECTIVE).is_none())
        .collect();
    let (mut i, mut j) = (0, 0);
    while i < items.len() && j < order.len() {
        if same(items[i], &order[j], key) {
            i += 1;
        }
        j += 1;
    }
    if i < items.len() {
        Err(SmpError::ElementOrder(name.to_owned()))
    } else {
        Ok(())
    }
}

/// Items equal by merge key (maps) or by value (scalars).
fn same(a: &Value, b: &Value, key: Option<&str>) -> bool {
    match key {
        Some(k) => a.get(k).is_some() && a.get(k) == b.get(k),
        None => a == b,
    }
}

fn index(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    list.iter().position(|v| same(v, item, key))
}

/// Splits merged items into those present in `by` and the others (server-only), keeping order.
fn partition(merged: Vec<Value>, by: &[Value], key: Option<&str>) -> (Vec<Value>, Vec<Value>) {
    merged
        .into_iter()
        .partition(|v| index(by, v, key).is_some())
}

/// Sorts patch items by `patch_order` and server-only items by `server_order`, then
/// interleaves them: a server-only item goes first only when both are in the live list and it
/// came earlier there.
fn normalize(
    mut in_patch: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    in_patch.sort_by_key(|v| index(patch_order, v, key).unwrap_or(usize::MAX));
    server_only.sort_by_key(|v| index(server_order, v, key).unwrap_or(usize::MAX));
    let mut out = Vec::with_capacity(in_patch.len() + server_only.len());
    let (mut left, mut right) = (
        server_only.into_iter().peekable(),
        in_patch.into_iter().peekable(),
    );
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                match (index(server_order, l, key), index(server_order, r, key)) {
                    (Some(li), Some(ri)) => li < ri,
                    _ => false,
                }
            }
        };
        out.extend(if take_left { left.next() } else { right.next() });
    }
    out
}
