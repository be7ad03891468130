//! Header rewriting between client and backend: hop-by-hop headers removed (also those the
//! `Connection` header names), `X-Forwarded-*` added, and upgrade requests recognised.

use std::net::IpAddr;

use hyper::HeaderMap;
use hyper::header::{self, HeaderName, HeaderValue};

/// Headers that concern one connection only (RFC 9110 section 7.6.1 and the usual extras).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
];

/// What the proxy knows about the client's connection.
#[derive(Clone, Debug)]
pub struct Forwarded {
    pub client: IpAddr,
    /// `http` or `https`.
    pub proto: &'static str,
    /// The port the client connected to.
    pub port: u16,
    /// The host the client asked for (`Host` or `:authority`, as sent).
    pub host: Option<String>,
}

/// The protocol an HTTP/1.1 request asks to switch to (`Connection: upgrade` + `Upgrade`).
pub fn upgrade_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    let wants = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if wants {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    }
}

/// Removes hop-by-hop headers and every header the `Connection` header lists, plus `Upgrade`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

/// Adds `X-Forwarded-For` (appending the client to any earlier hops), `-Proto`, `-Host` and
/// `-Port`. Values that cannot be headers are skipped.
pub fn add_forwarded(headers: &mut HeaderMap, forwarded: &Forwarded) {
    let client = forwarded.client.to_string();
    let earlier: Vec<String> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect();
    let chain = earlier
        .into_iter()
        .chain(std::iter::once(client))
        .collect::<Vec<_>>()
        .join(", ");
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set("x-forwarded-for", &chain);
    set("x-forwarded-proto", forwarded.proto);
    set("x-forwarded-port", &forwarded.port.to_string());
    if let Some(host) = &forwarded.host {
        set("x-forwarded-host", host);
    }
}

/// The request headers for the backend: hop-by-hop removed, `Host` kept (or set from the
/// authority for HTTP/2 clients), forwarding headers added, and for an upgrade the
/// `Connection: upgrade` / `Upgrade` pair put back.
pub fn backend_request_headers(
    headers: &mut HeaderMap,
    forwarded: &Forwarded,
    upgrade: Option<HeaderValue>,
) {
    strip_hop_by_hop(headers);
    if !headers.contains_key(header::HOST)
        && let Some(host) = forwarded.host.as_deref()
        && let Ok(value) = HeaderValue::from_str(host)
    {
        headers.insert(header::HOST, value);
    }
    add_forwarded(headers, forwarded);
    if let Some(protocol) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header name/value pairs as written in the tables.
    type Pairs<'a> = &'a [(&'a str, &'a str)];

    fn map(pairs: Pairs) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn pairs(headers: &HeaderMap) -> Vec<(String, String)> {
        let mut out: Vec<_> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        out.sort();
        out
    }

    fn forwarded() -> Forwarded {
        Forwarded {
            client: "192.0.2.7".parse().unwrap(),
            proto: "https",
            port: 443,
            host: Some("a.example.com".into()),
        }
    }

    #[test]
    fn strip_table() {
        let cases: &[(Pairs, Pairs)] = &[
            (&[("accept", "*/*")], &[("accept", "*/*")]),
            (
                &[
                    ("connection", "keep-alive, x-secret"),
                    ("x-secret", "1"),
                    ("keep-alive", "5"),
                    ("accept", "a"),
                ],
                &[("accept", "a")],
            ),
            (
                &[
                    ("transfer-encoding", "chunked"),
                    ("te", "trailers"),
                    ("trailer", "x"),
                ],
                &[],
            ),
            (
                &[("upgrade", "websocket"), ("proxy-authorization", "x")],
                &[],
            ),
        ];
        for (input, expected) in cases {
            let mut headers = map(input);
            strip_hop_by_hop(&mut headers);
            assert_eq!(pairs(&headers), pairs(&map(expected)), "{input:?}");
        }
    }

    #[test]
    fn forwarded_table() {
        let cases: &[(Pairs, &str)] = &[
            (&[], "192.0.2.7"),
            (&[("x-forwarded-for", "10.0.0.1")], "10.0.0.1, 192.0.2.7"),
            (
                &[
                    ("x-forwarded-for", "10.0.0.1"),
                    ("x-forwarded-for", "10.0.0.2, 10.0.0.3"),
                ],
                "10.0.0.1, 10.0.0.2, 10.0.0.3, 192.0.2.7",
            ),
        ];
        for (input, chain) in cases {
            let mut headers = map(input);
            add_forwarded(&mut headers, &forwarded());
            assert_eq!(headers["x-forwarded-for"], *chain, "{input:?}");
            assert_eq!(headers["x-forwarded-proto"], "https");
            assert_eq!(headers["x-forwarded-port"], "443");
            assert_eq!(headers["x-forwarded-host"], "a.example.com");
        }
    }

    #[test]
    fn upgrade_table() {
        let cases: &[(Pairs, Option<&str>)] = &[
            (
                &[("connection", "Upgrade"), ("upgrade", "websocket")],
                Some("websocket"),
            ),
            (
                &[("connection", "keep-alive, upgrade"), ("upgrade", "h2c")],
                Some("h2c"),
            ),
            (&[("upgrade", "websocket")], None),
            (&[("connection", "upgrade")], None),
            (&[("connection", "close")], None),
        ];
        for (input, expected) in cases {
            let got = upgrade_protocol(&map(input));
            assert_eq!(
                got.as_ref().map(|v| v.to_str().unwrap()),
                *expected,
                "{input:?}"
            );
        }
    }

    #[test]
    fn backend_headers_keep_upgrade_and_set_host() {
        let mut headers = map(&[
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("te", "x"),
        ]);
        let upgrade = upgrade_protocol(&headers);
        backend_request_headers(&mut headers, &forwarded(), upgrade);
        assert_eq!(headers["connection"], "upgrade");
        assert_eq!(headers["upgrade"], "websocket");
        assert_eq!(headers["host"], "a.example.com");
        assert!(!headers.contains_key("te"));
    }
}
