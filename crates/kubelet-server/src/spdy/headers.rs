//! SPDY/3 name/value header blocks: the plain block (`encode_block`, `decode_block`) and the
//! zlib contexts that carry it (`Deflater`, `Inflater`), one per direction for the whole session,
//! primed with the SPDY/3 dictionary and sync-flushed after every block.

use std::sync::LazyLock;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

use super::SpdyError;

/// The words of the SPDY/3 dictionary, each stored as a 32-bit length then the bytes.
const DICTIONARY_WORDS: [&str; 65] = [
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// The raw tail of the SPDY/3 dictionary, after the length-prefixed words.
const DICTIONARY_TAIL: &str = concat!(
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request",
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented",
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 ",
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,",
    "text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch",
    "charset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
);

/// The SPDY/3 header compression dictionary (1423 bytes).
pub fn dictionary() -> &'static [u8] {
    static DICTIONARY: LazyLock<Vec<u8>> = LazyLock::new(|| {
        let mut dict = Vec::with_capacity(1423);
        for word in DICTIONARY_WORDS {
            dict.extend_from_slice(&(word.len() as u32).to_be_bytes());
            dict.extend_from_slice(word.as_bytes());
        }
        dict.extend_from_slice(DICTIONARY_TAIL.as_bytes());
        dict
    });
    &DICTIONARY
}

/// The plain block: pair count, then length-prefixed names and values (32-bit lengths).
/// Names are lower-cased; several values of one name are joined with NUL.
pub fn encode_block(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(pairs.len() as u32).to_be_bytes());
    for (name, value) in pairs {
        let name = name.to_ascii_lowercase();
        for part in [name.as_bytes(), value.as_bytes()] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

/// Reads a plain block front to back.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SpdyError> {
        if self.0.len() < n {
            return Err(SpdyError::Protocol("header block: truncated".into()));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn number(&mut self) -> Result<usize, SpdyError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    fn text(&mut self) -> Result<String, SpdyError> {
        let len = self.number()?;
        String::from_utf8(self.take(len)?.to_vec())
            .map_err(|_| SpdyError::Protocol("header block: not UTF-8".into()))
    }
}

/// Parses a plain block into (name, value) pairs; NUL-joined values become several pairs.
pub fn decode_block(block: &[u8]) -> Result<Vec<(String, String)>, SpdyError> {
    let mut cursor = Cursor(block);
    let count = cursor.number()?;
    let mut pairs = Vec::new();
    for _ in 0..count {
        let name = cursor.text()?;
        let value = cursor.text()?;
        for part in value.split('\0') {
            pairs.push((name.clone(), part.to_string()));
        }
    }
    Ok(pairs)
}

/// The sending side's compression context.
pub struct Deflater(Compress);

impl Deflater {
    pub fn new() -> Result<Self, SpdyError> {
        let mut compress = Compress::new(Compression::default(), true);
        compress
            .set_dictionary(dictionary())
            .map_err(|e| SpdyError::Zlib(e.to_string()))?;
        Ok(Self(compress))
    }

    /// Compresses one block and sync-flushes it.
    pub fn compress(&mut self, block: &[u8]) -> Result<Vec<u8>, SpdyError> {
        let mut out = Vec::with_capacity(block.len() + 64);
        let mut consumed = 0;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(block.len() + 64);
            }
            let before = self.0.total_in();
            self.0
                .compress_vec(&block[consumed..], &mut out, FlushCompress::Sync)
                .map_err(|e| SpdyError::Zlib(e.to_string()))?;
            consumed += (self.0.total_in() - before) as usize;
            // Done once all input is in and the flush left spare room (it completed).
            if consumed >= block.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

/// The receiving side's decompression context.
pub struct Inflater(Decompress);

impl Default for Inflater {
    fn default() -> Self {
        Self(Decompress::new(true))
    }
}

/// A decompressed block larger than this is refused.
const MAX_BLOCK: usize = 1 << 20;

impl Inflater {
    /// Decompresses one sync-flushed block.
    pub fn decompress(&mut self, input: &[u8]) -> Result<Vec<u8>, SpdyError> {
        let mut out = Vec::with_capacity(input.len() * 4 + 256);
        let mut consumed = 0;
        loop {
            if out.capacity() - out.len() < 256 {
                if out.len() > MAX_BLOCK {
                    return Err(SpdyError::Protocol("header block too large".into()));
                }
                out.reserve(out.len() + 256);
            }
            let before = self.0.total_in();
            let result = self
                .0
                .decompress_vec(&input[consumed..], &mut out, FlushDecompress::Sync);
            consumed += (self.0.total_in() - before) as usize;
            match result {
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.0
                        .set_dictionary(dictionary())
                        .map_err(|e| SpdyError::Zlib(e.to_string()))?;
                    continue;
                }
                Err(e) => return Err(SpdyError::Zlib(e.to_string())),
            }
            if consumed >= input.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    // Tests of the SPDY/3 dictionary, plain header blocks and the zlib contexts.
    use super::*;

    #[test]
    fn dictionary_is_the_spdy3_one() {
        let dict = dictionary();
        assert_eq!(dict.len(), 1423);
        assert_eq!(&dict[..11], b"\0\0\0\x07options");
        assert!(dict.ends_with(b",*,enq=0."));
        // zlib identifies a preset dictionary by its Adler-32.
        let mut deflater = Compress::new(Compression::default(), true);
        let adler = deflater.set_dictionary(dict).expect("dictionary");
        let (mut a, mut b) = (1u32, 0u32);
        for byte in dict {
            a = (a + u32::from(*byte)) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!(adler, (b << 16) | a);
    }

    #[test]
    fn plain_blocks() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [u8]);
        let cases: &[Case] = &[
            (&[], &[0, 0, 0, 0]),
            (
                &[("streamType", "error")],
                b"\0\0\0\x01\0\0\0\x0astreamtype\0\0\0\x05error",
            ),
            (
                &[("a", ""), ("b", "x\0y")],
                b"\0\0\0\x02\0\0\0\x01a\0\0\0\0\0\0\0\x01b\0\0\0\x03x\0y",
            ),
        ];
        for (pairs, bytes) in cases {
            assert_eq!(encode_block(pairs), *bytes, "{pairs:?}");
        }
        let decoded = decode_block(cases[2].1).expect("decode");
        let want: Vec<(String, String)> = [("a", ""), ("b", "x"), ("b", "y")]
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(decoded, want);
    }

    #[test]
    fn bad_plain_blocks() {
        let cases: &[&[u8]] = &[
            b"",
            b"\0\0\0\x01",
            b"\0\0\0\x01\0\0\0\x05ab",
            b"\0\0\0\x01\0\0\0\x01a\0\0\0\x09x",
            b"\0\0\0\x01\0\0\0\x01\xff\0\0\0\0",
            b"\xff\xff\xff\xff",
        ];
        for bytes in cases {
            assert!(decode_block(bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn blocks_round_trip_through_one_session_context() {
        let mut deflater = Deflater::new().expect("deflater");
        let mut inflater = Inflater::default();
        let blocks: Vec<Vec<u8>> = vec![
            encode_block(&[("streamtype", "error")]),
            encode_block(&[("streamtype", "stdout")]),
            encode_block(&[("streamtype", "stdout"), ("content-type", "text/plain")]),
            encode_block(&[]),
        ];
        let mut sizes = Vec::new();
        for block in &blocks {
            let compressed = deflater.compress(block).expect("compress");
            // A sync flush ends with an empty stored block.
            assert!(compressed.ends_with(&[0, 0, 0xff, 0xff]), "{compressed:?}");
            sizes.push(compressed.len());
            assert_eq!(&inflater.decompress(&compressed).expect("inflate"), block);
        }
        // The first block carries the zlib header with the dictionary id.
        assert!(sizes[0] > sizes[1], "{sizes:?}");
    }

    #[test]
    fn garbage_does_not_inflate() {
        let mut inflater = Inflater::default();
        assert!(inflater.decompress(b"\x12\x34garbage").is_err());
    }
}
