//! Protobuf watch streams (`application/vnd.kubernetes.protobuf;stream=watch`).
//!
//! Upstream's stream serializer for protobuf is the *raw* serializer with a length-delimited
//! framer: every event is a 4-byte big-endian length followed by a `meta.v1.WatchEvent` message
//! without the `k8s\0` envelope, `{1: type, 2: object RawExtension {1: raw}}`, where `raw` is the
//! object in the ordinary enveloped form ([`crate::encode`]). client-go reads it with
//! `LengthDelimitedFramer` + `protobuf.NewRawSerializer`, then decodes `raw` with the normal
//! protobuf serializer.

use serde_json::Value;

use crate::error::{DecodeError, EncodeError};
use crate::wire::{LEN, Reader, put_bytes};

const CONTEXT: &str = "meta.v1.WatchEvent";

/// The largest frame [`split_frame`] accepts (upstream's client default is 16 MiB per object;
/// an event adds a little to its object).
pub const MAX_FRAME: usize = 64 * 1024 * 1024;

/// Encodes one watch event as the bytes of a `meta.v1.WatchEvent` message (no envelope, no
/// length prefix); `object` must carry `apiVersion` and `kind`.
pub fn encode_watch_event(event_type: &str, object: &Value) -> Result<Vec<u8>, EncodeError> {
    let raw = crate::encode(object)?;
    let mut extension = Vec::with_capacity(raw.len() + 8);
    put_bytes(&mut extension, 1, &raw);
    let mut out = Vec::with_capacity(extension.len() + event_type.len() + 8);
    put_bytes(&mut out, 1, event_type.as_bytes());
    put_bytes(&mut out, 2, &extension);
    Ok(out)
}

/// One length-delimited frame: the big-endian `u32` length of `message`, then `message`.
pub fn frame(message: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let len = u32::try_from(message.len()).map_err(|_| EncodeError::Value {
        message: CONTEXT,
        field: "",
        value: message.len().to_string(),
        reason: "a frame holds at most 4 GiB".into(),
    })?;
    let mut out = Vec::with_capacity(message.len() + 4);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(message);
    Ok(out)
}

/// [`encode_watch_event`] wrapped in its frame: what a watch response body carries per event.
pub fn encode_watch_frame(event_type: &str, object: &Value) -> Result<Vec<u8>, EncodeError> {
    frame(&encode_watch_event(event_type, object)?)
}

/// A frame's message and the bytes that follow the frame.
pub type Split<'a> = (&'a [u8], &'a [u8]);

/// Splits the first complete frame off `stream`: `Ok(Some((message, rest)))`, or `Ok(None)`
/// when `stream` holds only part of a frame so far.
pub fn split_frame(stream: &[u8]) -> Result<Option<Split<'_>>, DecodeError> {
    let Some((prefix, rest)) = stream.split_first_chunk::<4>() else {
        return Ok(None);
    };
    let len = usize::try_from(u32::from_be_bytes(*prefix)).unwrap_or(usize::MAX);
    if len > MAX_FRAME {
        return Err(DecodeError::Malformed {
            message: CONTEXT,
            reason: "frame longer than the limit",
        });
    }
    if rest.len() < len {
        return Ok(None);
    }
    Ok(Some(rest.split_at(len)))
}

/// Decodes a `meta.v1.WatchEvent` message (as framed by [`encode_watch_event`]) into the event
/// type and the object's Kubernetes JSON; `raw` may be enveloped protobuf or JSON.
pub fn decode_watch_event(message: &[u8]) -> Result<(String, Value), DecodeError> {
    let mut event_type = String::new();
    let mut raw: &[u8] = &[];
    let mut r = Reader::new(message, CONTEXT);
    while !r.is_empty() {
        match r.key()? {
            (1, LEN) => {
                event_type =
                    String::from_utf8(r.bytes()?.to_vec()).map_err(|_| DecodeError::Utf8 {
                        message: CONTEXT,
                        field: "type",
                    })?;
            }
            (2, LEN) => {
                let mut ext = Reader::new(r.bytes()?, "runtime.RawExtension");
                while !ext.is_empty() {
                    match ext.key()? {
                        (1, LEN) => raw = ext.bytes()?,
                        (_, wire) => ext.skip(wire)?,
                    }
                }
            }
            (_, wire) => r.skip(wire)?,
        }
    }
    let object = if raw.starts_with(&crate::MAGIC) {
        crate::decode(raw)?
    } else {
        serde_json::from_slice(raw).map_err(|_| DecodeError::RawObject { message: CONTEXT })?
    };
    Ok((event_type, object))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "default", "resourceVersion": "7"}})
    }

    #[test]
    fn frame_is_big_endian_length_then_message() {
        assert_eq!(frame(b"abc"), Ok(vec![0, 0, 0, 3, b'a', b'b', b'c']));
        assert_eq!(frame(b""), Ok(vec![0, 0, 0, 0]));
        let long = vec![7u8; 0x0102];
        assert_eq!(frame(&long).map(|f| f[..4].to_vec()), Ok(vec![0, 0, 1, 2]));
    }

    #[test]
    fn split_frame_waits_for_whole_frames() {
        let mut stream = frame(b"one").unwrap_or_default();
        stream.extend(frame(b"two!").unwrap_or_default());
        let (first, rest) = split_frame(&stream).ok().flatten().expect("first frame");
        assert_eq!(first, b"one");
        let (second, rest) = split_frame(rest).ok().flatten().expect("second frame");
        assert_eq!((second, rest), (b"two!".as_slice(), [].as_slice()));
        assert_eq!(split_frame(&stream[..2]), Ok(None));
        assert_eq!(split_frame(&stream[..5]), Ok(None));
        assert!(split_frame(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn watch_event_round_trips() {
        let bytes = encode_watch_event("MODIFIED", &pod()).expect("encodes");
        assert!(
            !bytes.starts_with(&crate::MAGIC),
            "the event itself is not enveloped"
        );
        let (kind, object) = decode_watch_event(&bytes).expect("decodes");
        assert_eq!(kind, "MODIFIED");
        assert_eq!(object, pod());
    }

    #[test]
    fn unknown_kinds_are_refused() {
        let cr = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}});
        assert!(matches!(
            encode_watch_event("ADDED", &cr),
            Err(EncodeError::UnknownKind { .. })
        ));
    }

    #[test]
    fn malformed_events_are_errors() {
        assert!(decode_watch_event(&[0x0a, 0x05, b'A']).is_err());
        assert!(decode_watch_event(&[0x12, 0x02, 0x0a, 0x01]).is_err());
        assert!(decode_watch_event(&[0x12, 0x03, 0x0a, 0x01, b'x']).is_err());
    }
}
