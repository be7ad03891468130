//! Label and field selectors: parsing the query-string forms and matching objects.
//!
//! Label selectors support `=`, `==`, `!=`, `in`, `notin`, `key` (exists) and `!key`; field
//! selectors support `=`, `==` and `!=` on the fields a resource's strategy exposes.

use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelRequirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<LabelRequirement>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldRequirement {
    Equals(String, String),
    NotEquals(String, String),
}

/// A parsed field selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<FieldRequirement>);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse requirement: {0}")]
pub struct SelectorError(pub String);

/// Splits on commas that are not inside parentheses.
fn split_terms(input: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&input[start..]);
    terms
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

fn valid_key(key: &str) -> bool {
    // A qualified name: optional DNS prefix and '/', then 1-63 alphanumerics, '-', '_', '.'.
    let name = key.rsplit_once('/').map_or(
        key,
        |(prefix, name)| if prefix.is_empty() { "" } else { name },
    );
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn valid_value(value: &str) -> bool {
    value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn parse_set(rest: &str, term: &str) -> Result<Vec<String>, SelectorError> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| SelectorError(term.to_string()))?;
    let values: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    if values.iter().any(|v| !valid_value(v)) {
        return Err(SelectorError(term.to_string()));
    }
    Ok(values)
}

impl LabelSelector {
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        for term in split_terms(input) {
            let err = || SelectorError(term.to_string());
            let req = if let Some(key) = term.strip_prefix('!') {
                LabelRequirement::NotExists(key.trim().to_string())
            } else if let Some((key, value)) = term.split_once("!=") {
                LabelRequirement::NotEquals(key.trim().to_string(), value.trim().to_string())
            } else if let Some((key, value)) =
                term.split_once("==").or_else(|| term.split_once('='))
            {
                LabelRequirement::Equals(key.trim().to_string(), value.trim().to_string())
            } else if let Some((key, rest)) = term.split_once(" notin ") {
                LabelRequirement::NotIn(key.trim().to_string(), parse_set(rest, term)?)
            } else if let Some((key, rest)) = term.split_once(" in ") {
                LabelRequirement::In(key.trim().to_string(), parse_set(rest, term)?)
            } else if term.contains([' ', '(', ')', '<', '>']) {
                return Err(err());
            } else {
                LabelRequirement::Exists(term.to_string())
            };
            let (key, value) = match &req {
                LabelRequirement::Equals(k, v) | LabelRequirement::NotEquals(k, v) => (k, Some(v)),
                LabelRequirement::In(k, _)
                | LabelRequirement::NotIn(k, _)
                | LabelRequirement::Exists(k)
                | LabelRequirement::NotExists(k) => (k, None),
            };
            if !valid_key(key) || value.is_some_and(|v| !valid_value(v)) {
                return Err(err());
            }
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|req| match req {
            LabelRequirement::Equals(k, v) => labels.get(k) == Some(v),
            LabelRequirement::NotEquals(k, v) => labels.get(k) != Some(v),
            LabelRequirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            LabelRequirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            LabelRequirement::Exists(k) => labels.contains_key(k),
            LabelRequirement::NotExists(k) => !labels.contains_key(k),
        })
    }
}

impl FieldSelector {
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        for term in split_terms(input) {
            let req = if let Some((k, v)) = term.split_once("!=") {
                FieldRequirement::NotEquals(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                FieldRequirement::Equals(k.trim().to_string(), v.trim().to_string())
            } else {
                return Err(SelectorError(term.to_string()));
            };
            reqs.push(req);
        }
        Ok(FieldSelector(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields this selector reads.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|r| match r {
            FieldRequirement::Equals(k, _) | FieldRequirement::NotEquals(k, _) => k.as_str(),
        })
    }

    /// `lookup` gives a field's value, `None` when the resource does not support the field.
    pub fn matches(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.0.iter().all(|req| match req {
            FieldRequirement::Equals(k, v) => lookup(k).as_deref().unwrap_or("") == v,
            FieldRequirement::NotEquals(k, v) => lookup(k).as_deref().unwrap_or("") != v,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selector_table() {
        let app_web = labels(&[("app", "web"), ("tier", "front")]);
        let cases: &[(&str, &BTreeMap<String, String>, bool)] = &[
            ("", &app_web, true),
            ("app=web", &app_web, true),
            ("app==web", &app_web, true),
            ("app=db", &app_web, false),
            ("app!=db", &app_web, true),
            ("app!=web", &app_web, false),
            ("missing!=x", &app_web, true),
            ("app in (web, db)", &app_web, true),
            ("app in (db)", &app_web, false),
            ("app notin (db)", &app_web, true),
            ("missing notin (db)", &app_web, true),
            ("app notin (web)", &app_web, false),
            ("tier", &app_web, true),
            ("!tier", &app_web, false),
            ("!missing", &app_web, true),
            ("app=web,tier=front", &app_web, true),
            ("app=web,tier=back", &app_web, false),
            ("app in (web,db),!missing", &app_web, true),
        ];
        for (sel, l, want) in cases {
            let parsed = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(parsed.matches(l), *want, "{sel}");
        }
    }

    #[test]
    fn label_selector_rejects_garbage() {
        for sel in [
            "app in web",
            "a b",
            "app=(x)",
            "-bad=x",
            "app in (a b)",
            "x=",
        ] {
            if sel == "x=" {
                // An empty value is valid: it selects objects whose label is empty.
                assert!(LabelSelector::parse(sel).is_ok());
                continue;
            }
            assert!(LabelSelector::parse(sel).is_err(), "{sel} should fail");
        }
    }

    #[test]
    fn field_selector_table() {
        let lookup = |f: &str| match f {
            "metadata.name" => Some("web".to_string()),
            "spec.nodeName" => Some(String::new()),
            _ => None,
        };
        let cases = [
            ("metadata.name=web", true),
            ("metadata.name==web", true),
            ("metadata.name!=web", false),
            ("spec.nodeName=", true),
            ("spec.nodeName!=", false),
            ("metadata.name=web,spec.nodeName=n1", false),
        ];
        for (sel, want) in cases {
            assert_eq!(
                FieldSelector::parse(sel).map(|s| s.matches(lookup)),
                Ok(want),
                "{sel}"
            );
        }
        assert!(FieldSelector::parse("nonsense").is_err());
    }
}
