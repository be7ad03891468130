//! Query parameters of resource requests, parsed once per request.

use crate::error::{ApiError, ApiResult};
use crate::selector::{FieldSelector, LabelSelector};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

#[derive(Debug, Default)]
pub struct Query {
    pub watch: bool,
    pub label_selector: LabelSelector,
    pub field_selector: FieldSelector,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub limit: usize,
    pub continue_token: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub allow_watch_bookmarks: bool,
    /// `sendInitialEvents` (the watch-list mode of newer clients).
    pub send_initial_events: Option<bool>,
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    pub field_manager: Option<String>,
    /// `force` (server-side apply takes fields other managers own).
    pub force: bool,
    /// The request's User-Agent, naming the manager of writes without `fieldManager`; `None`
    /// for the server's own writes (not tracked in managedFields).
    pub user_agent: Option<String>,
    /// The request is a server-side apply: it records its own managedFields.
    pub apply: bool,
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub pretty: bool,
    /// `includeObject` for Table responses.
    pub include_object: Option<crate::response::IncludeObject>,
}

/// A boolean parameter as upstream converts it: `0` and `false` in any case are false, any
/// other value (`True` from the Python client, the empty value of a bare `?watch`) is true.
fn parse_bool(_key: &str, value: &str) -> ApiResult<bool> {
    Ok(!(value == "0" || value.eq_ignore_ascii_case("false")))
}

fn parse_num<T: std::str::FromStr>(key: &str, value: &str) -> ApiResult<T> {
    value
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("invalid value for {key}: {value:?}")))
}

impl Query {
    pub fn parse(raw: Option<&str>) -> ApiResult<Query> {
        let mut q = Query::default();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "watch" => q.watch = parse_bool(&key, &value)?,
                "labelSelector" => {
                    q.label_selector = LabelSelector::parse(&value)
                        .map_err(|e| ApiError::BadRequest(e.to_string()))?
                }
                "fieldSelector" => {
                    q.field_selector = FieldSelector::parse(&value)
                        .map_err(|e| ApiError::BadRequest(e.to_string()))?
                }
                "resourceVersion" if !value.is_empty() => {
                    q.resource_version = Some(value.into_owned())
                }
                "resourceVersionMatch" if !value.is_empty() => {
                    q.resource_version_match = Some(value.into_owned())
                }
                "limit" => q.limit = parse_num::<i64>(&key, &value)?.max(0) as usize,
                "continue" if !value.is_empty() => q.continue_token = Some(value.into_owned()),
                "timeoutSeconds" => q.timeout_seconds = Some(parse_num(&key, &value)?),
                "allowWatchBookmarks" => q.allow_watch_bookmarks = parse_bool(&key, &value)?,
                "sendInitialEvents" => q.send_initial_events = Some(parse_bool(&key, &value)?),
                "dryRun" => {
                    if value != "All" {
                        return Err(ApiError::BadRequest(format!(
                            "Invalid dryRun value: {value:?}: supported values: \"All\""
                        )));
                    }
                    q.dry_run = true
                }
                "fieldValidation" => {
                    q.field_validation = match value.as_ref() {
                        "Ignore" => FieldValidation::Ignore,
                        "Warn" | "" => FieldValidation::Warn,
                        "Strict" => FieldValidation::Strict,
                        other => {
                            return Err(ApiError::BadRequest(format!(
                                "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {other:?}"
                            )));
                        }
                    }
                }
                "fieldManager" => q.field_manager = Some(value.into_owned()),
                "force" => q.force = parse_bool(&key, &value)?,
                "gracePeriodSeconds" => q.grace_period_seconds = Some(parse_num(&key, &value)?),
                "propagationPolicy" => q.propagation_policy = Some(value.into_owned()),
                "pretty" => q.pretty = parse_bool(&key, &value)?,
                "includeObject" => {
                    use crate::response::IncludeObject;
                    q.include_object = Some(match value.as_ref() {
                        "None" => IncludeObject::None,
                        "Metadata" | "" => IncludeObject::Metadata,
                        "Object" => IncludeObject::Object,
                        other => {
                            return Err(ApiError::BadRequest(format!(
                                "includeObject must be None, Metadata or Object, got {other:?}"
                            )));
                        }
                    })
                }
                _ => {}
            }
        }
        Ok(q)
    }

    /// The resource version as a revision, when it names one ("" and "0" do not).
    pub fn exact_revision(&self) -> ApiResult<Option<i64>> {
        match self.resource_version.as_deref() {
            None | Some("0") => Ok(None),
            Some(rv) => rv
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_parameters() {
        let q = Query::parse(Some("watch=1&labelSelector=app%3Dweb&limit=500&resourceVersion=12&dryRun=All&fieldValidation=Strict&timeoutSeconds=5")).unwrap();
        assert!(q.watch && q.dry_run);
        assert_eq!(q.limit, 500);
        assert_eq!(q.exact_revision().unwrap(), Some(12));
        assert_eq!(q.field_validation, FieldValidation::Strict);
        assert_eq!(q.timeout_seconds, Some(5));
        assert!(!q.label_selector.is_empty());
    }

    #[test]
    fn bad_values_are_400() {
        for raw in [
            "limit=x",
            "dryRun=Some",
            "fieldValidation=Loud",
            "labelSelector=a%20b",
            "resourceVersion=abc",
        ] {
            let parsed = Query::parse(Some(raw)).and_then(|q| q.exact_revision().map(|_| q));
            assert_eq!(
                parsed.map(|_| ()).map_err(|e| e.code_reason().0),
                Err(400),
                "{raw}"
            );
        }
        assert!(Query::parse(Some("watch")).unwrap().watch);
    }

    #[test]
    fn booleans_convert_as_upstream() {
        for (raw, want) in [
            ("True", true),
            ("TRUE", true),
            ("t", true),
            ("1", true),
            ("yes", true),
            ("False", false),
            ("FALSE", false),
            ("0", false),
        ] {
            assert_eq!(
                Query::parse(Some(&format!("watch={raw}"))).unwrap().watch,
                want,
                "watch={raw}"
            );
        }
    }
}
