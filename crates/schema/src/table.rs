//! The merge metadata of built-in fields: the generated table plus hand-maintained
//! exceptions, looked up by `(schema name, JSON field)`.

use crate::generated::ROWS;

/// How a list, map or struct field is merged (its `x-kubernetes-list-type` /
/// `x-kubernetes-map-type` / structure type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collection {
    /// A plain field: no list, map or struct marker.
    Plain,
    /// `x-kubernetes-list-type: atomic`: the list is replaced as a whole.
    ListAtomic,
    /// `x-kubernetes-list-type: set`: a list of unique scalars.
    ListSet,
    /// `x-kubernetes-list-type: map` with its `x-kubernetes-list-map-keys`.
    ListMap(&'static [&'static str]),
    /// `x-kubernetes-map-type: atomic`.
    MapAtomic,
    /// `x-kubernetes-map-type: granular`.
    MapGranular,
    /// `x-kubernetes-map-type: atomic` on a struct.
    StructAtomic,
    /// `x-kubernetes-map-type: granular` on a struct.
    StructGranular,
}

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub schema: &'static str,
    pub field: &'static str,
    pub collection: Collection,
    /// `x-kubernetes-patch-strategy`: `""`, `"merge"`, `"retainKeys"`, `"merge,retainKeys"`
    /// or `"replace"`.
    pub patch_strategy: &'static str,
    /// `x-kubernetes-patch-merge-key`, `""` when none.
    pub merge_key: &'static str,
}

/// Row constructor used by the generated table.
pub(crate) const fn r(
    schema: &'static str,
    field: &'static str,
    collection: Collection,
    patch_strategy: &'static str,
    merge_key: &'static str,
) -> Row {
    Row {
        schema,
        field,
        collection,
        patch_strategy,
        merge_key,
    }
}

/// Fields whose upstream struct tags differ from what the generator can read; they win over
/// the generated rows. Empty while the k8s-pb markers agree with upstream's tags (checked by
/// the tests of the known cases below).
const EXCEPTIONS: &[Row] = &[];

/// The merge metadata of one field, if it has any.
pub fn lookup(schema: &str, field: &str) -> Option<&'static Row> {
    if let Some(row) = EXCEPTIONS
        .iter()
        .find(|r| r.schema == schema && r.field == field)
    {
        return Some(row);
    }
    ROWS.binary_search_by(|r| (r.schema, r.field).cmp(&(schema, field)))
        .ok()
        .map(|i| &ROWS[i])
}

/// Every row (generated rows, then exceptions), e.g. to annotate OpenAPI schemas.
pub fn rows() -> impl Iterator<Item = &'static Row> {
    ROWS.iter()
        .filter(|r| lookup(r.schema, r.field) == Some(r))
        .chain(EXCEPTIONS.iter())
}

impl Row {
    /// Whether lists of this field merge (patch strategy contains `merge`).
    pub fn merges(&self) -> bool {
        self.patch_strategy.split(',').any(|s| s == "merge")
    }

    /// Whether the strategy is `replace` (maps are replaced, not merged).
    pub fn replaces(&self) -> bool {
        self.patch_strategy.split(',').any(|s| s == "replace")
    }

    /// The upstream OpenAPI extensions of this field, as `(name, value)` pairs.
    pub fn extensions(&self) -> Vec<(&'static str, serde_json::Value)> {
        use serde_json::json;
        let mut out = Vec::new();
        if !self.merge_key.is_empty() {
            out.push(("x-kubernetes-patch-merge-key", json!(self.merge_key)));
        }
        if !self.patch_strategy.is_empty() {
            out.push(("x-kubernetes-patch-strategy", json!(self.patch_strategy)));
        }
        match self.collection {
            Collection::Plain | Collection::StructGranular => {}
            Collection::ListAtomic => out.push(("x-kubernetes-list-type", json!("atomic"))),
            Collection::ListSet => out.push(("x-kubernetes-list-type", json!("set"))),
            Collection::ListMap(keys) => {
                out.push(("x-kubernetes-list-type", json!("map")));
                out.push(("x-kubernetes-list-map-keys", json!(keys)));
            }
            Collection::MapAtomic | Collection::StructAtomic => {
                out.push(("x-kubernetes-map-type", json!("atomic")));
            }
            Collection::MapGranular => out.push(("x-kubernetes-map-type", json!("granular"))),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(schema: &str, field: &str) -> (Collection, &'static str, &'static str) {
        let r = lookup(&format!("io.k8s.{schema}"), field)
            .unwrap_or_else(|| panic!("{schema}.{field}"));
        (r.collection, r.patch_strategy, r.merge_key)
    }

    #[test]
    fn known_upstream_fields() {
        use Collection::*;
        let cases = [
            (
                "api.core.v1.PodSpec",
                "containers",
                (ListMap(&["name"]), "merge", "name"),
            ),
            (
                "api.core.v1.PodSpec",
                "volumes",
                (ListMap(&["name"]), "merge,retainKeys", "name"),
            ),
            ("api.core.v1.PodSpec", "tolerations", (ListAtomic, "", "")),
            (
                "api.core.v1.PodSpec",
                "imagePullSecrets",
                (ListMap(&["name"]), "merge", "name"),
            ),
            (
                "api.core.v1.Container",
                "env",
                (ListMap(&["name"]), "merge", "name"),
            ),
            (
                "api.core.v1.Container",
                "ports",
                (
                    ListMap(&["containerPort", "protocol"]),
                    "merge",
                    "containerPort",
                ),
            ),
            (
                "api.core.v1.Container",
                "volumeMounts",
                (ListMap(&["mountPath"]), "merge", "mountPath"),
            ),
            ("api.core.v1.Container", "args", (ListAtomic, "", "")),
            (
                "api.core.v1.ServiceSpec",
                "ports",
                (ListMap(&["port", "protocol"]), "merge", "port"),
            ),
            (
                "apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "finalizers",
                (ListSet, "merge", ""),
            ),
            (
                "apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "ownerReferences",
                (ListMap(&["uid"]), "merge", "uid"),
            ),
            (
                "api.apps.v1.DeploymentSpec",
                "strategy",
                (Plain, "retainKeys", ""),
            ),
            (
                "api.policy.v1.PodDisruptionBudgetSpec",
                "selector",
                (Plain, "replace", ""),
            ),
            (
                "api.core.v1.PodStatus",
                "conditions",
                (ListMap(&["type"]), "merge", "type"),
            ),
        ];
        for (schema, field, want) in cases {
            assert_eq!(row(schema, field), want, "{schema}.{field}");
        }
        assert_eq!(lookup("io.k8s.api.core.v1.PodSpec", "hostname"), None);
    }

    #[test]
    fn rows_are_sorted_and_unique() {
        for pair in ROWS.windows(2) {
            assert!(
                (pair[0].schema, pair[0].field) < (pair[1].schema, pair[1].field),
                "{pair:?}"
            );
        }
    }
}
