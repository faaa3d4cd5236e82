//! Cloudflare Logpush `http_requests`, one JSON object per line (NDJSON):
//! the JSON reader of [`super::json`] with Logpush's keys. The format has no
//! options: `format: logpush`, the default.

use super::json::{self, Keys, Target};
use super::{LineFormat, Memo, ParseError};
use crate::record::{Field, Record, Unit};

/// The Logpush format.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Logpush;

impl LineFormat for Logpush {
    fn parse_into<'a>(&'a self, line: &'a [u8], memo: &mut Memo, r: &mut Record<'a>) -> Result<(), ParseError> {
        json::parse_into(line, self, &mut memo.json, r)
    }
}

impl Keys for Logpush {
    /// Logpush's keys, told apart by length, first and last byte, so each
    /// of the two dozen keys of a line costs one comparison.
    fn target(&self, key: &[u8]) -> Option<Target> {
        let field = |f| Target::Field(f, Unit::Ms);
        let (name, target): (&[u8], Target) = match (key.len(), *key.first()?, *key.last()?) {
            (17, b'C', b't') => (b"ClientRequestHost", field(Field::Host)),
            (8, b'Z', b'e') => (b"ZoneName", field(Field::Zone)),
            (18, b'E', b's') => (b"EdgeResponseStatus", field(Field::EdgeStatus)),
            (20, b'O', b's') => (b"OriginResponseStatus", field(Field::OriginStatus)),
            (21, b'E', b's') => (b"EdgeTimeToFirstByteMs", field(Field::Ttfb)),
            (24, b'O', b's') => (b"OriginResponseDurationMs", field(Field::OriginDuration)),
            (16, b'C', b's') => (b"CacheCacheStatus", field(Field::CacheStatus)),
            (14, b'S', b'n') => (b"SecurityAction", field(Field::SecurityAction)),
            // The pre-2023 name, still sent by jobs created before the rename.
            (9, b'W', b'n') => (b"WAFAction", Target::OldSecurityAction),
            (17, b'E', b's') => (b"EdgeResponseBytes", field(Field::Bytes)),
            (5, b'R', b'D') => (b"RayID", field(Field::RayId)),
            (16, b'E', b'p') => (b"EdgeEndTimestamp", field(Field::End)),
            (8, b'C', b'P') => (b"ClientIP", field(Field::ClientIp)),
            (9, b'C', b'N') => (b"ClientASN", field(Field::ClientAsn)),
            (13, b'C', b'y') => (b"ClientCountry", field(Field::ClientCountry)),
            (17, b'C', b'h') => (b"ClientRequestPath", field(Field::Path)),
            (22, b'C', b't') => (b"ClientRequestUserAgent", field(Field::UserAgent)),
            _ => return None,
        };
        (key == name).then_some(target)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use proptest::prelude::*;

    use super::*;
    use crate::format::json::{self, Shape, parse_serde};
    use crate::timestamp::Timestamp;

    fn parse<'a>(line: &'a [u8], keys: &dyn Keys, shape: &mut Shape) -> Result<Record<'a>, ParseError> {
        let mut r = Record::default();
        json::parse_into(line, keys, shape, &mut r)?;
        Ok(r)
    }

    const LINE: &str = r#"{"RayID":"8f1c2a9b3d4e5f60","EdgeStartTimestamp":"2024-05-01T12:00:03Z","EdgeEndTimestamp":"2024-05-01T12:00:03Z","ZoneName":"shop.example","ClientRequestHost":"www.shop.example","ClientRequestMethod":"GET","ClientRequestPath":"/api/v1/cart","ClientRequestURI":"/api/v1/cart?id=42","ClientRequestProtocol":"HTTP/2","ClientRequestScheme":"https","ClientIP":"198.51.100.23","ClientASN":3320,"ClientCountry":"de","ClientTCPRTTMs":14,"EdgeColoCode":"FRA","EdgeResponseStatus":502,"OriginResponseStatus":502,"OriginResponseDurationMs":1834,"OriginTCPHandshakeDurationMs":0,"OriginTLSHandshakeDurationMs":0,"EdgeTimeToFirstByteMs":1851,"CacheCacheStatus":"dynamic","SecurityAction":"","EdgeResponseBytes":1208,"WorkerSubrequest":false}"#;

    #[test]
    fn reads_a_logpush_line() {
        let r = parse(LINE.as_bytes(), &Logpush, &mut Shape::default()).unwrap();
        assert_eq!(r.host.as_deref(), Some(&b"www.shop.example"[..]));
        assert_eq!(r.edge_status, Some(502));
        assert_eq!(r.origin_status, Some(502));
        assert_eq!(r.ttfb, Some(1.851));
        assert_eq!(r.origin_duration, Some(1.834));
        assert_eq!(r.cache_status.as_deref(), Some(&b"dynamic"[..]));
        assert_eq!(r.security_action.as_deref(), Some(&b""[..]));
        assert_eq!(r.client_asn, Some(3320));
        assert_eq!(r.end, Some(Timestamp(1_714_564_803_000_000_000)));
        assert!(matches!(r.host, Some(Cow::Borrowed(_))), "strings borrow from the line");
    }

    #[test]
    fn falls_back_to_the_old_waf_field() {
        let r = parse(br#"{"WAFAction":"block","ClientRequestHost":"a.example"}"#, &Logpush, &mut Shape::default())
            .unwrap();
        assert_eq!(r.security_action.as_deref(), Some(&b"block"[..]));
        let r =
            parse(br#"{"SecurityAction":"challenge","WAFAction":"block"}"#, &Logpush, &mut Shape::default()).unwrap();
        assert_eq!(r.security_action.as_deref(), Some(&b"challenge"[..]));
    }

    #[test]
    fn accepts_all_timestamp_encodings_and_escapes() {
        for ts in ["1714564803", "1714564803000000000", r#""2024-05-01T12:00:03Z""#] {
            let line = format!(r#"{{"EdgeEndTimestamp":{ts},"ClientRequestHost":"a\u002eexample"}}"#);
            let r = parse(line.as_bytes(), &Logpush, &mut Shape::default()).unwrap();
            assert_eq!(r.end, Some(Timestamp(1_714_564_803_000_000_000)), "{ts}");
            assert_eq!(r.host.as_deref(), Some(&b"a.example"[..]));
        }
    }

    #[test]
    fn rejects_what_is_not_one_object() {
        for bad in ["", "[]", "{", r#"{"EdgeResponseStatus":"x"}"#, "{} {}", r#"{"EdgeEndTimestamp":"yesterday"}"#] {
            assert!(parse(bad.as_bytes(), &Logpush, &mut Shape::default()).is_err(), "{bad}");
        }
    }

    #[test]
    fn nanosecond_timestamps_are_read_to_the_nanosecond() {
        // Found by fuzzing: the scanner read a whole number of over 15
        // digits as a float, and Logpush's `unixnano` times (19 digits)
        // lost their last digits where serde_json kept them.
        for (ts, nanos) in [
            ("1714564802999999999", 1_714_564_802_999_999_999),
            ("-1714564802999999999", -1_714_564_802_999_999_999),
            ("9200000000000000001", 9_200_000_000_000_000_001),
            ("1714564802999999", 1_714_564_802_999_999_000),
        ] {
            let line = format!(r#"{{"EdgeEndTimestamp":{ts}}}"#);
            let fast = json::scan(line.as_bytes(), &Logpush, &mut Shape::default());
            assert_eq!(fast.and_then(|r| r.end), Some(Timestamp(nanos)), "{ts}");
            assert_eq!(parse_serde(line.as_bytes(), &Logpush).unwrap().end, Some(Timestamp(nanos)), "{ts}");
        }
    }

    #[test]
    fn floats_are_read_alike_to_the_last_bit() {
        // Found by fuzzing: serde_json's default float parsing may be one
        // unit in the last place off where the scanner's is exact (this
        // one is halfway between two floats).
        let line = br#"{"EdgeEndTimestamp":171456480300000400.0,"EdgeTimeToFirstByteMs":171456480300000400.0}"#;
        let fast = json::scan(line, &Logpush, &mut Shape::default()).unwrap();
        assert_eq!(fast.end, Some(Timestamp(171_456_480_300_000_384)));
        assert_eq!(parse_serde(line, &Logpush).unwrap(), fast);
    }

    #[test]
    fn the_scanner_does_not_check_what_it_skips_nor_bytes_in_strings() {
        // As documented in `scan`: such a line is counted, not malformed.
        for line in [&br#"{"Other":[x},"EdgeResponseStatus":200}"#[..], b"{\"Other\x13\":1,\"EdgeResponseStatus\":200}"]
        {
            assert!(parse_serde(line, &Logpush).is_err());
            let r = parse(line, &Logpush, &mut Shape::default()).unwrap();
            assert_eq!(r.edge_status, Some(200));
        }
    }

    /// JSON values of the kinds Logpush and access logs carry.
    fn json_value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            any::<u32>().prop_map(|n| n.to_string()),
            (-1000i64..1000, 0u32..1000).prop_map(|(a, b)| format!("{a}.{b}")),
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("1e3".to_owned()),
            Just("\"2024-05-01T12:00:03Z\"".to_owned()),
            "[a-zA-Z0-9 ./:_-]{0,20}".prop_map(|s| format!("\"{s}\"")),
            "[a-z]{0,5}".prop_map(|s| format!("\"{s}\\\"q\\\\\\u00e9\"")),
            Just("\"\"".to_owned()),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec(inner, 0..3).prop_map(|v| {
                    let body: Vec<_> = v.iter().enumerate().map(|(i, x)| format!("\"k{i}\":{x}")).collect();
                    format!("{{{}}}", body.join(","))
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn the_fast_path_agrees_with_serde(
            entries in prop::collection::vec((prop::sample::select(vec![
                "ClientRequestHost", "ZoneName", "EdgeResponseStatus", "OriginResponseStatus", "EdgeTimeToFirstByteMs",
                "OriginResponseDurationMs", "CacheCacheStatus", "SecurityAction", "WAFAction", "EdgeResponseBytes",
                "RayID", "EdgeEndTimestamp", "ClientIP", "ClientASN", "ClientCountry", "ClientRequestPath",
                "ClientRequestUserAgent", "Other", "SecurityRuleIDs",
            ]), json_value()), 0..12),
            spaces in any::<bool>(),
        ) {
            // serde keeps the last of repeated keys, and so must the scanner.
            let sep = if spaces { ", " } else { "," };
            let body: Vec<_> = entries.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            let line = format!("{{{}}}", body.join(sep));
            let slow = parse_serde(line.as_bytes(), &Logpush);
            // A fresh shape reads every key; a second pass with the shape it
            // learnt matches them by position instead: both must agree.
            let mut shape = Shape::default();
            for pass in ["learning", "shaped"] {
                if let Some(fast) = json::scan(line.as_bytes(), &Logpush, &mut shape) {
                    let slow = slow.as_ref().map_err(|e| TestCaseError::fail(format!("scanner ({pass}) accepted what serde rejects: {line}: {e}")))?;
                    prop_assert_eq!(&fast, slow, "{} ({})", line, pass);
                }
            }
        }

        #[test]
        fn a_shape_learnt_from_one_line_never_misreads_the_next(
            first in prop::collection::vec(prop::sample::select(vec![
                "ClientRequestHost", "EdgeResponseStatus", "RayID", "Other", "ClientIP", "ClientRequestHostX",
            ]), 0..8),
            second in prop::collection::vec(prop::sample::select(vec![
                "ClientRequestHost", "EdgeResponseStatus", "RayID", "Other", "ClientIP", "ClientRequestHostX",
            ]), 0..8),
        ) {
            // Keys that share a prefix (`ClientRequestHost`, `…HostX`) at
            // the same position must not be taken for each other.
            let line = |keys: &[&str]| {
                let body: Vec<_> = keys.iter().enumerate().map(|(i, k)| format!("\"{k}\":{}", if k.contains("Status") { i.to_string() } else { format!("\"v{i}\"") })).collect();
                format!("{{{}}}", body.join(","))
            };
            let mut shape = Shape::default();
            for l in [line(&first), line(&second)] {
                let fast = json::scan(l.as_bytes(), &Logpush, &mut shape);
                let slow = parse_serde(l.as_bytes(), &Logpush).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(fast.as_ref(), Some(&slow), "{}", l);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes, &Logpush, &mut Shape::default());
        }

        #[test]
        fn mutated_lines_never_panic(cut in 0..LINE.len(), byte in any::<u8>()) {
            let mut bytes = LINE.as_bytes().to_vec();
            bytes[cut] = byte;
            let _ = parse(&bytes, &Logpush, &mut Shape::default());
            let _ = parse(&LINE.as_bytes()[..cut], &Logpush, &mut Shape::default());
        }
    }
}
