//! Lists: consistent reads at one revision, selectors, and `limit`/`continue` pages.
//!
//! Items are copied from the store's bytes with their resource version spliced in; objects are
//! parsed only when a selector needs to look inside them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use gantry_store::{KeyValue, prefix_end};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Storage, subject};
use crate::error::{ApiError, ApiResult};
use crate::object::{self, labels};
use crate::query::Query;
use crate::registry::{ResourceDef, strategy::field_string};

/// One page of a list, already encoded as the `...List` JSON body.
pub struct ListPage {
    pub body: Vec<u8>,
    pub revision: i64,
}

#[derive(Serialize, Deserialize)]
struct ContinueToken {
    v: String,
    rv: i64,
    start: String,
}

fn encode_continue(rv: i64, start: &str) -> String {
    let token = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: start.into(),
    };
    URL_SAFE.encode(serde_json::to_vec(&token).unwrap_or_default())
}

fn decode_continue(token: &str) -> ApiResult<ContinueToken> {
    let bad = || {
        ApiError::BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into())
    };
    let bytes = URL_SAFE.decode(token).map_err(|_| bad())?;
    let token: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if token.v != "meta.k8s.io/v1" || token.rv <= 0 || token.start.contains("..") {
        return Err(bad());
    }
    Ok(token)
}

/// Whether a stored object passes the query's selectors.
pub(crate) fn matches(obj: &Value, q: &Query) -> bool {
    (q.label_selector.is_empty() || q.label_selector.matches(&labels(obj)))
        && (q.field_selector.is_empty()
            || q.field_selector.matches(|field| match field {
                "metadata.name" => object::meta_str(obj, "name").map(String::from),
                "metadata.namespace" => object::meta_str(obj, "namespace").map(String::from),
                other => field_string(obj, other),
            }))
}

/// Refuses field selectors on fields the resource does not support, as upstream does.
pub(crate) fn check_field_selector(def: &ResourceDef, q: &Query) -> ApiResult<()> {
    for field in q.field_selector.fields() {
        let supported = matches!(field, "metadata.name" | "metadata.namespace")
            || def.strategy.selectable_fields().contains(&field);
        if !supported {
            return Err(ApiError::BadRequest(format!(
                "field label not supported: {field}"
            )));
        }
    }
    Ok(())
}

impl Storage {
    /// The read revision and start key for a list request.
    fn list_start(&self, def: &ResourceDef, prefix: &str, q: &Query) -> ApiResult<(i64, String)> {
        if let Some(token) = &q.continue_token {
            let token = decode_continue(token)?;
            return Ok((token.rv, format!("{prefix}{}", token.start)));
        }
        let rev = match (q.exact_revision()?, q.resource_version_match.as_deref()) {
            (Some(rv), Some("Exact")) => rv,
            (_, Some("Exact" | "NotOlderThan") | None) => 0,
            (_, Some(other)) => {
                return Err(ApiError::BadRequest(format!(
                    "resourceVersionMatch: Unsupported value: {other:?}"
                )));
            }
        };
        let _ = def;
        Ok((rev, prefix.to_string()))
    }

    /// Lists a collection into the `...List` body, one page of at most `q.limit` items.
    pub async fn list(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        q: &Query,
    ) -> ApiResult<ListPage> {
        check_field_selector(def, q)?;
        let prefix = def.collection_key(ns);
        let end = prefix_end(&prefix);
        let (mut rev, mut start) = self.list_start(def, &prefix, q)?;
        let filtering = !q.label_selector.is_empty() || !q.field_selector.is_empty();
        // One buffer, written once: items first, list metadata (known at the end) last.
        let mut body: Vec<u8> = Vec::with_capacity(64 * 1024);
        body.extend_from_slice(
            format!(
                "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"items\":[",
                def.kind,
                def.api_version()
            )
            .as_bytes(),
        );
        let mut count = 0usize;
        let mut next: Option<String> = None;
        let chunk = if q.limit == 0 {
            0
        } else {
            q.limit.max(if filtering { 500 } else { 0 })
        };
        loop {
            let page = self
                .store
                .range(&start, &end, rev, chunk)
                .await
                .map_err(|e| match e {
                    gantry_store::StoreError::Compacted { .. } if q.continue_token.is_some() => ApiError::Gone(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.".into(),
                    ),
                    other => ApiError::from_store(other, &subject(def, "")),
                })?;
            rev = page.revision;
            let mut last_key: Option<&KeyValue> = None;
            for kv in &page.kvs {
                last_key = Some(kv);
                if filtering {
                    let obj = def.decode(&kv.value, kv.mod_revision)?;
                    if !matches(&obj, q) {
                        continue;
                    }
                }
                if count > 0 {
                    body.push(b',');
                }
                def.render_into(&mut body, &kv.value, kv.mod_revision);
                count += 1;
                if q.limit > 0 && count == q.limit {
                    break;
                }
            }
            let stopped_early =
                last_key.is_some_and(|k| page.kvs.last().is_some_and(|l| l.key != k.key));
            let more = page.more || stopped_early;
            if q.limit > 0 && count == q.limit {
                if more {
                    let last = last_key.map(|k| k.key.clone()).unwrap_or_default();
                    next = Some(format!("{}\u{0}", &last[prefix.len().min(last.len())..]));
                }
                break;
            }
            match (more, page.kvs.last()) {
                (true, Some(last)) => start = format!("{}\u{0}", last.key),
                _ => break,
            }
        }
        let mut meta = serde_json::json!({ "resourceVersion": rev.to_string() });
        if let Some(start) = next {
            // As upstream: the count of what is left is known only for an unfiltered list.
            if !filtering {
                let rest = self
                    .store
                    .range(&format!("{prefix}{start}"), &end, rev, 0)
                    .await
                    .map_err(|e| ApiError::from_store(e, &subject(def, "")))?;
                meta["remainingItemCount"] = Value::from(rest.kvs.len());
            }
            meta["continue"] = Value::String(encode_continue(rev, &start));
        }
        body.extend_from_slice(b"],\"metadata\":");
        body.extend_from_slice(meta.to_string().as_bytes());
        body.push(b'}');
        Ok(ListPage {
            body,
            revision: rev,
        })
    }

    /// Every object of a collection matching the query's selectors, parsed (no paging).
    pub async fn list_objects(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        q: &Query,
    ) -> ApiResult<Vec<Value>> {
        check_field_selector(def, q)?;
        let prefix = def.collection_key(ns);
        let page = self
            .store
            .range(&prefix, &prefix_end(&prefix), 0, 0)
            .await
            .map_err(|e| ApiError::from_store(e, &subject(def, "")))?;
        let mut out = Vec::new();
        for kv in page.kvs {
            let obj = def.decode(&kv.value, kv.mod_revision)?;
            if matches(&obj, q) {
                out.push(obj);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let t = decode_continue(&encode_continue(42, "default/web-1\u{0}")).unwrap();
        assert_eq!((t.rv, t.start.as_str()), (42, "default/web-1\u{0}"));
        for bad in [
            "",
            "!!!",
            &URL_SAFE.encode(b"{\"v\":\"x\",\"rv\":1,\"start\":\"a\"}"),
            &URL_SAFE.encode(b"{\"v\":\"meta.k8s.io/v1\",\"rv\":0,\"start\":\"a\"}"),
        ] {
            assert_eq!(
                decode_continue(bad)
                    .map(|_| ())
                    .map_err(|e| e.code_reason().0),
                Err(400),
                "{bad}"
            );
        }
    }
}
