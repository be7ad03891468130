//! A small cache of upstream answers that honours TTLs, negative answers included (RFC 2308).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// Answers are never kept longer than this, whatever their TTL says.
pub const MAX_TTL: u32 = 3600;

/// An upstream answer as the server replays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    pub response_code: ResponseCode,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
}

impl Cached {
    /// The sections of an upstream reply (its OPT and signature stay behind).
    pub fn from_message(message: &Message) -> Cached {
        Cached {
            response_code: message.metadata.response_code,
            answers: message.answers.clone(),
            authorities: message.authorities.clone(),
            additionals: message.additionals.clone(),
        }
    }
}

/// How long `message` may be cached: the smallest answer TTL for positive answers; for
/// NXDOMAIN and NODATA, the SOA's TTL capped by its MINIMUM (RFC 2308 §5). `None` = don't.
pub fn cache_ttl(message: &Message) -> Option<u32> {
    if message.metadata.truncation {
        return None;
    }
    let ttl = match message.metadata.response_code {
        ResponseCode::NoError if !message.answers.is_empty() => {
            message.answers.iter().map(|r| r.ttl).min()?
        }
        ResponseCode::NoError | ResponseCode::NXDomain => message
            .authorities
            .iter()
            .filter_map(|r| match &r.data {
                RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                _ => None,
            })
            .min()?,
        _ => return None,
    };
    (ttl > 0).then_some(ttl.min(MAX_TTL))
}

#[derive(Debug)]
struct Entry {
    answer: Cached,
    stored: Instant,
    expires: Instant,
}

/// Cached upstream answers keyed by lowercase name and type; bounded in size.
#[derive(Debug)]
pub struct Cache {
    entries: Mutex<HashMap<(Name, RecordType), Entry>>,
    capacity: usize,
}

impl Cache {
    pub fn new(capacity: usize) -> Cache {
        Cache {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The cached answer, its TTLs lowered by the time spent in the cache.
    pub fn get(&self, name: &Name, qtype: RecordType, now: Instant) -> Option<Cached> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(&(name.to_lowercase(), qtype))?;
        if now >= entry.expires {
            return None;
        }
        let elapsed = u32::try_from(now.duration_since(entry.stored).as_secs()).unwrap_or(u32::MAX);
        let mut answer = entry.answer.clone();
        for record in answer
            .answers
            .iter_mut()
            .chain(answer.authorities.iter_mut())
            .chain(answer.additionals.iter_mut())
        {
            record.ttl = record.ttl.saturating_sub(elapsed);
        }
        Some(answer)
    }

    /// Stores `message` as the answer to `name`/`qtype` if [`cache_ttl`] allows.
    pub fn insert(&self, name: &Name, qtype: RecordType, message: &Message, now: Instant) {
        let Some(ttl) = cache_ttl(message) else {
            return;
        };
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.expires > now);
        }
        if entries.len() >= self.capacity {
            // Still full of live answers: drop an arbitrary one rather than grow.
            if let Some(key) = entries.keys().next().cloned() {
                entries.remove(&key);
            }
        }
        entries.insert(
            (name.to_lowercase(), qtype),
            Entry {
                answer: Cached::from_message(message),
                stored: now,
                expires: now + Duration::from_secs(u64::from(ttl)),
            },
        );
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::rdata::{A, SOA};

    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn message(code: ResponseCode, answers: &[u32], soa: Option<(u32, u32)>) -> Message {
        let mut message = Message::new(1, MessageType::Response, OpCode::Query);
        message.metadata.response_code = code;
        for ttl in answers {
            let data = RData::A(A(Ipv4Addr::new(192, 0, 2, 1)));
            message.add_answer(Record::from_rdata(name("example.com."), *ttl, data));
        }
        if let Some((ttl, minimum)) = soa {
            let soa = SOA::new(name("ns.example."), name("h.example."), 1, 1, 1, 1, minimum);
            message.add_authority(Record::from_rdata(name("example."), ttl, RData::SOA(soa)));
        }
        message
    }

    #[test]
    fn ttl_rules() {
        let cases = [
            (message(ResponseCode::NoError, &[300, 60], None), Some(60)),
            (message(ResponseCode::NoError, &[0], None), None),
            (
                message(ResponseCode::NoError, &[999_999], None),
                Some(MAX_TTL),
            ),
            (
                message(ResponseCode::NXDomain, &[], Some((900, 30))),
                Some(30),
            ),
            (
                message(ResponseCode::NXDomain, &[], Some((20, 30))),
                Some(20),
            ),
            (
                message(ResponseCode::NoError, &[], Some((600, 120))),
                Some(120),
            ),
            (message(ResponseCode::NXDomain, &[], None), None),
            (message(ResponseCode::ServFail, &[], Some((600, 60))), None),
            (message(ResponseCode::Refused, &[60], None), None),
        ];
        for (i, (message, expected)) in cases.iter().enumerate() {
            assert_eq!(cache_ttl(message), *expected, "case {i}");
        }
        let mut truncated = message(ResponseCode::NoError, &[60], None);
        truncated.metadata.truncation = true;
        assert_eq!(cache_ttl(&truncated), None);
    }

    #[test]
    fn entries_age_and_expire() {
        let cache = Cache::new(10);
        let t0 = Instant::now();
        let key = name("Example.COM.");
        cache.insert(
            &key,
            RecordType::A,
            &message(ResponseCode::NoError, &[10], None),
            t0,
        );
        let hit = cache.get(
            &name("example.com."),
            RecordType::A,
            t0 + Duration::from_secs(4),
        );
        assert_eq!(hit.map(|h| h.answers[0].ttl), Some(6));
        assert!(cache.get(&key, RecordType::AAAA, t0).is_none());
        assert!(
            cache
                .get(&key, RecordType::A, t0 + Duration::from_secs(10))
                .is_none()
        );

        let negative = message(ResponseCode::NXDomain, &[], Some((300, 5)));
        cache.insert(&name("gone.example."), RecordType::A, &negative, t0);
        let hit = cache.get(
            &name("gone.example."),
            RecordType::A,
            t0 + Duration::from_secs(2),
        );
        assert_eq!(hit.map(|h| h.response_code), Some(ResponseCode::NXDomain));
        assert!(
            cache
                .get(
                    &name("gone.example."),
                    RecordType::A,
                    t0 + Duration::from_secs(5)
                )
                .is_none()
        );
    }

    #[test]
    fn stays_within_capacity() {
        let cache = Cache::new(3);
        let t0 = Instant::now();
        for i in 0..10 {
            let answer = message(ResponseCode::NoError, &[60], None);
            cache.insert(&name(&format!("n{i}.example.")), RecordType::A, &answer, t0);
        }
        assert!(cache.len() <= 3);
    }
}
