//! Selecting peers: label selectors (matchLabels, matchExpressions) and IPv4 CIDR blocks.

use std::fmt;
use std::net::Ipv4Addr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::snapshot::Labels;

/// Whether `selector` selects an object with `labels`. An empty selector selects everything;
/// an unknown operator selects nothing (the API server rejects those anyway).
pub fn matches(selector: &LabelSelector, labels: &Labels) -> bool {
    let by_labels = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    let by_expressions = selector.match_expressions.iter().flatten().all(|req| {
        let values = req.values.as_deref().unwrap_or_default();
        let value = labels.get(&req.key);
        match req.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    by_labels && by_expressions
}

/// A canonical text of a selector, used to share one peer set between equal selectors.
pub fn canonical(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for req in selector.match_expressions.iter().flatten() {
        let mut values = req.values.clone().unwrap_or_default();
        values.sort();
        parts.push(format!(
            "{} {} ({})",
            req.key,
            req.operator,
            values.join(",")
        ));
    }
    parts.sort();
    parts.join(";")
}

/// An IPv4 network `address/prefix`, with the host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Cidr {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Cidr {
    /// Parses `a.b.c.d/n` (or a bare address, as /32); `None` for IPv6 or malformed text.
    pub fn parse(text: &str) -> Option<Ipv4Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, prefix.parse::<u8>().ok()?),
            None => (text, 32),
        };
        let addr: Ipv4Addr = addr.parse().ok()?;
        if prefix > 32 {
            return None;
        }
        let network = Ipv4Addr::from(u32::from(addr) & mask(prefix));
        Some(Ipv4Cidr { network, prefix })
    }

    /// Whether `ip` lies in this network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.network)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// An `ipBlock` peer: a CIDR minus the `except` CIDRs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpBlock {
    pub cidr: Ipv4Cidr,
    pub except: Vec<Ipv4Cidr>,
}

impl IpBlock {
    /// Parses an API ipBlock; `None` when the CIDR is not IPv4 (this cluster is IPv4 only)
    /// or malformed. Malformed or IPv6 `except` entries are ignored.
    pub fn parse(cidr: &str, except: &[String]) -> Option<IpBlock> {
        let cidr = Ipv4Cidr::parse(cidr)?;
        let mut except: Vec<Ipv4Cidr> = except.iter().filter_map(|e| Ipv4Cidr::parse(e)).collect();
        except.sort();
        except.dedup();
        // nftables rejects overlapping set elements; a CIDR inside another adds nothing.
        let all = except.clone();
        except.retain(|e| {
            !all.iter()
                .any(|o| o != e && o.prefix < e.prefix && o.contains(e.network))
        });
        Some(IpBlock { cidr, except })
    }

    /// Whether `ip` is in the block and in none of its exceptions.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.cidr.contains(ip) && !self.except.iter().any(|e| e.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelector {
        LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.to_string(),
                operator: op.to_string(),
                values: Some(values.iter().map(|v| v.to_string()).collect()),
            }]),
            match_labels: None,
        }
    }

    #[test]
    fn selectors() {
        let app_web = labels(&[("app", "web")]);
        let cases = [
            (LabelSelector::default(), &app_web, true),
            (LabelSelector::default(), &Labels::new(), true),
            (expr("app", "In", &["web", "db"]), &app_web, true),
            (expr("app", "In", &["db"]), &app_web, false),
            (expr("app", "NotIn", &["db"]), &app_web, true),
            (expr("tier", "NotIn", &["db"]), &app_web, true),
            (expr("app", "Exists", &[]), &app_web, true),
            (expr("app", "DoesNotExist", &[]), &app_web, false),
            (expr("app", "Bogus", &[]), &app_web, false),
        ];
        for (i, (selector, labels, want)) in cases.iter().enumerate() {
            assert_eq!(matches(selector, labels), *want, "case {i}: {selector:?}");
        }
    }

    #[test]
    fn blocks() {
        let block = IpBlock::parse("10.42.0.7/16", &["10.42.1.0/24".to_string()]);
        let Some(block) = block else {
            panic!("valid block did not parse");
        };
        assert_eq!(block.cidr.to_string(), "10.42.0.0/16");
        assert!(block.contains("10.42.0.9".parse().unwrap()));
        assert!(!block.contains("10.42.1.9".parse().unwrap()));
        assert!(!block.contains("10.43.0.1".parse().unwrap()));
        assert!(IpBlock::parse("fd00::/8", &[]).is_none());
        assert!(IpBlock::parse("10.0.0.0/33", &[]).is_none());
        assert_eq!(
            Ipv4Cidr::parse("0.0.0.0/0").map(|c| c.contains("1.2.3.4".parse().unwrap())),
            Some(true)
        );
    }
}
