//! The one place edgewatch touches YAML.
//!
//! Everything goes through the `serde_yaml` API (the maintained `serde_yaml_ng`
//! fork, renamed in `Cargo.toml`), so a swap of the YAML crate is a change to
//! this file and its tests only.
//!
//! Positions: `serde_yaml` stamps the position of the node being visited onto
//! any error a visitor raises, but does not give positions to successful
//! visits. The catalog is therefore decoded from a [`Value`] (tolerantly, so
//! that every mistake is found in one run), and a diagnostic's position is
//! found afterwards by walking the text again with a seed that fails on
//! purpose at the node the diagnostic names ([`locate`]). Only diagnostics pay
//! for that second walk.

use std::fmt;

use serde::Serialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
pub(crate) use serde_yaml::{Mapping, Value};

use crate::path::{Seg, YamlPath};

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct LineCol {
    /// Line, starting at 1.
    pub line: usize,
    /// Column, starting at 1.
    pub column: usize,
}

/// A document that is not YAML at all, or not one we accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) message: String,
    pub(crate) at: Option<LineCol>,
}

/// Parses one YAML document into a [`Value`], with merge keys (`<<`) applied.
pub(crate) fn parse(text: &str) -> Result<Value, SyntaxError> {
    let mut value: Value = serde_yaml::from_str(text).map_err(|err| {
        // serde_yaml reports a repeated key at the start of its mapping; find
        // the repeated key itself, so the diagnostic points at it.
        let dup = DupSeed.deserialize(serde_yaml::Deserializer::from_str(text)).err();
        syntax_error(&dup.unwrap_or(err))
    })?;
    value.apply_merge().map_err(|e| syntax_error(&e))?;
    Ok(value)
}

/// Walks a document and fails at the first key repeated within a mapping.
struct DupSeed;

impl<'de> DeserializeSeed<'de> for DupSeed {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DupSeed {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while map.next_key_seed(DupKey { seen: &mut seen })?.is_some() {
            map.next_value_seed(DupSeed)?;
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(DupSeed)?.is_some() {}
        Ok(())
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        use de::VariantAccess as _;
        let (IgnoredAny, variant) = data.variant()?;
        variant.newtype_variant_seed(DupSeed)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

struct DupKey<'s> {
    seen: &'s mut std::collections::HashSet<String>,
}

impl<'de> DeserializeSeed<'de> for DupKey<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DupKey<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<(), E> {
        if self.seen.insert(key.to_owned()) {
            Ok(())
        } else {
            Err(E::custom(format!("duplicate key `{key}`: each key may appear once in a mapping")))
        }
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.visit_str(&v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.visit_str("~")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_str("~")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        DupSeed.visit_map(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        DupSeed.visit_seq(seq)
    }
}

fn syntax_error(err: &serde_yaml::Error) -> SyntaxError {
    let at = err.location().map(|l| LineCol { line: l.line(), column: l.column() });
    let mut message = err.to_string();
    // serde_yaml appends the location to its message; we print it in front.
    if let Some(at) = at {
        let suffix = format!(" at line {} column {}", at.line, at.column);
        if let Some(i) = message.find(&suffix) {
            message.replace_range(i..i + suffix.len(), "");
        }
    }
    SyntaxError { message, at }
}

/// Which part of a node a diagnostic points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Anchor {
    /// The node itself (for a mapping or list, where it starts).
    Value,
    /// The key that names the node in its parent mapping (the node itself when
    /// it has no key, as a list element does).
    Key,
}

/// Finds the line and column of the node at `path` in `text`.
///
/// When the path leads through a key or index the text does not have (a value
/// that came from a merge key, or one that is missing), the nearest enclosing
/// node is returned. `None` only when the text does not parse.
pub(crate) fn locate(text: &str, path: &YamlPath, anchor: Anchor) -> Option<LineCol> {
    let anchor = match (anchor, path.0.last()) {
        (Anchor::Key, Some(Seg::Key(_))) => Anchor::Key,
        _ => Anchor::Value,
    };
    let seek = Seek { path: &path.0, anchor };
    let err = seek.deserialize(serde_yaml::Deserializer::from_str(text)).err()?;
    err.location().map(|l| LineCol { line: l.line(), column: l.column() })
}

/// The error a [`Seek`] raises at its target; its text is never shown.
const FOUND: &str = "edgewatch: located";

/// Visitor methods that fail on every scalar and tagged value, so that
/// `serde_yaml` stamps that node's position on the error.
macro_rules! fail_on_scalars_and_enums {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
            Err(E::custom(FOUND))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
            Err(E::custom(FOUND))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
            Err(E::custom(FOUND))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
            Err(E::custom(FOUND))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
            Err(E::custom(FOUND))
        }
        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            Err(E::custom(FOUND))
        }
        fn visit_none<E: de::Error>(self) -> Result<(), E> {
            Err(E::custom(FOUND))
        }
        fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<(), A::Error> {
            Err(de::Error::custom(FOUND))
        }
    };
}

/// Walks to `path` and fails there, so that `serde_yaml` records the position.
struct Seek<'p> {
    path: &'p [Seg],
    anchor: Anchor,
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.path.is_empty() {
            return d.deserialize_any(FailHere);
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Seg::Key(want), rest)) = self.path.split_first() else {
            return Err(de::Error::custom(FOUND));
        };
        let fail_on_key = rest.is_empty() && self.anchor == Anchor::Key;
        while let Some(hit) = map.next_key_seed(KeyMatch { want, fail_on_key })? {
            if hit {
                return map.next_value_seed(Seek { path: rest, anchor: self.anchor });
            }
            map.next_value::<IgnoredAny>()?;
        }
        // Not here (for instance merged in with `<<`): point at this mapping.
        Err(de::Error::custom(FOUND))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Seg::Index(want), rest)) = self.path.split_first() else {
            return Err(de::Error::custom(FOUND));
        };
        for _ in 0..*want {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(de::Error::custom(FOUND));
            }
        }
        match seq.next_element_seed(Seek { path: rest, anchor: self.anchor })? {
            Some(()) => Ok(()),
            None => Err(de::Error::custom(FOUND)),
        }
    }

    // A scalar where the path wants to go deeper: the scalar is the nearest node.
    fail_on_scalars_and_enums!();
}

/// Reads a mapping key and says whether it is the one wanted; fails on it
/// instead when the key itself is the target.
struct KeyMatch<'a> {
    want: &'a str,
    fail_on_key: bool,
}

impl<'de> DeserializeSeed<'de> for KeyMatch<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyMatch<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        let hit = key == self.want;
        if hit && self.fail_on_key {
            return Err(E::custom(FOUND));
        }
        Ok(hit)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

/// Fails on whatever node it is given.
struct FailHere;

impl<'de> Visitor<'de> for FailHere {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }
    fail_on_scalars_and_enums!();
}

/// A document that did not deserialize into the type asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", at.map(|a| format!("{}:{}: ", a.line, a.column)).unwrap_or_default())]
pub struct DeError {
    /// What is wrong, with the path to it (`push[0].auth: unknown field ...`).
    pub message: String,
    /// Where, when known.
    pub at: Option<LineCol>,
}

/// Deserializes a small configuration file (service configs, not the
/// catalog) with serde: the first mistake is reported with its position.
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, DeError> {
    serde_yaml::from_str(text).map_err(|e| {
        let s = syntax_error(&e);
        DeError { message: s.message, at: s.at }
    })
}

/// Serializes generated output (rule files, routing fragments, provisioning
/// files) as YAML.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
customers:
  - id: acme
    hosts: [www.acme.example, \"*.api.acme.example\"]
    slos:
      availability:
        objective: 99.95
  - id: globex
";

    fn at(path: &YamlPath, anchor: Anchor) -> (usize, usize) {
        let lc = locate(DOC, path, anchor).unwrap();
        (lc.line, lc.column)
    }

    #[test]
    fn locates_values_and_keys() {
        let c0 = YamlPath::root().key("customers").index(0);
        assert_eq!(at(&c0.key("id"), Anchor::Value), (2, 9));
        assert_eq!(at(&c0.key("id"), Anchor::Key), (2, 5));
        assert_eq!(at(&c0.key("hosts").index(1), Anchor::Value), (3, 31));
        let objective = c0.key("slos").key("availability").key("objective");
        assert_eq!(at(&objective, Anchor::Value), (6, 20));
        assert_eq!(at(&objective, Anchor::Key), (6, 9));
        let c1 = YamlPath::root().key("customers").index(1);
        assert_eq!(at(&c1.key("id"), Anchor::Value), (7, 9));
    }

    #[test]
    fn falls_back_to_the_nearest_existing_node() {
        let missing = YamlPath::root().key("customers").index(1).key("tier");
        // The mapping of customer 1 starts at its first key.
        assert_eq!(at(&missing, Anchor::Value), (7, 5));
        let past_end = YamlPath::root().key("customers").index(9);
        assert_eq!(at(&past_end, Anchor::Value).0, 2);
    }

    #[test]
    fn reports_syntax_errors_with_a_position() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        let at = err.at.unwrap();
        // The position is printed once, in front, not again in the message.
        assert!(!err.message.contains(&format!("at line {} column {}", at.line, at.column)), "{}", err.message);
        let dup = parse("a: 1\na: 2\n").unwrap_err();
        assert!(dup.message.starts_with("duplicate key `a`"), "{}", dup.message);
        assert_eq!(dup.at.map(|l| l.line), Some(2));
    }

    #[test]
    fn applies_merge_keys() {
        let v = parse("base: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n").unwrap();
        assert_eq!(v["c"]["x"], Value::from(1));
    }
}
