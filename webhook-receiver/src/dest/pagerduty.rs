//! The `pagerduty` destination: PagerDuty Events API v2
//! (`POST https://events.pagerduty.com/v2/enqueue`, or the catalog's `url`).
//!
//! One event per action, all under the incident's stable `dedup` as the
//! `dedup_key`, so PagerDuty's own deduplication does the bookkeeping:
//!
//! | Action | Event | What PagerDuty does |
//! |---|---|---|
//! | open | `trigger` | opens an alert (or joins the open one) |
//! | update | `trigger` | appends to the open alert, no new alert |
//! | reopen | `trigger` | opens a new alert under the same key once the last one resolved |
//! | resolve | `resolve` | resolves the open alert; dropped if none is open |
//!
//! A trigger carries the message's title as `payload.summary` (cut to
//! PagerDuty's 1,024 characters, ending in `…`), the customer as `source`
//! and `group` (`edgewatch` when the alerts name no customer), the severity
//! from the destination's `severities` (`error` when the incident has none),
//! the incident's start as `timestamp`, its SLO or probe as `component`, its
//! alert kind as `class`, the message's details plus `num_firing` and
//! `num_resolved` as `custom_details`, the message's links, and Alertmanager's
//! URL for people as `client_url` (the receiver's `alertmanager_url`, else the
//! notification's `externalURL`). An event over PagerDuty's 512 KB limit has its
//! details replaced by a note saying so, rather than being refused.
//!
//! Answers: 202 is delivered (the `dedup_key` is kept as the external id);
//! 429, 5xx and network errors are worth a retry (after `Retry-After` when
//! given); 400 is final, with PagerDuty's error text in the reason.
//!
//! The routing key travels only in request bodies: it is never logged,
//! never printed by `Debug`, and cut out of any answer quoted in an error.

use std::borrow::Cow;

use edgewatch_catalog::Secret;
use edgewatch_catalog::model::PagerDutySeverity;
use edgewatch_catalog::names::Severity;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{BuildError, DeliveryError, Outcome, http};
use crate::action::{ActionKind, Delivery, Incident};

/// Where events go unless the catalog names another endpoint.
pub(crate) const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// PagerDuty's limit on `payload.summary`, in characters.
pub(crate) const MAX_SUMMARY_CHARS: usize = 1024;

/// PagerDuty's limit on a whole event ("512 KB"; Alertmanager reads it as
/// 512,000 bytes, and so do we, to stay on the safe side).
pub(crate) const MAX_EVENT_BYTES: usize = 512_000;

/// `payload.source` and `group` when the alerts name no customer, and
/// `client` always.
const CLIENT: &str = "edgewatch";

/// Integration keys are this long; PagerDuty refuses any other length.
const ROUTING_KEY_CHARS: usize = 32;

/// A PagerDuty Events API v2 integration.
pub struct PagerDuty {
    name: String,
    url: String,
    routing_key: Secret,
    config: edgewatch_catalog::model::PagerDuty,
    client: reqwest::Client,
}

impl std::fmt::Debug for PagerDuty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The routing key is left out, not just redacted: nothing to leak.
        f.debug_struct("PagerDuty").field("name", &self.name).field("url", &self.url).finish_non_exhaustive()
    }
}

impl PagerDuty {
    /// Sets up the destination `name` from the catalog: reads the routing
    /// key through `env` (or its file) and sends with `client` (built by
    /// the receiver for every destination, with its timeouts).
    pub fn build(
        name: &str,
        config: &edgewatch_catalog::model::PagerDuty,
        env: &dyn Fn(&str) -> Option<String>,
        client: reqwest::Client,
    ) -> Result<Self, BuildError> {
        let routing_key = config
            .routing_key
            .resolve(env)
            .map_err(|source| BuildError::Secret { destination: name.to_owned(), source })?;
        let chars = routing_key.expose().chars().count();
        if chars != ROUTING_KEY_CHARS {
            // PagerDuty will refuse every event; say so now, not at 3 a.m.
            // The length is not secret enough to hide; the key is.
            tracing::warn!(
                destination = name,
                reference = %config.routing_key,
                length = chars,
                "The PagerDuty routing key is not 32 characters long; PagerDuty will refuse its events."
            );
        }
        let url = config.url.as_ref().map_or(DEFAULT_URL, |u| u.as_str()).to_owned();
        Ok(Self { name: name.to_owned(), url, routing_key, config: config.clone(), client })
    }

    pub(crate) async fn deliver(&self, d: &Delivery<'_>) -> Result<Outcome, DeliveryError> {
        if d.kind == ActionKind::Note {
            // Events API v2 has no notes: the note is in the ticket and the
            // store, and a page is not sent again for it.
            return Ok(Outcome::Delivered { external: None });
        }
        let event = Request::new(d, self.routing_key.expose(), self.severity(d.incident.severity));
        let what = format!("{}: PagerDuty {}", self.name, event.event_action);
        let body = event.into_body().map_err(|e| DeliveryError::Permanent { reason: format!("{what}: {e}") })?;
        let request = self.client.post(&self.url).header(CONTENT_TYPE, "application/json").body(body);
        http::send(&what, request, error_text, self.routing_key.expose()).await?;
        tracing::debug!(
            destination = %self.name,
            action = d.kind.as_str(),
            dedup_key = %d.incident.dedup,
            "PagerDuty accepted the event."
        );
        Ok(Outcome::Delivered { external: Some(d.incident.dedup.clone()) })
    }

    /// PagerDuty's severity for the incident's.
    fn severity(&self, s: Option<Severity>) -> PagerDutySeverity {
        s.map_or(PagerDutySeverity::Error, |s| self.config.severity_for(s))
    }
}

/// PagerDuty's error answer, as `message: error; error` (the routing key,
/// should an answer ever quote it, is cut out by [`http::send`]).
fn error_text(body: &str) -> String {
    #[derive(Deserialize)]
    struct Answer {
        message: String,
        #[serde(default)]
        errors: Vec<String>,
    }
    match serde_json::from_str::<Answer>(body) {
        Ok(a) if a.errors.is_empty() => a.message,
        Ok(a) => format!("{}: {}", a.message, a.errors.join("; ")),
        Err(_) => body.to_owned(),
    }
}

/// The body of one `POST /v2/enqueue`: an event. Acknowledge is never
/// sent: people acknowledge in PagerDuty.
#[derive(Serialize)]
struct Request<'a> {
    routing_key: &'a str,
    event_action: &'static str,
    dedup_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Payload<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<EventLink<'a>>,
}

#[derive(Serialize)]
struct Payload<'a> {
    summary: Cow<'a, str>,
    source: &'a str,
    severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    component: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    class: Option<&'a str>,
    custom_details: Map<String, Value>,
}

#[derive(Serialize)]
struct EventLink<'a> {
    href: &'a str,
    text: &'a str,
}

impl<'a> Request<'a> {
    fn new(d: &Delivery<'a>, routing_key: &'a str, severity: PagerDutySeverity) -> Self {
        let incident = d.incident;
        let dedup_key = incident.dedup.as_str();
        if d.kind == ActionKind::Resolve {
            return Self {
                routing_key,
                event_action: "resolve",
                dedup_key,
                payload: None,
                client: None,
                client_url: None,
                links: Vec::new(),
            };
        }
        let message = d.message;
        let title = if message.title.trim().is_empty() { incident.key.as_str() } else { message.title.as_str() };
        let mut custom_details: Map<String, Value> =
            message.details.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        custom_details.extend(counts(incident));
        let payload = Payload {
            summary: truncate(title, MAX_SUMMARY_CHARS),
            source: incident.customer.as_deref().unwrap_or(CLIENT),
            severity: severity.as_str(),
            timestamp: Some(incident.started_at.as_str()).filter(|t| crate::time::is_rfc3339(t)),
            component: incident.slo.as_deref().or(incident.probe.as_deref()),
            group: incident.customer.as_deref(),
            class: incident.alert_kind.as_deref(),
            custom_details,
        };
        // The configured URL for people first: `externalURL` may be a pod name.
        let am = d.alertmanager_url.unwrap_or(incident.alertmanager_url.as_str());
        Self {
            routing_key,
            event_action: "trigger",
            dedup_key,
            payload: Some(payload),
            client: Some(CLIENT),
            client_url: (am.starts_with("http://") || am.starts_with("https://")).then_some(am),
            links: message
                .links
                .iter()
                .filter(|l| !l.href.is_empty())
                .map(|l| EventLink { href: &l.href, text: &l.text })
                .collect(),
        }
    }

    /// The body, under [`MAX_EVENT_BYTES`]: details go first, then links.
    fn into_body(mut self) -> Result<Vec<u8>, serde_json::Error> {
        let body = serde_json::to_vec(&self)?;
        let Some(payload) = self.payload.as_mut().filter(|_| body.len() > MAX_EVENT_BYTES) else {
            return Ok(body);
        };
        let note = format!(
            "custom details left out: the event was {} bytes, over PagerDuty's limit of {MAX_EVENT_BYTES}",
            body.len()
        );
        let counts: Vec<_> = ["num_firing", "num_resolved"]
            .into_iter()
            .filter_map(|k| payload.custom_details.get(k).map(|v| (k.to_owned(), v.clone())))
            .collect();
        payload.custom_details = std::iter::once(("note".to_owned(), Value::String(note))).chain(counts).collect();
        let body = serde_json::to_vec(&self)?;
        if body.len() <= MAX_EVENT_BYTES {
            return Ok(body);
        }
        self.links.clear();
        serde_json::to_vec(&self)
    }
}

/// `num_firing` and `num_resolved`, as Alertmanager's own PagerDuty
/// notifier names them.
fn counts(incident: &Incident) -> [(String, Value); 2] {
    let firing = incident.firing();
    [
        ("num_firing".to_owned(), Value::from(firing)),
        ("num_resolved".to_owned(), Value::from(incident.alerts.len() - firing)),
    ]
}

/// `text` if it has at most `max` characters, else its first `max - 1`
/// characters and `…`: never more than `max` characters, never a split one.
fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    if text.char_indices().nth(max).is_none() {
        return Cow::Borrowed(text);
    }
    let end = text.char_indices().nth(max.saturating_sub(1)).map_or(text.len(), |(i, _)| i);
    if max == 0 { Cow::Borrowed("") } else { Cow::Owned(format!("{}…", &text[..end])) }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::action::{AlertState, Change, Link, Message, Status};

    proptest! {
        #[test]
        fn truncation_never_splits_a_char_nor_exceeds_the_limit(text in "\\PC{0,1500}", max in 1usize..1100) {
            let cut = truncate(&text, max);
            // A &str is valid UTF-8 by construction; what matters is the count
            // and that what is kept is the start of the text.
            prop_assert!(cut.chars().count() <= max);
            if text.chars().count() <= max {
                prop_assert_eq!(cut.as_ref(), text.as_str());
            } else {
                prop_assert!(cut.ends_with('…'));
                prop_assert_eq!(cut.chars().count(), max);
                let kept = cut.strip_suffix('…').unwrap();
                prop_assert!(text.starts_with(kept));
            }
        }

        #[test]
        fn summaries_fit_pagerduty(text in prop::collection::vec(prop::char::any(), 0..3000)) {
            let text: String = text.into_iter().collect();
            let cut = truncate(&text, MAX_SUMMARY_CHARS);
            prop_assert!(cut.chars().count() <= MAX_SUMMARY_CHARS);
            let kept = match &cut {
                Cow::Borrowed(s) => *s,
                Cow::Owned(s) => s.strip_suffix('…').unwrap(),
            };
            prop_assert!(text.starts_with(kept));
        }
    }

    #[test]
    fn truncation_edges() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("ééé", 2), "é…");
        assert_eq!(truncate("", 3), "");
        assert_eq!(truncate("🦀🦀", 1), "…");
        assert_eq!(truncate("🦀", 0), "");
        assert!(matches!(truncate(&"x".repeat(1024), 1024), Cow::Borrowed(_)));
    }

    fn incident() -> Incident {
        let alert = |fp: &str, status| AlertState {
            fingerprint: fp.to_owned(),
            status,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            starts_at: "2026-11-21T07:12:11Z".to_owned(),
            ends_at: None,
            generator_url: String::new(),
        };
        Incident {
            id: 1,
            key: "acme/SLOFastBurn/availability".to_owned(),
            grouped_by: BTreeMap::new(),
            dedup: "edgewatch-0123456789abcdef01234567".to_owned(),
            customer: Some("acme".to_owned()),
            alertname: "SLOFastBurn".to_owned(),
            severity: Some(Severity::Page),
            alert_kind: Some("fast_burn".to_owned()),
            slo: Some("availability".to_owned()),
            probe: None,
            status: Status::Firing,
            started_at: "2026-11-21T07:12:11Z".to_owned(),
            resolved_at: None,
            alerts: vec![alert("a", Status::Firing), alert("b", Status::Resolved)],
            alertmanager_url: "http://alertmanager:9093".to_owned(),
            change: Change::default(),
            engaged: None,
            notified: None,
            last_sent: BTreeMap::new(),
        }
    }

    fn message(details: BTreeMap<String, Value>) -> Message {
        Message {
            title: "acme: availability burning fast".to_owned(),
            description: String::new(),
            comment: String::new(),
            links: vec![
                Link { text: "Dashboard".to_owned(), href: "https://grafana.example/d/edgewatch-acme".to_owned() },
                Link { text: "Nowhere".to_owned(), href: String::new() },
            ],
            details,
            customer_title: String::new(),
            customer_body: String::new(),
        }
    }

    fn event_json(kind: ActionKind, incident: &Incident, message: &Message) -> Value {
        let d = Delivery { kind, action: 1, incident, message, external: None, customer: None, alertmanager_url: None };
        let body = Request::new(&d, "k".repeat(32).as_str(), PagerDutySeverity::Critical).into_body().unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    #[test]
    fn a_trigger_carries_the_incident() {
        let i = incident();
        let m = message(BTreeMap::from([("tier".to_owned(), Value::from("gold"))]));
        let e = event_json(ActionKind::Open, &i, &m);
        assert_eq!(
            e,
            serde_json::json!({
                "routing_key": "k".repeat(32),
                "event_action": "trigger",
                "dedup_key": "edgewatch-0123456789abcdef01234567",
                "payload": {
                    "summary": "acme: availability burning fast",
                    "source": "acme",
                    "severity": "critical",
                    "timestamp": "2026-11-21T07:12:11Z",
                    "component": "availability",
                    "group": "acme",
                    "class": "fast_burn",
                    "custom_details": {"tier": "gold", "num_firing": 1, "num_resolved": 1},
                },
                "client": "edgewatch",
                "client_url": "http://alertmanager:9093",
                "links": [{"href": "https://grafana.example/d/edgewatch-acme", "text": "Dashboard"}],
            })
        );
    }

    #[test]
    fn a_resolve_carries_only_the_key() {
        let e = event_json(ActionKind::Resolve, &incident(), &message(BTreeMap::new()));
        assert_eq!(
            e,
            serde_json::json!({
                "routing_key": "k".repeat(32),
                "event_action": "resolve",
                "dedup_key": "edgewatch-0123456789abcdef01234567",
            })
        );
    }

    #[test]
    fn without_a_customer_the_source_is_edgewatch() {
        let mut i = incident();
        i.customer = None;
        i.slo = None;
        i.probe = Some("homepage".to_owned());
        i.alertmanager_url = String::new();
        i.started_at = "0001-01-01T00:00:00Z".to_owned();
        let e = event_json(ActionKind::Update, &i, &message(BTreeMap::new()));
        let p = &e["payload"];
        assert_eq!(p["source"], "edgewatch");
        assert_eq!(p["component"], "homepage");
        assert!(p.get("group").is_none() && p.get("timestamp").is_none());
        assert!(e.get("client_url").is_none());
    }

    #[test]
    fn oversized_details_are_replaced_by_a_note() {
        let big = BTreeMap::from([("dump".to_owned(), Value::from("x".repeat(MAX_EVENT_BYTES)))]);
        let i = incident();
        let m = message(big);
        let d = Delivery {
            kind: ActionKind::Open,
            action: 1,
            incident: &i,
            message: &m,
            external: None,
            customer: None,
            alertmanager_url: None,
        };
        let body = Request::new(&d, "k", PagerDutySeverity::Error).into_body().unwrap();
        assert!(body.len() <= MAX_EVENT_BYTES);
        let e: Value = serde_json::from_slice(&body).unwrap();
        let details = &e["payload"]["custom_details"];
        assert!(details["note"].as_str().unwrap().contains("over PagerDuty's limit"), "{details}");
        assert_eq!(details["num_firing"], 1);
        assert!(details.get("dump").is_none());
        assert_eq!(e["links"].as_array().unwrap().len(), 1, "links stay when the details were enough");
    }

    #[test]
    fn error_answers_are_read_and_never_quote_the_key() {
        let key = "0123456789abcdef0123456789abcdef";
        let pd = PagerDuty {
            name: "noc".to_owned(),
            url: DEFAULT_URL.to_owned(),
            routing_key: Secret::new(key),
            config: edgewatch_catalog::model::PagerDuty {
                routing_key: "env:PD".parse().unwrap(),
                severities: BTreeMap::new(),
                url: None,
            },
            client: http::client(std::time::Duration::from_secs(1)).unwrap(),
        };
        let answer = r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}"#;
        assert_eq!(
            error_text(answer),
            "Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters)"
        );
        assert_eq!(http::redact(&error_text(&format!("bad key {key}")), key), "bad key **REDACTED**");
        assert_eq!(error_text("<html>busy</html>"), "<html>busy</html>");
        assert!(!format!("{pd:?}").contains(key));
        assert_eq!(pd.severity(None), PagerDutySeverity::Error);
        assert_eq!(pd.severity(Some(Severity::Ticket)), PagerDutySeverity::Warning);
    }
}
