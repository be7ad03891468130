//! The protobuf wire format: a bounds-checked reader over a byte slice and writer helpers.
//!
//! The reader never panics: every read checks the remaining length and reports
//! [`DecodeError::Malformed`] naming the message being read.

use crate::error::DecodeError;

pub(crate) const VARINT: u8 = 0;
pub(crate) const FIXED64: u8 = 1;
pub(crate) const LEN: u8 = 2;
pub(crate) const FIXED32: u8 = 5;

/// A cursor over the encoded fields of one message.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    /// The message being read, for error messages.
    context: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], context: &'static str) -> Self {
        Self { buf, context }
    }

    fn malformed(&self, reason: &'static str) -> DecodeError {
        DecodeError::Malformed {
            message: self.context,
            reason,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let (&byte, rest) = self
                .buf
                .split_first()
                .ok_or_else(|| self.malformed("truncated varint"))?;
            self.buf = rest;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.malformed("varint longer than 10 bytes"))
    }

    /// The next field key as `(tag, wire type)`.
    pub(crate) fn key(&mut self) -> Result<(u32, u8), DecodeError> {
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3).map_err(|_| self.malformed("field tag too large"))?;
        if tag == 0 {
            return Err(self.malformed("field tag 0"));
        }
        Ok((tag, (key & 7) as u8))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(self.malformed("length exceeds the remaining bytes"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| self.malformed("length too large"))?;
        self.take(len)
    }

    pub(crate) fn fixed64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Skips a value of wire type `wire` (groups are not used by Kubernetes and are refused).
    pub(crate) fn skip(&mut self, wire: u8) -> Result<(), DecodeError> {
        match wire {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            LEN => self.bytes().map(drop),
            FIXED32 => self.take(4).map(drop),
            _ => Err(self.malformed("unsupported wire type")),
        }
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_key(out: &mut Vec<u8>, tag: u32, wire: u8) {
    put_varint(out, (u64::from(tag) << 3) | u64::from(wire));
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    put_key(out, tag, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trips() {
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(Reader::new(&out, "t").varint(), Ok(v));
        }
    }

    #[test]
    fn truncated_input_is_an_error() {
        assert!(Reader::new(&[0x80], "t").varint().is_err());
        assert!(Reader::new(&[0xff; 11], "t").varint().is_err());
        assert!(Reader::new(&[5, 1], "t").bytes().is_err());
        assert_eq!(Reader::new(&[0x0b], "t").key(), Ok((1, 3)));
        assert!(Reader::new(&[0x03], "t").skip(3).is_err());
        assert!(Reader::new(&[0x00], "t").key().is_err());
    }
}
