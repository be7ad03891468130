//! Latency samples and their order statistics (nearest-rank percentiles).

use std::time::Duration;

/// A bag of latency samples.
#[derive(Clone, Debug, Default)]
pub struct Latencies {
    samples: Vec<Duration>,
    sorted: bool,
}

impl Latencies {
    pub fn with_capacity(n: usize) -> Latencies {
        Latencies {
            samples: Vec::with_capacity(n),
            sorted: true,
        }
    }

    pub fn push(&mut self, d: Duration) {
        self.samples.push(d);
        self.sorted = false;
    }

    pub fn merge(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
        self.sorted = false;
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.samples.sort_unstable();
            self.sorted = true;
        }
    }

    /// The nearest-rank `p`-th percentile (0 < p <= 100); zero when empty.
    pub fn percentile(&mut self, p: f64) -> Duration {
        self.sort();
        if self.samples.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.samples.len() as f64).ceil() as usize;
        self.samples[rank.clamp(1, self.samples.len()) - 1]
    }

    pub fn max(&mut self) -> Duration {
        self.percentile(100.0)
    }

    /// "p50 a / p99 b / max c ms", the form every report row uses.
    pub fn summary(&mut self) -> String {
        format!(
            "p50 {} / p99 {} / max {} ms",
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0)),
            ms(self.max())
        )
    }
}

/// Milliseconds with a precision that suits the magnitude.
pub fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1e3;
    if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(ms: &[u64]) -> Latencies {
        let mut l = Latencies::default();
        for &m in ms {
            l.push(Duration::from_millis(m));
        }
        l
    }

    #[test]
    fn nearest_rank() {
        let cases: &[(&[u64], f64, u64)] = &[
            (&[5], 50.0, 5),
            (&[1, 2, 3, 4], 50.0, 2),
            (&[4, 3, 2, 1], 99.0, 4),
            (&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90.0, 9),
            (&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 100.0, 10),
        ];
        for (samples, p, want) in cases {
            assert_eq!(
                of(samples).percentile(*p),
                Duration::from_millis(*want),
                "{samples:?} p{p}"
            );
        }
        assert_eq!(Latencies::default().percentile(99.0), Duration::ZERO);
    }

    #[test]
    fn formats_by_magnitude() {
        assert_eq!(ms(Duration::from_micros(1234)), "1.23");
        assert_eq!(ms(Duration::from_micros(12345)), "12.3");
        assert_eq!(ms(Duration::from_micros(123456)), "123");
    }
}
