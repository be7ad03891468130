//! The upstream resolvers of the host, read from resolv.conf text.

use std::net::{IpAddr, SocketAddr};

/// The `nameserver` lines of a resolv.conf, each on port 53, in file order. Malformed lines,
/// comments and duplicates are skipped; IPv6 zone suffixes (`fe80::1%eth0`) are dropped.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    let mut upstreams = Vec::new();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or_default();
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(address) = words.next() else {
            continue;
        };
        let address = address.split('%').next().unwrap_or_default();
        let Ok(ip) = address.parse::<IpAddr>() else {
            continue;
        };
        let upstream = SocketAddr::new(ip, 53);
        if !upstreams.contains(&upstream) {
            upstreams.push(upstream);
        }
    }
    upstreams
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nameservers_in_order() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("nameserver 10.0.0.2\n", &["10.0.0.2:53"]),
            (
                "# comment\nsearch example.com\nnameserver 1.1.1.1\nnameserver ::1\noptions ndots:5\n",
                &["1.1.1.1:53", "[::1]:53"],
            ),
            ("nameserver 127.0.0.53 # systemd\n", &["127.0.0.53:53"]),
            ("nameserver fe80::1%eth0\n", &["[fe80::1]:53"]),
            ("nameserver\nnameserver bogus\nnameserverx 1.2.3.4\n", &[]),
            ("nameserver 8.8.8.8\nnameserver 8.8.8.8\n", &["8.8.8.8:53"]),
            ("  nameserver\t9.9.9.9  \n", &["9.9.9.9:53"]),
        ];
        for (text, expected) in cases {
            let got: Vec<String> = upstreams_from_resolv_conf(text)
                .iter()
                .map(|a| a.to_string())
                .collect();
            assert_eq!(got, *expected, "for {text:?}");
        }
    }
}
