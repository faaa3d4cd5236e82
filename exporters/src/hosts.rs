//! Which customer a request belongs to, by its host (or, failing that, its
//! zone), with the catalog's matching rules: an exact host first, then the
//! most specific wildcard, then the zone.

use std::borrow::Cow;

use edgewatch_catalog::{Catalog, HostPattern};

use crate::common::{CustomerIdx, FastMap};

#[derive(Debug, Default)]
pub(crate) struct HostIndex {
    exact: FastMap<Box<str>, CustomerIdx>,
    wildcard: FastMap<Box<str>, CustomerIdx>,
    zones: FastMap<Box<str>, CustomerIdx>,
}

impl HostIndex {
    pub(crate) fn new(catalog: &Catalog) -> Self {
        let mut index = Self::default();
        for (i, c) in catalog.customers.iter().enumerate() {
            let i = CustomerIdx::try_from(i).unwrap_or(CustomerIdx::MAX);
            for h in &c.hosts {
                match h {
                    HostPattern::Exact(name) => index.exact.insert(name.as_str().into(), i),
                    HostPattern::Wildcard(domain) => index.wildcard.insert(domain.as_str().into(), i),
                };
            }
            for z in &c.zones {
                index.zones.insert(z.as_str().into(), i);
            }
        }
        index
    }

    /// The customer of a request for `host` in `zone`.
    #[cfg(test)]
    pub(crate) fn lookup(&self, host: Option<&str>, zone: Option<&str>) -> Option<CustomerIdx> {
        host.and_then(|h| self.lookup_host(&normalize(h))).or_else(|| self.lookup_zone(zone?))
    }

    /// The customer a host (passed through [`normalize`]) names by itself:
    /// an exact host first, then the most specific wildcard, then a zone
    /// the host is inside.
    pub(crate) fn lookup_host(&self, host: &str) -> Option<CustomerIdx> {
        if let Some(&c) = self.exact.get(host) {
            return Some(c);
        }
        // Most specific wildcard first: for a.b.example.com try
        // b.example.com, then example.com.
        let mut rest = host;
        while let Some(dot) = rest.find('.') {
            rest = &rest[dot + 1..];
            if let Some(&c) = self.wildcard.get(rest) {
                return Some(c);
            }
        }
        let mut rest = host;
        loop {
            if let Some(&c) = self.zones.get(rest) {
                return Some(c);
            }
            let Some(dot) = rest.find('.') else { break };
            rest = &rest[dot + 1..];
        }
        None
    }

    /// The customer of a zone name as Logpush writes it.
    pub(crate) fn lookup_zone(&self, zone: &str) -> Option<CustomerIdx> {
        self.zones.get(normalize(zone).as_ref()).copied()
    }
}

/// Lowercase, without a port or final dot; borrows when already clean.
pub(crate) fn normalize(host: &str) -> Cow<'_, str> {
    // A port has at most five digits: look for its colon near the end only.
    let tail = host.len().saturating_sub(6);
    let colon = host.as_bytes().get(tail..).and_then(|t| t.iter().rposition(|&b| b == b':')).map(|i| tail + i);
    let host = match colon.and_then(|i| Some((host.get(..i)?, host.get(i + 1..)?))) {
        // A port, not part of an IPv6 literal.
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> HostIndex {
        let yaml = "customers:
  - {id: a, hosts: [www.a.example, '*.a.example'], zones: [a.example]}
  - {id: b, hosts: ['*.eu.b.example', api.b.example]}
  - {id: c, zones: [c.example]}
";
        HostIndex::new(&edgewatch_catalog::load_str("c.yaml", yaml).unwrap().catalog)
    }

    #[test]
    fn exact_then_wildcard_then_zone() {
        let ix = index();
        assert_eq!(ix.lookup(Some("www.a.example"), None), Some(0));
        assert_eq!(ix.lookup(Some("WWW.A.Example:443"), None), Some(0));
        assert_eq!(ix.lookup(Some("img.cdn.a.example."), None), Some(0));
        assert_eq!(ix.lookup(Some("x.eu.b.example"), None), Some(1));
        assert_eq!(ix.lookup(Some("eu.b.example"), None), None, "a wildcard does not match its own domain");
        assert_eq!(ix.lookup(Some("shop.c.example"), None), Some(2), "host inside a zone");
        assert_eq!(ix.lookup(Some("elsewhere.example"), Some("c.example")), Some(2), "zone name");
        assert_eq!(ix.lookup(Some("elsewhere.example"), None), None);
        assert_eq!(ix.lookup(None, None), None);
    }

    #[test]
    fn normalizing_strips_ports_not_addresses() {
        assert_eq!(normalize("Shop.A.Example:8443"), "shop.a.example");
        assert_eq!(normalize("shop.a.example."), "shop.a.example");
        assert_eq!(normalize("2001:db8::1"), "2001:db8::1", "an IPv6 literal keeps its last group");
        assert_eq!(normalize("[2001:db8::1]:8080"), "[2001:db8::1]:8080");
        assert_eq!(normalize("a.example:"), "a.example");
        assert_eq!(normalize(":"), "");
    }
}
