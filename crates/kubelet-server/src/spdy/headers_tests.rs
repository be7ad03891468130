//! Tests of the SPDY/3 dictionary, plain header blocks and the zlib contexts.

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
    let cases: &[(&[(&str, &str)], &[u8])] = &[
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
