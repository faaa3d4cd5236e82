//! Networks and ids that mitigation settings name: IP networks (CIDR or a
//! single address), autonomous system numbers, and Cloudflare zone ids.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::decode::{Cx, Decode};
use crate::path::YamlPath;
use crate::yaml::{Anchor, Value};

/// An IP network: `203.0.113.0/24`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpNet(ipnet::IpNet);

impl IpNet {
    /// Parses `a.b.c.d/len`, an IPv6 network, or a single address; the
    /// address must be the network's first (no host bits set).
    pub fn parse(s: &str) -> Result<Self, String> {
        let net = match s.parse::<ipnet::IpNet>() {
            Ok(net) => net,
            Err(_) => s
                .parse::<IpAddr>()
                .map(ipnet::IpNet::from)
                .map_err(|_| format!("`{s}` is not an IP address or network (`203.0.113.0/24`)"))?,
        };
        if net.trunc() != net {
            return Err(format!("`{s}` has host bits set: the network is `{}`", net.trunc()));
        }
        Ok(Self(net))
    }

    /// Whether `ip` is in the network.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.0.contains(ip)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A single address prints as itself, the way it is written.
        if self.0.prefix_len() == self.0.max_prefix_len() { self.0.addr().fmt(f) } else { self.0.fmt(f) }
    }
}

impl Serialize for IpNet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Decode for IpNet {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let s = String::decode(v, path, cx)?;
        match Self::parse(s.trim()) {
            Ok(net) => Some(net),
            Err(message) => {
                cx.error(path, Anchor::Value, message);
                None
            }
        }
    }
}

/// An autonomous system number (1 to 4294967295; 0 is reserved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Asn(pub u32);

impl Decode for Asn {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        // `AS64496` as written in whois and on dashboards, or the number.
        let n = match v {
            Value::String(s) => s.strip_prefix("AS").or_else(|| s.strip_prefix("as")).unwrap_or(s).parse::<u64>().ok(),
            other => other.as_u64(),
        };
        let asn = n.and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0).map(Self);
        if asn.is_none() {
            cx.type_error(path, "an AS number from 1 to 4294967295 (`64496` or `AS64496`)", v);
        }
        asn
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A Cloudflare zone or account id: 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CloudflareId(String);

impl CloudflareId {
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CloudflareId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Decode for CloudflareId {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let s = String::decode(v, path, cx)?;
        if s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Some(Self(s))
        } else {
            cx.error(path, Anchor::Value, format!("`{s}` is not a Cloudflare id (32 lowercase hex digits)"))
                .hint("copy it from the zone's Overview page in the Cloudflare dashboard");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse_print_and_contain() {
        let net = IpNet::parse("203.0.113.0/24").unwrap();
        assert!(net.contains(&"203.0.113.9".parse().unwrap()));
        assert!(!net.contains(&"203.0.114.1".parse().unwrap()));
        assert_eq!(net.to_string(), "203.0.113.0/24");
        assert_eq!(IpNet::parse("192.0.2.7").unwrap().to_string(), "192.0.2.7");
        assert_eq!(IpNet::parse("2001:db8::/32").unwrap().to_string(), "2001:db8::/32");
        assert!(IpNet::parse("203.0.113.9/24").unwrap_err().contains("`203.0.113.0/24`"));
        assert!(IpNet::parse("example.com").is_err());
        assert!(IpNet::parse("10.0.0.0/33").is_err());
    }
}
