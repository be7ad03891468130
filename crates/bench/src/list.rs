//! Scenario: latency of listing every pod of a namespace, in one response and page by page
//! (`limit` + `continue`), repeated on one connection.

use std::time::Instant;

use anyhow::{Context, ensure};
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::client::Connector;
use crate::latency::Latencies;
use crate::machine::{CpuSnapshot, CpuUsage};

/// A list response, reduced to what the client needs: the continue token and the item count.
#[derive(Deserialize)]
struct ListPage {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default)]
    items: Vec<IgnoredAny>,
}

#[derive(Default, Deserialize)]
struct ListMeta {
    #[serde(rename = "continue", default)]
    continue_token: Option<String>,
    #[serde(rename = "resourceVersion", default)]
    resource_version: Option<String>,
}

/// What one list scenario measured.
pub struct ListResult {
    pub latencies: Latencies,
    /// Bytes of one full pass (all pages together).
    pub bytes: usize,
    pub pages: usize,
    pub cpu: CpuUsage,
}

impl ListResult {
    pub fn describe(&mut self, repeats: usize) -> String {
        format!(
            "{repeats} runs, {} pages, {:.1} MB per pass; {}; {}",
            self.pages,
            self.bytes as f64 / 1e6,
            self.latencies.summary(),
            self.cpu
        )
    }
}

/// Lists `namespace` `repeats` times; `page_size` 0 means one unpaginated request. Each pass
/// must return exactly `expected` items. A pass's latency includes the client's decoding of
/// each page's continue token (it needs it for the next request), not of the full list.
pub async fn run(
    connector: &Connector,
    namespace: &str,
    page_size: usize,
    repeats: usize,
    expected: usize,
    server_pid: u32,
) -> anyhow::Result<ListResult> {
    let mut conn = connector.connect().await?;
    let base = format!("/api/v1/namespaces/{namespace}/pods");
    let mut latencies = Latencies::with_capacity(repeats);
    let (mut bytes, mut pages) = (0, 0);
    let cpu = CpuSnapshot::take(server_pid);
    for _ in 0..repeats {
        let started = Instant::now();
        let mut items = 0;
        let mut token: Option<String> = None;
        let mut bodies = Vec::new();
        pages = 0;
        let elapsed = loop {
            let path = match (&token, page_size) {
                (_, 0) => base.clone(),
                (None, n) => format!("{base}?limit={n}"),
                (Some(t), n) => format!("{base}?limit={n}&continue={t}"),
            };
            let body = conn
                .expect(StatusCode::OK, Method::GET, &path, None)
                .await?;
            pages += 1;
            if page_size == 0 {
                // Stop the clock at the last byte; decode afterwards, only to check the count.
                bodies.push(body);
                break started.elapsed();
            }
            let page: ListPage =
                serde_json::from_slice(&body).with_context(|| format!("decoding {path}"))?;
            items += page.items.len();
            bodies.push(body);
            match page.metadata.continue_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(percent_encode(&t)),
                None => break started.elapsed(),
            }
        };
        latencies.push(elapsed);
        bytes = bodies.iter().map(|b| b.len()).sum();
        if page_size == 0 {
            let page: ListPage =
                serde_json::from_slice(&bodies[0]).context("decoding the full list")?;
            items = page.items.len();
        }
        ensure!(
            items == expected,
            "listing {namespace}: got {items} pods, expected {expected}"
        );
    }
    Ok(ListResult {
        latencies,
        bytes,
        pages,
        cpu: cpu.usage_since(server_pid),
    })
}

/// The current resourceVersion of the pods in `namespace`, from a one-item list.
pub async fn current_version(connector: &Connector, namespace: &str) -> anyhow::Result<String> {
    let mut conn = connector.connect().await?;
    let path = format!("/api/v1/namespaces/{namespace}/pods?limit=1");
    let body = conn
        .expect(StatusCode::OK, Method::GET, &path, None)
        .await?;
    let page: ListPage =
        serde_json::from_slice(&body).with_context(|| format!("decoding {path}"))?;
    page.metadata
        .resource_version
        .filter(|rv| !rv.is_empty())
        .with_context(|| format!("{path}: no resourceVersion"))
}

/// Percent-encodes a continue token for a query string (tokens are often base64).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_page_without_its_items() {
        let page: ListPage = serde_json::from_str(r#"{"kind":"PodList","metadata":{"resourceVersion":"42","continue":"abc="},"items":[{"a":1},{"b":[2]}]}"#).unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.metadata.continue_token.as_deref(), Some("abc="));
        assert_eq!(page.metadata.resource_version.as_deref(), Some("42"));
    }

    #[test]
    fn encodes_tokens() {
        assert_eq!(percent_encode("eyJ2Ijo+/="), "eyJ2Ijo%2B%2F%3D");
    }
}
