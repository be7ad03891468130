//! Tables of cases for the record rules: one snapshot of literal API objects, one line per
//! question with the expected answer rendered as text.

use hickory_proto::rr::{Name, Record, RecordType};
use proptest::prelude::*;

use super::fixture::cluster;
use super::{Answer, answer};
use crate::snapshot::Snapshot;

/// What a question should get, records rendered as `owner TYPE rdata`.
#[derive(Debug)]
enum Expect {
    Records(&'static [&'static str]),
    NoData,
    Nx,
    Forward,
}

fn render(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| format!("{} {} {}", r.name, r.record_type(), r.data))
        .collect()
}

fn check(snapshot: &Snapshot, cases: &[(&str, RecordType, Expect)]) {
    let domain = Name::from_ascii("cluster.local.").unwrap();
    for (qname, qtype, expected) in cases {
        let got = answer(snapshot, &domain, &Name::from_ascii(qname).unwrap(), *qtype);
        let ok = match (&got, expected) {
            (Answer::Records { answers, .. }, Expect::Records(want)) => render(answers) == *want,
            (Answer::NoData, Expect::NoData)
            | (Answer::NxDomain, Expect::Nx)
            | (Answer::Forward, Expect::Forward) => true,
            _ => false,
        };
        assert!(ok, "{qname} {qtype}: expected {expected:?}, got {got:#?}");
    }
}

use Expect::{Forward, NoData, Nx, Records};
use RecordType::{A, AAAA, CNAME, MX, PTR, SOA, SRV, TXT};

#[test]
fn cluster_ip_services() {
    check(
        &cluster(),
        &[
            (
                "web.default.svc.cluster.local.",
                A,
                Records(&["web.default.svc.cluster.local. A 10.43.0.20"]),
            ),
            (
                "WEB.Default.SVC.cluster.LOCAL.",
                A,
                Records(&["web.default.svc.cluster.local. A 10.43.0.20"]),
            ),
            (
                "web.default.svc.cluster.local.",
                AAAA,
                Records(&["web.default.svc.cluster.local. AAAA fd43::20"]),
            ),
            (
                "np.default.svc.cluster.local.",
                A,
                Records(&["np.default.svc.cluster.local. A 10.43.0.21"]),
            ),
            ("np.default.svc.cluster.local.", AAAA, NoData),
            ("web.default.svc.cluster.local.", TXT, NoData),
            ("web.default.svc.cluster.local.", MX, NoData),
            ("pending.other.svc.cluster.local.", A, NoData),
            ("nope.default.svc.cluster.local.", A, Nx),
            ("web.nope.svc.cluster.local.", A, Nx),
            // Endpoint names exist only for headless Services.
            ("x.web.default.svc.cluster.local.", A, Nx),
        ],
    );
}

#[test]
fn srv_records() {
    check(
        &cluster(),
        &[
            (
                "_http._tcp.web.default.svc.cluster.local.",
                SRV,
                Records(&[
                    "_http._tcp.web.default.svc.cluster.local. SRV 0 100 80 web.default.svc.cluster.local.",
                ]),
            ),
            (
                "_dns._udp.web.default.svc.cluster.local.",
                SRV,
                Records(&[
                    "_dns._udp.web.default.svc.cluster.local. SRV 0 100 53 web.default.svc.cluster.local.",
                ]),
            ),
            ("_dns._tcp.web.default.svc.cluster.local.", SRV, Nx),
            ("_http._tcp.web.default.svc.cluster.local.", A, NoData),
            ("_tcp.web.default.svc.cluster.local.", SRV, NoData),
            ("_sctp.web.default.svc.cluster.local.", SRV, Nx),
            ("_nope._tcp.web.default.svc.cluster.local.", SRV, Nx),
            ("http.tcp.web.default.svc.cluster.local.", SRV, Nx),
            // Headless: one per ready endpoint, endpoint ports, hostname or dashed address.
            (
                "_pg._tcp.db.default.svc.cluster.local.",
                SRV,
                Records(&[
                    "_pg._tcp.db.default.svc.cluster.local. SRV 0 100 15432 db-0.db.default.svc.cluster.local.",
                    "_pg._tcp.db.default.svc.cluster.local. SRV 0 100 15432 10-42-0-6.db.default.svc.cluster.local.",
                ]),
            ),
            ("_pg._tcp.ext.default.svc.cluster.local.", SRV, Nx),
        ],
    );
}

#[test]
fn headless_services_and_endpoints() {
    check(
        &cluster(),
        &[
            (
                "db.default.svc.cluster.local.",
                A,
                Records(&[
                    "db.default.svc.cluster.local. A 10.42.0.5",
                    "db.default.svc.cluster.local. A 10.42.0.6",
                ]),
            ),
            ("db.default.svc.cluster.local.", AAAA, NoData),
            (
                "warm.default.svc.cluster.local.",
                A,
                Records(&["warm.default.svc.cluster.local. A 10.42.1.9"]),
            ),
            ("empty.default.svc.cluster.local.", A, NoData),
            (
                "db-0.db.default.svc.cluster.local.",
                A,
                Records(&["db-0.db.default.svc.cluster.local. A 10.42.0.5"]),
            ),
            ("db-0.db.default.svc.cluster.local.", AAAA, NoData),
            (
                "10-42-0-5.db.default.svc.cluster.local.",
                A,
                Records(&["10-42-0-5.db.default.svc.cluster.local. A 10.42.0.5"]),
            ),
            (
                "10-42-0-6.db.default.svc.cluster.local.",
                A,
                Records(&["10-42-0-6.db.default.svc.cluster.local. A 10.42.0.6"]),
            ),
            // Not ready and not published: no record.
            ("db-2.db.default.svc.cluster.local.", A, Nx),
            ("10-42-0-7.db.default.svc.cluster.local.", A, Nx),
            ("10-42-0-99.db.default.svc.cluster.local.", A, Nx),
            (
                "10-42-1-9.warm.default.svc.cluster.local.",
                A,
                Records(&["10-42-1-9.warm.default.svc.cluster.local. A 10.42.1.9"]),
            ),
        ],
    );
}

#[test]
fn external_names() {
    check(
        &cluster(),
        &[
            (
                "ext.default.svc.cluster.local.",
                A,
                Records(&["ext.default.svc.cluster.local. CNAME example.com."]),
            ),
            (
                "ext.default.svc.cluster.local.",
                CNAME,
                Records(&["ext.default.svc.cluster.local. CNAME example.com."]),
            ),
            (
                "alias.default.svc.cluster.local.",
                A,
                Records(&[
                    "alias.default.svc.cluster.local. CNAME web.default.svc.cluster.local.",
                    "web.default.svc.cluster.local. A 10.43.0.20",
                ]),
            ),
            (
                "loop.default.svc.cluster.local.",
                A,
                Records(&[
                    "loop.default.svc.cluster.local. CNAME loop.default.svc.cluster.local.",
                    "loop.default.svc.cluster.local. CNAME loop.default.svc.cluster.local.",
                    "loop.default.svc.cluster.local. CNAME loop.default.svc.cluster.local.",
                    "loop.default.svc.cluster.local. CNAME loop.default.svc.cluster.local.",
                    "loop.default.svc.cluster.local. CNAME loop.default.svc.cluster.local.",
                    "loop.default.svc.cluster.local. CNAME loop.default.svc.cluster.local.",
                    "loop.default.svc.cluster.local. CNAME loop.default.svc.cluster.local.",
                    "loop.default.svc.cluster.local. CNAME loop.default.svc.cluster.local.",
                    "loop.default.svc.cluster.local. CNAME loop.default.svc.cluster.local.",
                ]),
            ),
        ],
    );
    let domain = Name::from_ascii("cluster.local.").unwrap();
    let qname = Name::from_ascii("ext.default.svc.cluster.local.").unwrap();
    let Answer::Records { chase, .. } = answer(&cluster(), &domain, &qname, A) else {
        panic!("no records for ext");
    };
    assert_eq!(chase, Some(Name::from_ascii("example.com.").unwrap()));
}

#[test]
fn reverse_lookups() {
    check(
        &cluster(),
        &[
            (
                "20.0.43.10.in-addr.arpa.",
                PTR,
                Records(&["20.0.43.10.in-addr.arpa. PTR web.default.svc.cluster.local."]),
            ),
            (
                "5.0.42.10.in-addr.arpa.",
                PTR,
                Records(&["5.0.42.10.in-addr.arpa. PTR db-0.db.default.svc.cluster.local."]),
            ),
            (
                "6.0.42.10.in-addr.arpa.",
                PTR,
                Records(&["6.0.42.10.in-addr.arpa. PTR 10-42-0-6.db.default.svc.cluster.local."]),
            ),
            ("20.0.43.10.in-addr.arpa.", A, NoData),
            ("7.0.42.10.in-addr.arpa.", PTR, Forward),
            ("1.1.168.192.in-addr.arpa.", PTR, Forward),
            ("020.0.43.10.in-addr.arpa.", PTR, Forward),
            ("0.43.10.in-addr.arpa.", PTR, Forward),
            (
                "0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.d.f.ip6.arpa.",
                PTR,
                Records(&[
                    "0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.d.f.ip6.arpa. PTR web.default.svc.cluster.local.",
                ]),
            ),
        ],
    );
}

#[test]
fn zone_structure_and_other_names() {
    check(
        &cluster(),
        &[
            ("cluster.local.", A, NoData),
            ("svc.cluster.local.", A, NoData),
            ("default.svc.cluster.local.", A, NoData),
            ("anything.svc.cluster.local.", AAAA, NoData),
            ("foo.cluster.local.", A, Nx),
            ("a.b.c.d.e.f.svc.cluster.local.", A, Nx),
            ("web.default.cluster.local.", A, Nx),
            (
                "10-1-2-3.default.pod.cluster.local.",
                A,
                Records(&["10-1-2-3.default.pod.cluster.local. A 10.1.2.3"]),
            ),
            ("bogus.default.pod.cluster.local.", A, Nx),
            ("example.com.", A, Forward),
            ("cluster.local.example.com.", A, Forward),
            ("local.", A, Forward),
            (".", A, Forward),
        ],
    );
    let domain = Name::from_ascii("cluster.local.").unwrap();
    let got = answer(&cluster(), &domain, &domain, SOA);
    assert!(
        matches!(got, Answer::Records { ref answers, .. } if answers.len() == 1),
        "{got:?}"
    );
}

#[test]
fn unsynced_snapshot_is_not_ready() {
    let domain = Name::from_ascii("cluster.local.").unwrap();
    let qname = Name::from_ascii("web.default.svc.cluster.local.").unwrap();
    assert_eq!(
        answer(&Snapshot::default(), &domain, &qname, A),
        Answer::NotReady
    );
    let other = Name::from_ascii("example.com.").unwrap();
    assert_eq!(
        answer(&Snapshot::default(), &domain, &other, A),
        Answer::Forward
    );
}

proptest! {
    /// Any name of any type gets some answer, never a panic; cluster names are never forwarded.
    #[test]
    fn any_name_gets_an_answer(
        labels in proptest::collection::vec("[a-z0-9_-]{1,12}", 0..7),
        suffix in prop_oneof![Just("svc.cluster.local."), Just("cluster.local."), Just("in-addr.arpa."), Just("ip6.arpa."), Just("example.")],
        qtype in any::<u16>(),
    ) {
        let domain = Name::from_ascii("cluster.local.").unwrap();
        let text = labels.iter().map(|l| format!("{l}.")).collect::<String>() + suffix;
        if let Ok(qname) = Name::from_ascii(&text) {
            let got = answer(&cluster(), &domain, &qname, RecordType::from(qtype));
            if domain.zone_of(&qname) {
                prop_assert!(got != Answer::Forward, "{} forwarded", text);
            }
        }
    }
}
