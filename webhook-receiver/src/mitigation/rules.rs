//! Cloudflare's Rules language and rule bodies (docs/mitigation.md): the
//! expressions a suggestion writes, and the bodies of a custom rule
//! (`http_request_firewall_custom` phase) and a rate-limiting rule
//! (`http_ratelimit` phase) for the rulesets API. Current field names only:
//! `ip.src.asnum`, never the deprecated `ip.geoip.asnum`.

use std::fmt::Write as _;
use std::net::IpAddr;

use edgewatch_catalog::{Customer, HostPattern, IpNet};
use serde::{Deserialize, Serialize};

/// The fields a suggestion reads.
pub(crate) mod field {
    pub(crate) const IP: &str = "ip.src";
    pub(crate) const ASN: &str = "ip.src.asnum";
    pub(crate) const HOST: &str = "http.host";
    pub(crate) const PATH: &str = "http.request.uri.path";
    pub(crate) const USER_AGENT: &str = "http.user_agent";
    /// True for bots Cloudflare verified (search engines and the like).
    pub(crate) const VERIFIED_BOT: &str = "cf.client.bot";
    /// A rate-limiting rule must count per data center.
    pub(crate) const COLO: &str = "cf.colo.id";
}

/// The periods a rate-limiting rule may count over, in seconds.
pub(crate) const PERIODS: [u32; 6] = [10, 60, 120, 300, 600, 3600];

/// The longest `mitigation_timeout`, in seconds.
pub(crate) const MAX_MITIGATION_TIMEOUT: u32 = 86_400;

/// The exporter cuts keys at this many bytes: a user agent this long may
/// be the start of a longer one, so it is matched as a prefix.
const KEY_CUT: usize = 256;

/// A string literal: in double quotes, with `"` and `\` escaped. `None`
/// for text with control characters, which a rule cannot match reliably.
pub(crate) fn string(s: &str) -> Option<String> {
    if s.chars().any(char::is_control) {
        return None;
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Some(out)
}

/// `field in {a b c}`.
fn set(field: &str, items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    format!("{field} in {{{}}}", items.join(" "))
}

/// The customer's hosts: `http.host in {"a" "b"}`, with wildcards as
/// `ends_with(http.host, ".domain")`, so a rule in a shared zone touches
/// only this customer's traffic. `None` when the catalog lists no hosts.
pub(crate) fn hosts(customer: &Customer) -> Option<String> {
    let mut parts = Vec::new();
    let exact: Vec<String> = customer
        .hosts
        .iter()
        .filter_map(|h| match h {
            HostPattern::Exact(name) => string(name),
            HostPattern::Wildcard(_) => None,
        })
        .collect();
    if !exact.is_empty() {
        parts.push(set(field::HOST, exact));
    }
    for h in &customer.hosts {
        if let HostPattern::Wildcard(domain) = h
            && let Some(suffix) = string(&format!(".{domain}"))
        {
            parts.push(format!("ends_with({}, {suffix})", field::HOST));
        }
    }
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(format!("({})", parts.join(" or "))),
    }
}

/// What a custom rule names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Offenders {
    pub(crate) ips: Vec<IpAddr>,
    pub(crate) asns: Vec<u32>,
    pub(crate) user_agents: Vec<String>,
}

impl Offenders {
    pub(crate) fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.asns.is_empty() && self.user_agents.is_empty()
    }
}

/// The expression of a custom rule: the customer's hosts, and any of the
/// offenders, never a verified bot, and never a spared network (the
/// allowlist, the origin) when it names an AS number (a whole network,
/// which may hold one).
pub(crate) fn custom_expression(scope: Option<&str>, o: &Offenders, spare: &[IpNet]) -> Option<String> {
    // Sorted, so the same offenders always read the same, whatever their counts.
    let mut o = o.clone();
    o.ips.sort_unstable();
    o.ips.dedup();
    o.asns.sort_unstable();
    o.asns.dedup();
    o.user_agents.sort_unstable();
    o.user_agents.dedup();
    let mut any = Vec::new();
    if !o.ips.is_empty() {
        any.push(set(field::IP, o.ips.iter().map(ToString::to_string)));
    }
    if !o.asns.is_empty() {
        any.push(set(field::ASN, o.asns.iter().map(ToString::to_string)));
    }
    for ua in &o.user_agents {
        let Some(literal) = string(ua) else { continue };
        any.push(if ua.len() >= KEY_CUT {
            format!("starts_with({}, {literal})", field::USER_AGENT)
        } else {
            format!("{} eq {literal}", field::USER_AGENT)
        });
    }
    if any.is_empty() {
        return None;
    }
    let mut out = String::new();
    if let Some(scope) = scope {
        let _ = write!(out, "{scope} and ");
    }
    if any.len() == 1 {
        out.push_str(&any[0]);
    } else {
        let _ = write!(out, "({})", any.join(" or "));
    }
    let _ = write!(out, " and not {}", field::VERIFIED_BOT);
    if !o.asns.is_empty() && !spare.is_empty() {
        let _ = write!(out, " and not {}", set(field::IP, spare.iter().map(ToString::to_string)));
    }
    Some(out)
}

/// The expression a rate-limiting rule counts: the customer's hosts, the
/// path under attack when one stands out, never a spared network.
pub(crate) fn rate_limit_expression(scope: Option<&str>, path: Option<&str>, spare: &[IpNet]) -> String {
    let path = path.and_then(string).map(|p| format!("{} eq {p}", field::PATH));
    let mut parts: Vec<String> = scope.map(str::to_owned).into_iter().chain(path).collect();
    if !spare.is_empty() {
        parts.push(format!("not {}", set(field::IP, spare.iter().map(ToString::to_string))));
    }
    if parts.is_empty() {
        // Every request of the zone.
        return "true".to_owned();
    }
    parts.join(" and ")
}

/// A custom rule, as `POST /zones/{zone_id}/rulesets/{ruleset_id}/rules`
/// takes it on the `http_request_firewall_custom` phase's entry point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomRule {
    pub description: String,
    pub expression: String,
    /// `block`.
    pub action: String,
    pub enabled: bool,
}

/// A rate-limiting rule, as the `http_ratelimit` phase's entry point takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitRule {
    pub description: String,
    pub expression: String,
    /// `block`.
    pub action: String,
    pub ratelimit: RateLimit,
    pub enabled: bool,
}

/// How a rate-limiting rule counts and for how long it acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Always includes `cf.colo.id`.
    pub characteristics: Vec<String>,
    /// One of [`PERIODS`].
    pub period: u32,
    pub requests_per_period: u64,
    /// Seconds the action lasts once triggered, up to [`MAX_MITIGATION_TIMEOUT`].
    pub mitigation_timeout: u32,
}

impl RateLimit {
    /// Per address and data center, `requests` per `period` seconds (one
    /// of [`PERIODS`], else a minute), acting for `timeout` seconds.
    pub(crate) fn per_ip(period: u32, requests: u64, timeout: u32) -> Self {
        Self {
            characteristics: vec![field::IP.to_owned(), field::COLO.to_owned()],
            period: if PERIODS.contains(&period) { period } else { 60 },
            requests_per_period: requests.max(1),
            mitigation_timeout: timeout.min(MAX_MITIGATION_TIMEOUT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(hosts: &str) -> Customer {
        let text = format!("customers:\n  - {{id: shop, hosts: {hosts}}}\n");
        edgewatch_catalog::load_texts(&[("c.yaml", &text)]).unwrap().catalog.customers.remove(0)
    }

    #[test]
    fn strings_escape_quotes_and_backslashes_and_refuse_controls() {
        assert_eq!(string(r#"a "b" \c"#).as_deref(), Some(r#""a \"b\" \\c""#));
        assert_eq!(string("bad\u{1b}[31m"), None);
        assert_eq!(string("tab\there"), None);
    }

    #[test]
    fn hosts_scope_exact_names_and_wildcards() {
        assert_eq!(hosts(&customer("[www.shop.example]")).as_deref(), Some(r#"http.host in {"www.shop.example"}"#));
        assert_eq!(
            hosts(&customer("[www.shop.example, '*.api.shop.example']")).as_deref(),
            Some(r#"(http.host in {"www.shop.example"} or ends_with(http.host, ".api.shop.example"))"#)
        );
    }

    #[test]
    fn a_custom_rule_names_every_offender_and_spares_bots_and_allowlisted_networks() {
        let o = Offenders {
            ips: vec!["192.0.2.66".parse().unwrap(), "2001:db8::1".parse().unwrap()],
            asns: vec![64496],
            user_agents: vec!["evil \"bot\"".to_owned(), "x".repeat(KEY_CUT)],
        };
        let allow = [IpNet::parse("203.0.113.0/24").unwrap()];
        let e = custom_expression(Some(r#"http.host in {"a.example"}"#), &o, &allow).unwrap();
        assert_eq!(
            e,
            format!(
                r#"http.host in {{"a.example"}} and (ip.src in {{192.0.2.66 2001:db8::1}} or ip.src.asnum in {{64496}} or http.user_agent eq "evil \"bot\"" or starts_with(http.user_agent, "{}")) and not cf.client.bot and not ip.src in {{203.0.113.0/24}}"#,
                "x".repeat(KEY_CUT)
            )
        );
        let only_ip = Offenders { ips: vec!["192.0.2.66".parse().unwrap()], ..Offenders::default() };
        assert_eq!(
            custom_expression(None, &only_ip, &allow).unwrap(),
            "ip.src in {192.0.2.66} and not cf.client.bot",
            "no AS number, so no network to spare"
        );
        assert_eq!(custom_expression(None, &Offenders::default(), &allow), None);
    }

    #[test]
    fn a_rate_limit_counts_per_address_and_data_center() {
        assert_eq!(RateLimit::per_ip(45, 10, 0).period, 60, "45 s is not a period Cloudflare takes");
        let r = RateLimit::per_ip(60, 0, 100_000);
        assert_eq!(r.characteristics, ["ip.src", "cf.colo.id"]);
        assert_eq!((r.requests_per_period, r.mitigation_timeout), (1, MAX_MITIGATION_TIMEOUT));
        assert_eq!(rate_limit_expression(Some("S"), Some("/login"), &[]), r#"S and http.request.uri.path eq "/login""#);
        let spare = [IpNet::parse("203.0.113.0/24").unwrap()];
        assert_eq!(rate_limit_expression(None, None, &spare), "not ip.src in {203.0.113.0/24}");
        assert_eq!(rate_limit_expression(None, None, &[]), "true");
    }
}
