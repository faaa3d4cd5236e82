//! Calendar dates and RFC 3339 times, both ways, without a calendar crate:
//! the one home of the time code the exporter's hot path and the receiver
//! share. Reports, which need time zones and calendar periods, use `jiff`.

// Calendar arithmetic reads best in its textbook names (y, m, d).
#![allow(clippy::many_single_char_names)]

use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time: whole seconds since 1970 and the nanoseconds past them.
/// Seconds cover every RFC 3339 year (0000–9999), where `i64` nanoseconds
/// end in 2262 and start in 1677.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnixTime {
    /// Seconds since 1970-01-01T00:00:00Z (negative before).
    pub secs: i64,
    /// Nanoseconds past `secs`, below 1e9.
    pub nanos: u32,
}

impl UnixTime {
    /// Nanoseconds since 1970, or `None` outside 1677–2262.
    #[inline]
    pub fn as_nanos(self) -> Option<i64> {
        self.secs.checked_mul(1_000_000_000)?.checked_add(i64::from(self.nanos))
    }

    /// Milliseconds since 1970 (the sub-millisecond part dropped).
    pub fn as_millis(self) -> i64 {
        self.secs.saturating_mul(1000).saturating_add(i64::from(self.nanos / 1_000_000))
    }
}

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
#[inline]
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day number since 1970-01-01; the
/// inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `2026-11-21T08:00:00.123Z` for unix milliseconds.
pub fn format_rfc3339_millis(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// The last date [`parse_rfc3339_with`] read, and its day number: the lines
/// of a log batch share a date or two, so most of them skip the calendar.
#[derive(Debug, Default, Clone, Copy)]
pub struct LastDate {
    date: [u8; 10],
    days: i64,
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` (`t` or a space for `T`,
/// `z` for `Z`, any number of fraction digits, nanoseconds kept); `None`
/// when malformed.
pub fn parse_rfc3339(s: &str) -> Option<UnixTime> {
    parse_rfc3339_with(s, &mut LastDate::default())
}

/// [`parse_rfc3339`], remembering the date in `last` (the exporter's fast
/// path, once per log line).
#[inline]
pub fn parse_rfc3339_with(s: &str, last: &mut LastDate) -> Option<UnixTime> {
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
    // Byte 19 follows three ASCII digits, so it is a char boundary.
    let mut rest = s.get(19..)?;
    let mut nanos: u32 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, c) in frac.bytes().take(digits.min(9)).enumerate() {
            nanos += u32::from(c - b'0') * 10u32.pow(8 - u32::try_from(i).ok()?);
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
    Some(UnixTime { secs: days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs, nanos })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn nanos(s: &str) -> Option<i64> {
        parse_rfc3339(s)?.as_nanos()
    }

    #[test]
    fn parses_offsets_and_fractions() {
        assert_eq!(nanos("2024-05-01T12:00:03Z"), Some(1_714_564_803_000_000_000));
        assert_eq!(nanos("2024-05-01T14:00:03.5+02:00"), Some(1_714_564_803_500_000_000));
        assert_eq!(nanos("2024-05-01 12:00:03.123456789123z"), Some(1_714_564_803_123_456_789));
        assert_eq!(
            parse_rfc3339("2026-11-21T09:00:00.1234567+01:00").map(UnixTime::as_millis),
            Some(1_795_248_000_123)
        );
        // Alertmanager's zero time is far outside i64 nanoseconds, not in
        // milliseconds.
        let zero = parse_rfc3339("0001-01-01T00:00:00Z").unwrap();
        assert_eq!((zero.as_nanos(), zero.as_millis()), (None, -62_135_596_800_000));
    }

    #[test]
    fn formats_milliseconds() {
        assert_eq!(format_rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339_millis(1_795_248_000_123), "2026-11-21T08:00:00.123Z");
        assert_eq!(format_rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn rejects_malformed_times() {
        for bad in [
            "",
            "2024-05-01",
            "2024-13-01T00:00:00Z",
            "2024-05-01T12:00:03",
            "2024-05-01T12:00:03.Z",
            "2024-05-01T1a:00:03Z",
            "2024-05-01T12x00:03Z",
            "2024-05-01T12:00:03Zjunk",
            "2024-05-01T12:00:03+0200",
            "é024-05-01T12:00:03Z",
            "2024-05-01T12:00:0é",
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
        fn milliseconds_round_trip(ms in -62_135_596_800_000_i64..253_402_300_799_999) {
            prop_assert_eq!(parse_rfc3339(&format_rfc3339_millis(ms)).map(UnixTime::as_millis), Some(ms));
        }

        #[test]
        fn days_round_trip(days in -800_000i64..3_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn remembering_dates_changes_no_result(ms in prop::collection::vec(1_700_000_000_000i64..1_700_400_000_000, 1..20)) {
            let mut last = LastDate::default();
            for ms in ms {
                let text = format_rfc3339_millis(ms);
                prop_assert_eq!(parse_rfc3339_with(&text, &mut last), parse_rfc3339(&text));
            }
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_rfc3339(&s);
        }
    }
}
