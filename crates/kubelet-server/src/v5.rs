//! WebSocket `v5.channel.k8s.io` exec and attach (kubectl >= 1.30), which containerd 1.6 does
//! not speak: we accept the WebSocket ourselves and translate to the `v4.channel.k8s.io` SPDY
//! protocol with the runtime, as kube-apiserver's stream translator does.
//!
//! SPDY side: one stream per channel, `streamType` error first, then stdin, stdout, stderr and
//! resize as requested; the error stream ends with a JSON `metav1.Status`. WebSocket side: binary
//! messages whose first byte is the channel (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize);
//! `[255, c]` from the client closes channel `c`.

use bytes::Bytes;

use crate::routes::ExecQuery;

/// The WebSocket subprotocol translated here.
pub const V5_PROTOCOL: &str = "v5.channel.k8s.io";
/// The SPDY exec protocol spoken to the runtime.
pub const SPDY_PROTOCOL: &str = "v4.channel.k8s.io";

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const ERROR: u8 = 3;
pub const RESIZE: u8 = 4;
/// First byte of a client message that closes the channel in its second byte.
pub const CLOSE: u8 = 255;

/// One SPDY stream of the exec protocol, and the WebSocket channel it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamType {
    Error,
    Stdin,
    Stdout,
    Stderr,
    Resize,
}

impl StreamType {
    /// The `streamType` header value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Stdin => "stdin",
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
            Self::Resize => "resize",
        }
    }

    /// The WebSocket channel byte.
    pub fn channel(self) -> u8 {
        match self {
            Self::Error => ERROR,
            Self::Stdin => STDIN,
            Self::Stdout => STDOUT,
            Self::Stderr => STDERR,
            Self::Resize => RESIZE,
        }
    }

    /// Whether the runtime sends on it (the streams whose end means the call is over).
    pub fn is_output(self) -> bool {
        matches!(self, Self::Error | Self::Stdout | Self::Stderr)
    }
}

/// The streams to open for a call, in order: exactly those the runtime waits for.
pub fn stream_types(query: &ExecQuery) -> Vec<StreamType> {
    let mut types = vec![StreamType::Error];
    if query.stdin {
        types.push(StreamType::Stdin);
    }
    if query.stdout {
        types.push(StreamType::Stdout);
    }
    if query.stderr && !query.tty {
        types.push(StreamType::Stderr);
    }
    if query.tty {
        types.push(StreamType::Resize);
    }
    types
}

/// What a client's binary message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// Bytes for a channel the client writes (stdin or resize).
    Write(StreamType, Bytes),
    /// The client closed a channel.
    Close(StreamType),
    /// Empty, or for a channel the client does not write.
    Ignored,
}

/// Reads a client's binary message.
pub fn client_message(data: &Bytes) -> ClientMessage {
    let writable = |channel: u8| match channel {
        STDIN => Some(StreamType::Stdin),
        RESIZE => Some(StreamType::Resize),
        _ => None,
    };
    match data.first() {
        Some(&CLOSE) => match data.get(1).copied().and_then(writable) {
            Some(kind) => ClientMessage::Close(kind),
            None => ClientMessage::Ignored,
        },
        Some(&channel) => match writable(channel) {
            Some(kind) => ClientMessage::Write(kind, data.slice(1..)),
            None => ClientMessage::Ignored,
        },
        None => ClientMessage::Ignored,
    }
}

/// A server message: the channel byte, then the data.
pub fn server_message(channel: u8, data: &[u8]) -> Bytes {
    let mut message = Vec::with_capacity(data.len() + 1);
    message.push(channel);
    message.extend_from_slice(data);
    message.into()
}

/// The error channel's Status when the runtime ended without sending one.
pub fn failure_status(message: &str) -> String {
    let message: String = message
        .chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect();
    format!(
        r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{message}","reason":"InternalError","code":500}}"#
    )
}

#[cfg(test)]
mod tests {
    // Table tests of the v5 channel mapping.
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
}
