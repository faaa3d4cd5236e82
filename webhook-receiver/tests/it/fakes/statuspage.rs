//! A contract fake of Atlassian Statuspage's management API (v1) for one
//! page, an axum server on `127.0.0.1` with a port of its own.
//!
//! What it reproduces, from Statuspage's API reference:
//!
//! - `Authorization: OAuth <api key>`; another key, or none, is 401
//!   `{"error": "Could not authenticate"}`;
//! - `POST /v1/pages/{page_id}/incidents` with `{"incident": {...}}`: 201
//!   and the incident (`id`, `name`, `status`, `impact`, `components`,
//!   `metadata`, `incident_updates`); `PATCH
//!   /v1/pages/{page_id}/incidents/{id}`: 200 and the incident, an update
//!   added when a `body` is given; `GET
//!   /v1/pages/{page_id}/incidents/unresolved`: the incidents not resolved;
//!   404 `{"error": "Not found"}` for another page or incident;
//! - 422 `{"error": [...]}` for a `status` outside `investigating`,
//!   `identified`, `monitoring`, `resolved`; an `impact_override` outside
//!   `none`, `minor`, `major`, `critical`; a component status outside
//!   `operational`, `degraded_performance`, `partial_outage`,
//!   `major_outage`, `under_maintenance`; a new incident without a `name`;
//! - its rate limit: 1 request a second per key over a rolling minute
//!   (60 in 60 s; [`StatuspageFake::limit_per_minute`] lowers it), answered
//!   420 `{"error": "Rate limited"}` (Statuspage documents 420 or 429);
//! - faults on demand: the next N requests answered with a status and
//!   `Retry-After`, or served late (the request is done, the answer comes
//!   late: a client that gave up must find what it did), or every request
//!   refused with a 400 quoting a text until fixed;
//! - a record of every request: when, what, the status answered.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde_json::{Value, json};

const STATUSES: [&str; 4] = ["investigating", "identified", "monitoring", "resolved"];
const IMPACTS: [&str; 4] = ["none", "minor", "major", "critical"];
const COMPONENT_STATUSES: [&str; 5] =
    ["operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"];

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub body: Value,
    pub status: u16,
}

/// A fault to answer with.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    Status { status: u16, retry_after: Option<u64> },
    Late(Duration),
}

#[derive(Debug, Default)]
struct Fake {
    page: String,
    key: String,
    incidents: Vec<Value>,
    faults: VecDeque<Fault>,
    refusing: Option<String>,
    /// Requests per minute before 420.
    per_minute: usize,
    recent: VecDeque<Instant>,
    received: Vec<Received>,
}

/// A running fake.
pub struct StatuspageFake {
    addr: SocketAddr,
    state: Arc<Mutex<Fake>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StatuspageFake {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn error(status: u16, error: &Value) -> (u16, Value) {
    (status, json!({ "error": error }))
}

fn invalid(incident: &Value, creating: bool) -> Vec<String> {
    let mut out = Vec::new();
    if creating && incident["name"].as_str().is_none_or(str::is_empty) {
        out.push("Name can't be blank".to_owned());
    }
    if let Some(s) = incident.get("status").and_then(Value::as_str).filter(|s| !STATUSES.contains(s)) {
        out.push(format!("Status {s} is not included in the list"));
    }
    if let Some(i) = incident.get("impact_override").and_then(Value::as_str).filter(|i| !IMPACTS.contains(i)) {
        out.push(format!("Impact override {i} is not included in the list"));
    }
    for (id, st) in incident["components"].as_object().into_iter().flatten() {
        if !st.as_str().is_some_and(|s| COMPONENT_STATUSES.contains(&s)) {
            out.push(format!("Component {id} status {st} is not valid"));
        }
    }
    out
}

fn apply(incident: &mut Value, patch: &Value) {
    for key in ["name", "status", "impact_override", "components", "metadata"] {
        if let Some(v) = patch.get(key) {
            incident[key] = v.clone();
        }
    }
    if let Some(i) = patch.get("impact_override") {
        incident["impact"] = i.clone();
    }
    if let Some(body) = patch.get("body").and_then(Value::as_str) {
        let status = incident["status"].clone();
        if let Some(updates) = incident["incident_updates"].as_array_mut() {
            updates.push(json!({"body": body, "status": status}));
        }
    }
    if incident["status"] == "resolved" {
        incident["resolved_at"] = json!("2026-12-05T00:00:00Z");
    }
}

/// The answer to one request, with the fake locked.
fn answer(fake: &mut Fake, method: &Method, path: &str, headers: &HeaderMap, body: &Value) -> (u16, Value) {
    if let Some(text) = &fake.refusing {
        return error(400, &json!(text));
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if auth != format!("OAuth {}", fake.key) {
        return error(401, &json!("Could not authenticate"));
    }
    let now = Instant::now();
    while fake.recent.front().is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60)) {
        fake.recent.pop_front();
    }
    if fake.recent.len() >= fake.per_minute {
        return error(420, &json!("Rate limited"));
    }
    fake.recent.push_back(now);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let page = fake.page.clone();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["v1", "pages", p, "incidents", "unresolved"]) if *p == page => {
            let open: Vec<Value> = fake.incidents.iter().filter(|i| i["status"] != "resolved").cloned().collect();
            (200, Value::Array(open))
        }
        ("POST", ["v1", "pages", p, "incidents"]) if *p == page => {
            let incident = &body["incident"];
            let problems = invalid(incident, true);
            if !problems.is_empty() {
                return error(422, &json!(problems));
            }
            let mut created = json!({
                "id": format!("inc{:05}", fake.incidents.len() + 1), "page_id": page, "status": "investigating",
                "impact": "none", "components": {}, "metadata": {}, "incident_updates": [],
            });
            apply(&mut created, incident);
            fake.incidents.push(created.clone());
            (201, created)
        }
        ("PATCH", ["v1", "pages", p, "incidents", id]) if *p == page => {
            let problems = invalid(&body["incident"], false);
            if !problems.is_empty() {
                return error(422, &json!(problems));
            }
            match fake.incidents.iter_mut().find(|i| i["id"] == *id) {
                Some(i) => {
                    apply(i, &body["incident"]);
                    (200, i.clone())
                }
                None => error(404, &json!("Not found")),
            }
        }
        _ => error(404, &json!("Not found")),
    }
}

async fn handle(
    State(state): State<Arc<Mutex<Fake>>>,
    method: Method,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = format!("/v1/{path}");
    let (status, answer, retry_after, late) = {
        let mut fake = state.lock().unwrap();
        let fault = fake.faults.pop_front();
        let (status, answer, retry_after, late) = match fault {
            Some(Fault::Status { status, retry_after }) => (status, json!({"error": "injected"}), retry_after, None),
            Some(Fault::Late(by)) => {
                let (s, a) = answer(&mut fake, &method, &path, &headers, &body);
                (s, a, None, Some(by))
            }
            None => {
                let (s, a) = answer(&mut fake, &method, &path, &headers, &body);
                (s, a, None, None)
            }
        };
        fake.received.push(Received {
            at: Instant::now(),
            method: method.to_string(),
            path: path.clone(),
            body: body.clone(),
            status,
        });
        (status, answer, retry_after, late)
    };
    if let Some(by) = late {
        tokio::time::sleep(by).await;
    }
    let mut r = (StatusCode::from_u16(status).unwrap(), axum::Json(answer)).into_response();
    if let Some(secs) = retry_after {
        r.headers_mut().insert("retry-after", secs.to_string().parse().unwrap());
    }
    r
}

impl StatuspageFake {
    /// A fake of page `page` that takes the API key `key`.
    pub async fn start(page: &str, key: &str) -> Self {
        let fake = Fake { page: page.to_owned(), key: key.to_owned(), per_minute: 60, ..Fake::default() };
        let state = Arc::new(Mutex::new(fake));
        let app =
            Router::new().route("/v1/{*path}", get(handle).post(handle).patch(handle)).with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("the bound address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the Statuspage fake serves");
        });
        Self { addr, state, server }
    }

    /// The API's base URL, for the destination's `url`.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, Fake> {
        self.state.lock().unwrap()
    }

    /// Answers the next `n` requests with `fault`.
    pub fn inject(&self, n: usize, fault: Fault) {
        self.lock().faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Requests a minute before 420.
    pub fn limit_per_minute(&self, n: usize) {
        self.lock().per_minute = n;
    }

    /// Every request refused with a 400 quoting `text`, until [`Self::fix`].
    pub fn refuse_until_fixed(&self, text: &str) {
        self.lock().refusing = Some(text.to_owned());
    }

    pub fn fix(&self) {
        self.lock().refusing = None;
    }

    /// The page's incidents, oldest first.
    pub fn incidents(&self) -> Vec<Value> {
        self.lock().incidents.clone()
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }
}
