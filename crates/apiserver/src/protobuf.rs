//! Protobuf answers for clients that prefer `application/vnd.kubernetes.protobuf` (client-go's
//! typed clients, controllers): buffered JSON responses re-encoded as protobuf, and watch streams
//! as length-delimited `WatchEvent` frames.
//!
//! Everything upstream serves in protobuf goes through here: objects and lists of built-in kinds,
//! `Status` errors, `PartialObjectMetadata(List)` and discovery lists. What has no protobuf form
//! (custom resources, `Table`, responses without `apiVersion`/`kind`) stays JSON, as upstream
//! falls back to the JSON entry of client-go's `Accept` list. The JSON fast paths are untouched:
//! nothing here runs unless the chosen `Accept` entry is protobuf.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Body as _, Frame};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::registry::ResourceDef;
use crate::response::{Body, Format, Response};

/// Re-encodes a complete JSON response as protobuf when its object has a protobuf form; any
/// other response (streams, non-JSON, unknown kinds) is returned as it was.
pub async fn transcode(resp: Response) -> Response {
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v == "application/json");
    if !is_json || resp.body().size_hint().exact().is_none() {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    let encoded = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| gantry_protobuf::encode(&v).ok());
    let body = match encoded {
        Some(pb) => {
            parts.headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static(gantry_protobuf::CONTENT_TYPE),
            );
            parts.headers.remove(CONTENT_LENGTH);
            Bytes::from(pb)
        }
        None => bytes,
    };
    Response::from_parts(parts, Full::new(body).boxed())
}

/// Whether a watch in `format` of `def`'s objects can be streamed as protobuf: built-in kinds
/// and metadata-only watches can, custom resources and Tables cannot.
pub fn can_stream(def: &ResourceDef, format: &Format) -> bool {
    match format {
        Format::Protobuf => gantry_protobuf::supports(&def.api_version(), def.kind),
        Format::PartialObjectMetadata | Format::PartialObjectMetadataList => true,
        _ => false,
    }
}

/// One pre-encoded JSON watch line `{"type":..,"object":..}`.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, rename = "type")]
    kind: std::borrow::Cow<'a, str>,
    object: Value,
}

/// The protobuf frame of one JSON watch line.
fn event_frame(line: &[u8]) -> Result<Bytes, String> {
    let line: Line<'_> =
        serde_json::from_slice(line).map_err(|e| format!("watch event is not JSON: {e}"))?;
    gantry_protobuf::encode_watch_frame(&line.kind, &line.object)
        .map(Bytes::from)
        .map_err(|e| format!("encoding a {} watch event as protobuf: {e}", line.kind))
}

/// A chunked protobuf watch stream; `rx` yields one JSON line per event, as the watch storage
/// produces them. An event that cannot be encoded ends the stream (the client re-watches), as
/// upstream's watch server does on an encoding error.
pub fn watch_stream(rx: mpsc::Receiver<Bytes>) -> Response {
    let stream = futures::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        let line = rx.recv().await?;
        match event_frame(&line) {
            Ok(frame) => Some((Ok::<_, Infallible>(Frame::data(frame)), Some(rx))),
            Err(e) => {
                tracing::warn!("ending protobuf watch: {e}");
                None
            }
        }
    });
    let body: Body = BodyExt::boxed(StreamBody::new(stream));
    hyper::Response::builder()
        .status(200)
        .header(CONTENT_TYPE, gantry_protobuf::WATCH_CONTENT_TYPE)
        .header("Transfer-Encoding", "chunked")
        .body(body)
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new()).boxed()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_response(code: u16, value: &Value) -> Response {
        crate::response::json(code, value)
    }

    async fn body_of(resp: Response) -> Bytes {
        match resp.into_body().collect().await {
            Ok(c) => c.to_bytes(),
            Err(never) => match never {},
        }
    }

    #[tokio::test]
    async fn built_in_objects_and_statuses_become_protobuf() {
        let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "NotFound", "code": 404});
        let resp = transcode(json_response(404, &status)).await;
        assert_eq!(resp.status(), 404);
        assert_eq!(resp.headers()[CONTENT_TYPE], gantry_protobuf::CONTENT_TYPE);
        let body = body_of(resp).await;
        assert_eq!(gantry_protobuf::decode(&body).ok(), Some(status));
    }

    #[tokio::test]
    async fn what_has_no_protobuf_stays_json() {
        let cases = [
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
            json!({"apiVersion": "meta.k8s.io/v1", "kind": "Table", "columnDefinitions": [], "rows": []}),
            json!({"major": "1", "minor": "33"}),
        ];
        for value in cases {
            let resp = transcode(json_response(200, &value)).await;
            assert_eq!(resp.headers()[CONTENT_TYPE], "application/json", "{value}");
            assert_eq!(body_of(resp).await, value.to_string().into_bytes());
        }
    }

    #[tokio::test]
    async fn watch_lines_become_frames() {
        let (tx, rx) = mpsc::channel(4);
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "resourceVersion": "3"}});
        let line = format!("{{\"type\":\"ADDED\",\"object\":{pod}}}\n");
        tx.send(Bytes::from(line)).await.ok();
        tx.send(Bytes::from_static(
            b"{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"x/v1\",\"kind\":\"W\"}}\n",
        ))
        .await
        .ok();
        tx.send(Bytes::from(format!(
            "{{\"type\":\"DELETED\",\"object\":{pod}}}\n"
        )))
        .await
        .ok();
        drop(tx);
        let resp = watch_stream(rx);
        assert_eq!(
            resp.headers()[CONTENT_TYPE],
            "application/vnd.kubernetes.protobuf;stream=watch"
        );
        let body = body_of(resp).await;
        let (message, rest) = gantry_protobuf::split_frame(&body)
            .ok()
            .flatten()
            .expect("one frame");
        assert_eq!(
            gantry_protobuf::decode_watch_event(message).ok(),
            Some(("ADDED".to_string(), pod))
        );
        assert!(
            rest.is_empty(),
            "the stream ends at the event that has no protobuf form"
        );
    }

    #[test]
    fn custom_resources_and_tables_stream_json() {
        let registry = crate::registry::Registry::builtin();
        let pods = registry.get("", "v1", "pods").expect("pods");
        assert!(can_stream(pods, &Format::Protobuf));
        assert!(can_stream(pods, &Format::PartialObjectMetadata));
        assert!(!can_stream(pods, &Format::Json));
        assert!(!can_stream(
            pods,
            &Format::Table {
                include_object: crate::response::IncludeObject::None
            }
        ));
    }
}
