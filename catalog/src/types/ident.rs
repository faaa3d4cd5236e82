//! Names the catalog uses as identifiers: customer ids, tier, SLO, probe and
//! destination names, and free label names.

use std::fmt;

use serde::Serialize;

use crate::decode::{Cx, Decode};
use crate::names::label;
use crate::path::YamlPath;
use crate::yaml::{Anchor, Value};

/// A lowercase identifier: a letter, then letters, digits, `-` or `_`, at most
/// 63 characters. Safe as a Prometheus label value, in a Grafana uid and in a
/// file name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Slug(pub(crate) String);

impl Slug {
    /// The id as written, already checked to be a slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for Slug {
    fn borrow(&self) -> &str {
        &self.0
    }
}

pub(crate) fn check_slug(s: &str, max: usize) -> Result<(), String> {
    let starts_ok = s.starts_with(|c: char| c.is_ascii_lowercase());
    let chars_ok = s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if s.is_empty() || !starts_ok || !chars_ok || s.ends_with(['-', '_']) {
        return Err(format!(
            "`{s}` is not a valid id: use lowercase letters, digits, `-` and `_`, starting with a letter and not ending with `-` or `_`"
        ));
    }
    if s.len() > max {
        return Err(format!("`{s}` is {} characters long; ids are at most {max}", s.len()));
    }
    Ok(())
}

/// A suggestion for an id that breaks the rules.
pub(crate) fn slug_hint(s: &str) -> Option<String> {
    let mut out: String =
        s.trim().chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let out = out.trim_matches('-').to_owned();
    (!out.is_empty() && out != s && check_slug(&out, 63).is_ok()).then(|| format!("try `{out}`"))
}

impl Decode for Slug {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let s = String::decode(v, path, cx)?;
        decode_slug(s, 63, path, cx)
    }
}

pub(crate) fn decode_slug(s: String, max: usize, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Slug> {
    match check_slug(&s, max) {
        Ok(()) => Some(Slug(s)),
        Err(msg) => {
            let issue = cx.error(path, Anchor::Value, msg);
            if let Some(h) = slug_hint(&s) {
                issue.hint(h);
            }
            None
        }
    }
}

/// A Prometheus label name for a customer's free labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct LabelName(pub(crate) String);

impl LabelName {
    /// The label name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn check_label_name(s: &str) -> Result<(), String> {
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "`{s}` is not a Prometheus label name: use letters, digits and `_`, not starting with a digit"
        ));
    }
    if s.starts_with("__") {
        return Err(format!("`{s}`: label names starting with `__` are reserved by Prometheus"));
    }
    if label::RESERVED.contains(&s) {
        return Err(format!("`{s}` is set by edgewatch itself and cannot be a free label"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(check_slug("acme-retail", 63).is_ok());
        assert!(check_slug("a1_b", 63).is_ok());
        for bad in ["", "Acme", "1acme", "acme-", "ac me", "acme.eu", "é"] {
            assert!(check_slug(bad, 63).is_err(), "{bad}");
        }
        assert!(check_slug("a-very-long-customer-id-that-keeps-going", 32).is_err());
        assert_eq!(slug_hint("ACME Retail"), Some("try `acme-retail`".into()));
    }

    #[test]
    fn label_names() {
        assert!(check_label_name("region").is_ok());
        assert!(check_label_name("customer").is_err());
        assert!(check_label_name("__name__").is_err());
        assert!(check_label_name("account-manager").is_err());
    }
}
