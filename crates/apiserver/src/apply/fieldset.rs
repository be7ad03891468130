//! Sets of field paths (structured-merge-diff's `fieldpath.Set`) and their FieldsV1 encoding.
//!
//! A set is a tree keyed by path elements written as in FieldsV1: `f:name` (a field or map
//! entry), `k:{"name":"x"}` (a list-map item by its keys), `v:"x"` (a set item by value) and
//! `i:0` (an index). A node is a *member* when the path to it is in the set; in FieldsV1 a
//! member with children carries a `.` entry.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::ApplyError;

/// One node of a field set: whether its own path is a member, and its children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    pub member: bool,
    pub children: BTreeMap<String, FieldSet>,
}

/// The element naming field `name`.
pub fn field(name: &str) -> String {
    format!("f:{name}")
}

/// The element naming a set item by its value.
pub fn value(v: &Value) -> String {
    format!("v:{v}")
}

/// The element naming a list-map item by its key fields (`None` when a key is missing).
/// A missing `protocol` key is its schema default `TCP` (ports), as upstream fills key
/// defaults in.
pub fn key(item: &Value, keys: &[String]) -> Option<String> {
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort();
    let mut parts = Vec::with_capacity(keys.len());
    let tcp = Value::String("TCP".into());
    for k in sorted {
        let v = match item.get(k.as_str()) {
            Some(v) => v,
            None if k == "protocol" => &tcp,
            None => return None,
        };
        parts.push(format!("{}:{v}", Value::String(k.clone())));
    }
    Some(format!("k:{{{}}}", parts.join(",")))
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    /// Adds the path `elements` as a member.
    pub fn insert(&mut self, elements: &[String]) {
        let mut node = self;
        for e in elements {
            node = node.children.entry(e.clone()).or_default();
        }
        node.member = true;
    }

    /// Whether `elements` is a member.
    pub fn has(&self, elements: &[String]) -> bool {
        let mut node = self;
        for e in elements {
            match node.children.get(e) {
                Some(child) => node = child,
                None => return false,
            }
        }
        node.member
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.member |= other.member;
        for (e, child) in &other.children {
            let merged = match out.children.get(e) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(e.clone(), merged);
        }
        out
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (e, child) in &self.children {
            let rest = match other.children.get(e) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(e.clone(), rest);
            }
        }
        out
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (e, child) in &self.children {
            if let Some(theirs) = other.children.get(e) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    out.children.insert(e.clone(), both);
                }
            }
        }
        out
    }

    /// Every member path, in order.
    pub fn paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        self.collect(&mut prefix, &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (e, child) in &self.children {
            prefix.push(e.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The FieldsV1 JSON of this set.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".into(), Value::Object(Map::new()));
        }
        for (e, child) in &self.children {
            map.insert(e.clone(), child.to_fields_v1());
        }
        Value::Object(map)
    }

    /// Reads a FieldsV1 JSON object (the root itself is never a member).
    pub fn from_fields_v1(v: &Value) -> Result<FieldSet, ApplyError> {
        let mut set = FieldSet::decode_node(v)?;
        set.member = false;
        Ok(set)
    }

    fn decode_node(v: &Value) -> Result<FieldSet, ApplyError> {
        let Value::Object(map) = v else {
            return Err(ApplyError::FieldsV1(format!("expected an object, got {v}")));
        };
        let mut set = FieldSet {
            member: map.is_empty(),
            children: BTreeMap::new(),
        };
        for (e, child) in map {
            if e == "." {
                set.member = true;
                continue;
            }
            if !["f:", "k:", "v:", "i:"].iter().any(|p| e.starts_with(p)) {
                return Err(ApplyError::FieldsV1(format!("unknown path element {e:?}")));
            }
            set.children
                .insert(e.clone(), FieldSet::decode_node(child)?);
        }
        Ok(set)
    }
}

/// A path as upstream prints it in conflicts: `.spec.containers[name="web"].image`.
pub fn display(path: &[String]) -> String {
    let mut out = String::new();
    for e in path {
        let (kind, rest) = e.split_at(2.min(e.len()));
        match kind {
            "f:" => {
                out.push('.');
                out.push_str(rest);
            }
            "k:" => {
                let fields: Map<String, Value> = serde_json::from_str(rest).unwrap_or_default();
                let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push_str(&format!("[{}]", parts.join(",")));
            }
            "v:" => out.push_str(&format!("[={rest}]")),
            _ => out.push_str(&format!("[{rest}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(paths: &[&[&str]]) -> FieldSet {
        let mut s = FieldSet::default();
        for p in paths {
            let p: Vec<String> = p.iter().map(|e| e.to_string()).collect();
            s.insert(&p);
        }
        s
    }

    #[test]
    fn fields_v1_round_trips() {
        let cases = [
            json!({"f:spec": {"f:replicas": {}}}),
            json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}),
            json!({"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}}),
            json!({"f:metadata": {"f:finalizers": {"v:\"a\"": {}}}}),
        ];
        for fields in cases {
            let s = FieldSet::from_fields_v1(&fields).unwrap();
            assert_eq!(s.to_fields_v1(), fields);
        }
        assert!(FieldSet::from_fields_v1(&json!({"x:y": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"f:y": 1})).is_err());
    }

    #[test]
    fn elements_and_display() {
        let item = json!({"containerPort": 80, "protocol": "TCP", "name": "http"});
        let keys = vec!["protocol".to_string(), "containerPort".to_string()];
        assert_eq!(
            key(&item, &keys).unwrap(),
            r#"k:{"containerPort":80,"protocol":"TCP"}"#
        );
        assert_eq!(key(&item, &["nope".to_string()]), None);
        assert_eq!(value(&json!("a")), r#"v:"a""#);
        let path: Vec<String> = vec![field("spec"), r#"k:{"name":"web"}"#.into(), field("image")];
        assert_eq!(display(&path), r#".spec[name="web"].image"#);
        assert_eq!(display(&[field("f"), value(&json!("x"))]), r#".f[="x"]"#);
    }

    #[test]
    fn set_operations_table() {
        let a = set(&[&["f:a", "f:b"], &["f:a", "f:c"], &["f:d"]]);
        let b = set(&[&["f:a", "f:b"], &["f:e"]]);
        let cases = [
            (
                a.union(&b),
                set(&[&["f:a", "f:b"], &["f:a", "f:c"], &["f:d"], &["f:e"]]),
            ),
            (a.difference(&b), set(&[&["f:a", "f:c"], &["f:d"]])),
            (a.intersection(&b), set(&[&["f:a", "f:b"]])),
            (b.difference(&a), set(&[&["f:e"]])),
        ];
        for (i, (got, want)) in cases.into_iter().enumerate() {
            assert_eq!(got, want, "case {i}");
        }
        assert!(a.has(&["f:a".into(), "f:c".into()]) && !a.has(&["f:a".into()]));
        assert_eq!(a.paths().len(), 3);
    }
}
