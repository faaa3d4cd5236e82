//! HTTP status codes and classes (`5xx`) as the catalog names them.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::decode::{Cx, Decode};
use crate::path::YamlPath;
use crate::yaml::{Anchor, Value};

/// One status code (`429`) or a class of them (`5xx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusMatcher {
    /// Every code from `N00` to `N99`.
    Class(u8),
    /// One code.
    Code(u16),
}

impl StatusMatcher {
    /// Whether `code` is matched.
    pub fn matches(self, code: u16) -> bool {
        match self {
            Self::Class(c) => code / 100 == u16::from(c),
            Self::Code(c) => code == c,
        }
    }
}

impl fmt::Display for StatusMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Class(c) => write!(f, "{c}xx"),
            Self::Code(c) => write!(f, "{c}"),
        }
    }
}

impl Serialize for StatusMatcher {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for StatusMatcher {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not an HTTP status: expected a code from 100 to 599 or a class such as `5xx`");
        let lower = s.to_ascii_lowercase();
        if let Some(class) = lower.strip_suffix("xx") {
            return match class.parse::<u8>() {
                Ok(c @ 1..=5) => Ok(Self::Class(c)),
                _ => Err(bad()),
            };
        }
        match s.parse::<u16>() {
            Ok(c @ 100..=599) => Ok(Self::Code(c)),
            _ => Err(bad()),
        }
    }
}

impl Decode for StatusMatcher {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                cx.type_error(path, "an HTTP status such as `503` or `5xx`", other);
                return None;
            }
        };
        text.parse().map_err(|msg: String| cx.error(path, Anchor::Value, msg)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_classes() {
        assert_eq!("5xx".parse(), Ok(StatusMatcher::Class(5)));
        assert_eq!("5XX".parse(), Ok(StatusMatcher::Class(5)));
        assert_eq!("429".parse(), Ok(StatusMatcher::Code(429)));
        assert!("6xx".parse::<StatusMatcher>().is_err());
        assert!("99".parse::<StatusMatcher>().is_err());
        assert!(StatusMatcher::Class(5).matches(503));
        assert!(!StatusMatcher::Class(5).matches(499));
    }
}
