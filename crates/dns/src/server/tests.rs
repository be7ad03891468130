//! The server over real sockets with a fixed snapshot: response codes and sections, forwarding
//! to a fake upstream (UDP, TCP on truncation, caching), and garbage that must not hurt it.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use proptest::prelude::*;
use tokio::sync::watch;

use super::{Handler, bind};
use crate::forward::Forwarder;
use crate::records::fixture::cluster;

/// A running server on an ephemeral port, with the runtime that drives it.
struct Running {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

fn start(upstreams: Vec<SocketAddr>) -> Running {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = runtime.block_on(async {
        let (sender, receiver) = watch::channel(Arc::new(cluster()));
        let handler = Handler {
            snapshot: receiver,
            domain: Name::from_ascii("cluster.local.").unwrap(),
            negative_ttl: 30,
            forwarder: (!upstreams.is_empty()).then(|| Arc::new(Forwarder::new(upstreams))),
        };
        let (mut server, bound) = bind(handler, &["127.0.0.1:0".parse().unwrap()])
            .await
            .unwrap();
        tokio::spawn(async move {
            let _keep = sender;
            server.block_until_done().await
        });
        bound[0]
    });
    Running {
        addr,
        _runtime: runtime,
    }
}

fn query_bytes(id: u16, name: &str, qtype: RecordType, edns: bool) -> Vec<u8> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if edns {
        message.set_edns(Edns::new());
    }
    message.to_vec().unwrap()
}

/// One UDP question; replies with other ids (answers to garbage) are skipped.
fn ask(addr: SocketAddr, name: &str, qtype: RecordType) -> Message {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket
        .send_to(&query_bytes(4242, name, qtype, true), addr)
        .unwrap();
    let mut buffer = [0u8; 65535];
    loop {
        let (len, _) = socket.recv_from(&mut buffer).expect("an answer in time");
        let reply = Message::from_vec(&buffer[..len]).unwrap();
        if reply.metadata.id == 4242 {
            return reply;
        }
    }
}

fn ask_tcp(addr: SocketAddr, name: &str, qtype: RecordType) -> Message {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let query = query_bytes(7, name, qtype, false);
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend(query);
    stream.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).unwrap();
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut reply).unwrap();
    Message::from_vec(&reply).unwrap()
}

fn rendered(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data))
        .collect()
}

#[test]
fn cluster_answers_carry_codes_flags_and_soa() {
    let server = start(Vec::new());
    let reply = ask(server.addr, "web.default.svc.cluster.local.", RecordType::A);
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.metadata.authoritative);
    assert_eq!(
        rendered(&reply.answers),
        ["web.default.svc.cluster.local. 5 A 10.43.0.20"]
    );

    let reply = ask(
        server.addr,
        "nope.default.svc.cluster.local.",
        RecordType::A,
    );
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert!(reply.answers.is_empty());
    let soa = &reply.authorities[0];
    assert_eq!((soa.record_type(), soa.ttl), (RecordType::SOA, 30));

    let reply = ask(server.addr, "default.svc.cluster.local.", RecordType::A);
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.answers.is_empty());
    assert_eq!(reply.authorities.len(), 1);

    let reply = ask(
        server.addr,
        "_pg._tcp.db.default.svc.cluster.local.",
        RecordType::SRV,
    );
    assert_eq!(reply.answers.len(), 2);
    assert_eq!(
        reply.additionals.len(),
        2,
        "target addresses as additionals"
    );

    let reply = ask_tcp(server.addr, "db.default.svc.cluster.local.", RecordType::A);
    assert_eq!(reply.answers.len(), 2);

    // No upstreams: other names are refused.
    let reply = ask(server.addr, "example.com.", RecordType::A);
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
}

/// A stand-in for the host's resolver: answers a few fixed names over UDP and TCP.
struct FakeUpstream {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
}

fn fake_reply(query: &Message, over_tcp: bool) -> Message {
    let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    reply.metadata.recursion_available = true;
    reply.add_queries(query.queries.clone());
    let Some(question) = query.queries.first() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return reply;
    };
    let name = question.name().clone();
    let a = |last: u8| Record::from_rdata(name.clone(), 60, RData::A(A::new(192, 0, 2, last)));
    match name.to_ascii().as_str() {
        "example.com." => {
            reply.add_answer(a(10));
        }
        "big.example." if !over_tcp => reply.metadata.truncation = true,
        "big.example." => {
            reply.add_answers((1..=40).map(a));
        }
        "missing.example." => {
            reply.metadata.response_code = ResponseCode::NXDomain;
            let soa = SOA::new(name.clone(), name.clone(), 1, 1, 1, 1, 30);
            reply.add_authority(Record::from_rdata(
                Name::from_ascii("example.").unwrap(),
                300,
                RData::SOA(soa),
            ));
        }
        _ => reply.metadata.response_code = ResponseCode::ServFail,
    }
    reply
}

fn fake_upstream() -> FakeUpstream {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = udp.local_addr().unwrap();
    let tcp = std::net::TcpListener::bind(addr).unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let counter = queries.clone();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok((len, peer)) = udp.recv_from(&mut buffer) {
            counter.fetch_add(1, Ordering::SeqCst);
            if let Ok(query) = Message::from_vec(&buffer[..len]) {
                let _ = udp.send_to(&fake_reply(&query, false).to_vec().unwrap(), peer);
            }
        }
    });
    let counter = queries.clone();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut stream in tcp.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut len = [0u8; 2];
            if stream.read_exact(&mut len).is_err() {
                continue;
            }
            let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if stream.read_exact(&mut query).is_err() {
                continue;
            }
            let Ok(query) = Message::from_vec(&query) else {
                continue;
            };
            let reply = fake_reply(&query, true).to_vec().unwrap();
            let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
            framed.extend(reply);
            let _ = stream.write_all(&framed);
        }
    });
    FakeUpstream { addr, queries }
}

#[test]
fn forwards_caches_and_falls_back_to_tcp() {
    let upstream = fake_upstream();
    let server = start(vec![upstream.addr]);

    let reply = ask(server.addr, "example.com.", RecordType::A);
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(!reply.metadata.authoritative);
    assert_eq!(rendered(&reply.answers), ["example.com. 60 A 192.0.2.10"]);
    let after_first = upstream.queries.load(Ordering::SeqCst);
    let again = ask(server.addr, "EXAMPLE.com.", RecordType::A);
    assert_eq!(again.answers.len(), 1);
    assert_eq!(
        upstream.queries.load(Ordering::SeqCst),
        after_first,
        "served from the cache"
    );

    // Negative answers are cached too, for the SOA minimum.
    let reply = ask(server.addr, "missing.example.", RecordType::A);
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(reply.authorities.len(), 1);
    let before = upstream.queries.load(Ordering::SeqCst);
    let reply = ask(server.addr, "missing.example.", RecordType::A);
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(
        upstream.queries.load(Ordering::SeqCst),
        before,
        "negative answer cached"
    );

    // Truncated over UDP upstream: asked again over TCP, all 40 records come back (over TCP).
    let reply = ask_tcp(server.addr, "big.example.", RecordType::A);
    assert_eq!(reply.answers.len(), 40);

    // Upstream failure is SERVFAIL, not cached as an answer.
    let reply = ask(server.addr, "broken.example.", RecordType::A);
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);

    // An ExternalName pointing outside is chased through the upstream.
    let reply = ask(server.addr, "ext.default.svc.cluster.local.", RecordType::A);
    assert_eq!(
        rendered(&reply.answers),
        [
            "ext.default.svc.cluster.local. 5 CNAME example.com.",
            "example.com. 60 A 192.0.2.10",
        ]
    );
}

#[test]
fn unreachable_upstream_is_servfail() {
    // A bound socket that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = start(vec![silent.local_addr().unwrap()]);
    let reply = ask(server.addr, "example.org.", RecordType::A);
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Random datagrams and TCP frames never stop the server from answering the next query.
    #[test]
    fn garbage_never_hurts(bytes in proptest::collection::vec(any::<u8>(), 0..700), header in any::<[u8; 12]>()) {
        static SERVER: std::sync::OnceLock<Running> = std::sync::OnceLock::new();
        let server = SERVER.get_or_init(|| start(Vec::new()));
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.send_to(&bytes, server.addr).unwrap();
        // A plausible header followed by garbage reaches the message parser.
        let mut framed = header.to_vec();
        framed.extend(&bytes);
        socket.send_to(&framed, server.addr).unwrap();
        {
            use std::io::Write;
            let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
            let _ = stream.write_all(&(framed.len() as u16).to_be_bytes());
            let _ = stream.write_all(&framed);
        }
        let reply = ask(server.addr, "web.default.svc.cluster.local.", RecordType::A);
        prop_assert_eq!(reply.answers.len(), 1);
    }
}
