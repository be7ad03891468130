//! A minimal SPDY/3.1 client session, enough to speak Kubernetes' SPDY stream protocols to the
//! runtime's streaming server: open streams with headers, send data with half-close, and receive
//! the peer's replies, data, resets and GOAWAY as `Event`s.
//!
//! One task writes (it owns the header compressor, so SYN_STREAMs are compressed in wire order)
//! and one reads (it owns the decompressor, answers PINGs and returns receive window with
//! WINDOW_UPDATE once a DATA frame has been handed on). Send windows are not enforced: the
//! streaming servers (spdystream) never grant window, and ignore it.

pub mod frame;
pub mod headers;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use frame::{FLAG_FIN, Frame};
use headers::{Deflater, Inflater, decode_block, encode_block};

/// Why a SPDY session failed.
#[derive(Debug, thiserror::Error)]
pub enum SpdyError {
    #[error("SPDY protocol error: {0}")]
    Protocol(String),
    #[error("SPDY frame payload of {0} bytes is too large")]
    TooLarge(usize),
    #[error("SPDY header compression: {0}")]
    Zlib(String),
    #[error("SPDY connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("SPDY session closed")]
    Closed,
}

/// What the peer did, in the order it did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// SYN_REPLY: the peer accepted a stream we opened.
    Reply { stream: u32 },
    /// DATA (or a FIN on SYN_REPLY/HEADERS, with empty data): `fin` half-closes the peer's side.
    Data { stream: u32, data: Bytes, fin: bool },
    /// RST_STREAM.
    Reset { stream: u32, status: u32 },
    /// GOAWAY: the peer opens nothing more and will close the connection.
    GoAway { status: u32 },
}

/// The largest DATA payload this client sends.
const CHUNK: usize = 32 * 1024;
/// RST_STREAM status for streams the peer pushes to us.
const REFUSED_STREAM: u32 = 3;

enum Command {
    Open {
        stream: u32,
        pairs: Vec<(String, String)>,
    },
    Frame(Frame),
    Close,
}

/// The client end of a session.
pub struct Session {
    commands: mpsc::Sender<Command>,
    next_stream: u32,
    reader: AbortHandle,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Session {
    /// Runs a session over `io` (an upgraded connection); events arrive on the receiver, which
    /// closes when the connection ends (after an `Err` if it failed).
    pub fn start<IO>(io: IO) -> (Self, mpsc::Receiver<Result<Event, SpdyError>>)
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read, write) = tokio::io::split(io);
        let (commands, command_rx) = mpsc::channel(64);
        let (event_tx, events) = mpsc::channel(16);
        tokio::spawn(write_loop(write, command_rx));
        let reader = tokio::spawn(read_loop(read, event_tx, commands.clone())).abort_handle();
        let session = Self {
            commands,
            next_stream: 1,
            reader,
        };
        (session, events)
    }

    async fn send(&self, command: Command) -> Result<(), SpdyError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| SpdyError::Closed)
    }

    /// Opens a stream with these headers; returns its id (odd, increasing).
    pub async fn open(&mut self, pairs: &[(&str, &str)]) -> Result<u32, SpdyError> {
        let stream = self.next_stream;
        self.next_stream += 2;
        let pairs = pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        self.send(Command::Open { stream, pairs }).await?;
        Ok(stream)
    }

    /// Sends `data` on a stream in frames of at most 32 KiB; `fin` half-closes our side after it.
    pub async fn data(&self, stream: u32, data: Bytes, fin: bool) -> Result<(), SpdyError> {
        let mut rest = data;
        loop {
            let chunk = rest.split_to(rest.len().min(CHUNK));
            let last = rest.is_empty();
            if !chunk.is_empty() || (last && fin) {
                let flags = if last && fin { FLAG_FIN } else { 0 };
                let frame = Frame::Data {
                    stream,
                    flags,
                    data: chunk,
                };
                self.send(Command::Frame(frame)).await?;
            }
            if last {
                return Ok(());
            }
        }
    }

    /// Sends GOAWAY and closes our side of the connection.
    pub async fn close(&self) {
        let _ = self.send(Command::Close).await;
    }
}

async fn write_loop<W: AsyncWrite>(write: W, mut commands: mpsc::Receiver<Command>) {
    let mut write = std::pin::pin!(write);
    let mut deflater = match Deflater::new() {
        Ok(deflater) => deflater,
        Err(err) => {
            tracing::warn!(%err, "SPDY header compressor");
            return;
        }
    };
    let mut buf = BytesMut::new();
    while let Some(command) = commands.recv().await {
        let closing = matches!(command, Command::Close);
        let frame = match command {
            Command::Open { stream, pairs } => {
                let pairs: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                match deflater.compress(&encode_block(&pairs)) {
                    Ok(block) => Frame::SynStream {
                        stream,
                        associated: 0,
                        priority: 0,
                        flags: 0,
                        headers: block.into(),
                    },
                    Err(err) => {
                        tracing::debug!(%err, "SPDY header compression");
                        break;
                    }
                }
            }
            Command::Frame(frame) => frame,
            Command::Close => Frame::GoAway {
                last_good: 0,
                status: frame::GOAWAY_OK,
            },
        };
        buf.clear();
        if let Err(err) = frame::encode(&frame, &mut buf) {
            tracing::debug!(%err, "SPDY frame");
            break;
        }
        if let Err(err) = write.write_all(&buf).await {
            tracing::debug!(%err, "SPDY write");
            break;
        }
        if closing {
            break;
        }
    }
    let _ = write.shutdown().await;
}

async fn read_loop<R: AsyncRead>(
    read: R,
    events: mpsc::Sender<Result<Event, SpdyError>>,
    commands: mpsc::Sender<Command>,
) {
    let mut read = std::pin::pin!(read);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut inflater = Inflater::default();
    let result: Result<(), SpdyError> = async {
        loop {
            while let Some(frame) = frame::parse(&mut buf)? {
                if !handle(frame, &mut inflater, &events, &commands).await? {
                    return Ok(());
                }
            }
            if read.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        }
    }
    .await;
    if let Err(err) = result {
        let _ = events.send(Err(err)).await;
    }
}

/// Handles one frame; `false` once nobody listens any more.
async fn handle(
    frame: Frame,
    inflater: &mut Inflater,
    events: &mpsc::Sender<Result<Event, SpdyError>>,
    commands: &mpsc::Sender<Command>,
) -> Result<bool, SpdyError> {
    let reply = |frame: Frame| async move {
        // The writer is gone only when the session is closing: nothing to answer then.
        let _ = commands.send(Command::Frame(frame)).await;
    };
    let event = match frame {
        Frame::SynReply {
            stream,
            flags,
            headers,
        } => {
            decode_block(&inflater.decompress(&headers)?)?;
            if events.send(Ok(Event::Reply { stream })).await.is_err() {
                return Ok(false);
            }
            if flags & FLAG_FIN == 0 {
                return Ok(true);
            }
            Event::Data {
                stream,
                data: Bytes::new(),
                fin: true,
            }
        }
        Frame::Headers {
            stream,
            flags,
            headers,
        } => {
            decode_block(&inflater.decompress(&headers)?)?;
            if flags & FLAG_FIN == 0 {
                return Ok(true);
            }
            Event::Data {
                stream,
                data: Bytes::new(),
                fin: true,
            }
        }
        Frame::SynStream {
            stream, headers, ..
        } => {
            // Keep the decompression context in step, then refuse the pushed stream.
            decode_block(&inflater.decompress(&headers)?)?;
            reply(Frame::RstStream {
                stream,
                status: REFUSED_STREAM,
            })
            .await;
            return Ok(true);
        }
        Frame::Data {
            stream,
            flags,
            data,
        } => {
            let len = data.len() as u32;
            let fin = flags & FLAG_FIN != 0;
            if events
                .send(Ok(Event::Data { stream, data, fin }))
                .await
                .is_err()
            {
                return Ok(false);
            }
            // Handed on: give the window back, for the stream and the session.
            if len > 0 {
                if !fin {
                    reply(Frame::WindowUpdate { stream, delta: len }).await;
                }
                reply(Frame::WindowUpdate {
                    stream: 0,
                    delta: len,
                })
                .await;
            }
            return Ok(true);
        }
        Frame::RstStream { stream, status } => Event::Reset { stream, status },
        Frame::GoAway { status, .. } => Event::GoAway { status },
        Frame::Ping { id } => {
            // Even ids are the server's: echo them. Odd ones answer our own (we send none).
            if id % 2 == 0 {
                reply(Frame::Ping { id }).await;
            }
            return Ok(true);
        }
        Frame::Settings { .. } | Frame::WindowUpdate { .. } | Frame::Unknown { .. } => {
            return Ok(true);
        }
    };
    Ok(events.send(Ok(event)).await.is_ok())
}
