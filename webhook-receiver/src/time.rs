//! The store's clock: unix milliseconds, and RFC 3339 both ways, on the
//! shared calendar code (`edgewatch_catalog::time`).

use edgewatch_catalog::time;

pub use edgewatch_catalog::time::now_ms;

/// A configured duration in milliseconds, as the store counts time.
pub(crate) fn millis(d: edgewatch_catalog::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `2026-11-21T08:00:00.123Z` for unix milliseconds.
pub fn rfc3339(ms: i64) -> String {
    time::format_rfc3339_millis(ms)
}

/// Unix milliseconds of an RFC 3339 time (`Z` or `±hh:mm`, any fraction).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    time::parse_rfc3339(s).map(time::UnixTime::as_millis)
}

/// Whether `s` is an RFC 3339 time as strict readers take it (`T` between
/// date and time, where the parser also takes a space), and not
/// Alertmanager's zero time (`0001-01-01T00:00:00Z`, its "no end").
pub(crate) fn is_rfc3339(s: &str) -> bool {
    matches!(s.as_bytes().get(10), Some(b'T' | b't')) && time::parse_rfc3339(s).is_some_and(|t| t.secs > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_both_ways() {
        assert_eq!(rfc3339(1_795_248_000_123), "2026-11-21T08:00:00.123Z");
        assert_eq!(parse_rfc3339("2026-11-21T09:00:00.1234567+01:00"), Some(1_795_248_000_123));
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z").map(|v| v < 0), Some(true));
        assert!(is_rfc3339("2026-11-21T07:12:11Z"));
        assert!(is_rfc3339("2026-11-21T07:12:11.828+01:00"));
        assert!(!is_rfc3339("0001-01-01T00:00:00Z"));
        assert!(!is_rfc3339(""));
        assert!(!is_rfc3339("yesterday at noon, roughly"));
        assert!(!is_rfc3339("2026-11-21 07:12:11Z"));
    }
}
