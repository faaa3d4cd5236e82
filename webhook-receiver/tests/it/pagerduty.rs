//! The PagerDuty destination against the PagerDuty contract fake, the
//! delivery contract through the whole receiver, and the fake against the
//! contract.
//!
//! With `EDGEWATCH_PD_REQUESTS_OUT=<file>` set,
//! `requests_for_the_conformance_check` writes every body the destination
//! sent in its scenario to `<file>`, one JSON object per line, for
//! `.ci/pagerduty_conformance.py` to check against PagerDuty's `OpenAPI`
//! description.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use edgewatch_catalog::model::{self, PagerDuty as PagerDutyConfig, PagerDutySeverity};
use edgewatch_catalog::names::Severity;
use edgewatch_webhook_receiver::testing::{ActionKind, DeliveryError, Destination, Incident, Message, Outcome, Status};
use serde_json::{Value, json};

use crate::contract::{self, Failure};
use crate::fakes::pagerduty::{AlertStatus, Fault, Options, PagerDutyFake};
use crate::support::{DEDUP, PD_KEY as KEY, alert, incident, resolved};

const KEY_VAR: &str = "EDGEWATCH_PD_ROUTING_KEY";

fn destination_with(url: &str, key: &str, severities: BTreeMap<Severity, PagerDutySeverity>) -> Destination {
    let config = PagerDutyConfig {
        routing_key: format!("env:{KEY_VAR}").parse().unwrap(),
        severities,
        url: Some(url.parse().unwrap()),
    };
    let env = |name: &str| (name == KEY_VAR).then(|| key.to_owned());
    let config = model::Destination::PagerDuty(config);
    edgewatch_webhook_receiver::testing::destination("noc-pagerduty", &config, &env, Duration::from_secs(5)).unwrap()
}

fn destination(fake: &PagerDutyFake) -> Destination {
    destination_with(&fake.url(), KEY, BTreeMap::new())
}

/// The shared message, under `title`.
fn message(title: &str) -> Message {
    Message { title: title.to_owned(), ..crate::support::message() }
}

async fn send(
    d: &Destination,
    kind: ActionKind,
    incident: &Incident,
    message: &Message,
) -> Result<Outcome, DeliveryError> {
    crate::support::deliver(d, kind, incident, message, None, None).await
}

fn delivered() -> Outcome {
    Outcome::Delivered { external: Some(DEDUP.to_owned()) }
}

#[tokio::test]
async fn a_trigger_then_a_resolve_open_then_resolve_one_alert() {
    let fake = PagerDutyFake::start().await;
    let pd = destination(&fake);
    let (i, m) = (incident(), message("acme: availability burning fast"));
    assert_eq!(send(&pd, ActionKind::Open, &i, &m).await, Ok(delivered()));
    let alerts = fake.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].status, AlertStatus::Triggered);
    assert_eq!(alerts[0].summary, "acme: availability burning fast");

    assert_eq!(send(&pd, ActionKind::Resolve, &resolved(i), &m).await, Ok(delivered()));
    let alerts = fake.alerts();
    assert_eq!(alerts.len(), 1, "no new alert");
    assert_eq!(alerts[0].status, AlertStatus::Resolved);
    assert_eq!(alerts[0].events, ["trigger", "resolve"]);

    let received = fake.received();
    assert!(received.iter().all(|r| r.content_type.as_deref() == Some("application/json")));
    let [trigger, resolve] = [&received[0].body, &received[1].body];
    assert_eq!(trigger["dedup_key"], DEDUP);
    assert_eq!(resolve["dedup_key"], DEDUP);
    assert_eq!(trigger["routing_key"], KEY);
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(
        trigger["payload"],
        json!({
            "summary": "acme: availability burning fast",
            "source": "acme",
            "severity": "critical",
            "timestamp": "2026-11-21T07:12:11.828Z",
            "component": "availability",
            "group": "acme",
            "class": "fast_burn",
            "custom_details": {"customer": "acme", "tier": "gold", "burn_rate": 14.2, "num_firing": 1, "num_resolved": 0},
        })
    );
    assert_eq!(trigger["client"], "edgewatch");
    assert_eq!(trigger["client_url"], "http://alertmanager.example:9093");
    assert_eq!(
        trigger["links"][1],
        json!({"href": "https://runbooks.example/alerts/burn_rate_fast", "text": "Runbook"})
    );
    assert_eq!(*resolve, json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": DEDUP}));
}

#[tokio::test]
async fn an_update_re_triggers_the_open_alert() {
    let fake = PagerDutyFake::start().await;
    let pd = destination(&fake);
    let mut i = incident();
    let m = message("acme: availability burning fast");
    send(&pd, ActionKind::Open, &i, &m).await.unwrap();
    i.alerts.push(alert("2b41cb82ddb3a32a", Status::Firing));
    assert_eq!(send(&pd, ActionKind::Update, &i, &m).await, Ok(delivered()));
    let alerts = fake.alerts();
    assert_eq!(alerts.len(), 1, "an update is not a new alert");
    assert_eq!(alerts[0].triggers(), 2);
    assert_eq!(alerts[0].status, AlertStatus::Triggered);
    assert_eq!(fake.bodies()[1]["payload"]["custom_details"]["num_firing"], 2);
}

#[tokio::test]
async fn a_reopen_after_a_resolve_opens_a_new_alert_under_the_same_key() {
    let fake = PagerDutyFake::start().await;
    let pd = destination(&fake);
    let m = message("acme: availability burning fast");
    send(&pd, ActionKind::Open, &incident(), &m).await.unwrap();
    send(&pd, ActionKind::Resolve, &resolved(incident()), &m).await.unwrap();
    assert_eq!(send(&pd, ActionKind::Reopen, &incident(), &m).await, Ok(delivered()));
    let alerts = fake.alerts_for(DEDUP);
    assert_eq!(alerts.len(), 2, "PagerDuty opens a new alert for a trigger after a resolve");
    assert_eq!(alerts[0].status, AlertStatus::Resolved);
    assert_eq!(alerts[1].status, AlertStatus::Triggered);
    assert!(fake.bodies().iter().all(|b| b["dedup_key"] == DEDUP));
}

#[tokio::test]
async fn long_summaries_are_cut_to_1024_characters() {
    let fake = PagerDutyFake::start().await;
    let pd = destination(&fake);
    // Multi-byte characters: the cut must fall between them.
    let title = "é🦀x".repeat(700);
    assert_eq!(send(&pd, ActionKind::Open, &incident(), &message(&title)).await, Ok(delivered()));
    let summary = fake.alerts()[0].summary.clone();
    assert_eq!(summary.chars().count(), 1024);
    assert!(summary.ends_with('…'));
    assert!(title.starts_with(summary.trim_end_matches('…')));
}

#[tokio::test]
async fn oversized_details_are_replaced_by_a_note() {
    let fake = PagerDutyFake::start().await;
    let pd = destination(&fake);
    let mut m = message("acme: availability burning fast");
    m.details.insert("samples".to_owned(), json!(vec!["0.999; 0.998; 0.997"; 40_000]));
    assert_eq!(send(&pd, ActionKind::Open, &incident(), &m).await, Ok(delivered()));
    let details = &fake.alerts()[0].payload["custom_details"];
    assert!(details["note"].as_str().unwrap().contains("512000"), "{details}");
    assert!(details.get("samples").is_none());
    assert_eq!(details["num_firing"], 1);
}

#[tokio::test]
async fn severities_follow_the_destination_mapping() {
    let fake = PagerDutyFake::start().await;
    let pd = destination_with(&fake.url(), KEY, BTreeMap::from([(Severity::Ticket, PagerDutySeverity::Error)]));
    let m = message("t");
    let cases = [
        (Some(Severity::Page), "critical"), // the default mapping
        (Some(Severity::Ticket), "error"),  // the destination's
        (Some(Severity::Info), "info"),
        (None, "error"), // no severity at all
    ];
    for (n, (severity, expected)) in cases.into_iter().enumerate() {
        let mut i = incident();
        i.dedup = format!("edgewatch-{n:024x}");
        i.severity = severity;
        send(&pd, ActionKind::Open, &i, &m).await.unwrap();
        assert_eq!(fake.alerts_for(&i.dedup)[0].severity, expected, "{severity:?}");
    }
}

#[tokio::test]
async fn an_incident_without_customer_comes_from_edgewatch() {
    let fake = PagerDutyFake::start().await;
    let pd = destination(&fake);
    let mut i = incident();
    i.customer = None;
    i.slo = None;
    i.probe = Some("homepage".to_owned());
    send(&pd, ActionKind::Open, &i, &message("unknown customer")).await.unwrap();
    let payload = &fake.alerts()[0].payload;
    assert_eq!(payload["source"], "edgewatch");
    assert_eq!(payload["component"], "homepage");
    assert!(payload.get("group").is_none());
}

#[tokio::test]
async fn rate_limits_and_outages_are_worth_a_retry_after_the_time_asked() {
    let fake = PagerDutyFake::start_with(Options { rate_limit: 1, retry_after: Some(30) }).await;
    let pd = destination(&fake);
    let (i, m) = (incident(), message("t"));
    send(&pd, ActionKind::Open, &i, &m).await.unwrap();
    let e = send(&pd, ActionKind::Update, &i, &m).await.unwrap_err();
    assert!(
        matches!(&e, DeliveryError::Transient { retry_after: Some(d), reason } if *d == Duration::from_secs(30) && reason.contains("HTTP 429") && reason.contains("Too many API calls")),
        "{e:?}"
    );

    let fake = PagerDutyFake::start().await;
    let pd = destination(&fake);
    fake.inject(2, Fault { status: 503, retry_after: Some(7) });
    fake.inject(1, Fault { status: 429, retry_after: None });
    for _ in 0..2 {
        let e = send(&pd, ActionKind::Open, &i, &m).await.unwrap_err();
        assert!(
            matches!(&e, DeliveryError::Transient { retry_after: Some(d), reason } if *d == Duration::from_secs(7) && reason.contains("HTTP 503")),
            "{e:?}"
        );
    }
    let e = send(&pd, ActionKind::Open, &i, &m).await.unwrap_err();
    assert!(matches!(&e, DeliveryError::Transient { retry_after: None, .. }), "{e:?}");
    assert_eq!(send(&pd, ActionKind::Open, &i, &m).await, Ok(delivered()));
    assert_eq!(fake.alerts().len(), 1, "faulted requests change nothing");
}

#[tokio::test]
async fn an_unreachable_pagerduty_is_worth_a_retry() {
    let url = format!("http://127.0.0.1:{}/v2/enqueue", edgewatch_test_kit::free_port());
    let pd = destination_with(&url, KEY, BTreeMap::new());
    let e = send(&pd, ActionKind::Open, &incident(), &message("t")).await.unwrap_err();
    assert!(matches!(&e, DeliveryError::Transient { reason, .. } if reason.contains("could not connect")), "{e:?}");
    assert!(!format!("{e} {e:?}").contains(KEY));
}

#[tokio::test]
async fn a_refused_event_is_final_with_pagerduty_s_reason() {
    let fake = PagerDutyFake::start().await;
    let short_key = &KEY[..31];
    let pd = destination_with(&fake.url(), short_key, BTreeMap::new());
    let e = send(&pd, ActionKind::Open, &incident(), &message("t")).await.unwrap_err();
    let DeliveryError::Permanent { reason } = &e else { panic!("{e:?}") };
    assert_eq!(
        reason,
        "noc-pagerduty: PagerDuty trigger: HTTP 400: Event object is invalid: \
         Length of 'routing_key' is incorrect (should be 32 characters)"
    );
    assert!(fake.alerts().is_empty());
}

#[tokio::test]
async fn the_routing_key_never_shows() {
    let fake = PagerDutyFake::start().await;
    let pd = destination(&fake);
    assert!(!format!("{pd:?}").contains(KEY), "{pd:?}");
    let (i, m) = (incident(), message("t"));
    let mut errors = Vec::new();
    fake.inject(1, Fault { status: 503, retry_after: None });
    fake.inject(1, Fault { status: 429, retry_after: Some(1) });
    errors.push(send(&pd, ActionKind::Open, &i, &m).await.unwrap_err());
    errors.push(send(&pd, ActionKind::Open, &i, &m).await.unwrap_err());
    let mut bad = incident();
    bad.dedup = "x".repeat(300); // PagerDuty refuses keys over 255 characters
    errors.push(send(&pd, ActionKind::Open, &bad, &m).await.unwrap_err());
    assert!(matches!(&errors[2], DeliveryError::Permanent { reason } if reason.contains("'dedup_key' is too long")));
    for e in &errors {
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(KEY), "{shown}");
    }
    // The fake's refusals do not quote it either.
    let answers: Vec<String> = fake.received().iter().map(|r| r.answer.to_string()).collect();
    assert!(answers.iter().any(|a| a.contains("invalid event")), "{answers:?}");
    assert!(answers.iter().all(|a| !a.contains(KEY)), "{answers:?}");
}

impl contract::Service for PagerDutyFake {
    fn destination(&self) -> String {
        format!("{{pagerduty: {{routing_key: 'env:PD_KEY', url: '{}'}}}}", self.url())
    }

    fn env(&self) -> Vec<(&'static str, &'static str)> {
        vec![("PD_KEY", KEY)]
    }

    fn secret(&self) -> &'static str {
        KEY
    }

    fn fail_next(&self, n: usize, failure: Failure) {
        match failure {
            Failure::RateLimited(secs) => self.inject(n, Fault { status: 429, retry_after: Some(secs) }),
            Failure::Unavailable(secs) => self.inject(n, Fault { status: 503, retry_after: Some(secs) }),
            Failure::Late(by) => self.delay_next(n, by),
        }
    }

    fn refuse_until_fixed(&self, message: &str) {
        PagerDutyFake::refuse_until_fixed(self, message);
    }

    fn fix(&self) {
        PagerDutyFake::fix(self);
    }

    fn answers(&self) -> Vec<(Instant, u16)> {
        self.received().iter().map(|r| (r.at, r.status)).collect()
    }

    fn incidents(&self) -> Vec<bool> {
        self.alerts().iter().map(|a| a.status != AlertStatus::Resolved).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_the_delivery_contract() {
    contract::check("contract-pagerduty", &PagerDutyFake::start().await).await;
}

/// Raw events, to pin the fake's side of the contract.
struct Raw {
    client: reqwest::Client,
    url: String,
}

impl Raw {
    fn new(fake: &PagerDutyFake) -> Self {
        Self { client: edgewatch_test_kit::http_client(), url: fake.url() }
    }

    async fn post(&self, body: &Value) -> (u16, Value) {
        self.post_text(body.to_string()).await
    }

    async fn post_text(&self, body: String) -> (u16, Value) {
        let r = self.client.post(&self.url).header("content-type", "application/json").body(body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }
}

fn trigger(key: &str, dedup: &str) -> Value {
    json!({
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": dedup,
        "payload": {"summary": "disk full", "source": "db1", "severity": "warning"},
    })
}

fn event(key: &str, action: &str, dedup: &str) -> Value {
    json!({"routing_key": key, "event_action": action, "dedup_key": dedup})
}

#[tokio::test]
async fn the_fake_refuses_what_pagerduty_refuses() {
    let fake = PagerDutyFake::start().await;
    let raw = Raw::new(&fake);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut e = trigger(KEY, "k");
        f(&mut e);
        e
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|e| e["routing_key"] = json!("short")),
            "Length of 'routing_key' is incorrect (should be 32 characters)",
        ),
        (with(&|e| e["event_action"] = json!("page")), "'event_action' is invalid"),
        (with(&|e| e["payload"].as_object_mut().unwrap().clear()), "'payload.summary' is missing or blank"),
        (with(&|e| e["payload"]["source"] = json!(" ")), "'payload.source' is missing or blank"),
        (with(&|e| drop(e["payload"].as_object_mut().unwrap().remove("severity"))), "'payload.severity' is missing"),
        (with(&|e| e["payload"]["severity"] = json!("major")), "'payload.severity' is invalid"),
        (with(&|e| e["payload"]["summary"] = json!("s".repeat(1025))), "'payload.summary' is too long"),
        (with(&|e| e["dedup_key"] = json!("d".repeat(256))), "'dedup_key' is too long"),
        (
            with(&|e| e["images"] = json!([{"src": "http://charts.example/a.png"}])),
            "'images[0].src' must be served over HTTPS",
        ),
        (with(&|e| e["links"] = json!([{"text": "no href"}])), "'links[0].href' is missing"),
        (json!({"routing_key": KEY, "event_action": "resolve"}), "'dedup_key' is missing"),
        (with(&|e| e["payload"]["custom_details"] = json!({"blob": "b".repeat(600_000)})), "Event object is too large"),
    ];
    for (body, expected) in &cases {
        let (status, answer) = raw.post(body).await;
        assert_eq!(status, 400, "{expected}");
        assert_eq!(answer["status"], "invalid event");
        assert_eq!(answer["message"], "Event object is invalid");
        let errors = answer["errors"].as_array().unwrap();
        assert!(errors.iter().any(|e| e.as_str().unwrap().contains(expected)), "{expected}: {answer}");
        assert!(!answer.to_string().contains(KEY) && !answer.to_string().contains("short"));
    }
    let (status, answer) = raw.post_text("{not json".to_owned()).await;
    assert_eq!(status, 400);
    assert_eq!(answer["status"], "Unrecognized object");
    // Valid edges pass: 1,024 characters, 255-character keys, HTTPS images.
    let mut ok = trigger(KEY, &"d".repeat(255));
    ok["payload"]["summary"] = json!("é".repeat(1024));
    ok["images"] = json!([{"src": "https://charts.example/a.png", "alt": "chart"}]);
    assert_eq!(raw.post(&ok).await.0, 202);
    assert_eq!(fake.alerts().len(), 1, "refused events change nothing");
}

#[tokio::test]
async fn the_fake_keeps_pagerduty_s_alert_state() {
    let fake = PagerDutyFake::start().await;
    let raw = Raw::new(&fake);
    let other_key = "0123456789abcdef0123456789abcdef";

    let (status, answer) = raw.post(&trigger(KEY, "db1/disk")).await;
    assert_eq!(status, 202);
    assert_eq!(answer, json!({"status": "success", "message": "Event processed", "dedup_key": "db1/disk"}));
    raw.post(&trigger(KEY, "db1/disk")).await;
    assert_eq!(fake.alerts().len(), 1, "a trigger joins the open alert");
    assert_eq!(fake.alerts()[0].triggers(), 2);

    raw.post(&event(KEY, "acknowledge", "db1/disk")).await;
    assert_eq!(fake.alerts()[0].status, AlertStatus::Acknowledged);

    // Another integration's events do not reach this alert.
    assert_eq!(raw.post(&event(other_key, "resolve", "db1/disk")).await.0, 202);
    assert_eq!(fake.alerts()[0].status, AlertStatus::Acknowledged);
    assert!(!fake.received().last().unwrap().applied);

    raw.post(&event(KEY, "resolve", "db1/disk")).await;
    assert_eq!(fake.alerts()[0].status, AlertStatus::Resolved);
    // Resolving or acknowledging what is resolved is accepted and dropped.
    assert_eq!(raw.post(&event(KEY, "resolve", "db1/disk")).await.0, 202);
    assert!(!fake.received().last().unwrap().applied);
    raw.post(&event(KEY, "acknowledge", "db1/disk")).await;
    assert_eq!(fake.alerts()[0].events, ["trigger", "trigger", "acknowledge", "resolve"]);

    // A trigger after the resolve is a new alert under the same key.
    raw.post(&trigger(KEY, "db1/disk")).await;
    let alerts = fake.alerts_for("db1/disk");
    assert_eq!(alerts.len(), 2);
    assert_eq!((alerts[0].status, alerts[1].status), (AlertStatus::Resolved, AlertStatus::Triggered));

    // A trigger without a key gets one.
    let mut keyless = trigger(KEY, "");
    keyless.as_object_mut().unwrap().remove("dedup_key");
    let (status, answer) = raw.post(&keyless).await;
    assert_eq!(status, 202);
    assert_eq!(answer["dedup_key"].as_str().unwrap().len(), 32);
    assert_eq!(fake.alerts().len(), 3);
    assert_eq!(fake.received().len(), 9, "every request is recorded");
}

#[tokio::test]
async fn the_fake_limits_each_routing_key_to_120_events_a_minute() {
    let fake = PagerDutyFake::start().await;
    let raw = Raw::new(&fake);
    for n in 0..120 {
        assert_eq!(raw.post(&trigger(KEY, &format!("k{n}"))).await.0, 202, "event {n}");
    }
    let (status, answer) = raw.post(&trigger(KEY, "k120")).await;
    assert_eq!(status, 429);
    assert_eq!(answer["status"], "throttle exceeded");
    let other = "0123456789abcdef0123456789abcdef";
    assert_eq!(raw.post(&trigger(other, "k")).await.0, 202, "limits are per routing key");
}

/// The scenario whose requests `.ci/pagerduty_conformance.py` checks against
/// PagerDuty's `OpenAPI` description: every kind of action, a long summary,
/// oversized details, an incident without customer or severity.
#[tokio::test]
async fn requests_for_the_conformance_check() {
    let fake = PagerDutyFake::start().await;
    let pd = destination(&fake);
    let m = message("acme: availability burning fast");
    let mut i = incident();
    send(&pd, ActionKind::Open, &i, &m).await.unwrap();
    i.alerts.push(alert("2b41cb82ddb3a32a", Status::Firing));
    i.severity = Some(Severity::Ticket);
    send(&pd, ActionKind::Update, &i, &m).await.unwrap();
    send(&pd, ActionKind::Resolve, &resolved(i.clone()), &m).await.unwrap();
    send(&pd, ActionKind::Reopen, &i, &m).await.unwrap();
    send(&pd, ActionKind::Resolve, &resolved(i), &m).await.unwrap();

    let mut long = incident();
    long.dedup = "edgewatch-000000000000000000000a1e".to_owned();
    send(&pd, ActionKind::Open, &long, &message(&"ü".repeat(5000))).await.unwrap();

    let mut big = message("big details");
    big.details.insert("samples".to_owned(), json!(vec!["0.999"; 120_000]));
    let mut bare = incident();
    bare.dedup = "edgewatch-000000000000000000000ba5".to_owned();
    bare.customer = None;
    bare.severity = None;
    bare.slo = None;
    bare.alert_kind = None;
    bare.alertmanager_url = String::new();
    bare.started_at = "0001-01-01T00:00:00Z".to_owned();
    send(&pd, ActionKind::Open, &bare, &big).await.unwrap();
    send(&pd, ActionKind::Resolve, &resolved(bare), &big).await.unwrap();

    let received = fake.received();
    assert_eq!(received.len(), 8);
    assert!(received.iter().all(|r| r.status == 202), "{received:?}");
    if let Some(out) = std::env::var_os("EDGEWATCH_PD_REQUESTS_OUT") {
        let lines: Vec<String> = received.iter().map(|r| r.body.to_string()).collect();
        std::fs::write(&out, lines.join("\n") + "\n").unwrap();
    }
}
