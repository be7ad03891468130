//! Which log lines a request gets and how they are written: `sinceSeconds`/`sinceTime`,
//! `tailLines`, `timestamps` and `limitBytes`, as pure functions over parsed lines.

use super::parse::Line;

/// The selection part of a log request, with `since` already resolved to an instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only lines at or after this instant (nanoseconds since the epoch).
    pub since_nanos: Option<i128>,
    /// Only the last N lines (applied after `since`).
    pub tail_lines: Option<u64>,
    /// Prefix every line with its timestamp and a space.
    pub timestamps: bool,
    /// Stop after this many bytes of output.
    pub limit_bytes: Option<u64>,
}

/// Counts the bytes written against `limitBytes`.
#[derive(Debug, Clone)]
pub struct Budget {
    left: Option<u64>,
}

impl Budget {
    pub fn new(limit_bytes: Option<u64>) -> Self {
        Self { left: limit_bytes }
    }

    /// True once the limit is reached: nothing more may be written.
    pub fn exhausted(&self) -> bool {
        self.left == Some(0)
    }

    /// Appends `bytes` to `out`, cut at the limit.
    fn take(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        match &mut self.left {
            None => out.extend_from_slice(bytes),
            Some(left) => {
                let n = bytes
                    .len()
                    .min(usize::try_from(*left).unwrap_or(usize::MAX));
                out.extend_from_slice(&bytes[..n]);
                *left -= n as u64;
            }
        }
    }
}

impl Selection {
    /// Whether a line passes the `since` filter.
    pub fn admits(&self, line: &Line) -> bool {
        self.since_nanos.is_none_or(|since| line.nanos >= since)
    }

    /// Writes one line (with its timestamp when asked) within the budget. A line that continues
    /// an earlier, incomplete one (`continuation`) gets no timestamp prefix.
    pub fn render(&self, line: &Line, continuation: bool, budget: &mut Budget, out: &mut Vec<u8>) {
        if self.timestamps && !continuation {
            budget.take(line.time.as_bytes(), out);
            budget.take(b" ", out);
        }
        budget.take(&line.bytes, out);
    }

    /// The output for a complete read of `lines`: `since`, then `tailLines`, then rendering
    /// within `limitBytes`.
    pub fn select(&self, lines: &[Line], budget: &mut Budget) -> Vec<u8> {
        let admitted: Vec<&Line> = lines.iter().filter(|l| self.admits(l)).collect();
        let skip = match self.tail_lines {
            Some(n) => admitted
                .len()
                .saturating_sub(usize::try_from(n).unwrap_or(usize::MAX)),
            None => 0,
        };
        let mut out = Vec::new();
        for line in &admitted[skip..] {
            if budget.exhausted() {
                break;
            }
            self.render(line, false, budget, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::{Stream, parse_all};
    use super::*;

    const LOG: &[u8] = b"2024-05-01T10:00:00Z stdout F one\n\
2024-05-01T10:00:01.5Z stderr F two\n\
2024-05-01T10:00:02.25Z stdout P thr\n\
2024-05-01T10:00:03Z stdout F ee\n\
2024-05-01T10:00:04Z stdout F four\n";
    const T0: i128 = 1_714_557_600_000_000_000;

    fn check(selection: Selection, want: &str) {
        let lines = parse_all(LOG);
        let mut budget = Budget::new(selection.limit_bytes);
        let got = selection.select(&lines, &mut budget);
        assert_eq!(String::from_utf8_lossy(&got), want, "{selection:?}");
    }

    #[test]
    fn selections() {
        let s = Selection::default;
        let cases: Vec<(Selection, &str)> = vec![
            (s(), "one\ntwo\nthree\nfour\n"),
            (
                Selection {
                    tail_lines: Some(1),
                    ..s()
                },
                "four\n",
            ),
            (
                Selection {
                    tail_lines: Some(2),
                    ..s()
                },
                "three\nfour\n",
            ),
            (
                Selection {
                    tail_lines: Some(0),
                    ..s()
                },
                "",
            ),
            (
                Selection {
                    tail_lines: Some(99),
                    ..s()
                },
                "one\ntwo\nthree\nfour\n",
            ),
            (
                Selection {
                    since_nanos: Some(T0 + 1_500_000_000),
                    ..s()
                },
                "two\nthree\nfour\n",
            ),
            (
                Selection {
                    since_nanos: Some(T0 + 1_500_000_001),
                    ..s()
                },
                "three\nfour\n",
            ),
            (
                Selection {
                    since_nanos: Some(T0 + 3_000_000_000),
                    ..s()
                },
                "four\n",
            ),
            (
                Selection {
                    since_nanos: Some(T0),
                    tail_lines: Some(1),
                    ..s()
                },
                "four\n",
            ),
            (
                Selection {
                    limit_bytes: Some(6),
                    ..s()
                },
                "one\ntw",
            ),
            (
                Selection {
                    limit_bytes: Some(0),
                    ..s()
                },
                "",
            ),
            (
                Selection {
                    timestamps: true,
                    tail_lines: Some(2),
                    ..s()
                },
                "2024-05-01T10:00:02.25Z three\n2024-05-01T10:00:04Z four\n",
            ),
            (
                Selection {
                    timestamps: true,
                    limit_bytes: Some(24),
                    ..s()
                },
                "2024-05-01T10:00:00Z one",
            ),
        ];
        for (selection, want) in cases {
            check(selection, want);
        }
    }

    #[test]
    fn continuation_has_no_prefix() {
        let sel = Selection {
            timestamps: true,
            ..Selection::default()
        };
        let line = Line {
            time: "2024-05-01T10:00:00Z".into(),
            nanos: T0,
            stream: Stream::Stdout,
            bytes: b"x\n".to_vec(),
        };
        let mut out = Vec::new();
        sel.render(&line, true, &mut Budget::new(None), &mut out);
        assert_eq!(out, b"x\n");
    }
}
