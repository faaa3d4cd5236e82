//! The words customers read (a status page, e-mail): templates of
//! their own (`customer_title`, `customer_body`, overridable in the
//! catalog's `templates:`), over a context that holds no internal name: no
//! alert names, runbooks, dashboards, Prometheus or Alertmanager links,
//! only the customer's own name and hosts, what is affected in plain words,
//! since when, and when the next update comes.

use std::collections::BTreeSet;

use edgewatch_catalog::names::{AlertKind, SloKind};
use edgewatch_catalog::{Catalog, Customer, HostPattern};
use serde_json::{Value, json};

use crate::action::{ActionKind, Incident, Status};

/// The built-in customer templates.
pub(crate) const DEFAULTS: [(&str, &str); 2] = [
    ("customer_title", "{{#if resolved}}Resolved: {{/if}}{{customer}}: {{headline}}"),
    (
        "customer_body",
        "{{#if resolved}}This incident is resolved. From {{since}} to {{resolved_at}} ({{duration}}), {{customer}} saw {{impact_past}}, affecting {{affected}}. Everything else worked normally. We will follow up with what happened and what we changed.\
{{else}}Since {{since}}, {{customer}} is seeing {{impact}}, affecting {{affected}}. Everything else is working normally. Our network operations center is working on it; the next update comes {{next_update}}.{{/if}}",
    ),
];

/// When the next update comes, in words.
const NEXT_UPDATE: &str = "within 30 minutes";

/// What one alert means to a customer: now, and once over.
fn impact(kind: AlertKind, slo: Option<SloKind>) -> (&'static str, &'static str) {
    match (kind, slo) {
        (AlertKind::BurnRateFast | AlertKind::BurnRateMedium | AlertKind::BurnRateSlow, Some(SloKind::Latency)) => {
            ("slower responses than usual", "slower responses than usual")
        }
        (AlertKind::BurnRateFast | AlertKind::BurnRateMedium | AlertKind::BurnRateSlow, Some(SloKind::Probe))
        | (AlertKind::ProbeDown, _) => {
            ("failures reaching its site from some locations", "failures reaching its site from some locations")
        }
        (AlertKind::BurnRateFast | AlertKind::BurnRateMedium | AlertKind::BurnRateSlow | AlertKind::NoData, _) => {
            ("errors on some requests", "errors on some requests")
        }
        (AlertKind::OriginErrors, _) => {
            ("errors from its origin servers on some requests", "errors from its origin servers on some requests")
        }
        (AlertKind::CertExpiryWarning | AlertKind::CertExpiryCritical, _) => {
            ("a TLS certificate close to its expiry", "a TLS certificate close to its expiry")
        }
        (AlertKind::TrafficAnomaly, _) => ("unusual traffic levels", "unusual traffic levels"),
        (AlertKind::Attack, _) => (
            "a surge of malicious traffic, which security rules are blocking",
            "a surge of malicious traffic, which security rules blocked",
        ),
    }
}

/// The customer's hosts, in words.
fn hosts(c: &Customer) -> String {
    let names: Vec<String> = c
        .hosts
        .iter()
        .map(|h| match h {
            HostPattern::Exact(n) => n.clone(),
            HostPattern::Wildcard(d) => format!("*.{d}"),
        })
        .collect();
    match names.len() {
        0 => "its sites".to_owned(),
        1..=5 => names.join(", "),
        n => format!("{} and {} more", names[..4].join(", "), n - 4),
    }
}

fn when(rfc3339: &str) -> String {
    let ms = crate::time::parse_rfc3339(rfc3339).unwrap_or(0);
    let t = edgewatch_catalog::time::format_rfc3339_millis(ms);
    format!("{} UTC", t.get(..16).unwrap_or_default().replace('T', " "))
}

fn duration(from: &str, to: &str) -> String {
    let (Some(a), Some(b)) = (crate::time::parse_rfc3339(from), crate::time::parse_rfc3339(to)) else {
        return "a while".to_owned();
    };
    let m = (b - a).max(0) / 60_000;
    match m {
        0 => "under a minute".to_owned(),
        1 => "1 minute".to_owned(),
        2..=89 => format!("{m} minutes"),
        _ => format!("{} hours {} minutes", m / 60, m % 60),
    }
}

/// What customer templates see for `kind` on `incident`.
pub(crate) fn context(catalog: &Catalog, i: &Incident, kind: ActionKind) -> Value {
    let customer = i.customer.as_deref().and_then(|id| catalog.customer(id));
    let resolved = kind == ActionKind::Resolve || i.status == Status::Resolved;
    let alerts = i.alerts.iter().filter(|a| resolved || a.status == Status::Firing);
    let mut now = BTreeSet::new();
    let mut past = BTreeSet::new();
    for a in alerts {
        let Some(k) = a.labels.get("alert_kind").and_then(|k| k.parse::<AlertKind>().ok()) else { continue };
        let slo = a
            .labels
            .get("slo")
            .and_then(|s| customer.and_then(|c| c.slos.iter().find(|x| x.name.as_str() == s.as_str())))
            .map(edgewatch_catalog::model::Slo::kind);
        let (n, p) = impact(k, slo);
        now.insert(n);
        past.insert(p);
    }
    let words = |set: BTreeSet<&str>| {
        let v: Vec<&str> = set.into_iter().collect();
        if v.is_empty() { "degraded service".to_owned() } else { v.join(" and ") }
    };
    let (impact, impact_past) = (words(now), words(past));
    let headline = format!("{}{impact}", if resolved { "" } else { "investigating " });
    let ended = i.ended_at().unwrap_or_default();
    json!({
        "action": kind.as_str(),
        "resolved": resolved,
        "customer": customer.map_or("Your service", |c| c.name.as_str()),
        "headline": headline,
        "impact": impact,
        "impact_past": impact_past,
        "affected": customer.map_or_else(|| "its sites".to_owned(), hosts),
        "since": when(&i.started_at),
        "resolved_at": if ended.is_empty() { String::new() } else { when(&ended) },
        "duration": duration(&i.started_at, &ended),
        "next_update": NEXT_UPDATE,
    })
}
