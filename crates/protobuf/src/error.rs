//! Typed errors of decoding and encoding; every failure names the message or field it concerns.

/// Why a protobuf body could not be turned into Kubernetes JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("body does not start with the kubernetes protobuf magic k8s\\0")]
    MissingMagic,
    #[error("envelope has no {0}")]
    MissingTypeMeta(&'static str),
    #[error("no protobuf schema for kind {kind} of apiVersion {api_version}")]
    UnknownKind { api_version: String, kind: String },
    #[error("unsupported envelope content encoding {0:?}")]
    ContentEncoding(String),
    #[error("unsupported envelope content type {0:?}")]
    ContentType(String),
    #[error("malformed protobuf in {message}: {reason}")]
    Malformed {
        message: &'static str,
        reason: &'static str,
    },
    #[error("field {field} of {message} has wire type {wire}, expected {expected}")]
    WireType {
        message: &'static str,
        field: &'static str,
        wire: u8,
        expected: u8,
    },
    #[error("field {field} of {message} is not valid UTF-8")]
    Utf8 {
        message: &'static str,
        field: &'static str,
    },
    #[error("field {field} of {message} is not a finite number")]
    NonFinite {
        message: &'static str,
        field: &'static str,
    },
    #[error("{message} holds a value out of range: {reason}")]
    OutOfRange {
        message: &'static str,
        reason: String,
    },
    #[error("{message} holds raw bytes that are neither JSON nor a kubernetes protobuf object")]
    RawObject { message: &'static str },
    #[error("objects nest deeper than {0} levels")]
    TooDeep(usize),
}

/// Why Kubernetes JSON could not be turned into a protobuf body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("object has no string {0}")]
    MissingTypeMeta(&'static str),
    #[error("no protobuf schema for kind {kind} of apiVersion {api_version}")]
    UnknownKind { api_version: String, kind: String },
    #[error("{message}.{field}: expected {expected}")]
    Type {
        message: &'static str,
        field: &'static str,
        expected: &'static str,
    },
    #[error("{message}.{field}: invalid value {value:?}: {reason}")]
    Value {
        message: &'static str,
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("objects nest deeper than {0} levels")]
    TooDeep(usize),
}
