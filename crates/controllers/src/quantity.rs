//! Resource quantities (`100m`, `64Mi`, `1.5G`, `2e3`) as upstream's `resource.Quantity`:
//! parsing, exact addition, and the canonical form the API prints (largest suffix that keeps an
//! integer mantissa; binary suffixes only for whole multiples of 1024).
//!
//! Values are held exactly in nano units (10^-9) in an `i128`; finer values round up, as
//! upstream rounds to its smallest scale.

use std::fmt;

/// How a quantity is written back: the suffix family of its first non-zero addend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `k`, `M`, `G`, ... and `m`, `u`, `n`.
    #[default]
    DecimalSi,
    /// `Ki`, `Mi`, `Gi`, ...
    BinarySi,
    /// `1e3`.
    DecimalExponent,
}

/// An exact quantity with its print format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

/// A string that is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {0:?}"
)]
pub struct ParseError(pub String);

const NANO: i128 = 1_000_000_000;
const DECIMAL: &[(&str, i32)] = &[
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];
const BINARY: &[(&str, u32)] = &[
    ("Ki", 10),
    ("Mi", 20),
    ("Gi", 30),
    ("Ti", 40),
    ("Pi", 50),
    ("Ei", 60),
];

fn pow10(e: u32) -> Option<i128> {
    10i128.checked_pow(e)
}

impl Quantity {
    /// Zero, printed as `0`.
    pub fn zero() -> Quantity {
        Quantity::default()
    }

    /// Parses upstream's quantity syntax.
    pub fn parse(input: &str) -> Result<Quantity, ParseError> {
        let err = || ParseError(input.to_string());
        let s = input.trim();
        let (negative, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, suffix) = s.split_at(split);
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        if int.is_empty() && frac.is_empty() || frac.contains('.') {
            return Err(err());
        }
        let (format, multiplier, exp10): (Format, i128, i32) =
            if let Some((_, bits)) = BINARY.iter().find(|(s, _)| *s == suffix) {
                (Format::BinarySi, 1i128 << bits, 0)
            } else if let Some((_, e)) = DECIMAL.iter().find(|(s, _)| *s == suffix) {
                (Format::DecimalSi, 1, *e)
            } else if let Some(e) = suffix.strip_prefix(['e', 'E']) {
                let e: i32 = e.parse().map_err(|_| err())?;
                (Format::DecimalExponent, 1, e)
            } else {
                return Err(err());
            };
        // digits as an integer, scaled by 10^(exp10 - frac.len() + 9) to nano units.
        let digits: i128 = format!("{int}{frac}").parse().map_err(|_| err())?;
        let scale = exp10 + 9 - frac.len() as i32;
        let mut nanos = digits.checked_mul(multiplier).ok_or_else(err)?;
        if scale >= 0 {
            nanos = nanos
                .checked_mul(pow10(scale as u32).ok_or_else(err)?)
                .ok_or_else(err)?;
        } else {
            let div = pow10((-scale) as u32).unwrap_or(i128::MAX);
            // Round up (away from zero) below one nano unit.
            nanos = nanos / div + i128::from(nanos % div != 0);
        }
        Ok(Quantity {
            nanos: if negative { -nanos } else { nanos },
            format,
        })
    }

    /// Exact sum; zero takes the other operand's format, as upstream's `Quantity.Add`.
    pub fn add(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }

    /// The larger of two quantities (the first on ties).
    pub fn max(self, other: Quantity) -> Quantity {
        if other.nanos > self.nanos {
            other
        } else {
            self
        }
    }

    fn decimal(&self, exponent_form: bool) -> String {
        let (sign, abs) = if self.nanos < 0 {
            ("-", -self.nanos)
        } else {
            ("", self.nanos)
        };
        // The largest power of 1000 dividing the value, up to 10^18 (E).
        let mut e = -9i32;
        let mut mantissa = abs;
        while e < 18 && mantissa % 1000 == 0 {
            mantissa /= 1000;
            e += 3;
        }
        if exponent_form {
            return match e {
                0 => format!("{sign}{mantissa}"),
                _ => format!("{sign}{mantissa}e{e}"),
            };
        }
        let suffix = DECIMAL
            .iter()
            .find(|(_, x)| *x == e)
            .map_or("", |(s, _)| *s);
        format!("{sign}{mantissa}{suffix}")
    }

    fn binary(&self) -> Option<String> {
        if self.nanos % NANO != 0 || self.nanos.abs() < 1024 * NANO {
            return None;
        }
        let (sign, mut value) = if self.nanos < 0 {
            ("-", -self.nanos / NANO)
        } else {
            ("", self.nanos / NANO)
        };
        let mut suffix = "";
        for (s, _) in BINARY {
            if value % 1024 != 0 {
                break;
            }
            value /= 1024;
            suffix = s;
        }
        Some(format!("{sign}{value}{suffix}"))
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let s = match self.format {
            Format::BinarySi => self.binary().unwrap_or_else(|| self.decimal(false)),
            Format::DecimalSi => self.decimal(false),
            Format::DecimalExponent => self.decimal(true),
        };
        f.write_str(&s)
    }
}

/// The canonical form of a quantity string; the input itself when it does not parse.
pub fn canonical(s: &str) -> String {
    Quantity::parse(s).map_or_else(|_| s.to_string(), |q| q.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_like_upstream() {
        let cases = [
            ("0", "0"),
            ("100m", "100m"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("0.5", "500m"),
            ("1.5", "1500m"),
            ("2000", "2k"),
            ("1500", "1500"),
            ("1k", "1k"),
            ("1M", "1M"),
            ("1G", "1G"),
            ("64Mi", "64Mi"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("512Ki", "512Ki"),
            ("1Ki", "1Ki"),
            ("0.5Ki", "512"),
            ("1e3", "1e3"),
            ("1E6", "1e6"),
            ("12e-3", "12e-3"),
            ("1n", "1n"),
            ("1u", "1u"),
            ("-100m", "-100m"),
            ("+2", "2"),
            ("0.0000000001", "1n"),
        ];
        for (input, want) in cases {
            let q = Quantity::parse(input);
            assert_eq!(q.map(|q| q.to_string()), Ok(want.to_string()), "{input}");
        }
    }

    #[test]
    fn invalid_quantities() {
        for bad in ["", "abc", "1x", "1.2.3", "Mi", "1 Mi", "1e", "--1", "."] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn sums_keep_the_first_non_zero_format() {
        let q = |s: &str| Quantity::parse(s).unwrap_or_default();
        let cases = [
            (vec!["100m", "200m"], "300m"),
            (vec!["500m", "500m"], "1"),
            (vec!["64Mi", "64Mi"], "128Mi"),
            (vec!["0", "64Mi"], "64Mi"),
            (vec!["64Mi", "1M"], "68108864"),
            (vec!["1G", "1Gi"], "2073741824"),
            (vec!["1", "250m"], "1250m"),
            (vec![], "0"),
        ];
        for (parts, want) in cases {
            let sum = parts.iter().fold(Quantity::zero(), |acc, p| acc.add(q(p)));
            assert_eq!(sum.to_string(), want, "{parts:?}");
        }
        assert_eq!(canonical("2048Ki"), "2Mi");
        assert_eq!(canonical("bogus"), "bogus");
    }
}
