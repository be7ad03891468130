//! Table tests of SPDY/3 frame encoding and parsing.

use super::*;

fn wire(frame: &Frame) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(frame, &mut out).expect("encode");
    out.to_vec()
}

#[test]
fn known_bytes() {
    let cases: Vec<(Frame, Vec<u8>)> = vec![
        (
            Frame::Ping { id: 1 },
            vec![0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1],
        ),
        (
            Frame::Data {
                stream: 3,
                flags: FLAG_FIN,
                data: Bytes::from_static(b"hi"),
            },
            vec![0, 0, 0, 3, 1, 0, 0, 2, b'h', b'i'],
        ),
        (
            Frame::RstStream {
                stream: 5,
                status: RST_CANCEL,
            },
            vec![0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 5, 0, 0, 0, 5],
        ),
        (
            Frame::WindowUpdate {
                stream: 0,
                delta: 0x10000,
            },
            vec![0x80, 3, 0, 9, 0, 0, 0, 8, 0, 0, 0, 0, 0, 1, 0, 0],
        ),
        (
            Frame::GoAway {
                last_good: 2,
                status: GOAWAY_OK,
            },
            vec![0x80, 3, 0, 7, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0, 0],
        ),
        (
            Frame::SynStream {
                stream: 1,
                associated: 0,
                priority: 0,
                flags: 0,
                headers: Bytes::from_static(&[0xAA]),
            },
            vec![
                0x80, 3, 0, 1, 0, 0, 0, 11, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xAA,
            ],
        ),
        (
            Frame::SynReply {
                stream: 7,
                flags: FLAG_FIN,
                headers: Bytes::from_static(&[1, 2]),
            },
            vec![0x80, 3, 0, 2, 1, 0, 0, 6, 0, 0, 0, 7, 1, 2],
        ),
        (
            Frame::Settings {
                flags: 0,
                entries: vec![(0, 7, 65536)],
            },
            vec![
                0x80, 3, 0, 4, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 7, 0, 1, 0, 0,
            ],
        ),
    ];
    for (frame, bytes) in cases {
        assert_eq!(wire(&frame), bytes, "{frame:?}");
        let mut buf = BytesMut::from(&bytes[..]);
        assert_eq!(parse(&mut buf).expect("parse"), Some(frame.clone()));
        assert!(buf.is_empty(), "{frame:?} consumed");
    }
}

#[test]
fn partial_frames_wait_for_more() {
    let bytes = wire(&Frame::Data {
        stream: 1,
        flags: 0,
        data: Bytes::from_static(b"hello"),
    });
    for cut in 0..bytes.len() {
        let mut buf = BytesMut::from(&bytes[..cut]);
        assert_eq!(parse(&mut buf).expect("parse"), None, "cut at {cut}");
        assert_eq!(buf.len(), cut, "nothing consumed");
    }
}

#[test]
fn two_frames_in_one_buffer() {
    let mut bytes = wire(&Frame::Ping { id: 2 });
    bytes.extend(wire(&Frame::Headers {
        stream: 1,
        flags: 0,
        headers: Bytes::from_static(b"x"),
    }));
    let mut buf = BytesMut::from(&bytes[..]);
    assert_eq!(parse(&mut buf).expect("1"), Some(Frame::Ping { id: 2 }));
    assert!(matches!(
        parse(&mut buf).expect("2"),
        Some(Frame::Headers { stream: 1, .. })
    ));
    assert_eq!(parse(&mut buf).expect("3"), None);
}

#[test]
fn bad_frames_are_errors() {
    let cases: &[&[u8]] = &[
        // version 2
        &[0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1],
        // PING too short
        &[0x80, 3, 0, 6, 0, 0, 0, 2, 0, 0],
        // RST_STREAM too short
        &[0x80, 3, 0, 3, 0, 0, 0, 4, 0, 0, 0, 1],
        // SETTINGS claiming more entries than it holds
        &[0x80, 3, 0, 4, 0, 0, 0, 4, 0, 0, 0, 9],
        // SYN_STREAM too short
        &[0x80, 3, 0, 1, 0, 0, 0, 2, 0, 1],
    ];
    for bytes in cases {
        let mut buf = BytesMut::from(*bytes);
        assert!(parse(&mut buf).is_err(), "{bytes:?}");
    }
}

#[test]
fn unknown_control_frames_are_skipped() {
    let mut buf = BytesMut::from(&[0x80, 3, 0, 5, 0, 0, 0, 2, 9, 9, 0x80, 3, 0, 6][..]);
    assert_eq!(
        parse(&mut buf).expect("noop"),
        Some(Frame::Unknown { kind: 5 })
    );
    assert_eq!(buf.len(), 4);
}

#[test]
fn oversized_data_is_refused() {
    let frame = Frame::Data {
        stream: 1,
        flags: 0,
        data: Bytes::from(vec![0u8; MAX_PAYLOAD + 1]),
    };
    assert!(encode(&frame, &mut BytesMut::new()).is_err());
}
