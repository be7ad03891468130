//! Kubernetes resource quantities (`100m`, `1Gi`, `1e3`) parsed into integers, rounded up as
//! upstream's `Value()` and `MilliValue()` do. Shared by the scheduler, the kubelet and the
//! pod configuration code so that every component reads a quantity the same way.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Parses a quantity and returns `value * 1000^milli` rounded up, as upstream's `Value()` and
/// `MilliValue()` do; `None` for text that is not a quantity.
pub fn parse_scaled(text: &str, milli: bool) -> Option<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let (negative, number) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number.strip_prefix('+').unwrap_or(number)),
    };
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !(int_part
            .chars()
            .chain(frac_part.chars())
            .all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    // mantissa * 10^exp10 * 2^exp2
    let mut mantissa: i128 = 0;
    for c in int_part.chars().chain(frac_part.chars()) {
        mantissa = mantissa
            .checked_mul(10)?
            .checked_add(i128::from(c.to_digit(10)? as u8))?;
    }
    let mut exp10: i32 = -(frac_part.len() as i32);
    let mut exp2: u32 = 0;
    match suffix {
        "" => {}
        "Ki" => exp2 = 10,
        "Mi" => exp2 = 20,
        "Gi" => exp2 = 30,
        "Ti" => exp2 = 40,
        "Pi" => exp2 = 50,
        "Ei" => exp2 = 60,
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        s if s.starts_with(['e', 'E']) => exp10 += s[1..].parse::<i32>().ok()?,
        _ => return None,
    }
    if milli {
        exp10 += 3;
    }
    mantissa = mantissa.checked_mul(1i128.checked_shl(exp2)?)?;
    let value = if exp10 >= 0 {
        mantissa.checked_mul(10i128.checked_pow(exp10 as u32)?)?
    } else {
        let divisor = 10i128
            .checked_pow(exp10.unsigned_abs())
            .unwrap_or(i128::MAX);
        (mantissa + divisor - 1) / divisor
    };
    let value = if negative { -value } else { value };
    Some(value.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// The integer value of a quantity (bytes, counts), rounded up; 0 when unparsable.
pub fn value(q: &Quantity) -> i64 {
    parse_scaled(&q.0, false).unwrap_or(0)
}

/// The value of a quantity in thousandths (milli-CPU), rounded up; 0 when unparsable.
pub fn milli_value(q: &Quantity) -> i64 {
    parse_scaled(&q.0, true).unwrap_or(0)
}
