//! Forwarding of non-cluster names to the host's resolvers: UDP first, TCP when the UDP answer
//! is truncated, answers cached by TTL.

use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::cache::{Cache, Cached};
use crate::error::ForwardError;

/// How long one upstream gets per transport before the next is tried.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// The EDNS buffer size we advertise upstream (the DNS flag day 2020 value).
const EDNS_PAYLOAD: u16 = 1232;
const CACHE_CAPACITY: usize = 10_000;

/// The upstream resolvers and the cache in front of them.
#[derive(Debug)]
pub struct Forwarder {
    upstreams: Vec<SocketAddr>,
    cache: Cache,
}

impl Forwarder {
    pub fn new(upstreams: Vec<SocketAddr>) -> Forwarder {
        Forwarder {
            upstreams,
            cache: Cache::new(CACHE_CAPACITY),
        }
    }

    /// The answer to `name`/`qtype`, from the cache or the first upstream that gives one.
    /// SERVFAIL and REFUSED make the next upstream try; the last reply wins if all fail.
    pub async fn resolve(&self, name: &Name, qtype: RecordType) -> Result<Cached, ForwardError> {
        if let Some(hit) = self.cache.get(name, qtype, Instant::now()) {
            return Ok(hit);
        }
        let mut last = Err(ForwardError::NoUpstreams);
        for upstream in &self.upstreams {
            match exchange(*upstream, name, qtype).await {
                Ok(reply) => {
                    let code = reply.metadata.response_code;
                    if code == ResponseCode::ServFail || code == ResponseCode::Refused {
                        last = Ok(Cached::from_message(&reply));
                        continue;
                    }
                    self.cache.insert(name, qtype, &reply, Instant::now());
                    return Ok(Cached::from_message(&reply));
                }
                Err(error) => {
                    tracing::debug!(%error, "upstream failed");
                    if last.is_err() {
                        last = Err(error);
                    }
                }
            }
        }
        last
    }
}

/// A query id nobody can predict from the outside (std's hasher keys are random per process).
fn query_id() -> u16 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    (hasher.finish() & 0xffff) as u16
}

fn query(id: u16, name: &Name, qtype: RecordType) -> Message {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(name.clone(), qtype));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    message.set_edns(edns);
    message
}

/// Whether `reply` answers the query `id` for `name`/`qtype`.
fn matches(reply: &Message, id: u16, name: &Name, qtype: RecordType) -> bool {
    reply.metadata.id == id
        && reply.metadata.message_type == MessageType::Response
        && reply
            .queries
            .first()
            .is_some_and(|q| q.query_type() == qtype && q.name().eq_ignore_root(name))
}

/// One question to one upstream: UDP, then TCP if the UDP reply is truncated.
pub async fn exchange(
    upstream: SocketAddr,
    name: &Name,
    qtype: RecordType,
) -> Result<Message, ForwardError> {
    let id = query_id();
    let bytes = query(id, name, qtype)
        .to_vec()
        .map_err(|source| ForwardError::Encode {
            name: name.to_string(),
            source,
        })?;
    let reply = tokio::time::timeout(UPSTREAM_TIMEOUT, udp(upstream, &bytes, id, name, qtype))
        .await
        .map_err(|_| ForwardError::Timeout {
            upstream,
            transport: "udp",
        })??;
    if !reply.metadata.truncation {
        return Ok(reply);
    }
    tokio::time::timeout(UPSTREAM_TIMEOUT, tcp(upstream, &bytes, id, name, qtype))
        .await
        .map_err(|_| ForwardError::Timeout {
            upstream,
            transport: "tcp",
        })?
}

async fn udp(
    upstream: SocketAddr,
    query: &[u8],
    id: u16,
    name: &Name,
    qtype: RecordType,
) -> Result<Message, ForwardError> {
    let io = |source| ForwardError::Io {
        upstream,
        transport: "udp",
        source,
    };
    let local: IpAddr = match upstream {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind((local, 0)).await.map_err(io)?;
    socket.connect(upstream).await.map_err(io)?;
    socket.send(query).await.map_err(io)?;
    let mut buffer = vec![0u8; 65_535];
    loop {
        let len = socket.recv(&mut buffer).await.map_err(io)?;
        // Stray or forged datagrams are ignored; the timeout bounds the wait.
        if let Ok(reply) = Message::from_vec(&buffer[..len])
            && matches(&reply, id, name, qtype)
        {
            return Ok(reply);
        }
    }
}

async fn tcp(
    upstream: SocketAddr,
    query: &[u8],
    id: u16,
    name: &Name,
    qtype: RecordType,
) -> Result<Message, ForwardError> {
    let io = |source| ForwardError::Io {
        upstream,
        transport: "tcp",
        source,
    };
    let mut stream = TcpStream::connect(upstream).await.map_err(io)?;
    let len = u16::try_from(query.len()).map_err(|_| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "query longer than 65535 bytes",
        ))
    })?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.map_err(io)?;
    let reply_len = stream.read_u16().await.map_err(io)?;
    let mut reply = vec![0u8; usize::from(reply_len)];
    stream.read_exact(&mut reply).await.map_err(io)?;
    let reply =
        Message::from_vec(&reply).map_err(|source| ForwardError::Decode { upstream, source })?;
    if !matches(&reply, id, name, qtype) {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "reply does not match the query",
        )));
    }
    Ok(reply)
}
