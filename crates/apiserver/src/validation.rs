//! Validation shared by every resource: names and object metadata.

use serde_json::Value;

use crate::error::FieldError;
use crate::registry::NameRule;

fn is_label_chars(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && is_label_chars(s)
}

pub fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.')
            .all(|part| !part.is_empty() && is_label_chars(part))
}

fn is_path_segment(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '%'])
}

/// Checks `name` against a rule; the error message is upstream's wording.
pub fn check_name(rule: NameRule, name: &str) -> Result<(), String> {
    let (ok, what) = match rule {
        NameRule::Subdomain => (
            is_dns1123_subdomain(name),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
        NameRule::Label => (
            is_dns1123_label(name),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ),
        NameRule::Label1035 => (
            is_dns1035_label(name),
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        ),
        NameRule::PathSegment => (
            is_path_segment(name),
            "may not be '.' or '..' and may not contain '/' or '%'",
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("Invalid value: \"{name}\": {what}"))
    }
}

/// A label or annotation key: `[prefix/]name`, prefix a DNS subdomain, name 1-63 characters.
fn is_qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    prefix.is_none_or(is_dns1123_subdomain)
        && !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn is_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// Validates `metadata` (name, labels, annotations) of an object about to be stored.
pub fn validate_metadata(obj: &Value, rule: NameRule) -> Vec<FieldError> {
    let meta = &obj["metadata"];
    let mut errors = Vec::new();
    match meta["name"].as_str() {
        None | Some("") => errors.push(FieldError::required("metadata.name")),
        Some(name) => {
            if let Err(msg) = check_name(rule, name) {
                errors.push(FieldError::invalid("metadata.name", msg));
            }
        }
    }
    for (key, value) in meta["labels"].as_object().into_iter().flatten() {
        if !is_qualified_name(key) {
            errors.push(FieldError::invalid("metadata.labels", format!("Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")));
        }
        if !value.as_str().is_some_and(is_label_value) {
            errors.push(FieldError::invalid("metadata.labels", format!("Invalid value: {value}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")));
        }
    }
    let mut annotation_bytes = 0;
    for (key, value) in meta["annotations"].as_object().into_iter().flatten() {
        if !is_qualified_name(key) {
            errors.push(FieldError::invalid("metadata.annotations", format!("Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")));
        }
        annotation_bytes += key.len() + value.as_str().map_or(0, str::len);
    }
    if annotation_bytes > 256 * 1024 {
        errors.push(FieldError {
            reason: "FieldValueTooLong",
            field: "metadata.annotations".into(),
            message: "Too long: must have at most 262144 bytes".into(),
        });
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn name_rules_table() {
        let cases = [
            (NameRule::Subdomain, "web", true),
            (NameRule::Subdomain, "web.example.com", true),
            (NameRule::Subdomain, "Web", false),
            (NameRule::Subdomain, "-web", false),
            (NameRule::Subdomain, "web_1", false),
            (NameRule::Subdomain, "", false),
            (NameRule::Subdomain, &"a".repeat(254), false),
            (NameRule::Label, "team-a", true),
            (NameRule::Label, "team.a", false),
            (NameRule::Label, &"a".repeat(64), false),
            (NameRule::Label1035, "1web", false),
            (NameRule::Label1035, "web1", true),
            (NameRule::PathSegment, "system:controller", true),
            (NameRule::PathSegment, "a/b", false),
            (NameRule::PathSegment, "..", false),
        ];
        for (rule, name, ok) in cases {
            assert_eq!(check_name(rule, name).is_ok(), ok, "{rule:?} {name}");
        }
    }

    #[test]
    fn metadata_table() {
        let cases = [
            (
                json!({"metadata": {"name": "a", "labels": {"app": "web", "example.com/tier": ""}}}),
                0,
            ),
            (
                json!({"metadata": {"name": "a", "labels": {"bad key": "x"}}}),
                1,
            ),
            (
                json!({"metadata": {"name": "a", "labels": {"app": "not valid!"}}}),
                1,
            ),
            (
                json!({"metadata": {"name": "a", "annotations": {"note": "anything at all, even spaces"}}}),
                0,
            ),
            (json!({"metadata": {}}), 1),
        ];
        for (obj, n) in cases {
            assert_eq!(
                validate_metadata(&obj, NameRule::Subdomain).len(),
                n,
                "{obj}"
            );
        }
    }
}
