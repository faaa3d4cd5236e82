//! Record timestamps in the three encodings Logpush writes: unix nanoseconds
//! and unix seconds (integers) and RFC 3339 (strings).

use std::fmt;

use edgewatch_catalog::time;
use serde::de::{self, Deserializer, Visitor};

/// A point in time as unix nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timestamp(pub(crate) i64);

impl Timestamp {
    /// From an integer whose unit is told by its size: seconds, milliseconds,
    /// microseconds or nanoseconds since 1970 (each unit's range is years
    /// apart from the next, so the size is unambiguous for real clocks).
    pub(crate) fn from_unix_int(v: i64) -> Self {
        let abs = v.unsigned_abs();
        let nanos = if abs < 100_000_000_000 {
            v.saturating_mul(1_000_000_000)
        } else if abs < 100_000_000_000_000 {
            v.saturating_mul(1_000_000)
        } else if abs < 100_000_000_000_000_000 {
            v.saturating_mul(1_000)
        } else {
            v
        };
        Self(nanos)
    }

    /// Seconds since 1970, as a float.
    #[allow(clippy::cast_precision_loss)] // sub-microsecond precision is not needed for lag
    pub(crate) fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

pub(crate) use edgewatch_catalog::time::LastDate;

/// An RFC 3339 time (the shared parser, `edgewatch_catalog::time`), or
/// `None` when malformed or outside what `i64` nanoseconds hold.
pub(crate) fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    parse_rfc3339_with(s, &mut LastDate::default())
}

/// [`parse_rfc3339`], remembering the date in `last`.
#[inline]
pub(crate) fn parse_rfc3339_with(s: &str, last: &mut LastDate) -> Option<Timestamp> {
    time::parse_rfc3339_with(s, last)?.as_nanos().map(Timestamp)
}

/// Deserializes any of the three encodings; anything else is an error.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Timestamp;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a unix timestamp or an RFC 3339 time")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
            Ok(Timestamp::from_unix_int(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
            i64::try_from(v).map(Timestamp::from_unix_int).map_err(|_| E::custom("timestamp out of range"))
        }
        #[allow(clippy::cast_possible_truncation)] // checked against the range first
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
            if v.is_finite() && v.abs() < 9.2e18 {
                Ok(Timestamp::from_unix_int(v as i64))
            } else {
                Err(E::custom("timestamp out of range"))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
            if let Ok(n) = v.parse::<i64>() {
                return Ok(Timestamp::from_unix_int(n));
            }
            parse_rfc3339(v).ok_or_else(|| E::custom("malformed RFC 3339 time"))
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_logpush_encodings_agree() {
        let rfc = parse_rfc3339("2024-05-01T12:00:03Z").unwrap();
        assert_eq!(rfc, Timestamp::from_unix_int(1_714_564_803));
        assert_eq!(rfc, Timestamp::from_unix_int(1_714_564_803_000_000_000));
        assert_eq!(parse_rfc3339("2024-05-01T14:00:03.5+02:00").unwrap().0, 1_714_564_803_500_000_000);
        assert_eq!(Timestamp::from_unix_int(1_714_564_803_411).0, 1_714_564_803_411_000_000);
    }

    #[test]
    fn times_nanoseconds_cannot_hold_are_refused() {
        // The calendar's own checks are tested in `edgewatch_catalog::time`.
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2262-04-11T23:47:16.854775807Z"), Some(Timestamp(i64::MAX)));
        assert_eq!(parse_rfc3339("2262-04-11T23:47:16.854775808Z"), None);
    }
}
