//! Request matching: `route(table, host, path)` picks the backend the Ingress spec prescribes.
//!
//! Hosts are tried from the most specific to the least: rules for the exact host, then for a
//! wildcard host (`*.example.com` matches exactly one more label), then rules without host.
//! Within those, the longest matching path wins (counted in `/`-separated elements), Exact
//! beating Prefix at equal length. Nothing matching means the default backend, if any.

use crate::table::{Backend, HostMatch, PathKind, RouteTable};

/// The host of a `Host` header or `:authority`: port and trailing dot removed, lowercase.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim();
    let without_port = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        rest.split(']').next().unwrap_or(rest)
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    without_port.trim_end_matches('.').to_ascii_lowercase()
}

fn host_matches(rule: &HostMatch, host: &str) -> bool {
    match rule {
        HostMatch::Any => true,
        HostMatch::Exact(exact) => exact == host,
        HostMatch::Wildcard(suffix) => host
            .strip_suffix(suffix.as_str())
            .is_some_and(|label| !label.is_empty() && !label.contains('.')),
    }
}

fn tier(rule: &HostMatch) -> u8 {
    match rule {
        HostMatch::Exact(_) => 0,
        HostMatch::Wildcard(_) => 1,
        HostMatch::Any => 2,
    }
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// How well a path rule matches: `(elements, exact)`, larger is better; `None` if it does not.
fn path_score(
    kind: PathKind,
    rule: &str,
    request: &str,
    request_segments: &[&str],
) -> Option<(usize, bool)> {
    match kind {
        PathKind::Exact => (rule == request).then(|| (segments(rule).len(), true)),
        PathKind::Prefix => {
            let rule_segments = segments(rule);
            request_segments
                .starts_with(&rule_segments)
                .then_some((rule_segments.len(), false))
        }
    }
}

/// The backend for a request to `host` (as sent: may carry a port) and `path` (no query).
pub fn route(table: &RouteTable, host: &str, path: &str) -> Option<Backend> {
    let host = normalize_host(host);
    let request_segments = segments(path);
    for wanted in 0..=2u8 {
        let best = table
            .rules
            .iter()
            .filter(|r| tier(&r.host) == wanted && host_matches(&r.host, &host))
            .flat_map(|r| r.paths.iter())
            .filter_map(|p| {
                path_score(p.kind, &p.path, path, &request_segments).map(|score| (score, p))
            })
            // max_by_key keeps the last of equals; iterate reversed so the oldest wins ties.
            .rev()
            .max_by_key(|(score, _)| *score);
        if let Some((_, rule)) = best {
            return Some(rule.backend.clone());
        }
    }
    table.default_backend.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{BackendPort, PathRule};

    fn backend(name: &str) -> Backend {
        Backend {
            namespace: "default".into(),
            service: name.into(),
            port: BackendPort::Number(80),
        }
    }

    /// A table from `(host, path, kind, service)` rows, added in order (oldest first).
    fn table(rows: &[(Option<&str>, &str, PathKind, &str)], default: Option<&str>) -> RouteTable {
        let mut t = RouteTable::default();
        for (host, path, kind, service) in rows {
            t.add(
                HostMatch::parse(*host),
                PathRule {
                    path: path.to_string(),
                    kind: *kind,
                    backend: backend(service),
                },
            );
        }
        t.default_backend = default.map(backend);
        t
    }

    fn check(t: &RouteTable, cases: &[(&str, &str, Option<&str>)]) {
        for (host, path, expected) in cases {
            let got = route(t, host, path).map(|b| b.service);
            assert_eq!(got.as_deref(), *expected, "route({host:?}, {path:?})");
        }
    }

    use PathKind::{Exact, Prefix};

    /// Upstream's table of examples (single rule each), in the spec's order.
    #[test]
    fn upstream_examples() {
        let cases: &[(PathKind, &str, &str, bool)] = &[
            (Prefix, "/", "/", true),
            (Prefix, "/", "/anything/at/all", true),
            (Exact, "/foo", "/foo", true),
            (Exact, "/foo", "/bar", false),
            (Exact, "/foo", "/foo/", false),
            (Exact, "/foo/", "/foo", false),
            (Prefix, "/foo", "/foo", true),
            (Prefix, "/foo", "/foo/", true),
            (Prefix, "/foo/", "/foo", true),
            (Prefix, "/foo/", "/foo/", true),
            (Prefix, "/aaa/bb", "/aaa/bbb", false),
            (Prefix, "/aaa/bbb", "/aaa/bbb", true),
            (Prefix, "/aaa/bbb/", "/aaa/bbb", true),
            (Prefix, "/aaa/bbb", "/aaa/bbb/", true),
            (Prefix, "/aaa/bbb", "/aaa/bbb/ccc", true),
            (Prefix, "/aaa/bbb", "/aaa/bbbxyz", false),
            (Prefix, "/foo", "/FOO", false),
        ];
        for (kind, rule, request, matches) in cases {
            let t = table(&[(None, rule, *kind, "svc")], None);
            let got = route(&t, "any.host", request).is_some();
            assert_eq!(got, *matches, "{kind:?} {rule:?} against {request:?}");
        }
    }

    #[test]
    fn mixed_rules_longest_and_exact_win() {
        let t = table(
            &[
                (None, "/", Prefix, "root"),
                (None, "/aaa", Prefix, "aaa"),
                (None, "/foo", Exact, "foo-exact"),
                (None, "/foo", Prefix, "foo-prefix"),
                (None, "/aaa/bbb/ccc", Exact, "ccc-exact"),
            ],
            None,
        );
        check(
            &t,
            &[
                ("h", "/aaa/ccc", Some("aaa")),
                ("h", "/foo", Some("foo-exact")),
                ("h", "/foo/", Some("foo-prefix")),
                ("h", "/foo/x", Some("foo-prefix")),
                ("h", "/aaa/bbb/ccc", Some("ccc-exact")),
                ("h", "/aaa/bbb/ccc/", Some("aaa")),
                ("h", "/zzz", Some("root")),
            ],
        );
    }

    #[test]
    fn hosts_exact_wildcard_and_any() {
        let t = table(
            &[
                (Some("a.example.com"), "/", Prefix, "a"),
                (Some("*.example.com"), "/", Prefix, "wild"),
                (Some("b.example.com"), "/api", Prefix, "b-api"),
                (None, "/open", Prefix, "open"),
            ],
            Some("default"),
        );
        check(
            &t,
            &[
                ("a.example.com", "/x", Some("a")),
                ("A.Example.COM:8443", "/x", Some("a")),
                ("a.example.com.", "/x", Some("a")),
                ("c.example.com", "/x", Some("wild")),
                ("b.example.com", "/api/v1", Some("b-api")),
                // The exact host has no matching path: the wildcard's does.
                ("b.example.com", "/other", Some("wild")),
                // A wildcard matches exactly one label.
                ("x.y.example.com", "/x", Some("default")),
                ("example.com", "/x", Some("default")),
                ("x.y.example.com", "/open/door", Some("open")),
                ("unknown.org", "/open", Some("open")),
                ("unknown.org", "/closed", Some("default")),
                ("[::1]:80", "/closed", Some("default")),
            ],
        );
    }

    #[test]
    fn nothing_and_no_default_is_none() {
        let t = table(&[(Some("a.example.com"), "/x", Exact, "a")], None);
        check(
            &t,
            &[("a.example.com", "/y", None), ("b.example.com", "/x", None)],
        );
    }

    #[test]
    fn oldest_wins_conflicts() {
        let t = table(
            &[
                (Some("a.example.com"), "/", Prefix, "older"),
                (Some("a.example.com"), "/", Prefix, "newer"),
                (Some("a.example.com"), "/", Exact, "newer-exact"),
            ],
            None,
        );
        check(
            &t,
            &[
                ("a.example.com", "/x", Some("older")),
                ("a.example.com", "/", Some("newer-exact")),
            ],
        );
    }

    #[test]
    fn host_normalization() {
        for (raw, expected) in [
            ("Foo.Example.com", "foo.example.com"),
            ("foo.example.com:8080", "foo.example.com"),
            ("foo.example.com.", "foo.example.com"),
            ("[::1]:443", "::1"),
            ("10.0.0.1:80", "10.0.0.1"),
            ("", ""),
        ] {
            assert_eq!(normalize_host(raw), expected, "{raw:?}");
        }
    }
}
