//! Tolerant decoding of YAML values into the catalog's raw types.
//!
//! serde's derived `Deserialize` stops at the first mistake. A catalog edited
//! by hand under time pressure deserves every mistake in one run, so raw types
//! are decoded by hand through [`Decode`]: each decoder records what is wrong
//! in the [`Report`] and carries on with the rest of the document.

use std::collections::BTreeMap;

use crate::path::YamlPath;
use crate::report::{FileId, Issue, Origin, Report};
use crate::yaml::{Anchor, Mapping, Value};

/// Decoding state for one file: where findings go and which file they are in.
pub(crate) struct Cx<'r> {
    pub(crate) file: FileId,
    pub(crate) report: &'r mut Report,
}

impl Cx<'_> {
    pub(crate) fn origin(&self, path: &YamlPath) -> Origin {
        Origin { file: self.file, path: path.clone() }
    }

    pub(crate) fn error(&mut self, path: &YamlPath, anchor: Anchor, message: impl Into<String>) -> &mut Issue {
        let origin = self.origin(path);
        self.report.error(origin, anchor, message)
    }

    /// Records "expected X, found Y" for a value of the wrong shape.
    pub(crate) fn type_error(&mut self, path: &YamlPath, expected: &str, found: &Value) -> &mut Issue {
        let issue = self.error(path, Anchor::Value, format!("expected {expected}, found {}", describe(found)));
        if matches!(found, Value::Number(_) | Value::Bool(_)) && expected.contains("string") {
            issue.hint("put the value in quotes to make it a string");
        }
        issue
    }
}

/// A value that can be read from YAML, reporting every problem it finds.
///
/// `None` means the value was unusable and the reason is in the report.
pub(crate) trait Decode: Sized {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self>;
}

/// A decoded value and where it came from, for checks that span documents.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct At<T> {
    pub(crate) value: T,
    pub(crate) origin: Origin,
}

impl<T: Decode> Decode for At<T> {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let value = T::decode(v, path, cx)?;
        Some(Self { value, origin: cx.origin(path) })
    }
}

/// Describes a YAML value for an error message.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".to_owned(),
        Value::Bool(b) => format!("the boolean `{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) if s.chars().count() > 40 => "a long string".to_owned(),
        Value::String(s) => format!("the string `{s}`"),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(t) => format!("a value tagged `{}`", t.tag),
    }
}

/// The closest candidate to a misspelt word, if one is close enough.
pub(crate) fn suggest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&word, &c.to_ascii_lowercase()), c))
        .filter(|&(d, c)| d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// A hint for an unknown word: "did you mean", or the list to choose from.
pub(crate) fn unknown_word_hint<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str> + Clone,
) -> Option<String> {
    if let Some(close) = suggest(word, candidates.clone()) {
        return Some(format!("did you mean `{close}`?"));
    }
    let all: Vec<_> = candidates.into_iter().map(|c| format!("`{c}`")).collect();
    (1..=16).contains(&all.len()).then(|| format!("expected one of {}", all.join(", ")))
}

/// The keys of one YAML mapping that is meant to be a struct.
pub(crate) struct Fields<'v> {
    map: Option<&'v Mapping>,
    path: YamlPath,
    what: &'static str,
}

/// Opens `v` as a struct called `what` with the given keys, reporting keys it
/// does not know. A null value reads as an empty mapping (`defaults:` alone).
pub(crate) fn fields<'v>(
    v: &'v Value,
    path: &YamlPath,
    cx: &mut Cx<'_>,
    what: &'static str,
    known: &[&'static str],
) -> Option<Fields<'v>> {
    let map = match v {
        Value::Mapping(m) => Some(m),
        Value::Null => None,
        other => {
            cx.type_error(path, &format!("a mapping ({what})"), other);
            return None;
        }
    };
    for key in map.into_iter().flat_map(Mapping::keys) {
        match key {
            Value::String(k) if known.contains(&k.as_str()) => {}
            Value::String(k) => {
                let issue = cx.error(&path.key(k), Anchor::Key, format!("unknown key `{k}` in {what}"));
                if let Some(h) = unknown_word_hint(k, known.iter().copied()) {
                    issue.hint(h);
                }
            }
            other => {
                cx.error(path, Anchor::Value, format!("keys in {what} must be strings, found {}", describe(other)));
            }
        }
    }
    Some(Fields { map, path: path.clone(), what })
}

impl<'v> Fields<'v> {
    /// The value under `key`; `None` when absent or null.
    pub(crate) fn get(&self, key: &str) -> Option<&'v Value> {
        self.map?.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn path(&self, key: &str) -> YamlPath {
        self.path.key(key)
    }

    pub(crate) fn opt<T: Decode>(&self, key: &str, cx: &mut Cx<'_>) -> Option<T> {
        T::decode(self.get(key)?, &self.path(key), cx)
    }

    /// Like [`Self::opt`], and records an error when the key is absent.
    pub(crate) fn req<T: Decode>(&self, key: &str, cx: &mut Cx<'_>) -> Option<T> {
        if self.get(key).is_none() {
            cx.error(&self.path, Anchor::Key, format!("missing required key `{key}` in {}", self.what));
            return None;
        }
        self.opt(key, cx)
    }

    /// An optional list; absent reads as empty.
    pub(crate) fn list<T: Decode>(&self, key: &str, cx: &mut Cx<'_>) -> Vec<T> {
        self.opt::<Vec<T>>(key, cx).unwrap_or_default()
    }

    /// An optional mapping; absent reads as empty.
    pub(crate) fn map<T: Decode>(&self, key: &str, cx: &mut Cx<'_>) -> BTreeMap<String, T> {
        self.opt::<BTreeMap<String, T>>(key, cx).unwrap_or_default()
    }
}

impl Decode for String {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        match v {
            Value::String(s) => Some(s.clone()),
            other => {
                cx.type_error(path, "a string", other);
                None
            }
        }
    }
}

impl Decode for bool {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(*b),
            other => {
                cx.type_error(path, "`true` or `false`", other);
                None
            }
        }
    }
}

impl Decode for u64 {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        if let Some(n) = v.as_u64() {
            return Some(n);
        }
        cx.type_error(path, "a whole number of 0 or more", v);
        None
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        match v {
            Value::Sequence(items) => {
                Some(items.iter().enumerate().filter_map(|(i, item)| T::decode(item, &path.index(i), cx)).collect())
            }
            other => {
                let issue = cx.type_error(path, "a list", other);
                if !matches!(other, Value::Mapping(_)) {
                    issue.hint("write a single item as a list of one: `[item]`");
                }
                None
            }
        }
    }
}

impl<T: Decode> Decode for BTreeMap<String, T> {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let map = match v {
            Value::Mapping(m) => m,
            Value::Null => return Some(Self::new()),
            other => {
                cx.type_error(path, "a mapping", other);
                return None;
            }
        };
        let mut out = Self::new();
        for (k, item) in map {
            let Value::String(k) = k else {
                cx.error(path, Anchor::Value, format!("keys must be strings, found {}", describe(k)));
                continue;
            };
            if let Some(item) = T::decode(item, &path.key(k), cx) {
                out.insert(k.clone(), item);
            }
        }
        Some(out)
    }
}

/// Implements `as_str`, `ALL`, `Display`, `Serialize` and [`Decode`] for a
/// fieldless enum spelled in YAML as lowercase words.
macro_rules! string_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $s:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The spelling used in YAML, labels and generated files.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $s),+
                }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s {
                    $($s => Ok(Self::$variant),)+
                    _ => Err(()),
                }
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        // For JSON the services store and read back (catalog YAML goes
        // through `Decode`, with positions).
        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(|()| {
                    ::serde::de::Error::custom(format!("unknown {} `{s}`", $what))
                })
            }
        }

        impl $crate::decode::Decode for $ty {
            fn decode(
                v: &$crate::yaml::Value,
                path: &$crate::path::YamlPath,
                cx: &mut $crate::decode::Cx<'_>,
            ) -> Option<Self> {
                let s = <String as $crate::decode::Decode>::decode(v, path, cx)?;
                if let Ok(found) = s.parse() {
                    return Some(found);
                }
                let issue = cx.error(path, $crate::yaml::Anchor::Value, format!("unknown {} `{s}`", $what));
                let names = Self::ALL.iter().map(|v| v.as_str());
                if let Some(h) = $crate::decode::unknown_word_hint(&s, names) {
                    issue.hint(h);
                }
                None
            }
        }
    };
}
pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let keys = ["objective", "period", "errors", "exclude"];
        assert_eq!(suggest("objectve", keys), Some("objective"));
        assert_eq!(suggest("Period", keys), Some("period"));
        assert_eq!(suggest("zzz", keys), None);
    }
}
