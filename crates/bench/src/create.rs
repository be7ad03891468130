//! Scenario: pod creates per second with N concurrent clients, each create a durable write of
//! a ~1.5 KB manifest with a unique name.

use std::sync::Arc;
use std::time::Instant;

use hyper::{Method, StatusCode};

use crate::client::Connector;
use crate::load::{self, LoadResult, Op};
use crate::pod::PodTemplate;

/// Creates `count` pods named `{prefix}-{i}` in `namespace` over `clients` clients.
pub async fn run(
    connector: &Connector,
    namespace: &str,
    prefix: &str,
    clients: usize,
    count: usize,
    epoch: Instant,
    server_pid: u32,
) -> anyhow::Result<LoadResult> {
    let conns = connector.clients(clients).await?;
    let template = Arc::new(PodTemplate::new(namespace));
    let path = format!("/api/v1/namespaces/{namespace}/pods");
    let prefix = prefix.to_string();
    load::run(conns, count, server_pid, move |i| Op {
        method: Method::POST,
        path: path.clone(),
        body: Some((
            "application/json",
            template.render(&pod_name(&prefix, i), epoch.elapsed().as_micros() as u64),
        )),
        expect: StatusCode::CREATED,
    })
    .await
}

/// The name of pod `i` of a run.
pub fn pod_name(prefix: &str, i: usize) -> String {
    format!("{prefix}-{i:05}")
}
