//! Quantities for `resourceFieldRef` values and `emptyDir` size limits, read with the one
//! quantity parser every component shares (gantry-quantity), with an error for bad syntax.

/// A parsed quantity: its value rounded up, in units and in thousandths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount {
    value: i64,
    milli: i64,
}

/// A quantity string that is not in Kubernetes' quantity syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid quantity {0:?}")]
pub struct InvalidQuantity(pub String);

impl Amount {
    /// Parses `<sign><digits>[.<digits>]<suffix>` (binary or decimal SI suffix, or exponent).
    pub fn parse(text: &str) -> Result<Self, InvalidQuantity> {
        let bad = || InvalidQuantity(text.to_string());
        let value = gantry_quantity::parse_scaled(text, false).ok_or_else(bad)?;
        let milli = gantry_quantity::parse_scaled(text, true).ok_or_else(bad)?;
        Ok(Amount { value, milli })
    }

    /// The value rounded up to a whole unit (upstream's `Quantity.Value()`).
    pub fn value(self) -> i128 {
        i128::from(self.value)
    }

    /// The value in thousandths rounded up (upstream's `Quantity.MilliValue()`).
    pub fn milli_value(self) -> i128 {
        i128::from(self.milli)
    }

    /// Whether the quantity is zero.
    pub fn is_zero(self) -> bool {
        self.milli == 0
    }
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
            // Milli values beyond i64 saturate, as upstream's int64 MilliValue does.
            ("1Ei", 1_152_921_504_606_846_976, i64::MAX as i128),
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
