//! Host names and `*.example.com` wildcards, as customers claim them.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::decode::{Cx, Decode};
use crate::path::YamlPath;
use crate::yaml::{Anchor, Value};

/// An exact host name, or a wildcard covering every name below a domain.
///
/// `*.example.com` matches `a.example.com` and `a.b.example.com`, but not
/// `example.com` itself. Names are compared in lowercase, without a final dot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostPattern {
    /// One host name.
    Exact(String),
    /// Every name ending in `.` followed by this domain.
    Wildcard(String),
}

impl HostPattern {
    /// Whether a request for `host` belongs to this pattern. `host` must
    /// already be lowercase without a port.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(name) => name == host,
            Self::Wildcard(domain) => is_below(host, domain),
        }
    }

    /// Whether every host of `other` is also matched by `self` (a wildcard
    /// covering another customer's host or narrower wildcard).
    pub fn covers(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Wildcard(d), Self::Exact(name)) => is_below(name, d),
            (Self::Wildcard(d), Self::Wildcard(o)) => o == d || is_below(o, d),
            (Self::Exact(a), Self::Exact(b)) => a == b,
            (Self::Exact(_), Self::Wildcard(_)) => false,
        }
    }

    /// Whether this is a `*.` wildcard.
    pub fn is_wildcard(&self) -> bool {
        matches!(self, Self::Wildcard(_))
    }

    /// The domain the pattern lives in (the name itself for an exact host).
    pub fn domain(&self) -> &str {
        match self {
            Self::Exact(d) | Self::Wildcard(d) => d,
        }
    }
}

fn is_below(name: &str, domain: &str) -> bool {
    name.len() > domain.len() + 1 && name.ends_with(domain) && name.as_bytes()[name.len() - domain.len() - 1] == b'.'
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(name) => f.write_str(name),
            Self::Wildcard(domain) => write!(f, "*.{domain}"),
        }
    }
}

impl Serialize for HostPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Checks a DNS name and returns it lowercase without a final dot.
pub(crate) fn check_dns_name(raw: &str) -> Result<String, String> {
    let name = raw.strip_suffix('.').unwrap_or(raw).to_ascii_lowercase();
    if name.is_empty() {
        return Err("empty host name".to_owned());
    }
    if name.len() > 253 {
        return Err(format!("`{raw}` is longer than 253 characters"));
    }
    if name.contains("://") || name.contains('/') || name.contains(':') {
        return Err(format!("`{raw}` is not a host name (no scheme, port or path)"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err(format!(
            "`{raw}` is not a fully qualified name: expected at least two labels, as in `www.example.com`"
        ));
    }
    for label in labels {
        let ok_chars = label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if label.is_empty() || label.len() > 63 || !ok_chars || label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "`{raw}` has an invalid label `{label}`: labels are 1 to 63 letters, digits, `-` or `_`, and do not start or end with `-`"
            ));
        }
    }
    Ok(name)
}

impl FromStr for HostPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(domain) = s.strip_prefix("*.") {
            if domain.contains('*') {
                return Err(format!("`{s}`: `*` may only stand alone as the first label, as in `*.example.com`"));
            }
            return check_dns_name(domain).map(Self::Wildcard);
        }
        if s.contains('*') {
            return Err(format!("`{s}`: `*` may only stand alone as the first label, as in `*.example.com`"));
        }
        check_dns_name(s).map(Self::Exact)
    }
}

impl Decode for HostPattern {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let s = String::decode(v, path, cx)?;
        s.parse().map_err(|msg: String| cx.error(path, Anchor::Value, msg)).ok()
    }
}

/// A DNS zone a customer owns (as in Logpush's `ZoneName`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Zone(pub(crate) String);

impl Zone {
    /// The zone name, lowercase.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Decode for Zone {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let s = String::decode(v, path, cx)?;
        if s.contains('*') {
            cx.error(path, Anchor::Value, format!("zone `{s}` cannot be a wildcard"))
                .hint("zones are names like `example.com`; put wildcards under `hosts`");
            return None;
        }
        check_dns_name(&s).map(Zone).map_err(|msg| cx.error(path, Anchor::Value, msg)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> HostPattern {
        s.parse().unwrap()
    }

    #[test]
    fn wildcards_match_any_depth_below_but_not_the_domain() {
        let w = h("*.acme.example");
        assert!(w.matches("www.acme.example"));
        assert!(w.matches("a.b.acme.example"));
        assert!(!w.matches("acme.example"));
        assert!(!w.matches("notacme.example"));
        assert!(h("WWW.Acme.Example.").matches("www.acme.example"));
    }

    #[test]
    fn coverage_detects_shadowing() {
        assert!(h("*.acme.example").covers(&h("api.acme.example")));
        assert!(h("*.acme.example").covers(&h("*.eu.acme.example")));
        assert!(h("*.acme.example").covers(&h("*.acme.example")));
        assert!(!h("*.eu.acme.example").covers(&h("*.acme.example")));
        assert!(!h("*.acme.example").covers(&h("acme.example")));
    }

    #[test]
    fn rejects_what_is_not_a_host() {
        for bad in [
            "https://acme.example",
            "acme.example:443",
            "localhost",
            "a..b",
            "-a.example",
            "*.*.example",
            "www.*.example",
            "*.com",
        ] {
            assert!(bad.parse::<HostPattern>().is_err(), "{bad}");
        }
    }
}
