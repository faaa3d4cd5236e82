//! One HTTP request log record, parsed from a JSON line in one pass.
//!
//! Strings borrow from the line where JSON escapes allow (`Cow`), unknown
//! fields are skipped without building values, and which JSON key feeds which
//! field is a [`FieldMap`], so Logpush's `http_requests` and other JSON
//! access logs share the same parser.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::scan::Shape;
use crate::timestamp::{self, Timestamp};

/// The fields edgewatch reads from a request record. Strings stay bytes as
/// read and are checked for UTF-8 only where text is needed: a batch checks
/// a host the first time it sees it, exemplars and top offenders check the
/// request id and client fields for the minority of lines they take, and
/// cache status and security action are only compared with fixed names.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Record<'a> {
    pub(crate) host: Option<Cow<'a, [u8]>>,
    pub(crate) zone: Option<Cow<'a, [u8]>>,
    pub(crate) edge_status: Option<u16>,
    /// 0 means the origin never answered.
    pub(crate) origin_status: Option<u16>,
    /// Edge time to first byte, seconds.
    pub(crate) ttfb: Option<f64>,
    /// Origin response duration, seconds.
    pub(crate) origin_duration: Option<f64>,
    pub(crate) cache_status: Option<Cow<'a, [u8]>>,
    /// `SecurityAction`, or the older `WAFAction` when that is all there is.
    pub(crate) security_action: Option<Cow<'a, [u8]>>,
    pub(crate) bytes: Option<u64>,
    pub(crate) ray_id: Option<Cow<'a, [u8]>>,
    pub(crate) end: Option<Timestamp>,
    pub(crate) client_ip: Option<Cow<'a, [u8]>>,
    pub(crate) client_asn: Option<u64>,
    pub(crate) client_country: Option<Cow<'a, [u8]>>,
    pub(crate) path: Option<Cow<'a, [u8]>>,
    pub(crate) user_agent: Option<Cow<'a, [u8]>>,
}

/// A field of [`Record`] that a JSON key can feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Field {
    Host,
    Zone,
    EdgeStatus,
    OriginStatus,
    /// Time to first byte (`EdgeTimeToFirstByteMs`: milliseconds).
    Ttfb(Unit),
    /// Origin response duration (`OriginResponseDurationMs`: milliseconds).
    OriginDuration(Unit),
    CacheStatus,
    SecurityAction,
    /// The pre-2023 name; used only when `SecurityAction` is absent.
    WafAction,
    Bytes,
    RayId,
    End,
    ClientIp,
    ClientAsn,
    ClientCountry,
    Path,
    UserAgent,
}

/// The unit a log writes a duration in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Seconds (nginx `$request_time`).
    S,
    /// Milliseconds (Logpush, Envoy `%DURATION%`).
    Ms,
    /// Microseconds.
    Us,
}

impl Unit {
    /// The duration in seconds; negative or non-finite values read as absent.
    pub(crate) fn to_secs(self, v: Option<f64>) -> Option<f64> {
        let v = v.filter(|v| v.is_finite() && *v >= 0.0)?;
        Some(match self {
            Self::S => v,
            Self::Ms => v / 1e3,
            Self::Us => v / 1e6,
        })
    }
}

/// Which JSON keys feed which fields.
#[derive(Debug, Clone)]
pub(crate) enum FieldMap {
    /// Cloudflare Logpush `http_requests`.
    Logpush,
    /// Any other JSON log, by key (a file input's `fields`).
    Custom(HashMap<String, Field>),
}

impl FieldMap {
    fn field(&self, key: &str) -> Option<Field> {
        self.field_bytes(key.as_bytes())
    }

    pub(crate) fn field_bytes(&self, key: &[u8]) -> Option<Field> {
        match self {
            Self::Logpush => logpush_field(key),
            Self::Custom(map) => map.get(std::str::from_utf8(key).ok()?).copied(),
        }
    }
}

/// Logpush's keys, told apart by length, first and last byte, so each of
/// the two dozen keys of a line costs one comparison.
fn logpush_field(key: &[u8]) -> Option<Field> {
    let (name, field): (&[u8], Field) = match (key.len(), *key.first()?, *key.last()?) {
        (17, b'C', b't') => (b"ClientRequestHost", Field::Host),
        (8, b'Z', b'e') => (b"ZoneName", Field::Zone),
        (18, b'E', b's') => (b"EdgeResponseStatus", Field::EdgeStatus),
        (20, b'O', b's') => (b"OriginResponseStatus", Field::OriginStatus),
        (21, b'E', b's') => (b"EdgeTimeToFirstByteMs", Field::Ttfb(Unit::Ms)),
        (24, b'O', b's') => (b"OriginResponseDurationMs", Field::OriginDuration(Unit::Ms)),
        (16, b'C', b's') => (b"CacheCacheStatus", Field::CacheStatus),
        (14, b'S', b'n') => (b"SecurityAction", Field::SecurityAction),
        (9, b'W', b'n') => (b"WAFAction", Field::WafAction),
        (17, b'E', b's') => (b"EdgeResponseBytes", Field::Bytes),
        (5, b'R', b'D') => (b"RayID", Field::RayId),
        (16, b'E', b'p') => (b"EdgeEndTimestamp", Field::End),
        (8, b'C', b'P') => (b"ClientIP", Field::ClientIp),
        (9, b'C', b'N') => (b"ClientASN", Field::ClientAsn),
        (13, b'C', b'y') => (b"ClientCountry", Field::ClientCountry),
        (17, b'C', b'h') => (b"ClientRequestPath", Field::Path),
        (22, b'C', b't') => (b"ClientRequestUserAgent", Field::UserAgent),
        _ => return None,
    };
    (key == name).then_some(field)
}

/// How the lines of an input are written.
#[derive(Debug, Clone)]
pub(crate) enum LineFormat {
    /// One JSON object per line, read through a field map.
    Json(FieldMap),
    /// nginx `combined`, with trailing fields and a host for vhost logs.
    Combined { trailing: Vec<crate::combined::Trailing>, host: Option<String> },
}

impl LineFormat {
    /// `shape` remembers the keys of earlier JSON lines (see [`Shape`]).
    /// Parses `line` into `r`, handed in empty.
    pub(crate) fn parse_into<'a>(
        &'a self,
        line: &'a [u8],
        shape: &mut Shape,
        r: &mut Record<'a>,
    ) -> Result<(), ParseError> {
        match self {
            Self::Json(fields) => parse_into(line, fields, shape, r),
            Self::Combined { trailing, host } => {
                *r = crate::combined::parse(line, trailing, host.as_deref())?;
                Ok(())
            }
        }
    }
}

/// Why a line is not a record.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ParseError(String);

impl ParseError {
    pub(crate) fn new(message: String) -> Self {
        Self(message)
    }
}

/// Parses one JSON line: the byte scanner of [`crate::scan`] when it can,
/// `serde_json` otherwise (escapes, unusual shapes, and every error).
pub(crate) fn parse_into<'a>(
    line: &'a [u8],
    fields: &FieldMap,
    shape: &mut Shape,
    r: &mut Record<'a>,
) -> Result<(), ParseError> {
    if crate::scan::parse_into(line, fields, shape, r).is_none() {
        *r = parse_serde(line, fields)?;
    }
    Ok(())
}

#[cfg(test)]
fn parse<'a>(line: &'a [u8], fields: &FieldMap, shape: &mut Shape) -> Result<Record<'a>, ParseError> {
    let mut r = Record::default();
    parse_into(line, fields, shape, &mut r)?;
    Ok(r)
}

/// Parses one JSON line with `serde_json`.
pub(crate) fn parse_serde<'a>(line: &'a [u8], fields: &FieldMap) -> Result<Record<'a>, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let record = Seed(fields).deserialize(&mut de).map_err(|e| ParseError(e.to_string()))?;
    de.end().map_err(|e| ParseError(e.to_string()))?;
    Ok(record)
}

struct Seed<'f>(&'f FieldMap);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Record<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Record<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Record<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record<'de>, A::Error> {
        let mut r = Record::default();
        let mut waf_action = None;
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            let Some(field) = self.0.field(&key) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            match field {
                Field::Host => r.host = map.next_value::<Str<'de>>()?.bytes(),
                Field::Zone => r.zone = map.next_value::<Str<'de>>()?.bytes(),
                Field::EdgeStatus => r.edge_status = map.next_value::<Num>()?.status(),
                Field::OriginStatus => r.origin_status = map.next_value::<Num>()?.status(),
                Field::Ttfb(unit) => r.ttfb = unit.to_secs(map.next_value::<Num>()?.0),
                Field::OriginDuration(unit) => r.origin_duration = unit.to_secs(map.next_value::<Num>()?.0),
                Field::CacheStatus => r.cache_status = map.next_value::<Str<'de>>()?.bytes(),
                Field::SecurityAction => r.security_action = map.next_value::<Str<'de>>()?.bytes(),
                Field::WafAction => waf_action = map.next_value::<Str<'de>>()?.bytes(),
                Field::Bytes => r.bytes = map.next_value::<Num>()?.count(),
                Field::RayId => r.ray_id = map.next_value::<Str<'de>>()?.bytes(),
                Field::End => r.end = map.next_value::<Time>()?.0,
                Field::ClientIp => r.client_ip = map.next_value::<Str<'de>>()?.bytes(),
                Field::ClientAsn => r.client_asn = map.next_value::<Num>()?.count(),
                Field::ClientCountry => r.client_country = map.next_value::<Str<'de>>()?.bytes(),
                Field::Path => r.path = map.next_value::<Str<'de>>()?.bytes(),
                Field::UserAgent => r.user_agent = map.next_value::<Str<'de>>()?.bytes(),
            }
        }
        // Jobs created before the 2023 rename still send `WAFAction`.
        if r.security_action.as_deref().is_none_or(<[u8]>::is_empty) {
            r.security_action = waf_action.or(r.security_action);
        }
        Ok(r)
    }
}

/// A string that borrows from the input unless JSON escapes forced a copy
/// (serde's own `Cow<str>` always copies).
struct CowStr<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A string field; null reads as absent.
struct Str<'a>(Option<Cow<'a, str>>);

impl<'a> Str<'a> {
    /// As a [`Record`]'s byte fields keep it.
    fn bytes(self) -> Option<Cow<'a, [u8]>> {
        self.0.map(|s| match s {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        })
    }
}

impl<'de> de::Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<CowStr<'de>>::deserialize(d).map(|s| Str(s.map(|c| c.0)))
    }
}

/// A number field, as JSON number or numeric string; null reads as absent.
#[derive(Clone, Copy)]
struct Num(Option<f64>);

impl Num {
    fn status(self) -> Option<u16> {
        as_status(self.0)
    }

    fn count(self) -> Option<u64> {
        as_count(self.0)
    }
}

/// An HTTP status from a number; out-of-range values read as absent.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // range checked
pub(crate) fn as_status(v: Option<f64>) -> Option<u16> {
    v.filter(|v| (0.0..1000.0).contains(v) && v.fract() == 0.0).map(|v| v as u16)
}

/// A non-negative count.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // range checked
pub(crate) fn as_count(v: Option<f64>) -> Option<u64> {
    v.filter(|v| v.is_finite() && *v >= 0.0 && *v < 1.8e19).map(|v| v as u64)
}

impl<'de> de::Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            #[allow(clippy::cast_precision_loss)] // log values are far below 2^53
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(Some(v as f64)))
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(Some(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                // Some access logs quote numbers; "-" is nginx's "no value".
                if v.is_empty() || v == "-" {
                    return Ok(Num(None));
                }
                v.parse().map(|n| Num(Some(n))).map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Num, E> {
                Ok(Num(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A timestamp field; null reads as absent.
struct Time(Option<Timestamp>);

impl<'de> de::Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OptTime;
        impl<'de> Visitor<'de> for OptTime {
            type Value = Time;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a timestamp")
            }
            fn visit_none<E: de::Error>(self) -> Result<Time, E> {
                Ok(Time(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Time, E> {
                Ok(Time(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Time, D::Error> {
                timestamp::deserialize(d).map(|t| Time(Some(t)))
            }
        }
        d.deserialize_option(OptTime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LINE: &str = r#"{"RayID":"8f1c2a9b3d4e5f60","EdgeStartTimestamp":"2024-05-01T12:00:03Z","EdgeEndTimestamp":"2024-05-01T12:00:03Z","ZoneName":"shop.example","ClientRequestHost":"www.shop.example","ClientRequestMethod":"GET","ClientRequestPath":"/api/v1/cart","ClientRequestURI":"/api/v1/cart?id=42","ClientRequestProtocol":"HTTP/2","ClientRequestScheme":"https","ClientIP":"198.51.100.23","ClientASN":3320,"ClientCountry":"de","ClientTCPRTTMs":14,"EdgeColoCode":"FRA","EdgeResponseStatus":502,"OriginResponseStatus":502,"OriginResponseDurationMs":1834,"OriginTCPHandshakeDurationMs":0,"OriginTLSHandshakeDurationMs":0,"EdgeTimeToFirstByteMs":1851,"CacheCacheStatus":"dynamic","SecurityAction":"","EdgeResponseBytes":1208,"WorkerSubrequest":false}"#;

    #[test]
    fn reads_a_logpush_line() {
        let r = parse(LINE.as_bytes(), &FieldMap::Logpush, &mut Shape::default()).unwrap();
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
        let r = parse(
            br#"{"WAFAction":"block","ClientRequestHost":"a.example"}"#,
            &FieldMap::Logpush,
            &mut Shape::default(),
        )
        .unwrap();
        assert_eq!(r.security_action.as_deref(), Some(&b"block"[..]));
        let r =
            parse(br#"{"SecurityAction":"challenge","WAFAction":"block"}"#, &FieldMap::Logpush, &mut Shape::default())
                .unwrap();
        assert_eq!(r.security_action.as_deref(), Some(&b"challenge"[..]));
    }

    #[test]
    fn accepts_all_timestamp_encodings_and_escapes() {
        for ts in ["1714564803", "1714564803000000000", r#""2024-05-01T12:00:03Z""#] {
            let line = format!(r#"{{"EdgeEndTimestamp":{ts},"ClientRequestHost":"a\u002eexample"}}"#);
            let r = parse(line.as_bytes(), &FieldMap::Logpush, &mut Shape::default()).unwrap();
            assert_eq!(r.end, Some(Timestamp(1_714_564_803_000_000_000)), "{ts}");
            assert_eq!(r.host.as_deref(), Some(&b"a.example"[..]));
        }
    }

    #[test]
    fn rejects_what_is_not_one_object() {
        for bad in ["", "[]", "{", r#"{"EdgeResponseStatus":"x"}"#, "{} {}", r#"{"EdgeEndTimestamp":"yesterday"}"#] {
            assert!(parse(bad.as_bytes(), &FieldMap::Logpush, &mut Shape::default()).is_err(), "{bad}");
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
            let fast = crate::scan::parse(line.as_bytes(), &FieldMap::Logpush, &mut Shape::default());
            assert_eq!(fast.and_then(|r| r.end), Some(Timestamp(nanos)), "{ts}");
            assert_eq!(parse_serde(line.as_bytes(), &FieldMap::Logpush).unwrap().end, Some(Timestamp(nanos)), "{ts}");
        }
    }

    #[test]
    fn floats_are_read_alike_to_the_last_bit() {
        // Found by fuzzing: serde_json's default float parsing may be one
        // unit in the last place off where the scanner's is exact (this
        // one is halfway between two floats).
        let line = br#"{"EdgeEndTimestamp":171456480300000400.0,"EdgeTimeToFirstByteMs":171456480300000400.0}"#;
        let fast = crate::scan::parse(line, &FieldMap::Logpush, &mut Shape::default()).unwrap();
        assert_eq!(fast.end, Some(Timestamp(171_456_480_300_000_384)));
        assert_eq!(parse_serde(line, &FieldMap::Logpush).unwrap(), fast);
    }

    #[test]
    fn the_scanner_does_not_check_what_it_skips_nor_bytes_in_strings() {
        // As documented in `scan`: such a line is counted, not malformed.
        for line in [&br#"{"Other":[x},"EdgeResponseStatus":200}"#[..], b"{\"Other\x13\":1,\"EdgeResponseStatus\":200}"]
        {
            assert!(parse_serde(line, &FieldMap::Logpush).is_err());
            let r = parse(line, &FieldMap::Logpush, &mut Shape::default()).unwrap();
            assert_eq!(r.edge_status, Some(200));
        }
    }

    #[test]
    fn custom_maps_read_other_logs() {
        let map = FieldMap::Custom(
            [("host", Field::Host), ("status", Field::EdgeStatus), ("rt", Field::Ttfb(Unit::S))]
                .into_iter()
                .map(|(k, f)| (k.to_owned(), f))
                .collect(),
        );
        let r = parse(br#"{"host":"a.example","status":"404","rt":"-"}"#, &map, &mut Shape::default()).unwrap();
        assert_eq!((r.host.as_deref(), r.edge_status, r.ttfb), (Some(&b"a.example"[..]), Some(404), None));
        let r = parse(br#"{"host":"a.example","status":200,"rt":0.25}"#, &map, &mut Shape::default()).unwrap();
        assert_eq!(r.ttfb, Some(0.25));
    }

    /// JSON values of the kinds Logpush and access logs carry.
    fn json_value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            any::<u32>().prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
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
            let slow = parse_serde(line.as_bytes(), &FieldMap::Logpush);
            // A fresh shape reads every key; a second pass with the shape it
            // learnt matches them by position instead: both must agree.
            let mut shape = Shape::default();
            for pass in ["learning", "shaped"] {
                if let Some(fast) = crate::scan::parse(line.as_bytes(), &FieldMap::Logpush, &mut shape) {
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
                let fast = crate::scan::parse(l.as_bytes(), &FieldMap::Logpush, &mut shape);
                let slow = parse_serde(l.as_bytes(), &FieldMap::Logpush).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(fast.as_ref(), Some(&slow), "{}", l);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes, &FieldMap::Logpush, &mut Shape::default());
        }

        #[test]
        fn mutated_lines_never_panic(cut in 0..LINE.len(), byte in any::<u8>()) {
            let mut bytes = LINE.as_bytes().to_vec();
            bytes[cut] = byte;
            let _ = parse(&bytes, &FieldMap::Logpush, &mut Shape::default());
            let _ = parse(&LINE.as_bytes()[..cut], &FieldMap::Logpush, &mut Shape::default());
        }
    }
}
