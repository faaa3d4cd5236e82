//! Record timestamps in the three encodings Logpush writes: unix nanoseconds
//! and unix seconds (integers) and RFC 3339 (strings).

use std::fmt;

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

/// The last date [`parse_rfc3339_with`] read, and its day number: the lines
/// of a batch share a date or two, so most lines skip the calendar.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LastDate {
    date: [u8; 10],
    days: i64,
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; `None` when malformed.
pub(crate) fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    parse_rfc3339_with(s, &mut LastDate::default())
}

/// [`parse_rfc3339`], remembering the date in `last`.
pub(crate) fn parse_rfc3339_with(s: &str, last: &mut LastDate) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    // Fixed-width digit groups, read without `str::parse`'s generality.
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b.get(r)?.iter().try_fold(0i64, |n, c| c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0')))
    };
    // The default `last` (all zero bytes) never matches: byte 4 is a '-'.
    let days = if b.get(..10) == Some(&last.date[..]) {
        last.days
    } else {
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        let days = days_from_civil(year, month, day);
        if let Some(date) = b.first_chunk::<10>() {
            *last = LastDate { date: *date, days };
        }
        days
    };
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos: i64 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, c) in frac.bytes().take(9).enumerate().take(digits) {
            nanos += i64::from(c - b'0') * 10i64.pow(8 - u32::try_from(i).ok()?);
        }
        rest = &frac[digits..];
    }
    let offset_secs = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digit = |c: &u8| c.is_ascii_digit().then(|| i64::from(c - b'0'));
            let off = (digit(h1)? * 10 + digit(h2)?) * 3600 + (digit(m1)? * 10 + digit(m2)?) * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
    Some(Timestamp(secs.checked_mul(1_000_000_000)?.checked_add(nanos)?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
    use proptest::prelude::*;

    #[test]
    fn the_three_logpush_encodings_agree() {
        let rfc = parse_rfc3339("2024-05-01T12:00:03Z").unwrap();
        assert_eq!(rfc, Timestamp::from_unix_int(1_714_564_803));
        assert_eq!(rfc, Timestamp::from_unix_int(1_714_564_803_000_000_000));
        assert_eq!(parse_rfc3339("2024-05-01T14:00:03.5+02:00").unwrap().0, 1_714_564_803_500_000_000);
        assert_eq!(Timestamp::from_unix_int(1_714_564_803_411).0, 1_714_564_803_411_000_000);
    }

    #[test]
    fn rejects_malformed_times() {
        for bad in [
            "2024-05-01",
            "2024-13-01T00:00:00Z",
            "2024-05-01T12:00:03",
            "2024-05-01T12:00:03.Z",
            "2024-05-01T1a:00:03Z",
            "é024-05-01T12:00:03Z",
        ] {
            assert!(parse_rfc3339(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_remembered_date_is_only_a_valid_one() {
        let mut last = LastDate::default();
        assert!(parse_rfc3339_with("2024-13-01T00:00:00Z", &mut last).is_none());
        assert!(parse_rfc3339_with("2024-13-01T00:00:00Z", &mut last).is_none());
        assert!(parse_rfc3339_with("2024-05-01T12:00:03Z", &mut last).is_some());
        assert!(parse_rfc3339_with("2024-05-01T25:00:03Z", &mut last).is_none(), "the time is still checked");
    }

    proptest! {
        #[test]
        fn remembering_dates_changes_no_result(secs in prop::collection::vec(1_700_000_000i64..1_700_400_000, 1..20)) {
            let mut last = LastDate::default();
            for s in secs {
                let days = s.div_euclid(86_400);
                let (y, m, d) = civil_from_days(days);
                let t = s.rem_euclid(86_400);
                let text = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", t / 3600, t / 60 % 60, t % 60);
                prop_assert_eq!(parse_rfc3339_with(&text, &mut last), parse_rfc3339(&text));
            }
        }

        #[test]
        fn rfc3339_matches_the_unix_seconds(secs in 0i64..4_102_444_800) {
            // Format with the inverse of days_from_civil and read it back.
            let days = secs.div_euclid(86_400);
            let (y, m, d) = civil_from_days(days);
            let t = secs.rem_euclid(86_400);
            let text = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", t / 3600, t / 60 % 60, t % 60);
            prop_assert_eq!(parse_rfc3339(&text), Some(Timestamp(secs * 1_000_000_000)));
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_rfc3339(&s);
        }
    }

    fn civil_from_days(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (if m <= 2 { y + 1 } else { y }, m, d)
    }
}
