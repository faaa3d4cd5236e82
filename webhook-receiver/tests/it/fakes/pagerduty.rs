//! A contract fake of PagerDuty's Events API v2 (`POST /v2/enqueue`), an
//! axum server on `127.0.0.1` with a port of its own.
//!
//! What it reproduces, from PagerDuty's developer documentation and
//! `OpenAPI` description (`PagerDuty/api-schema`, `reference/events-v2`):
//!
//! - 202 `{"status":"success","message":"Event processed","dedup_key":…}`
//!   for an event it takes, whether or not it changes an alert (PagerDuty
//!   accepts an acknowledge or resolve for no open alert, and drops it);
//! - 400 `{"status":"invalid event","message":"Event object is invalid",
//!   "errors":[…]}` for a routing key that is not 32 characters, a missing or
//!   unknown `event_action`, a trigger without `payload.summary`, `source` or
//!   `severity`, a severity outside critical/error/warning/info, a summary
//!   over 1,024 characters, a `dedup_key` over 255 characters or missing on
//!   acknowledge/resolve, an image whose `src` is not HTTPS, a link without
//!   `href`, and an event over 512,000 bytes; the errors never quote the
//!   routing key. A body that is not a JSON object gets PagerDuty's
//!   "Unrecognized object" answer. Only the routing key wording is PagerDuty's
//!   verbatim (Alertmanager's tests quote it); the other errors are modelled;
//! - 429 once a routing key has sent [`Options::rate_limit`] events in the last
//!   60 seconds (PagerDuty: about 120 a minute per integration key), with a
//!   body, and `Retry-After` if [`Options::retry_after`] is set;
//! - faults on demand: the next N requests answered with a given status
//!   ([`PagerDutyFake::inject`]) or served late
//!   ([`PagerDutyFake::delay_next`]), or every request refused until fixed
//!   ([`PagerDutyFake::refuse_until_fixed`]);
//! - the alert state machine, per routing key and `dedup_key`: a trigger
//!   opens an alert or appends to the open one, acknowledge and resolve apply
//!   to the open one, a trigger after a resolve opens a new alert, and an
//!   event for a key that is open under another routing key does not touch it;
//! - a record of every request, for assertions and the conformance check.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use serde_json::{Value, json};

/// PagerDuty's per-integration-key rate, events per minute.
pub const DEFAULT_RATE_LIMIT: usize = 120;

/// The largest event PagerDuty takes (512 KB, read as 512,000 bytes).
pub const MAX_EVENT_BYTES: usize = 512_000;

const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

/// How the fake behaves beyond the contract's fixed parts.
#[derive(Debug, Clone)]
pub struct Options {
    /// Events per routing key per 60 seconds before 429.
    pub rate_limit: usize,
    /// `Retry-After` seconds on a rate-limit 429 (PagerDuty documents none).
    pub retry_after: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Self { rate_limit: DEFAULT_RATE_LIMIT, retry_after: None }
    }
}

/// An answer forced on the next requests, whatever they carry.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    /// 429, 500, 502, 503…
    pub status: u16,
    /// `Retry-After` seconds, if any.
    pub retry_after: Option<u64>,
}

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertStatus {
    /// Open, not acknowledged.
    Triggered,
    /// Open, acknowledged.
    Acknowledged,
    /// Closed: the next trigger with its key opens a new alert.
    Resolved,
}

/// A PagerDuty alert, as the events made it.
#[derive(Debug, Clone)]
pub struct Alert {
    /// 1 for the first alert the fake opened, and so on.
    pub number: usize,
    /// The integration it came through.
    pub routing_key: String,
    /// Its `dedup_key`.
    pub dedup_key: String,
    /// Where it stands.
    pub status: AlertStatus,
    /// The opening trigger's summary.
    pub summary: String,
    /// The latest trigger's severity.
    pub severity: String,
    /// The opening trigger's payload.
    pub payload: Value,
    /// The `event_action`s applied to it, in order.
    pub events: Vec<String>,
}

impl Alert {
    /// Triggers applied: 1 for the one that opened it, more for updates.
    pub fn triggers(&self) -> usize {
        self.events.iter().filter(|e| *e == "trigger").count()
    }
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The body: parsed JSON, or the raw text as a JSON string when it was
    /// not JSON.
    pub body: Value,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// What the fake answered; 0 while it has not (a late answer).
    pub status: u16,
    /// The answer's body.
    pub answer: Value,
    /// Whether the event changed an alert (202s only: a dropped acknowledge
    /// or resolve is accepted and not applied).
    pub applied: bool,
    /// When it arrived.
    pub at: Instant,
}

#[derive(Debug, Default)]
struct Fake {
    options: Options,
    faults: VecDeque<Fault>,
    delays: VecDeque<Duration>,
    refused: Option<String>,
    windows: HashMap<String, VecDeque<Instant>>,
    alerts: Vec<Alert>,
    received: Vec<Received>,
    generated_keys: usize,
}

/// A running fake; stops when dropped.
#[derive(Debug)]
pub struct PagerDutyFake {
    addr: SocketAddr,
    state: Arc<Mutex<Fake>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for PagerDutyFake {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl PagerDutyFake {
    /// Starts a fake with PagerDuty's defaults.
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    /// Starts a fake with other limits.
    pub async fn start_with(options: Options) -> Self {
        let state = Arc::new(Mutex::new(Fake { options, ..Fake::default() }));
        let app = Router::new().route("/v2/enqueue", post(enqueue)).with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("the bound address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the PagerDuty fake serves");
        });
        Self { addr, state, server }
    }

    /// The events endpoint, for a destination's `url`.
    pub fn url(&self) -> String {
        format!("http://{}/v2/enqueue", self.addr)
    }

    /// Answers the next `n` requests with `fault` (after any queued before).
    pub fn inject(&self, n: usize, fault: Fault) {
        self.lock().faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Serves the next `n` requests `by` late (a slow PagerDuty: the client
    /// may give up before the answer, which is served all the same).
    pub fn delay_next(&self, n: usize, by: Duration) {
        self.lock().delays.extend(std::iter::repeat_n(by, n));
    }

    /// Refuses every event as invalid, with `message` among the errors,
    /// until [`PagerDutyFake::fix`].
    pub fn refuse_until_fixed(&self, message: &str) {
        self.lock().refused = Some(message.to_owned());
    }

    /// Ends [`PagerDutyFake::refuse_until_fixed`].
    pub fn fix(&self) {
        self.lock().refused = None;
    }

    /// Every request so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// Every request body so far, in order.
    pub fn bodies(&self) -> Vec<Value> {
        self.lock().received.iter().map(|r| r.body.clone()).collect()
    }

    /// Every alert, in the order they opened.
    pub fn alerts(&self) -> Vec<Alert> {
        self.lock().alerts.clone()
    }

    /// The alerts opened under `dedup_key`, oldest first.
    pub fn alerts_for(&self, dedup_key: &str) -> Vec<Alert> {
        self.lock().alerts.iter().filter(|a| a.dedup_key == dedup_key).cloned().collect()
    }

    fn lock(&self) -> MutexGuard<'_, Fake> {
        self.state.lock().expect("the fake's lock")
    }
}

async fn enqueue(State(state): State<Arc<Mutex<Fake>>>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let parsed = serde_json::from_slice::<Value>(&body).ok();
    // Recorded on arrival, answered (status 0 until then) when served: a
    // client that gives up on a late answer leaves it unanswered.
    let (index, delay) = {
        let mut fake = state.lock().expect("the fake's lock");
        fake.received.push(Received {
            body: parsed.clone().unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned())),
            content_type,
            status: 0,
            answer: Value::Null,
            applied: false,
            at: Instant::now(),
        });
        (fake.received.len() - 1, fake.delays.pop_front())
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut fake = state.lock().expect("the fake's lock");
    let answer = fake.answer(parsed.as_ref(), body.len());
    let received = &mut fake.received[index];
    (received.status, received.answer, received.applied) = (answer.status, answer.body.clone(), answer.applied);
    drop(fake);
    let mut response =
        (StatusCode::from_u16(answer.status).expect("a valid status"), axum::Json(answer.body)).into_response();
    if let Some(secs) = answer.retry_after {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<u64>,
    applied: bool,
}

impl Answer {
    fn new(status: u16, body: Value) -> Self {
        Self { status, body, retry_after: None, applied: false }
    }
}

impl Fake {
    fn answer(&mut self, event: Option<&Value>, size: usize) -> Answer {
        if let Some(fault) = self.faults.pop_front() {
            let body = if fault.status == 429 {
                throttled()
            } else {
                json!({"status": "error", "message": "Internal error (injected)", "errors": ["try again later"]})
            };
            return Answer { retry_after: fault.retry_after, ..Answer::new(fault.status, body) };
        }
        if let Some(message) = &self.refused {
            return Answer::new(
                400,
                json!({"status": "invalid event", "message": "Event object is invalid", "errors": [message]}),
            );
        }
        let Some(event) = event.and_then(Value::as_object) else {
            return Answer::new(
                400,
                json!({"status": "Unrecognized object", "message": "Event object format is unrecognized", "errors": ["JSON parse error"]}),
            );
        };
        let routing_key = event.get("routing_key").and_then(Value::as_str).unwrap_or_default().to_owned();
        if !self.within_rate(&routing_key) {
            return Answer { retry_after: self.options.retry_after, ..Answer::new(429, throttled()) };
        }
        let errors = invalid(event, size);
        if !errors.is_empty() {
            return Answer::new(
                400,
                json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors}),
            );
        }
        let action = event["event_action"].as_str().unwrap_or_default();
        let dedup_key = match event.get("dedup_key").and_then(Value::as_str) {
            Some(k) if !k.is_empty() => k.to_owned(),
            _ => {
                self.generated_keys += 1;
                format!("{:032x}", self.generated_keys)
            }
        };
        let applied = self.apply(&routing_key, action, &dedup_key, event.get("payload"));
        Answer {
            applied,
            ..Answer::new(202, json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key}))
        }
    }

    /// Counts the event against its routing key's last 60 seconds.
    fn within_rate(&mut self, routing_key: &str) -> bool {
        let now = Instant::now();
        let window = self.windows.entry(routing_key.to_owned()).or_default();
        while window.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
            window.pop_front();
        }
        if window.len() >= self.options.rate_limit {
            return false;
        }
        window.push_back(now);
        true
    }

    fn apply(&mut self, routing_key: &str, action: &str, dedup_key: &str, payload: Option<&Value>) -> bool {
        // Only the integration an alert came through reaches it.
        let open =
            self.alerts.iter_mut().rev().find(|a| {
                a.routing_key == routing_key && a.dedup_key == dedup_key && a.status != AlertStatus::Resolved
            });
        match (action, open) {
            ("trigger", Some(alert)) => {
                if let Some(s) = payload.and_then(|p| p["severity"].as_str()) {
                    s.clone_into(&mut alert.severity);
                }
                alert.events.push(action.to_owned());
            }
            ("trigger", None) => {
                let payload = payload.cloned().unwrap_or(Value::Null);
                let number = self.alerts.len() + 1;
                self.alerts.push(Alert {
                    number,
                    routing_key: routing_key.to_owned(),
                    dedup_key: dedup_key.to_owned(),
                    status: AlertStatus::Triggered,
                    summary: payload["summary"].as_str().unwrap_or_default().to_owned(),
                    severity: payload["severity"].as_str().unwrap_or_default().to_owned(),
                    payload,
                    events: vec![action.to_owned()],
                });
            }
            ("acknowledge", Some(alert)) => {
                alert.status = AlertStatus::Acknowledged;
                alert.events.push(action.to_owned());
            }
            ("resolve", Some(alert)) => {
                alert.status = AlertStatus::Resolved;
                alert.events.push(action.to_owned());
            }
            // Acknowledge or resolve with nothing open: accepted, dropped.
            _ => return false,
        }
        true
    }
}

fn throttled() -> Value {
    json!({"status": "throttle exceeded", "message": "Too many API calls at a time", "errors": ["Rate limit reached for this integration key; retry after some time"]})
}

/// What PagerDuty would refuse in `event`, in its words where known.
fn invalid(event: &serde_json::Map<String, Value>, size: usize) -> Vec<String> {
    let mut errors = Vec::new();
    match event.get("routing_key").and_then(Value::as_str) {
        None | Some("") => errors.push("'routing_key' is missing or blank".to_owned()),
        // Never quote the key itself.
        Some(k) if k.chars().count() != 32 => {
            errors.push("Length of 'routing_key' is incorrect (should be 32 characters)".to_owned());
        }
        Some(_) => {}
    }
    let action = event.get("event_action").and_then(Value::as_str);
    if !matches!(action, Some("trigger" | "acknowledge" | "resolve")) {
        errors.push("'event_action' is invalid (must be one of trigger, acknowledge, resolve)".to_owned());
    }
    match event.get("dedup_key") {
        None => {
            if matches!(action, Some("acknowledge" | "resolve")) {
                errors.push("'dedup_key' is missing or blank (required for acknowledge and resolve)".to_owned());
            }
        }
        Some(Value::String(k)) if k.chars().count() > 255 => {
            errors.push("Length of 'dedup_key' is too long (should be at most 255 characters)".to_owned());
        }
        Some(Value::String(k)) if k.is_empty() && action != Some("trigger") => {
            errors.push("'dedup_key' is missing or blank (required for acknowledge and resolve)".to_owned());
        }
        Some(Value::String(_)) => {}
        Some(_) => errors.push("'dedup_key' must be a string".to_owned()),
    }
    if action == Some("trigger") {
        match event.get("payload").and_then(Value::as_object) {
            None => errors.push("'payload' is missing or not an object".to_owned()),
            Some(p) => {
                for field in ["summary", "source"] {
                    if text(p.get(field)).is_none() {
                        errors.push(format!("'payload.{field}' is missing or blank"));
                    }
                }
                if text(p.get("summary")).is_some_and(|s| s.chars().count() > 1024) {
                    errors
                        .push("Length of 'payload.summary' is too long (should be at most 1024 characters)".to_owned());
                }
                match text(p.get("severity")) {
                    None => errors.push("'payload.severity' is missing or blank".to_owned()),
                    Some(s) if !SEVERITIES.contains(&s) => errors.push(
                        "'payload.severity' is invalid (must be one of critical, error, warning, info)".to_owned(),
                    ),
                    Some(_) => {}
                }
                if p.get("custom_details").is_some_and(|d| !d.is_object()) {
                    errors.push("'payload.custom_details' must be an object".to_owned());
                }
            }
        }
    }
    for (i, image) in array(event.get("images")).iter().enumerate() {
        match text(image.get("src")) {
            None => errors.push(format!("'images[{i}].src' is missing or blank")),
            Some(src) if !src.starts_with("https://") => {
                errors.push(format!("'images[{i}].src' must be served over HTTPS"));
            }
            Some(_) => {}
        }
    }
    for (i, link) in array(event.get("links")).iter().enumerate() {
        if text(link.get("href")).is_none() {
            errors.push(format!("'links[{i}].href' is missing or blank"));
        }
    }
    if size > MAX_EVENT_BYTES {
        errors.push(format!("Event object is too large ({size} bytes; the limit is 512 KB)"));
    }
    errors
}

/// A string that is not blank.
fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

fn array(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}
