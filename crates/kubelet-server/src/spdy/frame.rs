//! SPDY/3 frames as values: `encode` writes one, `parse` reads one from the front of a buffer
//! (or says it needs more bytes). Header blocks stay opaque (compressed) here; see `headers`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::SpdyError;

/// The protocol version in every control frame.
pub const VERSION: u16 = 3;
/// Last frame of the sender on this stream (half-close).
pub const FLAG_FIN: u8 = 0x01;
/// Common frame header length: control bit, version/stream, type, flags, 24-bit length.
pub const HEADER_LEN: usize = 8;
/// The largest payload a 24-bit length can carry.
pub const MAX_PAYLOAD: usize = 0x00FF_FFFF;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

/// RST_STREAM status: the stream is cancelled.
pub const RST_CANCEL: u32 = 5;
/// GOAWAY status: a clean shutdown.
pub const GOAWAY_OK: u32 = 0;

/// One frame. `headers` fields hold the compressed name/value block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    SynStream {
        stream: u32,
        associated: u32,
        priority: u8,
        flags: u8,
        headers: Bytes,
    },
    SynReply {
        stream: u32,
        flags: u8,
        headers: Bytes,
    },
    RstStream {
        stream: u32,
        status: u32,
    },
    /// Entries as (flags, id, value).
    Settings {
        flags: u8,
        entries: Vec<(u8, u32, u32)>,
    },
    Ping {
        id: u32,
    },
    GoAway {
        last_good: u32,
        status: u32,
    },
    Headers {
        stream: u32,
        flags: u8,
        headers: Bytes,
    },
    WindowUpdate {
        stream: u32,
        delta: u32,
    },
    Data {
        stream: u32,
        flags: u8,
        data: Bytes,
    },
    /// A control frame of a type this client ignores (NOOP, CREDENTIAL, ...).
    Unknown {
        kind: u16,
    },
}

const ID_MASK: u32 = 0x7FFF_FFFF;

fn control(out: &mut BytesMut, kind: u16, flags: u8, payload: &[u8]) -> Result<(), SpdyError> {
    let len = payload.len();
    if len > MAX_PAYLOAD {
        return Err(SpdyError::TooLarge(len));
    }
    out.put_u16(0x8000 | VERSION);
    out.put_u16(kind);
    out.put_u32((u32::from(flags) << 24) | len as u32);
    out.put_slice(payload);
    Ok(())
}

/// Appends the wire form of `frame` to `out`.
pub fn encode(frame: &Frame, out: &mut BytesMut) -> Result<(), SpdyError> {
    let mut p = BytesMut::new();
    match frame {
        Frame::SynStream {
            stream,
            associated,
            priority,
            flags,
            headers,
        } => {
            p.put_u32(stream & ID_MASK);
            p.put_u32(associated & ID_MASK);
            p.put_u8((priority & 0x07) << 5);
            p.put_u8(0); // slot
            p.put_slice(headers);
            control(out, SYN_STREAM, *flags, &p)
        }
        Frame::SynReply {
            stream,
            flags,
            headers,
        } => {
            p.put_u32(stream & ID_MASK);
            p.put_slice(headers);
            control(out, SYN_REPLY, *flags, &p)
        }
        Frame::RstStream { stream, status } => {
            p.put_u32(stream & ID_MASK);
            p.put_u32(*status);
            control(out, RST_STREAM, 0, &p)
        }
        Frame::Settings { flags, entries } => {
            p.put_u32(entries.len() as u32);
            for (entry_flags, id, value) in entries {
                p.put_u32((u32::from(*entry_flags) << 24) | (id & 0x00FF_FFFF));
                p.put_u32(*value);
            }
            control(out, SETTINGS, *flags, &p)
        }
        Frame::Ping { id } => control(out, PING, 0, &id.to_be_bytes()),
        Frame::GoAway { last_good, status } => {
            p.put_u32(last_good & ID_MASK);
            p.put_u32(*status);
            control(out, GOAWAY, 0, &p)
        }
        Frame::Headers {
            stream,
            flags,
            headers,
        } => {
            p.put_u32(stream & ID_MASK);
            p.put_slice(headers);
            control(out, HEADERS, *flags, &p)
        }
        Frame::WindowUpdate { stream, delta } => {
            p.put_u32(stream & ID_MASK);
            p.put_u32(delta & ID_MASK);
            control(out, WINDOW_UPDATE, 0, &p)
        }
        Frame::Data {
            stream,
            flags,
            data,
        } => {
            if data.len() > MAX_PAYLOAD {
                return Err(SpdyError::TooLarge(data.len()));
            }
            out.put_u32(stream & ID_MASK);
            out.put_u32((u32::from(*flags) << 24) | data.len() as u32);
            out.put_slice(data);
            Ok(())
        }
        Frame::Unknown { kind } => control(out, *kind, 0, &[]),
    }
}

/// Reads one frame from the front of `buf`, consuming it; `None` when `buf` holds only part.
pub fn parse(buf: &mut BytesMut) -> Result<Option<Frame>, SpdyError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let word = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let flags = buf[4];
    let len = usize::from(buf[5]) << 16 | usize::from(buf[6]) << 8 | usize::from(buf[7]);
    if buf.len() < HEADER_LEN + len {
        return Ok(None);
    }
    buf.advance(HEADER_LEN);
    let mut p = buf.split_to(len).freeze();
    if word & 0x8000_0000 == 0 {
        return Ok(Some(Frame::Data {
            stream: word & ID_MASK,
            flags,
            data: p,
        }));
    }
    let version = ((word >> 16) & 0x7FFF) as u16;
    if version != VERSION {
        return Err(SpdyError::Protocol(format!("SPDY version {version}")));
    }
    let kind = (word & 0xFFFF) as u16;
    let short = |need: usize| -> Result<(), SpdyError> {
        if len < need {
            return Err(SpdyError::Protocol(format!(
                "control frame type {kind}: {len} bytes, want at least {need}"
            )));
        }
        Ok(())
    };
    let frame = match kind {
        SYN_STREAM => {
            short(10)?;
            let stream = p.get_u32() & ID_MASK;
            let associated = p.get_u32() & ID_MASK;
            let priority = p.get_u8() >> 5;
            p.advance(1);
            Frame::SynStream {
                stream,
                associated,
                priority,
                flags,
                headers: p,
            }
        }
        SYN_REPLY | HEADERS => {
            short(4)?;
            let stream = p.get_u32() & ID_MASK;
            if kind == SYN_REPLY {
                Frame::SynReply {
                    stream,
                    flags,
                    headers: p,
                }
            } else {
                Frame::Headers {
                    stream,
                    flags,
                    headers: p,
                }
            }
        }
        RST_STREAM => {
            short(8)?;
            Frame::RstStream {
                stream: p.get_u32() & ID_MASK,
                status: p.get_u32(),
            }
        }
        SETTINGS => {
            short(4)?;
            let count = p.get_u32() as usize;
            if p.remaining() / 8 < count {
                return Err(SpdyError::Protocol(format!(
                    "SETTINGS with {count} entries in {len} bytes"
                )));
            }
            let entries = (0..count)
                .map(|_| {
                    let head = p.get_u32();
                    ((head >> 24) as u8, head & 0x00FF_FFFF, p.get_u32())
                })
                .collect();
            Frame::Settings { flags, entries }
        }
        PING => {
            short(4)?;
            Frame::Ping { id: p.get_u32() }
        }
        GOAWAY => {
            short(4)?;
            let last_good = p.get_u32() & ID_MASK;
            // SPDY/2 peers omit the status.
            let status = if p.remaining() >= 4 { p.get_u32() } else { 0 };
            Frame::GoAway { last_good, status }
        }
        WINDOW_UPDATE => {
            short(8)?;
            Frame::WindowUpdate {
                stream: p.get_u32() & ID_MASK,
                delta: p.get_u32() & ID_MASK,
            }
        }
        other => Frame::Unknown { kind: other },
    };
    Ok(Some(frame))
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
