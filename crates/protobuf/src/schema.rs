//! The shape of the generated message table and look-ups into it.
//!
//! Every Kubernetes protobuf message is a [`Message`]: a name (the OpenAPI definition name, e.g.
//! `io.k8s.api.core.v1.Pod`), a [`Special`] JSON form, and its fields by tag. The table itself
//! lives in `generated.rs`.

use crate::generated::{KINDS, MESSAGES};

/// How a message appears in Kubernetes JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special {
    /// An object with one member per field.
    Plain,
    /// `metav1.Time`: `{seconds, nanos}` as an RFC 3339 string with seconds precision.
    Time,
    /// `metav1.MicroTime`: `{seconds, nanos}` as an RFC 3339 string with microseconds.
    MicroTime,
    /// `metav1.Duration`: nanoseconds as a Go duration string (`"1h2m3s"`).
    Duration,
    /// `resource.Quantity`: its string.
    Quantity,
    /// `intstr.IntOrString`: `{type, intVal, strVal}` as a number or a string.
    IntOrString,
    /// `runtime.RawExtension`, `metav1.FieldsV1`, apiextensions `JSON`: raw JSON bytes in field 1.
    RawJson,
    /// A Go named `[]string` with its own message (`metav1.Verbs`): a JSON array of the
    /// repeated strings in field 1.
    Strings,
}

/// The type of a field's values (`M(i)` is `MESSAGES[i]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    Str,
    Bytes,
    Bool,
    I32,
    I64,
    F64,
    M(u16),
}

/// How many values a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Card {
    /// Optional single value.
    Opt,
    /// Single value that k8s-openapi always serializes.
    Req,
    /// A JSON array.
    Rep,
    /// A JSON object keyed by string (protobuf map entries with key 1, value 2).
    Map,
    /// A Go struct embedded with `json:",inline"`: its members sit in the outer object.
    Inline,
}

/// One protobuf field and its JSON name.
#[derive(Debug)]
pub(crate) struct Field {
    pub tag: u32,
    pub json: &'static str,
    pub ty: Type,
    pub card: Card,
}

/// One protobuf message.
#[derive(Debug)]
pub(crate) struct Message {
    pub name: &'static str,
    pub special: Special,
    /// Sorted by tag.
    pub fields: &'static [Field],
}

/// Table constructor for a field (keeps the generated file short).
pub(crate) const fn f(tag: u32, json: &'static str, ty: Type, card: Card) -> Field {
    Field {
        tag,
        json,
        ty,
        card,
    }
}

/// Table constructor for a message.
pub(crate) const fn m(name: &'static str, special: Special, fields: &'static [Field]) -> Message {
    Message {
        name,
        special,
        fields,
    }
}

impl Message {
    /// The field with protobuf tag `tag`.
    pub(crate) fn by_tag(&self, tag: u32) -> Option<&'static Field> {
        let i = self.fields.binary_search_by_key(&tag, |f| f.tag).ok()?;
        self.fields.get(i)
    }
}

/// The message at `index`; the generated table only refers to indices that exist.
pub(crate) fn message(index: u16) -> Option<&'static Message> {
    MESSAGES.get(usize::from(index))
}

/// The message with OpenAPI definition name `name`.
pub(crate) fn message_named(name: &str) -> Option<&'static Message> {
    let i = MESSAGES.binary_search_by(|m| m.name.cmp(name)).ok()?;
    MESSAGES.get(i)
}

/// The message of the object with this `apiVersion` and `kind`.
///
/// `meta/v1` kinds that every group version carries (`Status`, `DeleteOptions`, `Table`,
/// `WatchEvent`, `PartialObjectMetadata`, ...) match by kind under any apiVersion.
pub(crate) fn message_for_kind(api_version: &str, kind: &str) -> Option<&'static Message> {
    if let Ok(i) = KINDS.binary_search_by(|(v, k, _)| (*v, *k).cmp(&(api_version, kind))) {
        return KINDS.get(i).and_then(|(_, _, m)| message(*m));
    }
    if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    message_named(&format!("io.k8s.apimachinery.pkg.apis.meta.v1.{kind}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_references_resolve() {
        assert!(MESSAGES.windows(2).all(|w| w[0].name < w[1].name));
        assert!(
            KINDS
                .windows(2)
                .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
        );
        for m in MESSAGES {
            assert!(
                m.fields.windows(2).all(|w| w[0].tag < w[1].tag),
                "{}",
                m.name
            );
            for f in m.fields {
                if let Type::M(i) = f.ty {
                    assert!(message(i).is_some(), "{}.{}", m.name, f.json);
                }
            }
        }
    }

    #[test]
    fn kinds_resolve() {
        let cases = [
            ("v1", "Pod", "io.k8s.api.core.v1.Pod"),
            ("v1", "ConfigMapList", "io.k8s.api.core.v1.ConfigMapList"),
            ("apps/v1", "Deployment", "io.k8s.api.apps.v1.Deployment"),
            ("autoscaling/v1", "Scale", "io.k8s.api.autoscaling.v1.Scale"),
            (
                "v1",
                "Status",
                "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
            ),
            (
                "apps/v1",
                "DeleteOptions",
                "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
            ),
        ];
        for (v, k, want) in cases {
            assert_eq!(
                message_for_kind(v, k).map(|m| m.name),
                Some(want),
                "{v} {k}"
            );
        }
        assert!(message_for_kind("v1", "Nope").is_none());
        assert!(message_for_kind("v1", "../x").is_none());
    }
}
