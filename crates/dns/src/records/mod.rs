//! The record rules of the Kubernetes DNS specification: a pure function from a snapshot and a
//! question to an answer.
//!
//! Names under the cluster domain are ours: they exist or are NXDOMAIN. Reverse names of
//! cluster IPs and headless endpoints are ours too; every other name is forwarded.

use std::net::IpAddr;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, PTR, SOA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::snapshot::{PortEntry, ServiceEntry, ServiceKind, Snapshot, undashed};

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
mod tests;

/// TTL of positive cluster answers, CoreDNS's default.
pub const TTL: u32 = 5;

/// How deep CNAMEs of ExternalName Services to other cluster names are followed.
const MAX_CNAME_DEPTH: usize = 8;

/// What to reply to one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An existing cluster name with records of the asked type.
    Records {
        answers: Vec<Record>,
        additionals: Vec<Record>,
        /// An ExternalName target outside the cluster: resolve it upstream and append.
        chase: Option<Name>,
    },
    /// The name exists, without records of this type.
    NoData,
    /// A name under the cluster domain that does not exist.
    NxDomain,
    /// Cluster data is not loaded yet.
    NotReady,
    /// Not a cluster name: ask the upstreams.
    Forward,
}

impl Answer {
    fn records(answers: Vec<Record>) -> Answer {
        if answers.is_empty() {
            Answer::NoData
        } else {
            Answer::Records {
                answers,
                additionals: Vec::new(),
                chase: None,
            }
        }
    }
}

/// The SOA of the cluster zone, its TTL and minimum being the negative-caching TTL.
pub fn soa(domain: &Name, serial: u32, negative_ttl: u32) -> Record {
    let mname = Name::parse("ns.dns", Some(domain)).unwrap_or_else(|_| domain.clone());
    let rname = Name::parse("hostmaster", Some(domain)).unwrap_or_else(|_| domain.clone());
    let data = SOA::new(mname, rname, serial, 7200, 1800, 86400, negative_ttl);
    Record::from_rdata(domain.clone(), negative_ttl, RData::SOA(data))
}

/// Answers `qname`/`qtype` from `snapshot`; `domain` is the cluster domain (`cluster.local.`).
pub fn answer(snapshot: &Snapshot, domain: &Name, qname: &Name, qtype: RecordType) -> Answer {
    answer_at(snapshot, domain, &qname.to_lowercase(), qtype, 0)
}

fn answer_at(
    snapshot: &Snapshot,
    domain: &Name,
    qname: &Name,
    qtype: RecordType,
    depth: usize,
) -> Answer {
    if let Some(address) = reverse_address(qname) {
        let names = snapshot.reverse(address);
        if names.is_empty() || !snapshot.synced {
            return Answer::Forward;
        }
        if qtype != RecordType::PTR {
            return Answer::NoData;
        }
        let answers = names
            .iter()
            .filter_map(|relative| Name::parse(relative, Some(domain)).ok())
            .map(|target| Record::from_rdata(qname.clone(), TTL, RData::PTR(PTR(target))))
            .collect();
        return Answer::records(answers);
    }
    if !domain.zone_of(qname) {
        return Answer::Forward;
    }
    if !snapshot.synced {
        return Answer::NotReady;
    }
    let labels = relative_labels(qname, domain);
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    match labels.as_slice() {
        [] if qtype == RecordType::SOA => {
            Answer::records(vec![soa(domain, snapshot.generation, TTL)])
        }
        [] | ["svc"] | [_, "svc"] | ["pod"] | [_, "pod"] => Answer::NoData,
        [service, namespace, "svc"] => {
            let Some(entry) = snapshot.service(namespace, service) else {
                return Answer::NxDomain;
            };
            service_answer(snapshot, domain, qname, qtype, entry, depth)
        }
        [first, service, namespace, "svc"] => {
            let Some(entry) = snapshot.service(namespace, service) else {
                return Answer::NxDomain;
            };
            if first.starts_with('_') {
                // `_proto.svc.ns.svc`: the empty non-terminal above SRV names.
                let proto = first.trim_start_matches('_');
                if srv_ports(entry, None, proto).next().is_some() {
                    return Answer::NoData;
                }
                return Answer::NxDomain;
            }
            endpoint_answer(qname, qtype, entry, first)
        }
        [port, proto, service, namespace, "svc"] => {
            let (Some(port), Some(proto)) = (port.strip_prefix('_'), proto.strip_prefix('_'))
            else {
                return Answer::NxDomain;
            };
            let Some(entry) = snapshot.service(namespace, service) else {
                return Answer::NxDomain;
            };
            srv_answer(
                domain,
                qname,
                qtype,
                entry,
                (port, proto),
                (service, namespace),
            )
        }
        [ip, _namespace, "pod"] => match undashed(ip) {
            Some(address) => Answer::records(address_records(qname, qtype, [address])),
            None => Answer::NxDomain,
        },
        _ => Answer::NxDomain,
    }
}

/// The labels of `qname` in front of `domain`, lowercase, outermost last.
fn relative_labels(qname: &Name, domain: &Name) -> Vec<String> {
    let keep = usize::from(qname.num_labels()).saturating_sub(usize::from(domain.num_labels()));
    qname
        .iter()
        .take(keep)
        .map(|label| String::from_utf8_lossy(label).to_ascii_lowercase())
        .collect()
}

/// A or AAAA records of `addresses` matching `qtype`, named `owner`.
fn address_records(
    owner: &Name,
    qtype: RecordType,
    addresses: impl IntoIterator<Item = IpAddr>,
) -> Vec<Record> {
    let mut seen = Vec::new();
    let mut records = Vec::new();
    for address in addresses {
        if seen.contains(&address) {
            continue;
        }
        seen.push(address);
        let data = match (address, qtype) {
            (IpAddr::V4(v4), RecordType::A | RecordType::ANY) => RData::A(A(v4)),
            (IpAddr::V6(v6), RecordType::AAAA | RecordType::ANY) => RData::AAAA(AAAA(v6)),
            _ => continue,
        };
        records.push(Record::from_rdata(owner.clone(), TTL, data));
    }
    records
}

fn service_answer(
    snapshot: &Snapshot,
    domain: &Name,
    qname: &Name,
    qtype: RecordType,
    entry: &ServiceEntry,
    depth: usize,
) -> Answer {
    match &entry.kind {
        ServiceKind::ClusterIp(ips) => Answer::records(address_records(qname, qtype, ips.clone())),
        ServiceKind::Headless => {
            let addresses = entry.endpoints.iter().flat_map(|e| e.addresses.clone());
            Answer::records(address_records(qname, qtype, addresses))
        }
        ServiceKind::ExternalName(target) => {
            let Ok(target) = Name::from_ascii(format!("{target}.")) else {
                return Answer::NoData;
            };
            let cname = Record::from_rdata(qname.clone(), TTL, RData::CNAME(CNAME(target.clone())));
            let mut answers = vec![cname];
            if qtype == RecordType::CNAME {
                return Answer::records(answers);
            }
            if !domain.zone_of(&target) {
                return Answer::Records {
                    answers,
                    additionals: Vec::new(),
                    chase: Some(target),
                };
            }
            let mut additionals = Vec::new();
            let mut chase = None;
            if depth < MAX_CNAME_DEPTH
                && let Answer::Records {
                    answers: more,
                    additionals: extra,
                    chase: next,
                } = answer_at(snapshot, domain, &target.to_lowercase(), qtype, depth + 1)
            {
                answers.extend(more);
                additionals.extend(extra);
                chase = next;
            }
            Answer::Records {
                answers,
                additionals,
                chase,
            }
        }
    }
}

/// `<hostname>.<svc>.<ns>.svc` or `<dashed-ip>.<svc>.<ns>.svc` of a headless Service.
fn endpoint_answer(qname: &Name, qtype: RecordType, entry: &ServiceEntry, label: &str) -> Answer {
    if entry.kind != ServiceKind::Headless {
        return Answer::NxDomain;
    }
    let by_address = undashed(label);
    let mut addresses = Vec::new();
    for endpoint in &entry.endpoints {
        if endpoint
            .hostname
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
            == Some(label)
        {
            addresses.extend(endpoint.addresses.iter().copied());
        } else if let Some(address) = by_address
            && endpoint.addresses.contains(&address)
        {
            addresses.push(address);
        }
    }
    if addresses.is_empty() {
        return Answer::NxDomain;
    }
    Answer::records(address_records(qname, qtype, addresses))
}

/// The ports of `entry` (of its endpoints when headless) matching `name` (any when `None`)
/// and `proto`, paired with the endpoint index they came from (`None` for Service ports).
fn srv_ports<'a>(
    entry: &'a ServiceEntry,
    name: Option<&'a str>,
    proto: &'a str,
) -> impl Iterator<Item = (Option<usize>, u16)> + 'a {
    let matches = move |p: &&PortEntry| {
        !p.name.is_empty() && p.protocol == proto && name.is_none_or(|n| n == p.name)
    };
    let service_ports = entry
        .ports
        .iter()
        .filter(matches)
        .filter(|_| matches!(entry.kind, ServiceKind::ClusterIp(_)))
        .map(|p| (None, p.port));
    let endpoint_ports = entry
        .endpoints
        .iter()
        .enumerate()
        .filter(|_| entry.kind == ServiceKind::Headless)
        .flat_map(move |(i, e)| {
            e.ports
                .iter()
                .filter(matches)
                .map(move |p| (Some(i), p.port))
        });
    service_ports.chain(endpoint_ports)
}

/// `_<port>._<proto>.<svc>.<ns>.svc`: SRV records, with the targets' addresses as additionals.
fn srv_answer(
    domain: &Name,
    qname: &Name,
    qtype: RecordType,
    entry: &ServiceEntry,
    (port, proto): (&str, &str),
    (service, namespace): (&str, &str),
) -> Answer {
    let ports: Vec<(Option<usize>, u16)> = srv_ports(entry, Some(port), proto).collect();
    if ports.is_empty() {
        return Answer::NxDomain;
    }
    if qtype != RecordType::SRV && qtype != RecordType::ANY {
        return Answer::NoData;
    }
    let Ok(service_name) = Name::parse(&format!("{service}.{namespace}.svc"), Some(domain)) else {
        return Answer::NoData;
    };
    let mut answers = Vec::new();
    let mut additionals = Vec::new();
    for (endpoint, port) in ports {
        let srv = |target: Name| {
            Record::from_rdata(
                qname.clone(),
                TTL,
                RData::SRV(SRV::new(0, 100, port, target)),
            )
        };
        match endpoint.and_then(|i| entry.endpoints.get(i)) {
            None => {
                answers.push(srv(service_name.clone()));
                if let ServiceKind::ClusterIp(ips) = &entry.kind {
                    additionals.extend(address_records(
                        &service_name,
                        RecordType::ANY,
                        ips.clone(),
                    ));
                }
            }
            Some(endpoint) => {
                for address in &endpoint.addresses {
                    let Ok(target) = service_name.prepend_label(endpoint.label_for(*address))
                    else {
                        continue;
                    };
                    answers.push(srv(target.clone()));
                    additionals.extend(address_records(&target, RecordType::ANY, [*address]));
                }
            }
        }
    }
    answers.dedup();
    additionals.dedup();
    Answer::Records {
        answers,
        additionals,
        chase: None,
    }
}

/// The address of a full `d.c.b.a.in-addr.arpa.` or 32-nibble `ip6.arpa.` name.
pub fn reverse_address(qname: &Name) -> Option<IpAddr> {
    let labels: Vec<String> = qname
        .iter()
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
        .collect();
    match labels.as_slice() {
        [d, c, b, a, in_addr, arpa] if in_addr == "in-addr" && arpa == "arpa" => {
            // Canonical decimal only: `010` is no octet label.
            let octet = |text: &String| text.parse::<u8>().ok().filter(|o| o.to_string() == *text);
            Some(IpAddr::from([octet(a)?, octet(b)?, octet(c)?, octet(d)?]))
        }
        [nibbles @ .., ip6, arpa] if nibbles.len() == 32 && ip6 == "ip6" && arpa == "arpa" => {
            let mut value: u128 = 0;
            for nibble in nibbles.iter().rev() {
                let digit = match nibble.as_bytes() {
                    [c] => char::from(*c).to_digit(16)?,
                    _ => return None,
                };
                value = (value << 4) | u128::from(digit);
            }
            Some(IpAddr::V6(value.into()))
        }
        _ => None,
    }
}
