//! Table tests of the v5 channel mapping.

use super::*;

fn query(stdin: bool, stdout: bool, stderr: bool, tty: bool) -> ExecQuery {
    ExecQuery {
        command: vec!["sh".into()],
        stdin,
        stdout,
        stderr,
        tty,
    }
}

#[test]
fn streams_to_open() {
    use StreamType::*;
    let cases = [
        (query(false, true, false, false), vec![Error, Stdout]),
        (query(false, true, true, false), vec![Error, Stdout, Stderr]),
        (
            query(true, true, true, false),
            vec![Error, Stdin, Stdout, Stderr],
        ),
        // A terminal merges stderr into stdout and adds resize.
        (
            query(true, true, true, true),
            vec![Error, Stdin, Stdout, Resize],
        ),
        (query(true, false, false, false), vec![Error, Stdin]),
    ];
    for (q, want) in cases {
        assert_eq!(stream_types(&q), want, "{q:?}");
    }
}

#[test]
fn stream_names_and_channels() {
    use StreamType::*;
    let cases = [
        (Error, "error", 3, true),
        (Stdin, "stdin", 0, false),
        (Stdout, "stdout", 1, true),
        (Stderr, "stderr", 2, true),
        (Resize, "resize", 4, false),
    ];
    for (kind, name, channel, output) in cases {
        assert_eq!(
            (kind.name(), kind.channel(), kind.is_output()),
            (name, channel, output)
        );
    }
}

#[test]
fn client_messages() {
    let b = |s: &'static [u8]| Bytes::from_static(s);
    let cases = [
        (
            b(b"\x00hello\n"),
            ClientMessage::Write(StreamType::Stdin, b(b"hello\n")),
        ),
        (b(b"\x00"), ClientMessage::Write(StreamType::Stdin, b(b""))),
        (
            b(br#"\x04{"Width":80,"Height":24}"#),
            ClientMessage::Ignored,
        ),
        (
            Bytes::from([&[4u8][..], br#"{"Width":80,"Height":24}"#].concat()),
            ClientMessage::Write(StreamType::Resize, b(br#"{"Width":80,"Height":24}"#)),
        ),
        (b(&[255, 0]), ClientMessage::Close(StreamType::Stdin)),
        (b(&[255, 4]), ClientMessage::Close(StreamType::Resize)),
        (b(&[255, 1]), ClientMessage::Ignored),
        (b(&[255]), ClientMessage::Ignored),
        (b(b"\x01out"), ClientMessage::Ignored),
        (b(b"\x03err"), ClientMessage::Ignored),
        (b(b""), ClientMessage::Ignored),
    ];
    for (data, want) in cases {
        assert_eq!(client_message(&data), want, "{data:?}");
    }
}

#[test]
fn server_messages() {
    assert_eq!(&server_message(STDOUT, b"hi\n")[..], b"\x01hi\n");
    assert_eq!(&server_message(ERROR, b"")[..], b"\x03");
}

#[test]
fn failure_status_is_json() {
    let status = failure_status("bad \"quote\"\nline");
    assert!(status.starts_with(r#"{"kind":"Status""#), "{status}");
    assert!(
        status.contains(r#""message":"bad  quote  line""#),
        "{status}"
    );
    assert!(status.contains(r#""status":"Failure""#), "{status}");
}
