//! Text forms of the apimachinery value types: `Time`, `MicroTime` and `Duration`.
//!
//! Kubernetes JSON writes `Time` as RFC 3339 in UTC with whole seconds, `MicroTime` with exactly
//! six fractional digits, and `Duration` as Go's `time.Duration.String()` (`"1h2m3.5s"`).

use jiff::Timestamp;

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// `Time`: whole seconds, `"2024-01-02T03:04:05Z"`.
pub(crate) fn format_time(seconds: i64) -> Result<String, String> {
    let ts = Timestamp::new(seconds, 0).map_err(|e| e.to_string())?;
    Ok(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// `MicroTime`: `"2024-01-02T03:04:05.123456Z"`.
pub(crate) fn format_micro_time(seconds: i64, nanos: i32) -> Result<String, String> {
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(format!("nanos {nanos} out of range"));
    }
    let ts = Timestamp::new(seconds, 0).map_err(|e| e.to_string())?;
    Ok(format!(
        "{}.{:06}Z",
        ts.strftime("%Y-%m-%dT%H:%M:%S"),
        nanos / 1000
    ))
}

/// Parses an RFC 3339 time into `(seconds, nanos)` since the Unix epoch.
pub(crate) fn parse_time(text: &str) -> Result<(i64, i32), String> {
    let ts: Timestamp = text.parse().map_err(|e: jiff::Error| e.to_string())?;
    Ok((ts.as_second(), ts.subsec_nanosecond()))
}

/// Go's `time.Duration.String()` of `nanos`.
pub(crate) fn format_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if nanos < 0 {
        out.push('-');
    }
    let u = nanos.unsigned_abs();
    let per_second = NANOS_PER_SECOND as u64;
    if u < per_second {
        let (div, digits, unit) = match u {
            0..1_000 => (1, 0, "ns"),
            1_000..1_000_000 => (1_000, 3, "µs"),
            _ => (1_000_000, 6, "ms"),
        };
        push_decimal(&mut out, u / div, u % div, digits);
        out.push_str(unit);
        return out;
    }
    let seconds = u / per_second;
    let (h, m, s) = (seconds / 3600, (seconds / 60) % 60, seconds % 60);
    if h > 0 {
        out.push_str(&format!("{h}h{m}m"));
    } else if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    push_decimal(&mut out, s, u % per_second, 9);
    out.push('s');
    out
}

/// Writes `whole.frac` with `frac` zero-padded to `digits` and trailing zeros removed.
fn push_decimal(out: &mut String, whole: u64, frac: u64, digits: usize) {
    out.push_str(&whole.to_string());
    if frac > 0 {
        let f = format!("{frac:0digits$}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
}

/// Parses Go's duration syntax (`"1h30m"`, `"1.5s"`, `"-300ms"`, `"0"`) into nanoseconds.
pub(crate) fn parse_duration(text: &str) -> Result<i64, String> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or("missing unit")?;
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("unknown unit {unit:?}")),
        };
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err("missing number".into());
        }
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| "number too large")?
        };
        let mut value = whole.checked_mul(scale).ok_or("overflow")?;
        let mut place = scale;
        for d in frac.chars() {
            place /= 10;
            let digit = i128::from(d.to_digit(10).ok_or("bad fraction")?);
            value += digit * place;
        }
        total = total.checked_add(value).ok_or("overflow")?;
        if total > i128::from(i64::MAX) {
            return Err("overflow".into());
        }
        rest = tail;
    }
    let total = if negative { -total } else { total };
    i64::try_from(total).map_err(|_| "overflow".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(
            format_time(1704164645).as_deref(),
            Ok("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            format_micro_time(1704164645, 123_456_789).as_deref(),
            Ok("2024-01-02T03:04:05.123456Z")
        );
        assert_eq!(parse_time("2024-01-02T03:04:05Z"), Ok((1704164645, 0)));
        assert_eq!(
            parse_time("2024-01-02T04:04:05.5+01:00"),
            Ok((1704164645, 500_000_000))
        );
        assert!(format_time(i64::MAX).is_err());
        assert!(format_micro_time(0, -1).is_err());
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn durations() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (300_000_000, "300ms"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (-61_000_000_000, "-1m1s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(format_duration(nanos), text);
            assert_eq!(parse_duration(text), Ok(nanos), "{text}");
        }
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        for bad in ["", "1", "1x", "h", "99999999999999999999h", "."] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        format_duration(i64::MIN);
    }
}
