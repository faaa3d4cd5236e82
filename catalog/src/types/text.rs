//! Checked strings: web URLs, e-mail addresses, regular expressions and Jira
//! keys.

use std::fmt;

use serde::Serialize;

use crate::decode::{Cx, Decode};
use crate::path::YamlPath;
use crate::yaml::{Anchor, Value};

/// An absolute `http` or `https` URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpUrl(url::Url);

impl HttpUrl {
    /// The parsed URL.
    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL as text without a trailing `/`, for joining API paths.
    pub fn base(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl Serialize for HttpUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl std::str::FromStr for HttpUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let url = url::Url::parse(s).map_err(|e| format!("`{s}` is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("`{s}` uses the scheme `{}`; expected http or https", url.scheme()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("`{s}` has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            // Credentials in a URL end up in logs; they belong in a secret.
            return Err("URLs must not carry credentials: they end up in alerts, tickets and logs".to_owned());
        }
        Ok(Self(url))
    }
}

impl Decode for HttpUrl {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let s = String::decode(v, path, cx)?;
        s.parse().map_err(|msg: String| cx.error(path, Anchor::Value, msg)).ok()
    }
}

/// An e-mail address (checked for shape, not deliverability).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(pub(crate) String);

impl Email {
    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Decode for Email {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let s = String::decode(v, path, cx)?;
        let ok = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !s.chars().any(char::is_whitespace)
            }
            None => false,
        };
        if ok {
            Some(Self(s))
        } else {
            cx.error(path, Anchor::Value, format!("`{s}` is not an e-mail address"));
            None
        }
    }
}

/// A regular expression (Rust `regex` syntax, which is close to RE2 and to
/// what Prometheus and `blackbox_exporter` accept).
#[derive(Debug, Clone)]
pub struct Pattern(regex::Regex);

impl Pattern {
    /// The compiled expression.
    pub fn regex(&self) -> &regex::Regex {
        &self.0
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl Decode for Pattern {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let s = String::decode(v, path, cx)?;
        // Bounded so that a hostile catalog cannot make the exporter allocate
        // without limit.
        match regex::RegexBuilder::new(&s).size_limit(1 << 20).build() {
            Ok(re) => Some(Self(re)),
            Err(e) => {
                let msg = e.to_string();
                let first = msg.lines().last().unwrap_or("invalid").trim();
                cx.error(path, Anchor::Value, format!("invalid regular expression `{s}`: {first}"));
                None
            }
        }
    }
}

/// A Jira project key such as `NOC`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct JiraKey(pub(crate) String);

impl JiraKey {
    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JiraKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Decode for JiraKey {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let s = String::decode(v, path, cx)?;
        // Jira's default project key rule: an uppercase letter, then
        // uppercase letters, digits or `_`; 2 to 10 characters.
        let valid = (2..=10).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_uppercase())
            && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if valid {
            return Some(Self(s));
        }
        let issue = cx.error(path, Anchor::Value, format!("`{s}` is not a Jira project key"));
        issue.hint("project keys are 2 to 10 uppercase letters, digits or `_`, starting with a letter, as in `NOC`");
        None
    }
}
