//! The DNS front end: hickory's UDP and TCP server driving a handler that answers cluster names
//! from the current snapshot and forwards the rest.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{Name, Record, RecordType};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;

use crate::error::DnsError;
use crate::forward::Forwarder;
use crate::records::{self, Answer};
use crate::snapshot::Snapshot;

/// Idle TCP connections are closed after this long.
const TCP_TIMEOUT: Duration = Duration::from_secs(10);
/// Per-connection buffer of outgoing TCP responses.
const TCP_RESPONSE_BUFFER: usize = 32;
/// The largest UDP payload we offer over EDNS.
const MAX_UDP_PAYLOAD: u16 = 4096;

/// Answers one question at a time from the latest snapshot; everything else goes upstream.
pub struct Handler {
    pub snapshot: watch::Receiver<Arc<Snapshot>>,
    /// The cluster domain, fully qualified and lowercase.
    pub domain: Name,
    pub negative_ttl: u32,
    /// `None` when no upstreams are configured: non-cluster names are REFUSED.
    pub forwarder: Option<Arc<Forwarder>>,
}

/// The sections and flags of one reply.
#[derive(Default)]
struct Reply {
    code: ResponseCode,
    authoritative: bool,
    answers: Vec<Record>,
    authorities: Vec<Record>,
    additionals: Vec<Record>,
}

impl Handler {
    /// The reply to one question (no I/O besides forwarding).
    async fn reply(&self, qname: &Name, qtype: RecordType) -> Reply {
        let snapshot = self.snapshot.borrow().clone();
        let soa = || {
            vec![records::soa(
                &self.domain,
                snapshot.generation,
                self.negative_ttl,
            )]
        };
        match records::answer(&snapshot, &self.domain, qname, qtype) {
            Answer::Records {
                mut answers,
                additionals,
                chase,
            } => {
                if let (Some(target), Some(forwarder)) = (chase, &self.forwarder)
                    && let Ok(upstream) = forwarder.resolve(&target, qtype).await
                {
                    answers.extend(upstream.answers);
                }
                Reply {
                    authoritative: true,
                    answers,
                    additionals,
                    ..Reply::default()
                }
            }
            Answer::NoData => Reply {
                authoritative: true,
                authorities: soa(),
                ..Reply::default()
            },
            Answer::NxDomain => Reply {
                code: ResponseCode::NXDomain,
                authoritative: true,
                authorities: soa(),
                ..Reply::default()
            },
            Answer::NotReady => Reply {
                code: ResponseCode::ServFail,
                ..Reply::default()
            },
            Answer::Forward => match &self.forwarder {
                None => Reply {
                    code: ResponseCode::Refused,
                    ..Reply::default()
                },
                Some(forwarder) => match forwarder.resolve(qname, qtype).await {
                    Ok(upstream) => Reply {
                        code: upstream.response_code,
                        authoritative: false,
                        answers: upstream.answers,
                        authorities: upstream.authorities,
                        additionals: upstream.additionals,
                    },
                    Err(error) => {
                        tracing::debug!(%error, %qname, "forwarding failed");
                        Reply {
                            code: ResponseCode::ServFail,
                            ..Reply::default()
                        }
                    }
                },
            },
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.recursion_available = true;
        let edns = request.edns.as_ref().map(|asked| {
            let mut edns = Edns::new();
            edns.set_max_payload(asked.max_payload().clamp(512, MAX_UDP_PAYLOAD));
            edns
        });
        let mut builder = MessageResponseBuilder::new(&request.queries, None);
        if let Some(edns) = &edns {
            builder.edns(edns);
        }
        let reply = match request.request_info() {
            _ if request.metadata.op_code != OpCode::Query => Reply {
                code: ResponseCode::NotImp,
                ..Reply::default()
            },
            Err(_) => Reply {
                code: ResponseCode::FormErr,
                ..Reply::default()
            },
            Ok(info) => {
                let qname = Name::from(info.query.name());
                self.reply(&qname, info.query.query_type()).await
            }
        };
        metadata.response_code = reply.code;
        metadata.authoritative = reply.authoritative;
        let response = builder.build(
            metadata,
            reply.answers.iter(),
            reply.authorities.iter(),
            std::iter::empty(),
            reply.additionals.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                tracing::debug!(%error, "sending a dns response");
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}

/// Binds UDP and TCP on one address. With port 0 the UDP socket picks the port and TCP takes
/// the same one; if that TCP port is taken, another UDP port is tried (a few times).
async fn bind_pair(addr: &SocketAddr) -> Result<(UdpSocket, TcpListener, SocketAddr), DnsError> {
    let mut tries = if addr.port() == 0 { 8 } else { 1 };
    loop {
        let udp = UdpSocket::bind(addr)
            .await
            .map_err(|source| DnsError::BindUdp {
                addr: *addr,
                source,
            })?;
        let local = udp.local_addr().map_err(|source| DnsError::BindUdp {
            addr: *addr,
            source,
        })?;
        match TcpListener::bind(local).await {
            Ok(tcp) => return Ok((udp, tcp, local)),
            Err(source) if tries > 1 && source.kind() == std::io::ErrorKind::AddrInUse => {
                tries -= 1
            }
            Err(source) => {
                return Err(DnsError::BindTcp {
                    addr: local,
                    source,
                });
            }
        }
    }
}

/// Binds UDP and TCP on every address; fails naming the first address that cannot be bound.
pub async fn bind(
    handler: Handler,
    listen: &[SocketAddr],
) -> Result<(Server<Handler>, Vec<SocketAddr>), DnsError> {
    if listen.is_empty() {
        return Err(DnsError::NoListenAddress);
    }
    let mut server = Server::new(handler);
    let mut bound = Vec::new();
    for addr in listen {
        let (udp, tcp, local) = bind_pair(addr).await?;
        server.register_socket(udp);
        server.register_listener(tcp, TCP_TIMEOUT, TCP_RESPONSE_BUFFER);
        bound.push(local);
    }
    Ok((server, bound))
}

#[cfg(test)]
mod tests;
