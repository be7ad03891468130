//! The on-disk record format of the write-ahead log: framing (length + crc32) and payloads.
//!
//! A data file is the 8-byte [`MAGIC`] followed by frames. A frame is
//! `[payload length: u32 LE][crc32 of payload: u32 LE][payload]`. The first record is always
//! [`Record::Base`], followed by the [`Record::BaseKv`] entries of the state at the base
//! (compaction) revision, followed by the writes after it, in revision order.
//!
//! Integers are little-endian; strings and values are `u32` length-prefixed.

use crate::Revision;

/// The first bytes of every data file (the last byte is the format version).
pub(crate) const MAGIC: &[u8; 8] = b"GNTRYWL\x01";

/// The size of a frame header (length + crc).
pub(crate) const FRAME_HEADER: usize = 8;

/// Payloads larger than this are treated as damage rather than allocated (writes are limited
/// to less, see `shared::MAX_ENTRY_BYTES`).
const MAX_PAYLOAD: usize = 256 << 20;

const TAG_BASE: u8 = 1;
const TAG_BASE_KV: u8 = 2;
const TAG_PUT: u8 = 3;
const TAG_DELETE: u8 = 4;
const TAG_COMPACT: u8 = 5;

/// One logical record, borrowing its bytes from the buffer it was decoded from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record<'a> {
    /// Starts a file: the state below is the state at revision `compacted`.
    Base { compacted: Revision },
    /// One live key of the base state.
    BaseKv {
        key: &'a str,
        value: &'a [u8],
        create_revision: Revision,
        mod_revision: Revision,
    },
    /// A create or update at `revision`.
    Put {
        revision: Revision,
        key: &'a str,
        value: &'a [u8],
    },
    /// A delete at `revision`.
    Delete { revision: Revision, key: &'a str },
    /// History before `revision` was discarded.
    Compact { revision: Revision },
}

impl Record<'_> {
    /// Appends this record as one complete frame to `out`.
    pub(crate) fn encode_frame(&self, out: &mut Vec<u8>) {
        let header_at = out.len();
        out.extend_from_slice(&[0u8; FRAME_HEADER]);
        let payload_at = out.len();
        match self {
            Record::Base { compacted } => {
                out.push(TAG_BASE);
                out.extend_from_slice(&compacted.to_le_bytes());
            }
            Record::BaseKv {
                key,
                value,
                create_revision,
                mod_revision,
            } => {
                out.push(TAG_BASE_KV);
                out.extend_from_slice(&create_revision.to_le_bytes());
                out.extend_from_slice(&mod_revision.to_le_bytes());
                put_bytes(out, key.as_bytes());
                put_bytes(out, value);
            }
            Record::Put {
                revision,
                key,
                value,
            } => {
                out.push(TAG_PUT);
                out.extend_from_slice(&revision.to_le_bytes());
                put_bytes(out, key.as_bytes());
                put_bytes(out, value);
            }
            Record::Delete { revision, key } => {
                out.push(TAG_DELETE);
                out.extend_from_slice(&revision.to_le_bytes());
                put_bytes(out, key.as_bytes());
            }
            Record::Compact { revision } => {
                out.push(TAG_COMPACT);
                out.extend_from_slice(&revision.to_le_bytes());
            }
        }
        let payload = &out[payload_at..];
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let crc = crc32fast::hash(payload);
        out[header_at..header_at + 4].copy_from_slice(&len.to_le_bytes());
        out[header_at + 4..header_at + 8].copy_from_slice(&crc.to_le_bytes());
    }

    /// Decodes one payload; the error names what is wrong with it.
    pub(crate) fn decode(payload: &[u8]) -> Result<Record<'_>, String> {
        let mut r = Reader { buf: payload };
        let record = match r.u8()? {
            TAG_BASE => Record::Base {
                compacted: r.i64()?,
            },
            TAG_BASE_KV => {
                let create_revision = r.i64()?;
                let mod_revision = r.i64()?;
                Record::BaseKv {
                    create_revision,
                    mod_revision,
                    key: r.str()?,
                    value: r.bytes()?,
                }
            }
            TAG_PUT => Record::Put {
                revision: r.i64()?,
                key: r.str()?,
                value: r.bytes()?,
            },
            TAG_DELETE => Record::Delete {
                revision: r.i64()?,
                key: r.str()?,
            },
            TAG_COMPACT => Record::Compact { revision: r.i64()? },
            tag => return Err(format!("unknown record tag {tag}")),
        };
        if !r.buf.is_empty() {
            return Err(format!("{} trailing bytes after record", r.buf.len()));
        }
        Ok(record)
    }
}

/// The approximate size of a write record for `key` and `value`, for file-size accounting.
pub(crate) fn write_record_size(key: &str, value_len: usize) -> u64 {
    (FRAME_HEADER + 1 + 8 + 4 + key.len() + 4 + value_len) as u64
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.buf.len() < n {
            return Err(format!(
                "record truncated: need {n} bytes, have {}",
                self.buf.len()
            ));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn i64(&mut self) -> Result<i64, String> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(b))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        let len = u32::from_le_bytes(b) as usize;
        self.take(len)
    }

    fn str(&mut self) -> Result<&'a str, String> {
        std::str::from_utf8(self.bytes()?).map_err(|e| format!("key is not utf-8: {e}"))
    }
}

/// What [`next_frame`] found at an offset.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// A complete frame with a valid checksum; the next frame starts at `next`.
    Valid { payload: &'a [u8], next: usize },
    /// The end of the data.
    End,
    /// An incomplete or damaged frame that reaches the end of the data: a write that a crash
    /// interrupted. Everything from this offset on should be discarded.
    Torn,
    /// A damaged frame followed by more data: real corruption.
    Corrupt(String),
}

/// Reads the frame starting at `offset` of `buf`.
pub(crate) fn next_frame(buf: &[u8], offset: usize) -> Frame<'_> {
    let rest = buf.get(offset..).unwrap_or_default();
    if rest.is_empty() {
        return Frame::End;
    }
    if rest.len() < FRAME_HEADER {
        return Frame::Torn;
    }
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    // A crash can leave a zero-filled tail (the size was extended, the data never written).
    let zero_tail = rest.iter().all(|&b| b == 0);
    if len == 0 || len > MAX_PAYLOAD {
        return if zero_tail || len > rest.len() {
            Frame::Torn
        } else {
            Frame::Corrupt(format!("frame at offset {offset} has invalid length {len}"))
        };
    }
    let Some(payload) = rest.get(FRAME_HEADER..FRAME_HEADER + len) else {
        return Frame::Torn;
    };
    if crc32fast::hash(payload) != crc {
        let ends_file = FRAME_HEADER + len == rest.len();
        return if ends_file || zero_tail {
            Frame::Torn
        } else {
            Frame::Corrupt(format!("frame at offset {offset} has a bad checksum"))
        };
    }
    Frame::Valid {
        payload,
        next: offset + FRAME_HEADER + len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(records: &[Record<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            r.encode_frame(&mut out);
        }
        out
    }

    fn sample() -> Vec<Record<'static>> {
        vec![
            Record::Base { compacted: 7 },
            Record::BaseKv {
                key: "/a",
                value: b"one",
                create_revision: 3,
                mod_revision: 7,
            },
            Record::Put {
                revision: 8,
                key: "/b",
                value: b"two",
            },
            Record::Delete {
                revision: 9,
                key: "/a",
            },
            Record::Compact { revision: 8 },
            Record::Put {
                revision: 10,
                key: "/empty",
                value: b"",
            },
        ]
    }

    #[test]
    fn records_round_trip_through_frames() {
        let records = sample();
        let buf = frames(&records);
        let mut offset = 0;
        let mut decoded = Vec::new();
        loop {
            match next_frame(&buf, offset) {
                Frame::Valid { payload, next } => {
                    decoded.push(Record::decode(payload).expect("decodes"));
                    offset = next;
                }
                Frame::End => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(decoded, records);
    }

    #[test]
    fn a_cut_last_frame_is_torn_at_every_length() {
        let buf = frames(&sample());
        let last_start = {
            let mut offset = 0;
            let mut last = 0;
            while let Frame::Valid { next, .. } = next_frame(&buf, offset) {
                last = offset;
                offset = next;
            }
            last
        };
        for cut in last_start + 1..buf.len() {
            assert_eq!(
                next_frame(&buf[..cut], last_start),
                Frame::Torn,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_zero_filled_tail_is_torn() {
        let mut buf = frames(&sample());
        let end = buf.len();
        buf.extend_from_slice(&[0u8; 100]);
        assert_eq!(next_frame(&buf, end), Frame::Torn);
    }

    #[test]
    fn a_bad_checksum_in_the_middle_is_corrupt() {
        let mut buf = frames(&sample());
        // Flip a byte inside the payload of the second frame.
        let Frame::Valid { next, .. } = next_frame(&buf, 0) else {
            panic!("first frame")
        };
        buf[next + FRAME_HEADER + 2] ^= 0xff;
        assert!(matches!(next_frame(&buf, next), Frame::Corrupt(_)));
    }

    #[test]
    fn garbage_payloads_are_errors_not_panics() {
        for payload in [
            &[][..],
            &[9],
            &[TAG_PUT, 1, 2],
            &[TAG_BASE_KV; 40],
            &[TAG_COMPACT, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        ] {
            assert!(Record::decode(payload).is_err(), "{payload:?}");
        }
        let mut bad_utf8 = vec![TAG_DELETE];
        bad_utf8.extend_from_slice(&5i64.to_le_bytes());
        bad_utf8.extend_from_slice(&2u32.to_le_bytes());
        bad_utf8.extend_from_slice(&[0xff, 0xfe]);
        assert!(Record::decode(&bad_utf8).is_err());
    }
}
