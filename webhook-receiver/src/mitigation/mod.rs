//! Mitigation suggestions (docs/mitigation.md): for an attack, a surge of
//! client errors or a traffic spike, the customer's top offenders from the
//! exporters, the ones that stand out from normal traffic, and a rule in
//! Cloudflare's Rules language that would stop them. Never applied here:
//! applying is a person's decision (`edgewatch mitigate apply`).

pub(crate) mod attach;
pub(crate) mod cloudflare;
pub(crate) mod handle;
pub(crate) mod rules;

use std::collections::BTreeSet;
use std::net::IpAddr;

use edgewatch_catalog::Customer;
use edgewatch_catalog::names::{AlertKind, alertname};
use serde::{Deserialize, Serialize};

use crate::action::{Incident, Status};
use crate::offenders::{Bounded, Dimension, Offenders};
pub use rules::{CustomRule, RateLimit, RateLimitRule};

/// What kind of trouble the suggestion is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Requests blocked, challenged or failing in numbers (`attack` alerts:
    /// a suspected attack, a surge of client errors): offenders are the
    /// values most of whose requests were refused or failed.
    Attack,
    /// Far more requests than usual, none refused: offenders are the
    /// addresses with an outsized share of all requests.
    Spike,
}

impl Mode {
    /// The mode an incident calls for, from its firing alerts; `None` when
    /// it is about something no rule would help with (an outage, latency).
    pub(crate) fn of(incident: &Incident) -> Option<Self> {
        let firing = || incident.alerts.iter().filter(|a| a.status == Status::Firing);
        if firing().any(|a| Self::alert(a) == Some(Self::Attack)) {
            return Some(Self::Attack);
        }
        firing().any(|a| Self::alert(a) == Some(Self::Spike)).then_some(Self::Spike)
    }

    /// The mode one alert calls for.
    fn alert(a: &crate::action::AlertState) -> Option<Self> {
        if a.labels.get("alert_kind").map(String::as_str) == Some(AlertKind::Attack.as_str()) {
            Some(Self::Attack)
        } else if a.labels.get("alertname").map(String::as_str) == Some(alertname::TRAFFIC_SPIKE) {
            Some(Self::Spike)
        } else {
            None
        }
    }

    /// Whether an alert calling for a suggestion started firing with the
    /// incident's last notification: each destination's action for it
    /// shows the suggestion, once.
    pub(crate) fn joined(incident: &Incident) -> bool {
        incident.alerts.iter().any(|a| {
            a.status == Status::Firing && incident.change.joined.contains(&a.fingerprint) && Self::alert(a).is_some()
        })
    }
}

/// At least this many offending requests in the window before a value is named.
pub(crate) const MIN_REQUESTS: u64 = 20;
/// Attack: at least this share of the refused or failed requests ...
pub(crate) const MIN_OFFENDING_SHARE: f64 = 0.02;
/// ... and at least this share of the value's own requests refused or failed.
pub(crate) const MIN_OFFENDING_RATIO: f64 = 0.5;
/// Spike: an address with at least this share of all requests.
pub(crate) const MIN_SPIKE_SHARE: f64 = 0.05;
/// A path with this share of the refused or failed requests scopes the rate limit.
pub(crate) const PATH_SHARE: f64 = 0.5;
/// Rows per dimension in the table besides the named values.
const ROWS: usize = 5;
/// The rate limit's period and how long it acts, in seconds.
const PERIOD: u32 = 60;
const TIMEOUT: u32 = 600;
/// The rate limit allows at least this many requests a minute per address.
const MIN_RATE: u64 = 60;

/// One row of the table of top offenders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub dimension: Dimension,
    pub value: String,
    pub requests: Bounded,
    pub offending: Bounded,
    /// Of the customer's requests (from the lower bound).
    pub request_share: f64,
    /// Of its refused or failed requests (from the lower bound).
    pub offending_share: f64,
    /// Named in the custom rule.
    pub chosen: bool,
    /// Why it is named, or why not.
    pub why: String,
}

/// A suggestion, as made when the incident was first delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    pub mode: Mode,
    /// When the exporters were read (RFC 3339).
    pub made_at: String,
    /// The exporters' window, in seconds.
    pub window_seconds: u64,
    /// The customer's requests in the window.
    pub requests: u64,
    /// Its refused or failed ones.
    pub offending: u64,
    pub rows: Vec<Row>,
    /// Blocks the chosen offenders; `None` when none stands out.
    pub custom_rule: Option<CustomRule>,
    /// Limits every address to a rate above the heaviest normal one.
    pub rate_limit: Option<RateLimitRule>,
    /// Exporters that did not answer: their part of the traffic is missing.
    pub missing: Vec<String>,
}

/// The longest offender value the table shows, in characters.
const SHOWN_CHARS: usize = 120;

/// An offender value as the table shows it: one line, no control
/// characters, at most [`SHOWN_CHARS`] characters.
fn shown(value: &str) -> String {
    let mut out: String =
        value.chars().take(SHOWN_CHARS).map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect();
    if value.chars().nth(SHOWN_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// A share from a lower bound; 0 of nothing.
#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// Per minute, from a count over `window` seconds (rounded up).
fn per_minute(count: u64, window: u64) -> u64 {
    (count.saturating_mul(60)).div_ceil(window.max(1))
}

/// Why a value is spared whatever its numbers: the catalog's allowlist,
/// the customer's origin, an allowed network, a verified bot.
fn spared(d: Dimension, value: &str, customer: &Customer) -> Option<String> {
    let m = &customer.mitigation;
    match d {
        Dimension::Ip => {
            let ip: IpAddr = value.parse().ok()?;
            if m.origins.iter().any(|n| n.contains(&ip)) {
                return Some("the customer's origin (catalog `mitigation.origins`): never named".to_owned());
            }
            m.allowlist
                .iter()
                .find(|n| n.contains(&ip))
                .map(|n| format!("in the allowlist ({n}, catalog `mitigation.allowlist`): never named"))
        }
        Dimension::Asn => {
            let asn: u32 = value.parse().ok()?;
            m.allow_asns
                .iter()
                .any(|a| a.0 == asn)
                .then(|| "an allowed network (catalog `mitigation.allow_asns`): never named".to_owned())
        }
        Dimension::UserAgent => {
            let lower = value.to_lowercase();
            m.verified_bots.iter().find(|b| lower.contains(&b.to_lowercase())).map(|b| {
                format!("a verified bot the customer wants (`{b}`, catalog `mitigation.verified_bots`): never named")
            })
        }
        Dimension::Country | Dimension::Path => None,
    }
}

/// Whether a value of `d` can go into the custom rule at all.
fn nameable(d: Dimension, value: &str) -> Result<(), &'static str> {
    match d {
        Dimension::Ip if value.parse::<IpAddr>().is_err() => Err("not an IP address"),
        Dimension::Asn if value.parse::<u32>().is_err() => Err("not an AS number"),
        Dimension::UserAgent if rules::string(value).is_none() => {
            Err("holds control characters, which a rule cannot match reliably")
        }
        Dimension::Country => Err("shown, not named: blocking a country blocks the customer's own users there too"),
        Dimension::Path => Err("shown, not named: the rate-limiting rule is scoped to a path under attack instead"),
        _ => Ok(()),
    }
}

/// The verdict on one value, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// Named in the custom rule.
    Named(String),
    /// Never named, whatever its numbers (the catalog spares it).
    Spared(String),
    /// Normal traffic, or not nameable.
    Not(String),
}

fn verdict(mode: Mode, d: Dimension, k: &crate::offenders::Key, o: &Offenders, customer: &Customer) -> Verdict {
    if let Some(why) = spared(d, &k.value, customer) {
        return Verdict::Spared(why);
    }
    if let Err(why) = nameable(d, &k.value) {
        return Verdict::Not(why.to_owned());
    }
    let (named, why) = judge(mode, d, k, o);
    if named { Verdict::Named(why) } else { Verdict::Not(why) }
}

/// Whether the numbers of a nameable, unspared value make it stand out.
fn judge(mode: Mode, d: Dimension, k: &crate::offenders::Key, o: &Offenders) -> (bool, String) {
    let window = o.window_seconds;
    match mode {
        Mode::Attack => {
            let off = k.offending.low;
            // Sampled request counts may come out under the exact offending
            // ones: a value has at least as many requests as refusals.
            let req = k.requests.high.max(off);
            let ratio = share(off, req);
            let of_all = share(off, o.offending);
            if off < MIN_REQUESTS {
                (false, format!("{off} refused or failed requests in {window}s: too few to judge"))
            } else if of_all < MIN_OFFENDING_SHARE {
                (false, format!("{:.1}% of the refused or failed requests: not a leading source", of_all * 100.0))
            } else if ratio < MIN_OFFENDING_RATIO {
                (false, format!("{:.0}% of its own requests refused or failed: mostly normal traffic", ratio * 100.0))
            } else {
                (
                    true,
                    format!(
                        "{off} refused or failed requests in {window}s ({:.1}% of all such), {:.0}% of its own requests",
                        of_all * 100.0,
                        ratio * 100.0
                    ),
                )
            }
        }
        Mode::Spike => {
            let of_all = share(k.requests.low, o.requests);
            if d != Dimension::Ip {
                (false, "shown, not named: in a spike only single addresses are told from normal traffic".to_owned())
            } else if k.requests.low < MIN_REQUESTS || of_all < MIN_SPIKE_SHARE {
                (false, format!("{:.1}% of all requests: within normal traffic", of_all * 100.0))
            } else {
                (
                    true,
                    format!(
                        "{:.1}% of all the customer's requests from one address ({} a minute)",
                        of_all * 100.0,
                        per_minute(k.requests.low, window)
                    ),
                )
            }
        }
    }
}

/// The suggestion for `incident` in `mode`, from the exporters' `offenders`.
pub(crate) fn suggest(
    mode: Mode,
    incident: &Incident,
    customer: &Customer,
    o: &Offenders,
    made_at: String,
) -> Suggestion {
    let mut rows = Vec::new();
    let mut named = rules::Offenders::default();
    let mut heaviest_normal = 0;
    for d in Dimension::ALL {
        let keys = o.by.get(&d).map_or(&[][..], Vec::as_slice);
        let mut shown = 0;
        for k in keys {
            let v = verdict(mode, d, k, o, customer);
            let chosen = matches!(v, Verdict::Named(_));
            if chosen {
                match d {
                    Dimension::Ip => named.ips.extend(k.value.parse::<IpAddr>().ok()),
                    Dimension::Asn => named.asns.extend(k.value.parse::<u32>().ok()),
                    Dimension::UserAgent => named.user_agents.push(k.value.clone()),
                    Dimension::Country | Dimension::Path => {}
                }
            } else if d == Dimension::Ip && matches!(v, Verdict::Not(_)) {
                heaviest_normal = heaviest_normal.max(k.requests.high);
            }
            let (Verdict::Named(why) | Verdict::Spared(why) | Verdict::Not(why)) = v;
            if chosen || shown < ROWS {
                shown += usize::from(!chosen);
                rows.push(Row {
                    dimension: d,
                    value: k.value.clone(),
                    requests: k.requests,
                    offending: k.offending,
                    request_share: share(k.requests.low, o.requests),
                    offending_share: share(k.offending.low, o.offending),
                    chosen,
                    why,
                });
            }
        }
    }
    let scope = rules::hosts(customer);
    let m = &customer.mitigation;
    let spare: Vec<_> = m.allowlist.iter().chain(&m.origins).copied().collect();
    let what = match mode {
        Mode::Attack => "attack",
        Mode::Spike => "traffic spike",
    };
    let description = |rule: &str| format!("edgewatch {}: {rule} for the {what} on {}", incident.dedup, customer.id);
    let custom_rule = (!named.is_empty())
        .then(|| rules::custom_expression(scope.as_deref(), &named, &spare))
        .flatten()
        .map(|expression| CustomRule {
            description: description("block the top offenders"),
            expression,
            action: "block".to_owned(),
            enabled: true,
        });
    let path = match mode {
        Mode::Attack => {
            o.by.get(&Dimension::Path)
                .and_then(|keys| keys.first())
                .filter(|k| share(k.offending.low, o.offending) >= PATH_SHARE)
                .map(|k| k.value.as_str())
        }
        Mode::Spike => None,
    };
    // Twice the heaviest normal address (neither named nor spared), a
    // minute, and never under MIN_RATE: normal clients stay well under it.
    // A value no exporter listed sent at most what the last one listed did.
    let limit = per_minute(heaviest_normal, o.window_seconds).saturating_mul(2).max(MIN_RATE);
    let rate_limit = (o.requests > 0).then(|| RateLimitRule {
        description: description(&format!("at most {limit} requests a minute per address")),
        expression: rules::rate_limit_expression(scope.as_deref(), path, &spare),
        action: "block".to_owned(),
        ratelimit: RateLimit::per_ip(PERIOD, limit, TIMEOUT),
        enabled: true,
    });
    Suggestion {
        mode,
        made_at,
        window_seconds: o.window_seconds,
        requests: o.requests,
        offending: o.offending,
        rows,
        custom_rule,
        rate_limit,
        missing: o.missing.clone(),
    }
}

impl Suggestion {
    /// The chosen values, one set per dimension.
    pub fn chosen(&self, d: Dimension) -> BTreeSet<&str> {
        self.rows.iter().filter(|r| r.chosen && r.dimension == d).map(|r| r.value.as_str()).collect()
    }

    /// For people: the table, the rules ready to paste, what is missing.
    /// Offender values come from request logs (a user agent, a path): in
    /// the table they are cut at 120 characters, and control characters
    /// become U+FFFD, so a value cannot break the table's lines nor send a
    /// terminal escape to `mitigate show`.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!(
            "Top offenders over the {} s before {} ({} requests, {} blocked, challenged or failed):\n",
            self.window_seconds, self.made_at, self.requests, self.offending
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "- {} {}: {} requests ({:.1}%), {} refused or failed ({:.1}%){}: {}",
                r.dimension.title(),
                shown(&r.value),
                r.requests.low,
                r.request_share * 100.0,
                r.offending.low,
                r.offending_share * 100.0,
                if r.chosen { ", NAMED" } else { "" },
                r.why
            );
        }
        match &self.custom_rule {
            Some(rule) => {
                let _ = writeln!(
                    out,
                    "\nSuggested custom rule (phase http_request_firewall_custom, action block):\n{}",
                    rule.expression
                );
            }
            None => out.push_str("\nNo offender stands out from normal traffic: no custom rule is suggested.\n"),
        }
        if let Some(rl) = &self.rate_limit
            && let Ok(body) = serde_json::to_string_pretty(rl)
        {
            let _ = writeln!(out, "\nSuggested rate-limiting rule (phase http_ratelimit):\n{body}");
        }
        for m in &self.missing {
            let _ = writeln!(out, "\nNot counted (exporter did not answer): {m}");
        }
        out.push_str("\nNothing is applied automatically: `edgewatch mitigate show|apply` (docs/mitigation.md).");
        out
    }
}

#[cfg(test)]
mod tests;
