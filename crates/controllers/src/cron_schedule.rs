//! A cron schedule parser and evaluator of our own, as upstream's CronJob accepts them: five
//! fields (minute hour day-of-month month day-of-week) with `*`, `?`, lists, ranges, steps and
//! month/day names, or a macro (`@hourly`, `@daily`, ...). Times are evaluated in a time zone.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// Why a schedule did not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("schedule {0:?} needs 5 fields")]
    FieldCount(String),
    #[error("bad value {value:?} in {field} field")]
    Value { field: &'static str, value: String },
    #[error("unknown macro {0:?}")]
    Macro(String),
}

/// A parsed schedule: the allowed values of each field as bit sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Day-of-month or day-of-week was `*`: both must match; otherwise either may.
    day_star: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Schedule {
    /// Parses a schedule.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let text = text.trim();
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            t if t.starts_with('@') => return Err(ScheduleError::Macro(t.into())),
            t => t,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [m, h, dom, mon, dow] = fields[..] else {
            return Err(ScheduleError::FieldCount(text.into()));
        };
        let mut weekdays = field(dow, "day-of-week", 0, 7, &DAYS, 0)?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1; // 7 is Sunday too
        }
        Ok(Schedule {
            minutes: field(m, "minute", 0, 59, &[], 0)?,
            hours: field(h, "hour", 0, 23, &[], 0)?,
            days: field(dom, "day-of-month", 1, 31, &[], 0)?,
            months: field(mon, "month", 1, 12, &MONTHS, 1)?,
            weekdays,
            day_star: is_star(dom) || is_star(dow),
        })
    }

    fn day_matches(&self, d: Date) -> bool {
        let dom = self.days & (1 << d.day()) != 0;
        let dow = self.weekdays & (1 << d.weekday().to_sunday_zero_offset()) != 0;
        if self.day_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first scheduled time strictly after `after`, in `tz` (within about five years).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let local = after.to_zoned(tz.clone()).datetime();
        let mut date = local.date();
        for _ in 0..(366 * 5) {
            if self.months & (1 << date.month()) != 0 && self.day_matches(date) {
                for hour in bits(self.hours) {
                    for minute in bits(self.minutes) {
                        let dt = DateTime::new(
                            date.year(),
                            date.month(),
                            date.day(),
                            hour as i8,
                            minute as i8,
                            0,
                            0,
                        )
                        .ok()?;
                        let Ok(z) = dt.to_zoned(tz.clone()) else {
                            continue;
                        };
                        let t = z.timestamp();
                        if t > after {
                            return Some(t);
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

/// Upstream mostRecentScheduleTime: the latest scheduled time in `(earliest, now]` and how many
/// were missed before it (stops counting at 100).
pub fn most_recent(
    s: &Schedule,
    earliest: Timestamp,
    now: Timestamp,
    tz: &TimeZone,
) -> (Option<Timestamp>, u32) {
    let (mut last, mut missed, mut t) = (None, 0, earliest);
    while let Some(next) = s.next_after(t, tz) {
        if next > now {
            break;
        }
        if last.is_some() {
            missed += 1;
        }
        last = Some(next);
        t = next;
        if missed >= 100 {
            break;
        }
    }
    (last, missed)
}

fn is_star(f: &str) -> bool {
    f == "*" || f == "?" || f.starts_with("*/")
}

fn bits(set: u64) -> impl Iterator<Item = u32> {
    (0..64).filter(move |i| set & (1 << i) != 0)
}

/// One field: a comma-separated list of `*`, `N`, `N-M`, each optionally `/step`.
fn field(
    text: &str,
    name: &'static str,
    min: u32,
    max: u32,
    names: &[&str],
    name_base: u32,
) -> Result<u64, ScheduleError> {
    let bad = || ScheduleError::Value {
        field: name,
        value: text.into(),
    };
    let value = |s: &str| -> Result<u32, ScheduleError> {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            return Ok(i as u32 + name_base);
        }
        let v: u32 = s.parse().map_err(|_| bad())?;
        if v < min || v > max {
            Err(bad())
        } else {
            Ok(v)
        }
    };
    let mut set = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(bad)?),
            None => (part, 1),
        };
        let (lo, hi) = match range {
            "*" | "?" => (min, if name == "day-of-week" { 6 } else { max }),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if step > 1 => (value(r)?, max),
                None => {
                    let v = value(r)?;
                    (v, v)
                }
            },
        };
        if lo > hi {
            return Err(bad());
        }
        let mut v = lo;
        while v <= hi {
            set |= 1 << v;
            v += step;
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn next_table() {
        let utc = TimeZone::UTC;
        let cases = [
            (
                "*/15 * * * *",
                "2024-01-01T10:07:00Z",
                "2024-01-01T10:15:00Z",
            ),
            ("0 * * * *", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z"),
            ("@hourly", "2024-01-01T10:30:00Z", "2024-01-01T11:00:00Z"),
            ("@daily", "2024-01-01T10:30:00Z", "2024-01-02T00:00:00Z"),
            ("@weekly", "2024-01-01T10:30:00Z", "2024-01-07T00:00:00Z"),
            ("@monthly", "2024-01-15T00:00:00Z", "2024-02-01T00:00:00Z"),
            ("@yearly", "2024-01-15T00:00:00Z", "2025-01-01T00:00:00Z"),
            (
                "30 9 * * mon-fri",
                "2024-01-05T10:00:00Z",
                "2024-01-08T09:30:00Z",
            ),
            (
                "0 0 29 feb *",
                "2023-03-01T00:00:00Z",
                "2024-02-29T00:00:00Z",
            ),
            ("0 12 1 * 0", "2024-01-02T00:00:00Z", "2024-01-07T12:00:00Z"),
            (
                "5,10-12 3 * jan,JUN ?",
                "2024-02-01T00:00:00Z",
                "2024-06-01T03:05:00Z",
            ),
            ("0 0 * * 7", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"),
            (
                "10/20 * * * *",
                "2024-01-01T00:31:00Z",
                "2024-01-01T00:50:00Z",
            ),
        ];
        for (spec, after, want) in cases {
            let s = Schedule::parse(spec).map_err(|e| e.to_string());
            assert_eq!(
                s.clone().ok().and_then(|s| s.next_after(at(after), &utc)),
                Some(at(want)),
                "{spec} {s:?}"
            );
        }
    }

    #[test]
    fn most_recent_table() {
        let s = Schedule::parse("*/10 * * * *").ok();
        let utc = TimeZone::UTC;
        let cases = [
            ("2024-01-01T00:00:00Z", "2024-01-01T00:05:00Z", None, 0),
            (
                "2024-01-01T00:00:00Z",
                "2024-01-01T00:10:00Z",
                Some("2024-01-01T00:10:00Z"),
                0,
            ),
            (
                "2024-01-01T00:00:00Z",
                "2024-01-01T00:35:00Z",
                Some("2024-01-01T00:30:00Z"),
                2,
            ),
        ];
        for (earliest, now, want, missed) in cases {
            let got = s
                .as_ref()
                .map(|s| most_recent(s, at(earliest), at(now), &utc));
            assert_eq!(got, Some((want.map(at), missed)), "{earliest} {now}");
        }
    }

    #[test]
    fn time_zone() {
        let tz = TimeZone::get("America/New_York").unwrap_or(TimeZone::UTC);
        let s = Schedule::parse("0 9 * * *").ok();
        let next = s.and_then(|s| s.next_after(at("2024-07-01T00:00:00Z"), &tz));
        assert_eq!(next, Some(at("2024-07-01T13:00:00Z")));
    }

    #[test]
    fn errors_table() {
        let cases = [
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "*/0 * * * *",
            "5-1 * * * *",
            "@every",
            "x * * * *",
        ];
        for spec in cases {
            assert!(Schedule::parse(spec).is_err(), "{spec}");
        }
    }
}
