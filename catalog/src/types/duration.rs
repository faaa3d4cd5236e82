//! Durations in Prometheus notation (`300ms`, `30s`, `1h30m`, `28d`).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::decode::{Cx, Decode};
use crate::path::YamlPath;
use crate::yaml::{Anchor, Value};

/// A duration with millisecond precision, written as Prometheus writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    millis: u64,
}

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

impl Duration {
    /// A duration of this many milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Self { millis }
    }

    /// A duration of this many seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self { millis: secs * 1000 }
    }

    /// Whole milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.millis
    }

    /// Seconds, as a float (for Prometheus `le` bounds and ratios).
    #[allow(clippy::cast_precision_loss)] // exact below 2^53 ms, ~285,000 years
    pub fn as_secs_f64(self) -> f64 {
        self.millis as f64 / 1000.0
    }

    /// As a standard library duration, for timers.
    pub const fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.millis)
    }
}

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("`{0}` has no unit")]
    NoUnit(String),
    #[error("`{0}` is not a duration: expected a number and a unit (ms, s, m, h, d, w, y), as in `30s` or `1h30m`")]
    Malformed(String),
    #[error("`{0}` lists its units out of order: write the largest first, each once, as in `1h30m`")]
    Order(String),
    #[error("`{0}` is too long")]
    Overflow(String),
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(DurationError::Empty);
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DurationError::NoUnit(s.to_owned()));
        }
        let malformed = || DurationError::Malformed(s.to_owned());
        let mut rest = s;
        let mut millis: u64 = 0;
        let mut last_unit = None;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(malformed());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| DurationError::Overflow(s.to_owned()))?;
            rest = &rest[digits..];
            // "ms" before "m", so the longest unit wins.
            let (i, (unit, scale)) = UNITS
                .iter()
                .enumerate()
                .filter(|(_, (u, _))| rest.starts_with(u))
                .max_by_key(|(_, (u, _))| u.len())
                .ok_or_else(malformed)?;
            if last_unit.is_some_and(|last| i <= last) {
                return Err(DurationError::Order(s.to_owned()));
            }
            last_unit = Some(i);
            rest = &rest[unit.len()..];
            let part = n.checked_mul(*scale).ok_or_else(|| DurationError::Overflow(s.to_owned()))?;
            millis = millis.checked_add(part).ok_or_else(|| DurationError::Overflow(s.to_owned()))?;
        }
        Ok(Self { millis })
    }
}

impl fmt::Display for Duration {
    /// Days at most (SLO periods read as `28d`, not `4w`), then h, m, s, ms.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.millis == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.millis;
        for (unit, scale) in &UNITS[2..] {
            if rest >= *scale {
                write!(f, "{}{unit}", rest / scale)?;
                rest %= scale;
            }
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like `30s`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl Decode for Duration {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => {
                cx.error(path, Anchor::Value, format!("`{n}` has no unit"))
                    .hint(format!("write a unit after the number, for instance `{n}s` or `{n}ms`"));
                return None;
            }
            other => {
                cx.type_error(path, "a duration like `30s`", other);
                return None;
            }
        };
        match text.parse() {
            Ok(d) => Some(d),
            Err(err) => {
                let issue = cx.error(path, Anchor::Value, err.to_string());
                if let DurationError::NoUnit(n) = err {
                    issue.hint(format!("write a unit after the number, for instance `{n}s` or `{n}ms`"));
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_prometheus_notation() {
        assert_eq!("300ms".parse::<Duration>().unwrap().as_millis(), 300);
        assert_eq!("1h30m".parse::<Duration>().unwrap().as_millis(), 5_400_000);
        assert_eq!("28d".parse::<Duration>().unwrap().to_string(), "28d");
        assert_eq!("2w".parse::<Duration>().unwrap().to_string(), "14d");
        assert_eq!("90m".parse::<Duration>().unwrap().to_string(), "1h30m");
        assert_eq!("1s500ms".parse::<Duration>().unwrap().to_string(), "1s500ms");
    }

    #[test]
    fn rejects_what_prometheus_rejects() {
        assert_eq!("300".parse::<Duration>(), Err(DurationError::NoUnit("300".into())));
        assert!(matches!("5 m".parse::<Duration>(), Err(DurationError::Malformed(_))));
        assert!(matches!("1.5h".parse::<Duration>(), Err(DurationError::Malformed(_))));
        assert!(matches!("30m1h".parse::<Duration>(), Err(DurationError::Order(_))));
        assert!(matches!("1m1m".parse::<Duration>(), Err(DurationError::Order(_))));
        assert!(matches!("-5m".parse::<Duration>(), Err(DurationError::Malformed(_))));
        assert!(matches!("99999999999999999999y".parse::<Duration>(), Err(DurationError::Overflow(_))));
    }

    proptest! {
        #[test]
        fn display_round_trips(millis in 0u64..=100 * 365 * 86_400_000) {
            let d = Duration::from_millis(millis);
            prop_assert_eq!(d.to_string().parse::<Duration>(), Ok(d));
        }

        #[test]
        fn never_panics(s in "\\PC{0,24}") {
            let _ = s.parse::<Duration>();
        }
    }
}
