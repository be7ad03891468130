//! Scenario: single-object gets per second with N concurrent clients, spread over every
//! stored pod so no client hammers one key.

use std::sync::Arc;

use hyper::{Method, StatusCode};

use crate::client::Connector;
use crate::load::{self, LoadResult, Op};

/// A stride coprime with any realistic pod count, to scatter consecutive gets.
const STRIDE: usize = 7919;

/// Gets `count` pods picked from `names` in `namespace` over `clients` clients.
pub async fn run(
    connector: &Connector,
    namespace: &str,
    names: Vec<String>,
    clients: usize,
    count: usize,
    server_pid: u32,
) -> anyhow::Result<LoadResult> {
    anyhow::ensure!(!names.is_empty(), "no pods to get");
    let conns = connector.clients(clients).await?;
    let names = Arc::new(names);
    let base = format!("/api/v1/namespaces/{namespace}/pods/");
    load::run(conns, count, server_pid, move |i| Op {
        method: Method::GET,
        path: format!("{base}{}", names[(i * STRIDE) % names.len()]),
        body: None,
        expect: StatusCode::OK,
    })
    .await
}
