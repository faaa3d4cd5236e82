//! JSON lines: one object per line, each key read into the field it feeds.
//!
//! The reader makes one pass over the line's bytes (`scan`), and leaves
//! to `serde_json` (`fallback`) what the pass does not handle (escapes,
//! unusual shapes, and every error). Which key feeds which field is a
//! `Keys` table: the `fields` map of this format's options ([`Json`]), or
//! Logpush's own keys (`super::logpush`).

mod fallback;
mod scan;

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

pub(crate) use self::fallback::parse_serde;
pub(crate) use self::scan::Shape;
use super::{LineFormat, Memo, ParseError};
use crate::record::{Field, Record, Unit};

/// Any JSON-per-line access log (nginx `escape=json`, Envoy JSON):
/// `format: {json: {fields: {host: host, ttfb: {key: request_time, unit: s}}}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Json {
    /// Which key holds which field.
    pub fields: BTreeMap<Field, Source>,
}

/// Where a field is in a JSON line: a key (`status`), or a key and a unit
/// for durations (`{key: request_time, unit: s}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The JSON key.
    pub key: String,
    /// `s`, `ms` or `us`; durations need one.
    pub unit: Option<Unit>,
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Source;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key, or {key: KEY, unit: s, ms or us}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Source, E> {
                Ok(Source { key: v.to_owned(), unit: None })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Source, A::Error> {
                let (mut key, mut unit) = (None, None);
                while let Some(name) = map.next_key::<String>()? {
                    match name.as_str() {
                        "key" => key = Some(map.next_value::<String>()?),
                        "unit" => unit = Some(map.next_value::<Unit>()?),
                        other => return Err(de::Error::unknown_field(other, &["key", "unit"])),
                    }
                }
                Ok(Source { key: key.ok_or_else(|| de::Error::missing_field("key"))?, unit })
            }
        }
        d.deserialize_any(V)
    }
}

/// What a JSON key feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A field of the record; a duration in this unit.
    Field(Field, Unit),
    /// The security action under its older name (Logpush's `WAFAction`),
    /// read only when the line has no security action of its own.
    OldSecurityAction,
}

/// Which keys of a line feed which fields.
pub(crate) trait Keys {
    /// What `key` (as written, without quotes) feeds, if anything.
    fn target(&self, key: &[u8]) -> Option<Target>;
}

impl Keys for Json {
    fn target(&self, key: &[u8]) -> Option<Target> {
        // A key named for two fields feeds the later one.
        let (field, source) = self.fields.iter().rfind(|(_, s)| s.key.as_bytes() == key)?;
        Some(Target::Field(*field, source.unit.unwrap_or(Unit::S)))
    }
}

impl LineFormat for Json {
    fn parse_into<'a>(&'a self, line: &'a [u8], memo: &mut Memo, r: &mut Record<'a>) -> Result<(), ParseError> {
        parse_into(line, self, &mut memo.json, r)
    }

    fn check(&self, at: &str, problems: &mut Vec<String>) {
        if !self.fields.contains_key(&Field::Host) && !self.fields.contains_key(&Field::Zone) {
            problems.push(format!(
                "{at}.fields: name the key of `host` (or `zone`), or no line can be matched to a customer"
            ));
        }
        for field in [Field::Ttfb, Field::OriginDuration] {
            if let Some(Source { key, unit: None }) = self.fields.get(&field) {
                problems.push(format!(
                    "{at}.fields: give the unit of a duration, as `{{key: {key}, unit: s}}` (s, ms or us)"
                ));
            }
        }
    }
}

/// Parses one JSON line: the byte scanner when it can, `serde_json`
/// otherwise. `keys` is only asked for keys the line's shape does not
/// know yet, so a dynamic call costs nothing, and the scanner is compiled
/// once, with its small helpers inlined.
#[inline]
pub(crate) fn parse_into<'a>(
    line: &'a [u8],
    keys: &dyn Keys,
    shape: &mut Shape,
    r: &mut Record<'a>,
) -> Result<(), ParseError> {
    if scan::parse_into(line, keys, shape, r).is_none() {
        *r = parse_serde(line, keys)?;
    }
    Ok(())
}

pub(crate) use self::scan::parse as scan;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<'a>(line: &'a [u8], format: &'a Json) -> Result<Record<'a>, ParseError> {
        let mut r = Record::default();
        format.parse_into(line, &mut Memo::default(), &mut r)?;
        Ok(r)
    }

    #[test]
    fn custom_maps_read_other_logs() {
        let source = |key: &str, unit| Source { key: key.to_owned(), unit };
        let format = Json {
            fields: [
                (Field::Host, source("host", None)),
                (Field::EdgeStatus, source("status", None)),
                (Field::Ttfb, source("rt", Some(Unit::S))),
            ]
            .into_iter()
            .collect(),
        };
        let r = parse(br#"{"host":"a.example","status":"404","rt":"-"}"#, &format).unwrap();
        assert_eq!((r.host.as_deref(), r.edge_status, r.ttfb), (Some(&b"a.example"[..]), Some(404), None));
        let r = parse(br#"{"host":"a.example","status":200,"rt":0.25}"#, &format).unwrap();
        assert_eq!(r.ttfb, Some(0.25));
    }

    #[test]
    fn sources_are_keys_or_keys_with_units() {
        let fields: BTreeMap<Field, Source> = edgewatch_catalog::yaml::from_str(
            "{host: h, ttfb: {key: request_time, unit: ms}, origin_duration: {key: up}}",
        )
        .unwrap();
        assert_eq!(fields[&Field::Host], Source { key: "h".to_owned(), unit: None });
        assert_eq!(fields[&Field::Ttfb], Source { key: "request_time".to_owned(), unit: Some(Unit::Ms) });
        assert_eq!(fields[&Field::OriginDuration], Source { key: "up".to_owned(), unit: None });
        let err =
            edgewatch_catalog::yaml::from_str::<BTreeMap<Field, Source>>("{host: {key: h, units: s}}").unwrap_err();
        assert!(err.message.contains("unknown field `units`"), "{err}");
        assert_eq!(err.at.map(|a| a.line), Some(1), "{err}");
    }
}
