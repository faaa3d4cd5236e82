//! URL templates such as `https://runbooks.example.net/edgewatch/{{alert_kind}}`.
//!
//! Placeholders are `{{name}}` (the same braces the receiver's handlebars
//! templates use); the set of names is fixed, so a typo fails `check`, not a
//! 3 a.m. page. Values are percent-encoded into the URL.

use std::fmt;

use serde::Serialize;

use crate::decode::{Cx, Decode, unknown_word_hint};
use crate::path::YamlPath;
use crate::yaml::{Anchor, Value};

/// The placeholders a URL template may use.
pub const TEMPLATE_VARS: &[&str] = &["customer", "alert_kind", "slo", "tier"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

/// A URL with `{{name}}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate {
    source: String,
    parts: Vec<Part>,
}

impl UrlTemplate {
    /// Fills the placeholders. A placeholder `vars` does not give renders empty.
    pub fn render(&self, vars: impl Fn(&str) -> Option<String>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(name) => out.push_str(&encode(&vars(name).unwrap_or_default())),
            }
        }
        out
    }

    /// Whether the template has the placeholder `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Var(v) if v == name))
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// Percent-encodes what is not unreserved in a URL (RFC 3986 §2.3).
fn encode(s: &str) -> String {
    use fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

impl fmt::Display for UrlTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Serialize for UrlTemplate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

/// Why a template is wrong, with a hint when one helps.
pub(crate) fn parse(source: &str) -> Result<UrlTemplate, (String, Option<String>)> {
    let mut parts = Vec::new();
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(Part::Text(rest[..open].to_owned()));
        }
        let Some(close) = rest[open..].find("}}") else {
            return Err((format!("unclosed `{{{{` in `{source}`"), None));
        };
        let name = rest[open + 2..open + close].trim();
        if !TEMPLATE_VARS.contains(&name) {
            let hint = unknown_word_hint(name, TEMPLATE_VARS.iter().copied());
            return Err((format!("unknown placeholder `{{{{{name}}}}}` in URL template"), hint));
        }
        parts.push(Part::Var(name.to_owned()));
        rest = &rest[open + close + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_owned()));
    }
    let template = UrlTemplate { source: source.to_owned(), parts };
    // Every rendering must be a usable URL; try one with sample values.
    let sample = template.render(|_| Some("x".to_owned()));
    match url::Url::parse(&sample) {
        Ok(u) if !u.username().is_empty() || u.password().is_some() => {
            Err(("URLs must not carry credentials: they end up in alerts, tickets and logs".to_owned(), None))
        }
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(template),
        Ok(u) => Err((format!("`{source}` uses the scheme `{}`; links must be http or https", u.scheme()), None)),
        Err(e) => Err((format!("`{source}` is not a URL: {e}"), None)),
    }
}

impl Decode for UrlTemplate {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let s = String::decode(v, path, cx)?;
        match parse(&s) {
            Ok(t) => Some(t),
            Err((msg, hint)) => {
                let issue = cx.error(path, Anchor::Value, msg);
                if let Some(h) = hint {
                    issue.hint(h);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_encodes() {
        let t = parse("https://runbooks.example.net/{{alert_kind}}?c={{ customer }}").unwrap();
        let url = t.render(|k| Some(if k == "customer" { "a b".into() } else { "probe_down".into() }));
        assert_eq!(url, "https://runbooks.example.net/probe_down?c=a%20b");
    }

    #[test]
    fn rejects_unknown_placeholders_and_non_urls() {
        let (msg, hint) = parse("https://x.example/{{custmer}}").unwrap_err();
        assert!(msg.contains("unknown placeholder"), "{msg}");
        assert_eq!(hint.as_deref(), Some("did you mean `customer`?"));
        assert!(parse("runbooks/{{customer}}").is_err());
        assert!(parse("ftp://x.example/").is_err());
        assert!(parse("https://x.example/{{customer").is_err());
    }
}
