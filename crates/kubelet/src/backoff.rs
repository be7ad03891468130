//! Restart back-off per container (CrashLoopBackOff) and per image (ImagePullBackOff): the first
//! retry is immediate, then 10 s doubling up to 5 minutes; an item that stayed quiet for twice
//! the maximum starts over. Pure: time is passed in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
struct Entry {
    delay: Duration,
    /// When the last retry happened.
    last: Instant,
}

/// Back-off state by key (a container name or an image).
#[derive(Debug, Default)]
pub struct Backoff {
    entries: HashMap<String, Entry>,
}

impl Backoff {
    /// How long `key` must still wait before its next retry; `None` when it may retry now.
    pub fn remaining(&self, key: &str, now: Instant) -> Option<Duration> {
        let e = self.entries.get(key)?;
        let since = now.saturating_duration_since(e.last);
        if since >= MAX * 2 {
            return None;
        }
        e.delay.checked_sub(since).filter(|d| !d.is_zero())
    }

    /// The current delay of `key` (for messages), zero when it has none.
    pub fn delay(&self, key: &str) -> Duration {
        self.entries.get(key).map(|e| e.delay).unwrap_or_default()
    }

    /// Records a retry of `key` at `now`: the next one waits longer.
    pub fn record(&mut self, key: &str, now: Instant) {
        let delay = match self.entries.get(key) {
            Some(e) if now.saturating_duration_since(e.last) < MAX * 2 => (e.delay * 2).min(MAX),
            _ => INITIAL,
        };
        self.entries
            .insert(key.to_string(), Entry { delay, last: now });
    }

    pub fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_to_the_maximum() {
        let t0 = Instant::now();
        let mut b = Backoff::default();
        assert_eq!(b.remaining("c", t0), None, "the first retry is immediate");
        b.record("c", t0);
        assert_eq!(b.remaining("c", t0), Some(Duration::from_secs(10)));
        assert_eq!(
            b.remaining("c", t0 + Duration::from_secs(4)),
            Some(Duration::from_secs(6))
        );
        assert_eq!(b.remaining("c", t0 + Duration::from_secs(10)), None);
        let mut t = t0 + Duration::from_secs(10);
        let mut seen = vec![];
        for _ in 0..7 {
            b.record("c", t);
            seen.push(b.delay("c").as_secs());
            t += b.delay("c");
        }
        assert_eq!(seen, vec![20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(
            b.remaining("c", t + MAX * 2),
            None,
            "a quiet container starts over"
        );
        assert_eq!(b.remaining("other", t), None);
    }
}
