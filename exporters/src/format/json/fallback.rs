//! The slow path of [`super::parse_into`]: `serde_json`, which has the last
//! word on what is valid JSON. It reads what the scanner leaves to it
//! (escapes, unusual shapes) and every malformed line, into the same record
//! (a property test checks that both agree).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::{Keys, Target};
use crate::format::ParseError;
use crate::record::{self, Field, Record};
use crate::timestamp::{self, Timestamp};

/// Parses one JSON line with `serde_json`.
pub(crate) fn parse_serde<'a>(line: &'a [u8], keys: &dyn Keys) -> Result<Record<'a>, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let record = Seed(keys).deserialize(&mut de).map_err(|e| ParseError(e.to_string()))?;
    de.end().map_err(|e| ParseError(e.to_string()))?;
    Ok(record)
}

struct Seed<'k>(&'k dyn Keys);

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
            let (field, unit) = match self.0.target(key.as_bytes()) {
                None => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                Some(Target::OldSecurityAction) => {
                    waf_action = map.next_value::<Str<'de>>()?.bytes();
                    continue;
                }
                Some(Target::Field(field, unit)) => (field, unit),
            };
            match field {
                Field::Host => r.host = map.next_value::<Str<'de>>()?.bytes(),
                Field::Zone => r.zone = map.next_value::<Str<'de>>()?.bytes(),
                Field::EdgeStatus => r.edge_status = map.next_value::<Num>()?.status(),
                Field::OriginStatus => r.origin_status = map.next_value::<Num>()?.status(),
                Field::Ttfb => r.ttfb = unit.to_secs(map.next_value::<Num>()?.0),
                Field::OriginDuration => r.origin_duration = unit.to_secs(map.next_value::<Num>()?.0),
                Field::CacheStatus => r.cache_status = map.next_value::<Str<'de>>()?.bytes(),
                Field::SecurityAction => r.security_action = map.next_value::<Str<'de>>()?.bytes(),
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
        record::as_status(self.0)
    }

    fn count(self) -> Option<u64> {
        record::as_count(self.0)
    }
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
