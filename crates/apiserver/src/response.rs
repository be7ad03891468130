//! Response building: content negotiation (JSON, protobuf, Table, PartialObjectMetadata,
//! aggregated discovery), Status errors, warnings and streaming watch bodies.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::error::ApiError;

pub type Body = BoxBody<Bytes, Infallible>;
pub type Response = hyper::Response<Body>;

/// What the client's `Accept` header asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Protobuf,
    /// `as=Table`; `include_object` is `None`, `Metadata` or `Object`.
    Table {
        include_object: IncludeObject,
    },
    /// Aggregated discovery in the given version (`v2` or `v2beta1`).
    AggregatedDiscovery(&'static str),
    /// `as=PartialObjectMetadata`: objects reduced to their metadata (gets and watches).
    PartialObjectMetadata,
    /// `as=PartialObjectMetadataList`: a list reduced to its items' metadata.
    PartialObjectMetadataList,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl Format {
    /// Picks the first acceptable entry of an `Accept` header.
    pub fn from_accept(accept: Option<&str>) -> Format {
        Format::negotiate(accept).0
    }

    /// The first acceptable entry of an `Accept` header, and whether that entry is protobuf
    /// (`application/vnd.kubernetes.protobuf`, plain or `as=PartialObjectMetadata[List]`; a
    /// Table has no protobuf form upstream, so such entries are skipped).
    pub fn negotiate(accept: Option<&str>) -> (Format, bool) {
        let Some(accept) = accept else {
            return (Format::Json, false);
        };
        for entry in accept.split(',') {
            let mut parts = entry.split(';').map(str::trim);
            let essence = parts.next().unwrap_or_default().to_ascii_lowercase();
            let params: Vec<(String, String)> = parts
                .filter_map(|p| {
                    p.split_once('=')
                        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                })
                .collect();
            let param = |k: &str| {
                params
                    .iter()
                    .find(|(pk, _)| pk == k)
                    .map(|(_, v)| v.as_str())
            };
            let protobuf = essence == gantry_protobuf::CONTENT_TYPE;
            let essence = if protobuf {
                "application/json"
            } else {
                essence.as_str()
            };
            match (essence, param("as"), param("g")) {
                ("application/json", Some("Table"), Some("meta.k8s.io"))
                    if !protobuf && matches!(param("v"), Some("v1" | "v1beta1")) =>
                {
                    return (
                        Format::Table {
                            include_object: IncludeObject::Metadata,
                        },
                        false,
                    );
                }
                ("application/json", Some("PartialObjectMetadata"), Some("meta.k8s.io"))
                    if matches!(param("v"), Some("v1" | "v1beta1")) =>
                {
                    return (Format::PartialObjectMetadata, protobuf);
                }
                ("application/json", Some("PartialObjectMetadataList"), Some("meta.k8s.io"))
                    if matches!(param("v"), Some("v1" | "v1beta1")) =>
                {
                    return (Format::PartialObjectMetadataList, protobuf);
                }
                (
                    "application/json",
                    Some("APIGroupDiscoveryList"),
                    Some("apidiscovery.k8s.io"),
                ) if !protobuf => match param("v") {
                    Some("v2") => return (Format::AggregatedDiscovery("v2"), false),
                    Some("v2beta1") => return (Format::AggregatedDiscovery("v2beta1"), false),
                    _ => continue,
                },
                ("application/json", None, _) if protobuf => return (Format::Protobuf, true),
                ("application/json" | "*/*" | "application/*", None, _) => {
                    return (Format::Json, false);
                }
                _ => continue,
            }
        }
        (Format::Json, false)
    }
}

fn builder(code: u16, content_type: &str) -> hyper::http::response::Builder {
    hyper::Response::builder()
        .status(code)
        .header(hyper::header::CONTENT_TYPE, content_type)
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

fn finish(b: hyper::http::response::Builder, body: Body) -> Response {
    b.body(body)
        .unwrap_or_else(|_| hyper::Response::new(full(Bytes::new())))
}

pub fn text(s: &'static str) -> Response {
    finish(
        builder(200, "text/plain; charset=utf-8"),
        full(Bytes::from_static(s.as_bytes())),
    )
}

pub fn json(code: u16, value: &Value) -> Response {
    finish(builder(code, "application/json"), full(to_json(value)))
}

/// The compact JSON bytes of `value` (what its `to_string` gives, written without going
/// through `fmt`).
fn to_json(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|_| value.to_string().into_bytes())
}

pub fn json_with_type(value: &Value, content_type: &str) -> Response {
    finish(builder(200, content_type), full(value.to_string()))
}

pub fn bytes(body: Vec<u8>, content_type: &str) -> Response {
    finish(builder(200, content_type), full(body))
}

pub fn raw_json(bytes: Bytes) -> Response {
    finish(builder(200, "application/json"), full(bytes))
}

/// An object in the requested encoding, with `Warning` headers.
pub fn object(code: u16, value: &Value, format: &Format, warnings: &[String]) -> Response {
    let encoded = match format {
        Format::Protobuf => gantry_protobuf::encode(value).ok(),
        _ => None,
    };
    let content_type = if encoded.is_some() {
        gantry_protobuf::CONTENT_TYPE
    } else {
        "application/json"
    };
    let mut b = builder(code, content_type);
    for w in warnings {
        // A quoted-string (RFC 9110): backslash-escape quotes and backslashes, as upstream.
        let text = format!("299 - \"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""));
        if let Ok(header) = hyper::header::HeaderValue::from_str(&text) {
            b = b.header("Warning", header);
        }
    }
    match encoded {
        Some(bytes) => finish(b, full(bytes)),
        None => finish(b, full(to_json(value))),
    }
}

pub fn error(err: &ApiError) -> Response {
    let status = err.status();
    let (code, _) = err.code_reason();
    if matches!(err, ApiError::Internal(_)) {
        tracing::error!("internal error: {err}");
    }
    json(code, &status)
}

/// A chunked stream of watch events.
pub fn watch_stream(rx: mpsc::Receiver<Bytes>) -> Response {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let body = BodyExt::boxed(StreamBody::new(stream));
    finish(
        builder(200, "application/json").header("Transfer-Encoding", "chunked"),
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_table() {
        let cases = [
            (None, Format::Json),
            (Some("application/json"), Format::Json),
            (Some("*/*"), Format::Json),
            (
                Some(
                    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
                ),
                Format::Table {
                    include_object: IncludeObject::Metadata,
                },
            ),
            (
                Some(
                    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
                ),
                Format::AggregatedDiscovery("v2"),
            ),
            (
                Some(
                    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
                ),
                Format::AggregatedDiscovery("v2beta1"),
            ),
            (
                Some("application/vnd.kubernetes.protobuf, */*"),
                Format::Protobuf,
            ),
            (
                Some(
                    "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json",
                ),
                Format::PartialObjectMetadataList,
            ),
            (
                Some("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"),
                Format::PartialObjectMetadata,
            ),
            (
                Some(
                    "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
                ),
                Format::PartialObjectMetadataList,
            ),
            (
                Some(
                    "application/json;as=PartialObjectMetadata;g=example.com;v=v1,application/json",
                ),
                Format::Json,
            ),
        ];
        for (accept, want) in cases {
            assert_eq!(Format::from_accept(accept), want, "{accept:?}");
        }
    }

    #[test]
    fn accept_protobuf() {
        let pom = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
        let cases = [
            (None, (Format::Json, false)),
            (Some("application/json"), (Format::Json, false)),
            (
                Some("application/vnd.kubernetes.protobuf, */*"),
                (Format::Protobuf, true),
            ),
            (
                Some("application/vnd.kubernetes.protobuf,application/json"),
                (Format::Protobuf, true),
            ),
            (
                Some("application/vnd.kubernetes.protobuf;stream=watch"),
                (Format::Protobuf, true),
            ),
            (
                Some("application/json, application/vnd.kubernetes.protobuf"),
                (Format::Json, false),
            ),
            (Some(pom), (Format::PartialObjectMetadataList, true)),
            (
                Some(
                    "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
                ),
                (Format::PartialObjectMetadata, true),
            ),
            // Table has no protobuf form: the JSON entry that follows is chosen.
            (
                Some(
                    "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1;g=meta.k8s.io",
                ),
                (
                    Format::Table {
                        include_object: IncludeObject::Metadata,
                    },
                    false,
                ),
            ),
            (
                Some(
                    "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json",
                ),
                (Format::Json, false),
            ),
        ];
        for (accept, want) in cases {
            assert_eq!(Format::negotiate(accept), want, "{accept:?}");
        }
    }
}
