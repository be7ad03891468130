//! The crate's errors, one variant per step that can fail.

use std::net::SocketAddr;

/// Why [`crate::serve`] stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("parsing the cluster domain {domain:?}")]
    ClusterDomain {
        domain: String,
        #[source]
        source: hickory_proto::ProtoError,
    },
    #[error("no listen address configured")]
    NoListenAddress,
    #[error("binding udp socket {addr}")]
    BindUdp {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("binding tcp listener {addr}")]
    BindTcp {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving dns")]
    Serve(#[source] hickory_server::net::NetError),
}

/// Why a forwarded question got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("no upstream resolvers configured")]
    NoUpstreams,
    #[error("encoding the query for {name}")]
    Encode {
        name: String,
        #[source]
        source: hickory_proto::ProtoError,
    },
    #[error("querying upstream {upstream} over {transport}")]
    Io {
        upstream: SocketAddr,
        transport: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("upstream {upstream} did not answer over {transport} in time")]
    Timeout {
        upstream: SocketAddr,
        transport: &'static str,
    },
    #[error("decoding the answer of upstream {upstream}")]
    Decode {
        upstream: SocketAddr,
        #[source]
        source: hickory_proto::serialize::binary::DecodeError,
    },
}
