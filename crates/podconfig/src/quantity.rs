//! Exact arithmetic on Kubernetes resource quantities (`500m`, `1Gi`, `1.5e3`), enough for
//! `resourceFieldRef` values and `emptyDir` size limits.

/// A parsed quantity as an exact fraction `num / den` (den > 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount {
    num: i128,
    den: i128,
}

/// A quantity string that is not in Kubernetes' quantity syntax, or too large to hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid quantity {0:?}")]
pub struct InvalidQuantity(pub String);

impl Amount {
    /// Parses `<sign><digits>[.<digits>]<suffix>` where suffix is a binary SI suffix
    /// (`Ki`..`Ei`), a decimal SI suffix (`n`, `u`, `m`, ``, `k`, `M`..`E`) or an exponent
    /// (`e3`, `E-2`).
    pub fn parse(text: &str) -> Result<Self, InvalidQuantity> {
        let bad = || InvalidQuantity(text.to_string());
        let s = text.trim();
        let (negative, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let number_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, suffix) = s.split_at(number_end);
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
            return Err(bad());
        }
        let mut num: i128 = 0;
        for digit in whole.bytes().chain(frac.bytes()) {
            num = num
                .checked_mul(10)
                .and_then(|n| n.checked_add(i128::from(digit - b'0')))
                .ok_or_else(bad)?;
        }
        let mut den = pow(10, frac.len() as u32).ok_or_else(bad)?;
        let (base, exp): (i128, i32) = match suffix {
            "" => (10, 0),
            "n" => (10, -9),
            "u" => (10, -6),
            "m" => (10, -3),
            "k" => (10, 3),
            "M" => (10, 6),
            "G" => (10, 9),
            "T" => (10, 12),
            "P" => (10, 15),
            "E" => (10, 18),
            "Ki" => (2, 10),
            "Mi" => (2, 20),
            "Gi" => (2, 30),
            "Ti" => (2, 40),
            "Pi" => (2, 50),
            "Ei" => (2, 60),
            exp if exp.starts_with(['e', 'E']) => {
                let value: i32 = exp[1..].parse().map_err(|_| bad())?;
                (10, value)
            }
            _ => return Err(bad()),
        };
        let factor = pow(base, exp.unsigned_abs()).ok_or_else(bad)?;
        if exp >= 0 {
            num = num.checked_mul(factor).ok_or_else(bad)?;
        } else {
            den = den.checked_mul(factor).ok_or_else(bad)?;
        }
        Ok(Amount {
            num: if negative { -num } else { num },
            den,
        })
    }

    /// The value rounded up to a whole unit (upstream's `Quantity.Value()`).
    pub fn value(self) -> i128 {
        ceil_div(self.num, self.den)
    }

    /// The value in thousandths rounded up (upstream's `Quantity.MilliValue()`).
    pub fn milli_value(self) -> i128 {
        ceil_div(self.num.saturating_mul(1000), self.den)
    }

    /// Whether the quantity is zero.
    pub fn is_zero(self) -> bool {
        self.num == 0
    }
}

fn pow(base: i128, exp: u32) -> Option<i128> {
    base.checked_pow(exp)
}

/// `ceil(a / b)` for b > 0.
pub fn ceil_div(a: i128, b: i128) -> i128 {
    if b == 0 {
        return 0;
    }
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 { q } else { q + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        // (text, Value(), MilliValue())
        let cases: &[(&str, i128, i128)] = &[
            ("0", 0, 0),
            ("1", 1, 1000),
            ("500m", 1, 500),
            ("250m", 1, 250),
            ("1.5", 2, 1500),
            ("0.1", 1, 100),
            ("1k", 1000, 1_000_000),
            ("1Ki", 1024, 1_024_000),
            ("64Mi", 67_108_864, 67_108_864_000),
            ("1Gi", 1_073_741_824, 1_073_741_824_000),
            ("2G", 2_000_000_000, 2_000_000_000_000),
            ("1e3", 1000, 1_000_000),
            ("1E-3", 1, 1),
            ("100n", 1, 1),
            (
                "1Ei",
                1_152_921_504_606_846_976,
                1_152_921_504_606_846_976_000,
            ),
            ("+3", 3, 3000),
            ("-1", -1, -1000),
        ];
        for (text, value, milli) in cases {
            let amount = Amount::parse(text).unwrap();
            assert_eq!(amount.value(), *value, "value of {text}");
            assert_eq!(amount.milli_value(), *milli, "milli value of {text}");
        }
    }

    #[test]
    fn rejects_bad_syntax() {
        for text in ["", "m", "1x", "1.2.3", "Gi", "1e", "1ee2", "--1", "1 Gi"] {
            assert!(Amount::parse(text).is_err(), "{text:?} should not parse");
        }
    }
}
