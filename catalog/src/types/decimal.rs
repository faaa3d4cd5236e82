//! Exact decimals for objectives and shares, so that `99.95` stays `99.95`
//! and its error budget prints as `0.0005`, never `0.000499999…`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::decode::{Cx, Decode};
use crate::path::YamlPath;
use crate::yaml::{Anchor, Value};

/// A non-negative decimal number, `mantissa / 10^scale`, kept exact.
/// Always normalized (no trailing zeros after the point), so the derived
/// equality and hash agree with numeric equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    mantissa: u64,
    scale: u32,
}

/// At most this many digits after the point; more is float noise, not intent.
const MAX_SCALE: u32 = 12;

impl Decimal {
    /// The whole number `n`.
    pub const fn from_int(n: u64) -> Self {
        Self { mantissa: n, scale: 0 }
    }

    fn normalized(mut mantissa: u64, mut scale: u32) -> Self {
        while scale > 0 && mantissa.is_multiple_of(10) {
            mantissa /= 10;
            scale -= 1;
        }
        Self { mantissa, scale }
    }

    /// This value divided by 100 (a percentage as a ratio).
    #[must_use]
    pub fn percent_to_ratio(self) -> Self {
        Self::normalized(self.mantissa, self.scale + 2)
    }

    /// `other - self`, or `None` when that would be negative or overflow.
    pub fn subtracted_from(self, other: Self) -> Option<Self> {
        let scale = self.scale.max(other.scale);
        let a = u128::from(other.mantissa) * 10u128.pow(scale - other.scale);
        let b = u128::from(self.mantissa) * 10u128.pow(scale - self.scale);
        let diff = u64::try_from(a.checked_sub(b)?).ok()?;
        Some(Self::normalized(diff, scale))
    }

    /// Whether `self × n` is at least the whole number `min`, computed exactly.
    pub fn times_at_least(self, n: u64, min: u64) -> bool {
        u128::from(self.mantissa) * u128::from(n) >= u128::from(min) * 10u128.pow(self.scale)
    }

    /// The nearest float, for arithmetic where exactness no longer matters.
    #[allow(clippy::cast_precision_loss)] // the mantissa has at most 18 digits
    pub fn to_f64(self) -> f64 {
        // Parsing the exact text gives the correctly rounded float.
        self.to_string().parse().unwrap_or(self.mantissa as f64)
    }

    fn cmp_scaled(self, other: Self) -> Ordering {
        let scale = self.scale.max(other.scale);
        let a = u128::from(self.mantissa) * 10u128.pow(scale - self.scale);
        let b = u128::from(other.mantissa) * 10u128.pow(scale - other.scale);
        a.cmp(&b)
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_scaled(*other)
    }
}

/// Why a decimal did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("`{0}` is not a number")]
    NotANumber(String),
    #[error("`{0}` has more than {MAX_SCALE} digits after the point")]
    TooPrecise(String),
    #[error("`{0}` is too large")]
    TooLarge(String),
    #[error("`{0}` is negative")]
    Negative(String),
}

impl FromStr for Decimal {
    type Err = DecimalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with('-') {
            return Err(DecimalError::Negative(s.to_owned()));
        }
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits(int) || !digits(frac) || (s.contains('.') && frac.is_empty()) {
            return Err(DecimalError::NotANumber(s.to_owned()));
        }
        let frac = frac.trim_end_matches('0');
        let scale = u32::try_from(frac.len()).unwrap_or(u32::MAX);
        if scale > MAX_SCALE {
            return Err(DecimalError::TooPrecise(s.to_owned()));
        }
        let mantissa = format!("{int}{frac}").parse().map_err(|_| DecimalError::TooLarge(s.to_owned()))?;
        Ok(Self::normalized(mantissa, scale))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.to_string();
        let scale = self.scale as usize;
        if scale == 0 {
            return f.write_str(&digits);
        }
        if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            write!(f, "{int}.{frac}")
        } else {
            write!(f, "0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    }
}

impl Serialize for Decimal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // As a number in YAML and JSON; the text is the exact decimal.
        s.serialize_f64(self.to_f64())
    }
}

/// A percentage between 0 and 100, written `99.95` or `"99.95%"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Percent(Decimal);

impl Percent {
    /// The percentage as a decimal number of percent (`99.95`).
    pub const fn value(self) -> Decimal {
        self.0
    }

    /// As a ratio (`0.9995`).
    pub fn ratio(self) -> Decimal {
        self.0.percent_to_ratio()
    }

    /// What is left to 100 %, as a ratio: an objective's error budget (`0.0005`).
    pub fn complement_ratio(self) -> Decimal {
        self.0.subtracted_from(Decimal::from_int(100)).map_or(Decimal::from_int(0), Decimal::percent_to_ratio)
    }

    /// Whether this is strictly between 0 and 100.
    pub fn is_open_unit(self) -> bool {
        self.0 > Decimal::from_int(0) && self.0 < Decimal::from_int(100)
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl FromStr for Percent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let number = s.trim().strip_suffix('%').unwrap_or(s.trim()).trim_end();
        let d: Decimal =
            number.parse().map_err(|e: DecimalError| format!("{e}: expected a percentage such as `99.95`"))?;
        if d > Decimal::from_int(100) {
            return Err(format!("`{s}` is over 100%"));
        }
        Ok(Self(d))
    }
}

impl Decode for Percent {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let text = match v {
            Value::String(s) => s.clone(),
            // Rust prints the shortest text that reads back as the same float,
            // which is what the user wrote for any sensible objective.
            Value::Number(n) => {
                n.as_u64().map_or_else(|| n.as_f64().map(|f| f.to_string()).unwrap_or_default(), |u| u.to_string())
            }
            other => {
                cx.type_error(path, "a percentage such as `99.95`", other);
                return None;
            }
        };
        match text.parse() {
            Ok(p) => Some(p),
            Err(msg) => {
                cx.error(path, Anchor::Value, msg);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pct(s: &str) -> Percent {
        s.parse().unwrap()
    }

    #[test]
    fn keeps_objectives_exact() {
        assert_eq!(pct("99.95").ratio().to_string(), "0.9995");
        assert_eq!(pct("99.95").complement_ratio().to_string(), "0.0005");
        assert_eq!(pct("99.9%").complement_ratio().to_string(), "0.001");
        assert_eq!(pct("99.999").complement_ratio().to_string(), "0.00001");
        assert_eq!(pct("90").complement_ratio().to_string(), "0.1");
        assert_eq!(pct("99.90").value().to_string(), "99.9");
    }

    #[test]
    fn rejects_malformed_percentages() {
        assert!("abc".parse::<Percent>().is_err());
        assert!("99.9.5".parse::<Percent>().is_err());
        assert!("100.5".parse::<Percent>().unwrap_err().contains("over 100%"));
        assert!("-1".parse::<Percent>().is_err());
        assert!("99.".parse::<Percent>().is_err());
        assert!(".5".parse::<Percent>().is_err());
    }

    #[test]
    fn budget_times_traffic() {
        let budget = pct("99.9").complement_ratio();
        assert!(budget.times_at_least(1000, 1));
        assert!(!budget.times_at_least(999, 1));
    }

    proptest! {
        #[test]
        fn display_round_trips(m in 0u64..1_000_000_000_000, scale in 0u32..=MAX_SCALE) {
            let d = Decimal::normalized(m, scale);
            prop_assert_eq!(d.to_string().parse::<Decimal>(), Ok(d));
        }

        #[test]
        fn budget_plus_objective_is_one(m in 1u64..100_000, scale in 0u32..4) {
            let d = Decimal::normalized(m, scale);
            prop_assume!(d < Decimal::from_int(100));
            let p = Percent(d);
            let sum = p.ratio().to_f64() + p.complement_ratio().to_f64();
            prop_assert!((sum - 1.0).abs() < 1e-12);
        }
    }
}
