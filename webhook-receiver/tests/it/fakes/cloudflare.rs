//! A contract fake of Cloudflare's rulesets API for zones, an axum server
//! on `127.0.0.1` with a port of its own (base URL as `https://api.cloudflare.com/client/v4`).
//!
//! What it reproduces, from Cloudflare's API documentation (rulesets API:
//! "Get a zone entry point ruleset", "Create a zone ruleset", "Create a
//! zone ruleset rule", "Delete a zone ruleset rule"; WAF "Create custom
//! rules via API", rate limiting "Create via API" and its parameters):
//!
//! - the envelope: `{"success": true, "errors": [], "messages": [],
//!   "result": …}`, and `{"success": false, "errors": [{"code": …,
//!   "message": …}], "messages": [], "result": null}` for a failure;
//! - `Authorization: Bearer <token>`: missing, or a token it does not know,
//!   is 403 with error code 10000 "Authentication error";
//! - `GET /zones/{zone}/rulesets/phases/{phase}/entrypoint`: the phase's
//!   entry point ruleset, or 404 (code 10003) when the zone has none;
//! - `POST /zones/{zone}/rulesets` with `kind: zone` and a `phase`: creates
//!   the entry point (400 when the phase has one already);
//! - `POST /zones/{zone}/rulesets/{ruleset_id}/rules`: adds a rule at the
//!   end, answers the whole ruleset with each rule's `id`;
//! - `DELETE /zones/{zone}/rulesets/{ruleset_id}/rules/{rule_id}`: removes
//!   it, 404 when there is no such rule;
//! - validation, 400 with code 20021 and the parser's message: an
//!   expression that does not parse (the Rules language reader of
//!   `edgewatch_test_kit::rules_language`, which refuses the deprecated
//!   `ip.geoip.*` fields); in `http_ratelimit`, a `period` outside 10, 60,
//!   120, 300, 600, 3600, `characteristics` without `cf.colo.id`,
//!   `mitigation_timeout` over 86400, `requests_per_period` under 1; a
//!   duplicate `ref` in a ruleset;
//! - 429 (code 971, "Please wait and consider throttling your request
//!   speed") with `Retry-After` for the next N requests, on demand
//!   ([`CloudflareFake::rate_limit_next`]);
//! - a record of every request.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde_json::{Value, json};

const PERIODS: [u64; 6] = [10, 60, 120, 300, 600, 3600];

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Value,
}

#[derive(Debug, Default)]
struct Fake {
    token: String,
    /// Rulesets by id: zone, phase, rules.
    rulesets: BTreeMap<String, (String, String, Vec<Value>)>,
    next: u64,
    limited: VecDeque<u64>,
    requests: Vec<Request>,
}

impl Fake {
    fn id(&mut self) -> String {
        self.next += 1;
        format!("{:032x}", 0x00c0_ffee_0000_0000_u64 + self.next)
    }
}

/// A running fake.
pub struct CloudflareFake {
    addr: SocketAddr,
    state: Arc<Mutex<Fake>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for CloudflareFake {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn ok(result: &Value) -> Response {
    (StatusCode::OK, axum::Json(json!({"success": true, "errors": [], "messages": [], "result": *result})))
        .into_response()
}

fn fail(status: StatusCode, code: u32, message: &str) -> Response {
    let body =
        json!({"success": false, "errors": [{"code": code, "message": message}], "messages": [], "result": null});
    (status, axum::Json(body)).into_response()
}

fn ruleset_json(id: &str, zone: &str, phase: &str, rules: &[Value]) -> Value {
    json!({"id": id, "name": "default", "kind": "zone", "phase": phase, "version": rules.len().to_string(),
           "zone_id": zone, "rules": rules})
}

/// Why a rule of `phase` is refused, as Cloudflare would say.
fn invalid(phase: &str, rule: &Value) -> Option<String> {
    let Some(expression) = rule["expression"].as_str() else { return Some("rule is missing an expression".into()) };
    if let Err(e) = edgewatch_test_kit::rules_language::check(expression) {
        return Some(format!("filter parsing error: {e}"));
    }
    if rule["action"].as_str().is_none() {
        return Some("rule is missing an action".into());
    }
    if phase == "http_ratelimit" {
        let rl = &rule["ratelimit"];
        if !rl["period"].as_u64().is_some_and(|p| PERIODS.contains(&p)) {
            return Some(format!("ratelimit.period: {} is not one of 10, 60, 120, 300, 600, 3600", rl["period"]));
        }
        let chars = rl["characteristics"].as_array().cloned().unwrap_or_default();
        if !chars.iter().any(|c| c == "cf.colo.id") {
            return Some("ratelimit.characteristics: must include cf.colo.id".into());
        }
        if rl["mitigation_timeout"].as_u64().is_none_or(|t| t > 86_400) {
            return Some("ratelimit.mitigation_timeout: must be from 0 to 86400".into());
        }
        if rl["requests_per_period"].as_u64().is_none_or(|n| n < 1) {
            return Some("ratelimit.requests_per_period: must be at least 1".into());
        }
    }
    None
}

fn handle(state: &Mutex<Fake>, method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let mut fake = state.lock().unwrap();
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    fake.requests.push(Request { method: method.to_string(), path: path.to_owned(), body: body.clone() });
    if let Some(wait) = fake.limited.pop_front() {
        let mut r = fail(StatusCode::TOO_MANY_REQUESTS, 971, "Please wait and consider throttling your request speed");
        r.headers_mut().insert("retry-after", wait.to_string().parse().unwrap());
        return r;
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if auth != format!("Bearer {}", fake.token) {
        return fail(StatusCode::FORBIDDEN, 10000, "Authentication error");
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["zones", zone, "rulesets", "phases", phase, "entrypoint"]) => {
            match fake.rulesets.iter().find(|(_, (z, p, _))| z == zone && p == phase) {
                Some((id, (z, p, rules))) => ok(&ruleset_json(id, z, p, rules)),
                None => fail(
                    StatusCode::NOT_FOUND,
                    10003,
                    &format!("could not find entrypoint ruleset in the {phase} phase"),
                ),
            }
        }
        ("POST", ["zones", zone, "rulesets"]) => {
            let phase = body["phase"].as_str().unwrap_or_default().to_owned();
            if body["kind"] != "zone" || !matches!(phase.as_str(), "http_request_firewall_custom" | "http_ratelimit") {
                return fail(StatusCode::BAD_REQUEST, 20003, "invalid kind or phase");
            }
            if fake.rulesets.values().any(|(z, p, _)| z == zone && *p == phase) {
                return fail(StatusCode::BAD_REQUEST, 20217, "a ruleset of this phase already exists");
            }
            let mut rules = Vec::new();
            for rule in body["rules"].as_array().cloned().unwrap_or_default() {
                if let Some(why) = invalid(&phase, &rule) {
                    return fail(StatusCode::BAD_REQUEST, 20021, &why);
                }
                let mut rule = rule;
                let rid = fake.id();
                rule["id"] = json!(rid);
                if rule.get("ref").is_none() {
                    rule["ref"] = json!(rid);
                }
                rules.push(rule);
            }
            let id = fake.id();
            let answer = ruleset_json(&id, zone, &phase, &rules);
            fake.rulesets.insert(id, ((*zone).to_owned(), phase, rules));
            ok(&answer)
        }
        ("POST", ["zones", zone, "rulesets", id, "rules"]) => {
            let Some((z, phase, rules)) = fake.rulesets.get(*id).cloned() else {
                return fail(StatusCode::NOT_FOUND, 10003, "could not find ruleset");
            };
            if z != *zone {
                return fail(StatusCode::NOT_FOUND, 10003, "could not find ruleset");
            }
            if let Some(why) = invalid(&phase, &body) {
                return fail(StatusCode::BAD_REQUEST, 20021, &why);
            }
            if body.get("ref").is_some() && rules.iter().any(|r| r["ref"] == body["ref"]) {
                return fail(StatusCode::BAD_REQUEST, 20022, "a rule with this ref already exists in the ruleset");
            }
            let mut rule = body;
            let rid = fake.id();
            rule["id"] = json!(rid);
            if rule.get("ref").is_none() {
                rule["ref"] = json!(rid);
            }
            let entry = fake.rulesets.get_mut(*id).unwrap();
            entry.2.push(rule);
            ok(&ruleset_json(id, &z, &phase, &entry.2.clone()))
        }
        ("DELETE", ["zones", zone, "rulesets", id, "rules", rule_id]) => {
            let Some(entry) = fake.rulesets.get_mut(*id).filter(|(z, _, _)| z == zone) else {
                return fail(StatusCode::NOT_FOUND, 10003, "could not find ruleset");
            };
            let before = entry.2.len();
            entry.2.retain(|r| r["id"] != *rule_id);
            if entry.2.len() == before {
                return fail(StatusCode::NOT_FOUND, 10004, "could not find rule");
            }
            let (z, p, rules) = entry.clone();
            ok(&ruleset_json(id, &z, &p, &rules))
        }
        _ => fail(StatusCode::NOT_FOUND, 7003, "Could not route to the requested path"),
    }
}

impl CloudflareFake {
    /// A fake that takes `token` as its only API token.
    pub async fn start(token: &str) -> Self {
        let state = Arc::new(Mutex::new(Fake { token: token.to_owned(), ..Fake::default() }));
        let route = |m: &str| {
            let m = m.to_owned();
            move |s: State<Arc<Mutex<Fake>>>, Path(p): Path<String>, h: HeaderMap, b: Bytes| {
                let method: Method = m.parse().unwrap();
                async move { handle(&s.0, &method, &format!("/{p}"), &h, &b) }
            }
        };
        let app = Router::new()
            .route("/client/v4/{*path}", get(route("GET")).post(route("POST")).delete(route("DELETE")))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("the bound address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the Cloudflare fake serves");
        });
        Self { addr, state, server }
    }

    /// The API's base URL.
    pub fn url(&self) -> String {
        format!("http://{}/client/v4", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, Fake> {
        self.state.lock().unwrap()
    }

    /// Answers the next `n` requests 429 with `Retry-After: seconds`.
    pub fn rate_limit_next(&self, n: usize, seconds: u64) {
        self.lock().limited.extend(std::iter::repeat_n(seconds, n));
    }

    /// The rules of the zone's entry point of `phase`.
    pub fn rules(&self, zone: &str, phase: &str) -> Vec<Value> {
        self.lock().rulesets.values().find(|(z, p, _)| z == zone && p == phase).map(|r| r.2.clone()).unwrap_or_default()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }
}
