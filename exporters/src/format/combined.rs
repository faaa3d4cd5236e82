//! nginx's `combined` access log format, with optional fields after it:
//!
//! ```text
//! $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" [trailing...]
//! ```
//!
//! `combined` alone has no host and no timing, so an input may name the
//! fields a `log_format` appends (`$request_time $host`, …) and a host for
//! logs of one virtual host:
//! `format: {combined: {trailing: [request_time, host], host: shop.example}}`.

use std::borrow::Cow;

use edgewatch_catalog::time::days_from_civil;
use serde::Deserialize;

use super::{LineFormat, Memo, ParseError};
use crate::record::Record;
use crate::timestamp::Timestamp;

/// nginx (or Apache) `combined`, and what its `log_format` appends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Combined {
    /// Fields the log format appends after the combined ones.
    #[serde(default)]
    pub trailing: Vec<Trailing>,
    /// For logs of one virtual host: the host of every line.
    pub host: Option<String>,
}

impl LineFormat for Combined {
    fn parse_into<'a>(&'a self, line: &'a [u8], _: &mut Memo, r: &mut Record<'a>) -> Result<(), ParseError> {
        *r = parse(line, &self.trailing, self.host.as_deref())?;
        Ok(())
    }

    fn check(&self, at: &str, problems: &mut Vec<String>) {
        if self.host.is_none() && !self.trailing.contains(&Trailing::Host) {
            problems.push(format!("{at}: combined lines carry no host: set `host`, or add `host` to `trailing`"));
        }
    }
}

/// A field appended after the combined fields, space-separated, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trailing {
    /// `$request_time`, seconds: the edge's time to serve, read as TTFB.
    RequestTime,
    /// `$upstream_response_time`, seconds (the last upstream when several).
    UpstreamResponseTime,
    /// `$host`.
    Host,
    /// `$upstream_cache_status` (`HIT`, `MISS`, …).
    UpstreamCacheStatus,
    /// Anything else; skipped.
    Ignore,
}

fn err(what: &str) -> ParseError {
    ParseError(format!("not a combined log line: {what}"))
}

/// Reads a token: up to the next space, or a quoted string.
fn token<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let s = rest.trim_start_matches(' ');
    if let Some(quoted) = s.strip_prefix('"') {
        // nginx writes `"` inside values as `\x22`, so the next quote ends it.
        let end = quoted.find('"')?;
        *rest = &quoted[end + 1..];
        return Some(&quoted[..end]);
    }
    if s.is_empty() {
        return None;
    }
    let end = s.find(' ').unwrap_or(s.len());
    *rest = &s[end..];
    Some(&s[..end])
}

/// `21/Nov/2026:04:00:00 +0000`
fn time_local(s: &str) -> Option<Timestamp> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let b = s.as_bytes();
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let month = i64::try_from(MONTHS.iter().position(|m| s.get(3..6) == Some(m))? + 1).ok()?;
    let (day, year, hour, min, sec) = (n(0..2)?, n(7..11)?, n(12..14)?, n(15..17)?, n(18..20)?);
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let offset = sign * (n(22..24)? * 3600 + n(24..26)? * 60);
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset;
    Some(Timestamp(secs.checked_mul(1_000_000_000)?))
}

fn seconds(s: &str) -> Option<f64> {
    // Several upstreams are written as "0.010, 0.020" (or " : " across
    // internal redirects); the last one answered.
    let last = s.rsplit([',', ':']).next()?.trim();
    last.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)
}

/// Parses one line.
pub(crate) fn parse<'a>(
    line: &'a [u8],
    trailing: &[Trailing],
    host: Option<&'a str>,
) -> Result<Record<'a>, ParseError> {
    let line = std::str::from_utf8(line).map_err(|_| err("not UTF-8"))?;
    let mut rest = line;
    let client_ip = token(&mut rest).ok_or_else(|| err("no client address"))?;
    token(&mut rest).ok_or_else(|| err("no identity"))?;
    token(&mut rest).ok_or_else(|| err("no user"))?;
    let s = rest.trim_start_matches(' ');
    let inner = s.strip_prefix('[').ok_or_else(|| err("no [time]"))?;
    let close = inner.find(']').ok_or_else(|| err("unclosed [time]"))?;
    let end = time_local(&inner[..close]).ok_or_else(|| err("malformed time"))?;
    rest = &inner[close + 1..];
    let request = token(&mut rest).ok_or_else(|| err("no request"))?;
    let status: u16 = token(&mut rest).and_then(|t| t.parse().ok()).ok_or_else(|| err("no status"))?;
    let bytes = token(&mut rest).and_then(|t| t.parse::<u64>().ok());
    token(&mut rest); // referer
    let user_agent = token(&mut rest);

    let mut r = Record {
        host: host.map(|h| Cow::Borrowed(h.as_bytes())),
        edge_status: Some(status),
        bytes,
        end: Some(end),
        client_ip: Some(Cow::Borrowed(client_ip.as_bytes())),
        path: request.split(' ').nth(1).map(|p| Cow::Borrowed(p.split('?').next().unwrap_or(p).as_bytes())),
        user_agent: user_agent.filter(|u| *u != "-").map(|u| Cow::Borrowed(u.as_bytes())),
        ..Record::default()
    };
    for field in trailing {
        let Some(value) = token(&mut rest) else { break };
        let value = (value != "-").then_some(value);
        match field {
            Trailing::RequestTime => r.ttfb = value.and_then(seconds),
            Trailing::UpstreamResponseTime => r.origin_duration = value.and_then(seconds),
            Trailing::Host => r.host = value.map(|v| Cow::Borrowed(v.as_bytes())).or(r.host),
            Trailing::UpstreamCacheStatus => r.cache_status = value.map(|v| Cow::Borrowed(v.as_bytes())),
            Trailing::Ignore => {}
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LINE: &str = r#"203.0.113.9 - alice [21/Nov/2026:05:00:00 +0100] "GET /api/v1/cart?id=1 HTTP/1.1" 502 512 "https://shop.example/" "Mozilla/5.0 (X11)" 0.120 "0.100, 0.015" shop.example MISS"#;

    #[test]
    fn reads_combined_with_trailing_fields() {
        use Trailing::{Host, RequestTime, UpstreamCacheStatus, UpstreamResponseTime};
        // A field that can hold spaces ("0.100, 0.015") must be quoted in the
        // log_format, as `"$upstream_response_time"`.
        let r = parse(LINE.as_bytes(), &[RequestTime, UpstreamResponseTime, Host, UpstreamCacheStatus], None).unwrap();
        assert_eq!(r.origin_duration, Some(0.015), "the last upstream");
        assert_eq!(r.host.as_deref(), Some(&b"shop.example"[..]));
        assert_eq!(r.cache_status.as_deref(), Some(&b"MISS"[..]));
        assert_eq!(r.client_ip.as_deref(), Some(&b"203.0.113.9"[..]));
        assert_eq!(r.edge_status, Some(502));
        assert_eq!(r.bytes, Some(512));
        assert_eq!(r.path.as_deref(), Some(&b"/api/v1/cart"[..]));
        assert_eq!(r.user_agent.as_deref(), Some(&b"Mozilla/5.0 (X11)"[..]));
        assert_eq!(r.ttfb, Some(0.12));
        assert_eq!(r.end, crate::timestamp::parse_rfc3339("2026-11-21T04:00:00Z"));
    }

    #[test]
    fn plain_combined_takes_the_configured_host() {
        let line = r#"198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "HEAD / HTTP/2.0" 200 0 "-" "-""#;
        let r = parse(line.as_bytes(), &[], Some("www.example.com")).unwrap();
        assert_eq!((r.host.as_deref(), r.user_agent, r.edge_status), (Some(&b"www.example.com"[..]), None, Some(200)));
        let quoted =
            r#"198.51.100.1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "curl" "0.010, 0.020""#;
        let r = parse(quoted.as_bytes(), &[Trailing::UpstreamResponseTime], None).unwrap();
        assert_eq!(r.origin_duration, Some(0.02), "the last upstream");
    }

    #[test]
    fn rejects_other_lines() {
        for bad in [
            "",
            "hello",
            r#"1.2.3.4 - - [bad time] "GET /" 200 1 "-" "-""#,
            r#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET /" abc"#,
        ] {
            assert!(parse(bad.as_bytes(), &[], None).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,160}") {
            let _ = parse(s.as_bytes(), &[Trailing::RequestTime, Trailing::Host], None);
        }

        #[test]
        fn mutated_lines_never_panic(cut in 0..LINE.len(), byte in any::<u8>()) {
            let mut b = LINE.as_bytes().to_vec();
            b[cut] = byte;
            let _ = parse(&b, &[Trailing::RequestTime, Trailing::UpstreamResponseTime, Trailing::Host], None);
        }
    }
}
