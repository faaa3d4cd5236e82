//! A contract fake of Jira Cloud and Jira Data Center, in process, for
//! tests: an axum server on `127.0.0.1:0` that keeps issues, comments and
//! a small workflow in memory, records every request, and answers as the
//! real APIs do where edgewatch depends on it (receiver reference §6, §9):
//!
//! - Cloud serves REST v3 (rich text must be an ADF document) and v2
//!   (wiki strings); `/rest/api/{2,3,latest}/search` answer 410 Gone with
//!   the CHANGE-2046 message; `POST /rest/api/3/search/jql` pages with
//!   `nextPageToken`/`isLast`, returns only `id` unless `fields` are asked,
//!   refuses unbounded JQL, and lags: an issue is invisible to search for
//!   [`Builder::search_lag`] after its creation unless its id is in
//!   `reconcileIssues`. Auth is Basic e-mail and API token; a bearer token
//!   or wrong credentials get 401.
//! - Data Center serves REST v2 only (v3 is 404), takes a bearer personal
//!   access token (Basic only if [`Builder::basic`] allows it), searches
//!   with `POST /rest/api/2/search` (`startAt`, `total`; unknown body keys
//!   such as `reconcileIssues` are a 400), and rate-limits with the
//!   token-bucket headers.
//! - Both: 201 `{id,key,self}` on create, 201 on comment, 204 on
//!   transition and on an edit (`PUT /rest/api/{2,3}/issue/{key}` with
//!   `fields`; 404 for an unknown issue), Jira's 400 body (`{"errorMessages":[…],"errors":{field:
//!   message}}`) for a missing or too long or multi-line summary, a too
//!   long description, a label with a space or over 255 characters, a
//!   field not on the screen, an unknown project, issue type, priority or
//!   component (on create and on edit), and an invalid transition; a workflow To Do (new) → In
//!   Progress (indeterminate) → Done (done) with transitions "Start
//!   Progress", "Done" and "Reopen", extensible.
//! - Faults on demand: N answers of 429 (with `Retry-After` and the
//!   flavour's `X-RateLimit-*` headers), N of 503 with `Retry-After`, N
//!   served late, or 400 on every request until fixed.
//!
//! Each issue keeps its priority history (at creation, then each edit).
//!
//! Not reproduced: edits through `update` operations, `notifyUsers`, edit
//! screens distinct from the create screen, `GET` searches, pagination limits
//! beyond `maxResults`, per-issue write limits, permissions, screens on
//! transitions, JQL beyond `field = value AND …` on `project`, `labels`,
//! `key` and `status`, `ORDER BY created`.

// Each test binary uses a part of the fake; a failure here fails the test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::missing_panics_doc)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};

/// Which Jira.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// Atlassian's hosted Jira.
    Cloud,
    /// Self-hosted Jira Data Center.
    DataCenter,
}

/// The message Cloud sends for the search endpoints CHANGE-2046 removed.
pub(crate) const GONE: &str = "The requested API has been removed. \
    Please migrate to the /rest/api/3/search/jql API. \
    A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046";

/// A failure the fake answers with instead of doing the work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// 429 with `Retry-After: <seconds>` and rate-limit headers.
    RateLimited {
        /// Seconds.
        retry_after: u64,
    },
    /// 503 with `Retry-After: <seconds>`.
    Unavailable {
        /// Seconds.
        retry_after: u64,
    },
}

/// A status of the workflow.
#[derive(Debug, Clone)]
struct StatusDef {
    id: String,
    name: String,
    category: &'static str,
}

/// A transition of the workflow: from any of `from` (all if empty) to `to`.
#[derive(Debug, Clone)]
struct TransitionDef {
    id: String,
    name: String,
    from: Vec<String>,
    to: String,
}

/// Sets up a fake.
#[derive(Debug, Clone)]
pub(crate) struct Builder {
    flavor: Flavor,
    basic: Option<(String, String)>,
    bearer: Option<String>,
    search_lag: Duration,
    projects: Vec<String>,
    issue_types: Vec<String>,
    priorities: Vec<String>,
    components: Vec<String>,
    hidden_fields: Vec<String>,
    statuses: Vec<StatusDef>,
    transitions: Vec<TransitionDef>,
}

impl Builder {
    fn new(flavor: Flavor) -> Self {
        let status = |id: &str, name: &str, category| StatusDef { id: id.into(), name: name.into(), category };
        let transition = |id: &str, name: &str, from: &[&str], to: &str| TransitionDef {
            id: id.into(),
            name: name.into(),
            from: from.iter().map(|s| (*s).to_owned()).collect(),
            to: to.into(),
        };
        Self {
            flavor,
            basic: None,
            bearer: None,
            search_lag: Duration::ZERO,
            projects: vec!["NOC".into()],
            issue_types: ["Incident", "Task", "Bug"].map(Into::into).to_vec(),
            priorities: ["Highest", "High", "Medium", "Low", "Lowest"].map(Into::into).to_vec(),
            components: ["Edge", "L7"].map(Into::into).to_vec(),
            hidden_fields: Vec::new(),
            statuses: vec![
                status("10000", "To Do", "new"),
                status("3", "In Progress", "indeterminate"),
                status("10001", "Done", "done"),
            ],
            transitions: vec![
                transition("11", "Start Progress", &["To Do"], "In Progress"),
                transition("21", "Done", &["To Do", "In Progress"], "Done"),
                transition("31", "Reopen", &["Done"], "To Do"),
            ],
        }
    }

    /// Accepts `Authorization: Basic base64(user:token)` (Cloud: e-mail and
    /// API token; Data Center: user and password).
    #[must_use]
    pub(crate) fn basic(mut self, user: &str, token: &str) -> Self {
        self.basic = Some((user.into(), token.into()));
        self
    }

    /// Accepts `Authorization: Bearer <pat>` (Data Center only; Cloud
    /// refuses bearer tokens whatever this says).
    #[must_use]
    pub(crate) fn bearer(mut self, pat: &str) -> Self {
        self.bearer = Some(pat.into());
        self
    }

    /// How long a new issue stays invisible to search (unless its id is in
    /// `reconcileIssues`, on Cloud).
    #[must_use]
    pub(crate) fn search_lag(mut self, lag: Duration) -> Self {
        self.search_lag = lag;
        self
    }

    /// Adds a project (`NOC` exists already).
    #[must_use]
    pub(crate) fn project(mut self, key: &str) -> Self {
        self.projects.push(key.into());
        self
    }

    /// Takes `field` off the create screen: setting it is a 400.
    #[must_use]
    pub(crate) fn hide_field(mut self, field: &str) -> Self {
        self.hidden_fields.push(field.into());
        self
    }

    /// Adds a status in `category` (`new`, `indeterminate` or `done`).
    #[must_use]
    pub(crate) fn status(mut self, name: &str, category: &'static str) -> Self {
        let id = format!("2{:04}", self.statuses.len());
        self.statuses.push(StatusDef { id, name: name.into(), category });
        self
    }

    /// Adds a transition `name` from the statuses `from` (any if empty) to
    /// `to`, offered after the existing ones.
    #[must_use]
    pub(crate) fn transition(mut self, id: &str, name: &str, from: &[&str], to: &str) -> Self {
        let from = from.iter().map(|s| (*s).to_owned()).collect();
        self.transitions.push(TransitionDef { id: id.into(), name: name.into(), from, to: to.into() });
        self
    }

    /// Starts serving.
    pub(crate) async fn start(self) -> FakeJira {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            config: self,
            url: url.clone(),
            issues: Vec::new(),
            next_id: 10000,
            next_number: BTreeMap::new(),
            faults: VecDeque::new(),
            delays: VecDeque::new(),
            broken: None,
            requests: Vec::new(),
        }));
        let app = Router::new().fallback(handle).with_state(Arc::clone(&state));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeJira { url, state, server }
    }
}

/// An issue as the fake keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Issue {
    /// Numeric id, as a string in the API.
    pub(crate) id: u64,
    /// `NOC-1`.
    pub(crate) key: String,
    /// The project key.
    pub(crate) project: String,
    /// The fields as created (rich text as sent: ADF or a wiki string).
    pub(crate) fields: Value,
    /// The status name.
    pub(crate) status: String,
    /// The labels.
    pub(crate) labels: Vec<String>,
    /// Comment bodies, oldest first (ADF or a wiki string).
    pub(crate) comments: Vec<Value>,
    /// Names of the transitions applied, oldest first.
    pub(crate) history: Vec<String>,
    /// Priority names the issue had, oldest first: at creation (if set),
    /// then each edit that set one.
    pub(crate) priorities: Vec<String>,
    created: Instant,
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// `GET`, `POST`…
    pub(crate) method: String,
    /// The path, without the query.
    pub(crate) path: String,
    /// The query string, if any.
    pub(crate) query: Option<String>,
    /// `basic <user>`, `bearer`, `none` or `other`: the style, never the
    /// credential.
    pub(crate) auth: String,
    /// The JSON body (`Null` when empty or not JSON).
    pub(crate) body: Value,
    /// What the fake answered; 0 while it has not (a late answer).
    pub(crate) status: u16,
    /// When it arrived.
    pub(crate) at: Instant,
}

/// What an issue seeded with [`FakeJira::seed`] looks like.
#[derive(Debug, Clone)]
pub(crate) struct Seed<'a> {
    /// Project key.
    pub(crate) project: &'a str,
    /// Summary.
    pub(crate) summary: &'a str,
    /// Labels.
    pub(crate) labels: &'a [&'a str],
    /// Status name.
    pub(crate) status: &'a str,
    /// How long ago it was created (older than the search lag: searchable).
    pub(crate) age: Duration,
}

struct State {
    config: Builder,
    url: String,
    issues: Vec<Issue>,
    next_id: u64,
    next_number: BTreeMap<String, u64>,
    faults: VecDeque<Fault>,
    delays: VecDeque<Duration>,
    broken: Option<String>,
    requests: Vec<Request>,
}

/// A running fake; stops when dropped.
#[derive(Debug)]
pub(crate) struct FakeJira {
    url: String,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("issues", &self.issues.len()).finish_non_exhaustive()
    }
}

impl Drop for FakeJira {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeJira {
    /// A Jira Cloud site.
    pub(crate) fn cloud() -> Builder {
        Builder::new(Flavor::Cloud)
    }

    /// A Jira Data Center site.
    pub(crate) fn data_center() -> Builder {
        Builder::new(Flavor::DataCenter)
    }

    /// The site's base URL, `http://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Every issue, in creation order.
    pub(crate) fn issues(&self) -> Vec<Issue> {
        self.state().issues.clone()
    }

    /// One issue by key.
    pub(crate) fn issue(&self, key: &str) -> Issue {
        self.state().issues.iter().find(|i| i.key == key).cloned().unwrap_or_else(|| panic!("no issue {key}"))
    }

    /// Every request, in order.
    pub(crate) fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// `METHOD path` of every request, in order, for compact assertions.
    pub(crate) fn calls(&self) -> Vec<String> {
        self.state().requests.iter().map(|r| format!("{} {}", r.method, r.path)).collect()
    }

    /// Answers the next `n` requests with `fault`.
    pub(crate) fn fail_next(&self, n: usize, fault: Fault) {
        self.state().faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Serves the next `n` requests `by` late (a slow site: the client may
    /// give up before the answer, which is served all the same).
    pub(crate) fn delay_next(&self, n: usize, by: Duration) {
        self.state().delays.extend(std::iter::repeat_n(by, n));
    }

    /// Answers every request with a 400 carrying `message` until
    /// [`FakeJira::fix`].
    pub(crate) fn break_until_fixed(&self, message: &str) {
        self.state().broken = Some(message.into());
    }

    /// Ends [`FakeJira::break_until_fixed`].
    pub(crate) fn fix(&self) {
        self.state().broken = None;
    }

    /// Adds an issue as if someone created it `seed.age` ago; its key.
    pub(crate) fn seed(&self, seed: &Seed<'_>) -> String {
        let mut st = self.state();
        let created = Instant::now().checked_sub(seed.age).expect("the age fits in the monotonic clock");
        let fields = json!({"summary": seed.summary, "labels": seed.labels});
        let labels = seed.labels.iter().map(|l| (*l).to_owned()).collect();
        st.insert(seed.project, fields, labels, seed.status, created).key.clone()
    }

    /// Moves an issue to `status` as a person would.
    pub(crate) fn set_status(&self, key: &str, status: &str) {
        let mut st = self.state();
        let issue = st.issues.iter_mut().find(|i| i.key == key).unwrap_or_else(|| panic!("no issue {key}"));
        issue.status = status.into();
    }
}

impl State {
    fn insert(&mut self, project: &str, fields: Value, labels: Vec<String>, status: &str, created: Instant) -> &Issue {
        let id = self.next_id;
        self.next_id += 1;
        let number = self.next_number.entry(project.to_owned()).or_insert(0);
        *number += 1;
        let key = format!("{project}-{number}");
        self.issues.push(Issue {
            id,
            key,
            project: project.into(),
            fields,
            status: status.into(),
            labels,
            comments: Vec::new(),
            history: Vec::new(),
            priorities: Vec::new(),
            created,
        });
        self.issues.last().unwrap()
    }

    fn status(&self, name: &str) -> &StatusDef {
        self.config.statuses.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no status {name}"))
    }

    fn status_json(&self, name: &str) -> Value {
        let s = self.status(name);
        let (category_id, category_name) = match s.category {
            "new" => (2, "To Do"),
            "indeterminate" => (4, "In Progress"),
            _ => (3, "Done"),
        };
        json!({
            "self": format!("{}/rest/api/2/status/{}", self.url, s.id),
            "id": s.id,
            "name": s.name,
            "statusCategory": {"id": category_id, "key": s.category, "name": category_name},
        })
    }

    fn find(&self, key_or_id: &str) -> Option<usize> {
        self.issues.iter().position(|i| i.key == key_or_id || i.id.to_string() == key_or_id)
    }

    /// The issue as the API shows it, with `wanted` fields (all if `None`).
    fn issue_json(&self, issue: &Issue, version: &str, wanted: Option<&[String]>) -> Value {
        let mut all = Map::new();
        if let Value::Object(f) = &issue.fields {
            all.extend(f.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        all.insert("labels".into(), json!(issue.labels));
        all.insert("status".into(), self.status_json(&issue.status));
        all.insert("comment".into(), json!({"comments": issue.comments, "total": issue.comments.len()}));
        let fields: Map<String, Value> = match wanted {
            None => all,
            Some(w) if w.iter().any(|f| f == "*all" || f == "*navigable") => all,
            Some(w) => all.into_iter().filter(|(k, _)| w.contains(k)).collect(),
        };
        json!({
            "id": issue.id.to_string(),
            "key": issue.key,
            "self": format!("{}/rest/api/{version}/issue/{}", self.url, issue.id),
            "fields": fields,
        })
    }

    fn visible(&self, issue: &Issue, reconcile: &[u64]) -> bool {
        issue.created.elapsed() >= self.config.search_lag || reconcile.contains(&issue.id)
    }
}

/// A JSON answer.
fn answer(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json;charset=UTF-8")], body.to_string()).into_response()
}

/// Jira's error body.
fn jira_error(status: StatusCode, messages: &[&str], errors: &Map<String, Value>) -> Response {
    answer(status, &json!({"errorMessages": messages, "errors": errors}))
}

fn bad_request(message: &str) -> Response {
    jira_error(StatusCode::BAD_REQUEST, &[message], &Map::new())
}

fn field_errors(errors: &Map<String, Value>) -> Response {
    jira_error(StatusCode::BAD_REQUEST, &[], errors)
}

fn not_found(message: &str) -> Response {
    jira_error(StatusCode::NOT_FOUND, &[message], &Map::new())
}

fn no_issue() -> Response {
    not_found("Issue does not exist or you do not have permission to see it.")
}

async fn handle(
    AxumState(state): AxumState<Arc<Mutex<State>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json_body: Option<Value> = if body.is_empty() { Some(Value::Null) } else { serde_json::from_slice(&body).ok() };
    // Recorded on arrival, answered (status 0 until then) when served: a
    // client that gives up on a late answer leaves it unanswered.
    let (index, authorized, delay) = {
        let mut st = state.lock().unwrap();
        let (auth_style, authorized) = authenticate(&st, &headers);
        st.requests.push(Request {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            auth: auth_style,
            body: json_body.clone().unwrap_or(Value::Null),
            status: 0,
            at: Instant::now(),
        });
        (st.requests.len() - 1, authorized, st.delays.pop_front())
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut st = state.lock().unwrap();
    let response =
        if authorized { respond(&mut st, &method, &uri, json_body.as_ref()) } else { unauthorized(st.config.flavor) };
    st.requests[index].status = response.status().as_u16();
    response
}

/// The style of the `Authorization` header, and whether it is accepted.
fn authenticate(st: &State, headers: &HeaderMap) -> (String, bool) {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return ("none".into(), false);
    };
    if let Some(encoded) = value.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        let (user, token) = decoded.split_once(':').unwrap_or((&decoded, ""));
        let ok = st.config.basic.as_ref().is_some_and(|(u, t)| u == user && t == token);
        return (format!("basic {user}"), ok);
    }
    if let Some(token) = value.strip_prefix("Bearer ") {
        // Cloud takes no personal access tokens (jiralert#177).
        let ok = st.config.flavor == Flavor::DataCenter && st.config.bearer.as_deref() == Some(token.trim());
        return ("bearer".into(), ok);
    }
    ("other".into(), false)
}

fn unauthorized(flavor: Flavor) -> Response {
    match flavor {
        Flavor::Cloud => (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain;charset=UTF-8")],
            "Client must be authenticated to access this resource.",
        )
            .into_response(),
        Flavor::DataCenter => jira_error(
            StatusCode::UNAUTHORIZED,
            &["You are not authenticated. Authentication required to perform this operation."],
            &Map::new(),
        ),
    }
}

/// ISO 8601 in UTC, as Cloud writes `X-RateLimit-Reset`.
fn iso8601(t: SystemTime) -> String {
    let ms = i64::try_from(t.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap();
    // Whole seconds, as Cloud writes it: `2026-11-21T08:00:00Z`.
    format!("{}Z", &edgewatch_webhook_receiver::testing::rfc3339(ms)[..19])
}

fn fault(flavor: Flavor, f: &Fault) -> Response {
    let mut response = match f {
        Fault::RateLimited { .. } => {
            jira_error(StatusCode::TOO_MANY_REQUESTS, &["Rate limit exceeded."], &Map::new()).into_response()
        }
        Fault::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response(),
    };
    let h = response.headers_mut();
    let set = |h: &mut HeaderMap, name: &'static str, value: String| {
        h.insert(name, HeaderValue::from_str(&value).unwrap());
    };
    match *f {
        Fault::RateLimited { retry_after } => {
            set(h, "retry-after", retry_after.to_string());
            set(h, "x-ratelimit-remaining", "0".into());
            match flavor {
                Flavor::Cloud => {
                    set(h, "x-ratelimit-limit", "100".into());
                    set(h, "x-ratelimit-reset", iso8601(SystemTime::now() + Duration::from_secs(retry_after)));
                    set(h, "x-ratelimit-nearlimit", "true".into());
                    set(h, "ratelimit-reason", "jira-burst-based".into());
                }
                Flavor::DataCenter => {
                    set(h, "x-ratelimit-limit", "20".into());
                    set(h, "x-ratelimit-interval-seconds", "1".into());
                    set(h, "x-ratelimit-fillrate", "10".into());
                }
            }
        }
        Fault::Unavailable { retry_after } => set(h, "retry-after", retry_after.to_string()),
    }
    response
}

/// Everything after authentication.
fn respond(st: &mut State, method: &Method, uri: &Uri, body: Option<&Value>) -> Response {
    if let Some(f) = st.faults.pop_front() {
        return fault(st.config.flavor, &f);
    }
    if let Some(message) = &st.broken {
        return bad_request(message);
    }
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let ["rest", "api", version, rest @ ..] = segments.as_slice() else {
        return not_found("null for uri");
    };
    let version = *version;
    let known = match st.config.flavor {
        Flavor::Cloud => matches!(version, "2" | "3" | "latest"),
        Flavor::DataCenter => matches!(version, "2" | "latest"),
    };
    if !known {
        return not_found(&format!("null for uri: {}", uri.path()));
    }
    let Some(body) = body else {
        return bad_request("Unexpected character: the body is not JSON.");
    };
    let cloud = st.config.flavor == Flavor::Cloud;
    let query: BTreeMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    match (method.as_str(), rest) {
        (_, ["search"]) if cloud => jira_error(StatusCode::GONE, &[GONE], &Map::new()),
        ("POST", ["search"]) => search_dc(st, version, body),
        ("POST", ["search", "jql"]) if cloud && version == "3" => search_jql(st, version, body),
        ("POST", ["issue"]) => create(st, version, body),
        ("GET", ["issue", key]) => {
            let Some(i) = st.find(key) else { return no_issue() };
            let wanted: Option<Vec<String>> = query.get("fields").map(|f| f.split(',').map(str::to_owned).collect());
            answer(StatusCode::OK, &st.issue_json(&st.issues[i], version, wanted.as_deref()))
        }
        ("PUT", ["issue", key]) => edit(st, version, key, body),
        ("POST", ["issue", key, "comment"]) => comment(st, version, key, body),
        ("GET", ["issue", key, "transitions"]) => {
            let Some(i) = st.find(key) else { return no_issue() };
            let list: Vec<Value> = available(st, &st.issues[i].status)
                .map(|t| {
                    json!({"id": t.id, "name": t.name, "hasScreen": false, "isGlobal": t.from.is_empty(),
                           "isInitial": false, "isAvailable": true, "isConditional": false,
                           "to": st.status_json(&t.to)})
                })
                .collect();
            answer(StatusCode::OK, &json!({"expand": "transitions", "transitions": list}))
        }
        ("POST", ["issue", key, "transitions"]) => transition(st, key, body),
        (_, ["search" | "issue", ..]) => StatusCode::METHOD_NOT_ALLOWED.into_response(),
        _ => not_found(&format!("null for uri: {}", uri.path())),
    }
}

fn available<'a>(st: &'a State, status: &'a str) -> impl Iterator<Item = &'a TransitionDef> {
    st.config.transitions.iter().filter(move |t| t.from.is_empty() || t.from.iter().any(|f| f == status))
}

/// A rich-text value for the API `version`: an ADF document on v3, a
/// string on v2; `Err` is Jira's message.
fn rich_text_problem(version: &str, value: &Value) -> Option<String> {
    if version == "3" {
        if !value.is_object() {
            return Some("Operation value must be an Atlassian Document (see the Atlassian Document Format)".into());
        }
        if let Err(e) = adf::check_doc(value) {
            return Some(format!("INVALID_INPUT: {e}"));
        }
        if adf::text_len(value) > 32_767 {
            return Some("The entered text is too long. It exceeds the allowed limit of 32,767 characters.".into());
        }
    } else {
        let Some(s) = value.as_str() else {
            return Some("Operation value must be a string".into());
        };
        if utf16(s) > 32_767 {
            return Some("The entered text is too long. It exceeds the allowed limit of 32,767 characters.".into());
        }
    }
    None
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

fn name_of(v: &Value) -> Option<&str> {
    v.get("name").or_else(|| v.get("key")).and_then(Value::as_str)
}

/// The system fields the fake's create screen has.
const KNOWN: [&str; 7] = ["project", "issuetype", "summary", "description", "priority", "components", "labels"];

fn create(st: &mut State, version: &str, body: &Value) -> Response {
    let Some(fields) = body.get("fields").and_then(Value::as_object) else {
        return bad_request("No fields given.");
    };
    let mut errors = Map::new();
    let mut error = |field: &str, message: String| {
        errors.insert(field.to_owned(), Value::String(message));
    };
    let project = fields.get("project").and_then(name_of).unwrap_or_default().to_owned();
    if !st.config.projects.contains(&project) {
        error("project", "Specify a valid project ID or key".into());
    }
    match fields.get("issuetype").and_then(name_of) {
        Some(t) if st.config.issue_types.iter().any(|k| k == t) => {}
        Some(_) => error("issuetype", "The issue type selected is invalid.".into()),
        None => error("issuetype", "Specify an issue type".into()),
    }
    match fields.get("summary").and_then(Value::as_str) {
        None | Some("") => error("summary", "You must specify a summary of the issue.".into()),
        Some(s) if s.contains(['\n', '\r']) => {
            error("summary", "The summary is invalid because it contains newline characters.".into());
        }
        Some(s) if utf16(s) > 255 => error("summary", "Summary must be less than 255 characters.".into()),
        Some(_) => {}
    }
    if let Some(d) = fields.get("description")
        && let Some(problem) = rich_text_problem(version, d)
    {
        error("description", problem);
    }
    if let Some(problem) = fields.get("priority").and_then(|p| priority_problem(st, p)) {
        error("priority", problem);
    }
    for c in fields.get("components").and_then(Value::as_array).into_iter().flatten() {
        let n = name_of(c).unwrap_or_default();
        if !st.config.components.iter().any(|k| k == n) {
            error("components", format!("Component name '{n}' is not valid"));
        }
    }
    let mut labels = Vec::new();
    for l in fields.get("labels").and_then(Value::as_array).into_iter().flatten() {
        let l = l.as_str().unwrap_or_default();
        if l.is_empty() || l.chars().any(char::is_whitespace) {
            error("labels", format!("The label '{l}' contains spaces which is invalid."));
        } else if utf16(l) > 255 {
            error(
                "labels",
                format!("The label '{l}' exceeds the maximum length for a single label of 255 characters."),
            );
        } else if !labels.iter().any(|x| x == l) {
            labels.push(l.to_owned());
        }
    }
    for name in fields.keys() {
        let custom =
            name.strip_prefix("customfield_").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if (!custom && !KNOWN.contains(&name.as_str())) || st.config.hidden_fields.contains(name) {
            error(name, format!("Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."));
        }
    }
    if !errors.is_empty() {
        return field_errors(&errors);
    }
    let initial = st.config.statuses.iter().find(|s| s.category == "new").map(|s| s.name.clone()).unwrap();
    let url = st.url.clone();
    let priority = fields.get("priority").and_then(name_of).map(str::to_owned);
    st.insert(&project, Value::Object(fields.clone()), labels, &initial, Instant::now());
    let issue = st.issues.last_mut().unwrap();
    issue.priorities.extend(priority);
    let self_url = format!("{url}/rest/api/{version}/issue/{}", issue.id);
    let created = json!({"id": issue.id.to_string(), "key": issue.key, "self": self_url});
    answer(StatusCode::CREATED, &created)
}

/// Jira's message for a priority it does not have; `None` when it has it.
fn priority_problem(st: &State, priority: &Value) -> Option<String> {
    match name_of(priority) {
        Some(n) if st.config.priorities.iter().any(|k| k == n) => None,
        n => Some(format!("Priority name '{}' is not valid", n.unwrap_or_default())),
    }
}

/// `PUT /issue/{key}`: sets `fields` (rich text checked as on create), 204.
fn edit(st: &mut State, version: &str, key: &str, body: &Value) -> Response {
    let Some(i) = st.find(key) else { return no_issue() };
    let Some(fields) = body.get("fields").and_then(Value::as_object) else {
        return bad_request("No fields given.");
    };
    let mut errors = Map::new();
    for (name, value) in fields {
        let custom =
            name.strip_prefix("customfield_").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let problem = if (!custom && !KNOWN.contains(&name.as_str())) || st.config.hidden_fields.contains(name) {
            Some(format!("Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."))
        } else {
            match name.as_str() {
                "priority" => priority_problem(st, value),
                "description" => rich_text_problem(version, value),
                "project" | "issuetype" => Some(format!("Field '{name}' cannot be changed by an edit.")),
                _ => None,
            }
        };
        if let Some(problem) = problem {
            errors.insert(name.clone(), Value::String(problem));
        }
    }
    if !errors.is_empty() {
        return field_errors(&errors);
    }
    let issue = &mut st.issues[i];
    for (name, value) in fields {
        if name == "labels" {
            issue.labels =
                value.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
        } else if let Value::Object(stored) = &mut issue.fields {
            stored.insert(name.clone(), value.clone());
        }
        if name == "priority" {
            issue.priorities.extend(name_of(value).map(str::to_owned));
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

fn comment(st: &mut State, version: &str, key: &str, body: &Value) -> Response {
    let Some(i) = st.find(key) else { return no_issue() };
    let text = body.get("body").unwrap_or(&Value::Null);
    let empty = text.is_null() || text.as_str().is_some_and(|s| s.trim().is_empty());
    let problem =
        if empty { Some("Comment body can not be empty!".to_owned()) } else { rich_text_problem(version, text) };
    if let Some(problem) = problem {
        let mut errors = Map::new();
        errors.insert("comment".into(), Value::String(problem));
        return field_errors(&errors);
    }
    let issue = &mut st.issues[i];
    issue.comments.push(text.clone());
    let id = 20000 + issue.comments.len();
    let self_url = format!("{}/rest/api/{version}/issue/{}/comment/{id}", st.url, st.issues[i].id);
    let answer_body = json!({"id": id.to_string(), "body": text, "self": self_url});
    answer(StatusCode::CREATED, &answer_body)
}

fn transition(st: &mut State, key: &str, body: &Value) -> Response {
    let Some(i) = st.find(key) else { return no_issue() };
    let Some(id) = body
        .pointer("/transition/id")
        .and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_u64().map(|n| n.to_string())))
    else {
        return bad_request("Missing 'transition' identifier");
    };
    let Some(t) = available(st, &st.issues[i].status).find(|t| t.id == id).cloned() else {
        return bad_request(&format!("Transition id '{id}' is not valid for this issue."));
    };
    let issue = &mut st.issues[i];
    issue.status = t.to;
    issue.history.push(t.name);
    StatusCode::NO_CONTENT.into_response()
}

/// Rejects body keys Jira's JSON binding does not know.
fn unknown_key(body: &Value, allowed: &[&str]) -> Option<Response> {
    let keys = body.as_object()?.keys();
    keys.into_iter()
        .find(|k| !allowed.contains(&k.as_str()))
        .map(|k| bad_request(&format!("Unrecognized field \"{k}\", not marked as ignorable")))
}

/// A count from the body.
fn number(body: &Value, key: &str, default: usize) -> usize {
    body.get(key).and_then(Value::as_u64).map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX))
}

fn wanted_fields(body: &Value) -> Option<Vec<String>> {
    body.get("fields")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
}

/// Matching issues (visible to search), ordered as the JQL asks.
/// `Err` is the message of Jira's 400.
fn run_jql(st: &State, jql: &str, reconcile: &[u64], bounded: bool) -> Result<Vec<usize>, String> {
    let query = jql::parse(jql).map_err(|e| format!("Error in the JQL Query: {e}"))?;
    if bounded && query.clauses.is_empty() {
        return Err("Unbounded JQL queries are not allowed here. Please add a search restriction to your query.".into());
    }
    let mut hits: Vec<usize> = (0..st.issues.len())
        .filter(|&i| {
            let issue = &st.issues[i];
            st.visible(issue, reconcile)
                && query.clauses.iter().all(|(field, value)| match field.as_str() {
                    "project" => issue.project.eq_ignore_ascii_case(value),
                    "labels" => issue.labels.iter().any(|l| l == value),
                    "key" | "issuekey" => issue.key.eq_ignore_ascii_case(value),
                    "status" => issue.status.eq_ignore_ascii_case(value),
                    _ => false,
                })
        })
        .collect();
    hits.sort_by_key(|&i| (st.issues[i].created, st.issues[i].id));
    if query.descending {
        hits.reverse();
    }
    Ok(hits)
}

fn search_jql(st: &State, version: &str, body: &Value) -> Response {
    let allowed = [
        "jql",
        "maxResults",
        "fields",
        "nextPageToken",
        "reconcileIssues",
        "expand",
        "properties",
        "fieldsByKeys",
        "failFast",
    ];
    if let Some(r) = unknown_key(body, &allowed) {
        return r;
    }
    let Some(jql) = body.get("jql").and_then(Value::as_str) else {
        return bad_request("The JQL query is required.");
    };
    let reconcile: Vec<u64> =
        body.get("reconcileIssues").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_u64).collect();
    let hits = match run_jql(st, jql, &reconcile, true) {
        Ok(h) => h,
        Err(message) => return bad_request(&message),
    };
    let max = number(body, "maxResults", 50).clamp(1, 5000);
    let start: usize = body.get("nextPageToken").and_then(Value::as_str).and_then(|t| t.parse().ok()).unwrap_or(0);
    let wanted = wanted_fields(body);
    let page: Vec<Value> = hits
        .iter()
        .skip(start)
        .take(max)
        .map(|&i| {
            let issue = &st.issues[i];
            // Only ids unless fields were asked for.
            match &wanted {
                None => json!({"id": issue.id.to_string()}),
                Some(w) => st.issue_json(issue, version, Some(w)),
            }
        })
        .collect();
    let last = start + max >= hits.len();
    let mut out = json!({"issues": page, "isLast": last});
    if !last {
        out["nextPageToken"] = json!((start + max).to_string());
    }
    answer(StatusCode::OK, &out)
}

fn search_dc(st: &State, version: &str, body: &Value) -> Response {
    let allowed = ["jql", "startAt", "maxResults", "fields", "expand", "validateQuery", "properties", "fieldsByKeys"];
    if let Some(r) = unknown_key(body, &allowed) {
        return r;
    }
    let jql = body.get("jql").and_then(Value::as_str).unwrap_or_default();
    let hits = match run_jql(st, jql, &[], false) {
        Ok(h) => h,
        Err(message) => return bad_request(&message),
    };
    let max = number(body, "maxResults", 50).min(1000);
    let start = number(body, "startAt", 0);
    let wanted = wanted_fields(body);
    let page: Vec<Value> =
        hits.iter().skip(start).take(max).map(|&i| st.issue_json(&st.issues[i], version, wanted.as_deref())).collect();
    answer(
        StatusCode::OK,
        &json!({"expand": "schema,names", "startAt": start, "maxResults": max, "total": hits.len(), "issues": page}),
    )
}

/// The JQL the fake understands: `field = value [AND field = value]…
/// [ORDER BY created [ASC|DESC]]`, values bare or double-quoted.
mod jql {
    pub(super) struct Query {
        pub(super) clauses: Vec<(String, String)>,
        pub(super) descending: bool,
    }

    fn tokens(s: &str) -> Result<Vec<(String, bool)>, String> {
        let mut out = Vec::new();
        let mut chars = s.chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
            } else if c == '"' {
                chars.next();
                let mut v = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => v.push(chars.next().ok_or("dangling escape")?),
                        Some('"') => break,
                        Some(c) => v.push(c),
                        None => return Err("unterminated string".into()),
                    }
                }
                out.push((v, true));
            } else if c == '=' {
                chars.next();
                out.push(("=".into(), false));
            } else {
                let mut v = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '=' || c == '"' {
                        break;
                    }
                    v.push(c);
                    chars.next();
                }
                out.push((v, false));
            }
        }
        Ok(out)
    }

    pub(super) fn parse(s: &str) -> Result<Query, String> {
        let t = tokens(s)?;
        let mut q = Query { clauses: Vec::new(), descending: false };
        let mut i = 0;
        let word = |i: usize, w: &str| t.get(i).is_some_and(|(v, quoted)| !quoted && v.eq_ignore_ascii_case(w));
        while i < t.len() && !word(i, "order") {
            if !q.clauses.is_empty() {
                if !word(i, "and") {
                    return Err(format!("expecting AND, found '{}'", t[i].0));
                }
                i += 1;
            }
            let (Some((field, false)), Some((eq, false)), Some((value, _))) = (t.get(i), t.get(i + 1), t.get(i + 2))
            else {
                return Err("expecting 'field = value'".into());
            };
            if eq != "=" {
                return Err(format!("the operator '{eq}' is not supported"));
            }
            q.clauses.push((field.to_ascii_lowercase(), value.clone()));
            i += 3;
        }
        if i < t.len() {
            if !word(i + 1, "by") || !word(i + 2, "created") {
                return Err("only ORDER BY created is supported".into());
            }
            q.descending = word(i + 3, "desc");
            let end = if word(i + 3, "desc") || word(i + 3, "asc") { i + 4 } else { i + 3 };
            if end != t.len() {
                return Err(format!("unexpected '{}'", t[end].0));
            }
        }
        Ok(q)
    }
}

/// Enough of the Atlassian Document Format schema to catch what Jira
/// rejects: the `doc` root, known node types in the right places, no empty
/// text nodes, links with an `href`.
pub(crate) mod adf {
    use serde_json::Value;

    const BLOCKS: [&str; 7] = ["paragraph", "bulletList", "orderedList", "heading", "codeBlock", "blockquote", "rule"];
    const INLINES: [&str; 3] = ["text", "hardBreak", "mention"];
    const MARKS: [&str; 6] = ["link", "strong", "em", "code", "strike", "underline"];

    /// Checks a whole document.
    pub(crate) fn check_doc(v: &Value) -> Result<(), String> {
        if v.get("type").and_then(Value::as_str) != Some("doc") {
            return Err("the root is not a `doc`".into());
        }
        if v.get("version").and_then(Value::as_u64) != Some(1) {
            return Err("`version` is not 1".into());
        }
        children(v, &BLOCKS, true)
    }

    fn children(v: &Value, allowed: &[&str], required: bool) -> Result<(), String> {
        let Some(content) = v.get("content") else {
            return if required { Err(format!("{} has no content", kind(v))) } else { Ok(()) };
        };
        let content = content.as_array().ok_or("`content` is not an array")?;
        for node in content {
            let k = kind(node);
            if !allowed.contains(&k) {
                return Err(format!("`{k}` is not allowed in {}", kind(v)));
            }
            node_ok(node)?;
        }
        Ok(())
    }

    fn kind(v: &Value) -> &str {
        v.get("type").and_then(Value::as_str).unwrap_or("<no type>")
    }

    fn node_ok(node: &Value) -> Result<(), String> {
        match kind(node) {
            "text" => {
                if node.get("text").and_then(Value::as_str).is_none_or(str::is_empty) {
                    return Err("a text node is empty".into());
                }
                for m in node.get("marks").and_then(Value::as_array).into_iter().flatten() {
                    if !MARKS.contains(&kind(m)) {
                        return Err(format!("unknown mark `{}`", kind(m)));
                    }
                    if kind(m) == "link" && m.pointer("/attrs/href").and_then(Value::as_str).is_none_or(str::is_empty) {
                        return Err("a link has no href".into());
                    }
                }
                Ok(())
            }
            "paragraph" | "heading" => children(node, &INLINES, false),
            "bulletList" | "orderedList" => {
                let items = node.get("content").and_then(Value::as_array).ok_or("a list has no items")?;
                if items.is_empty() {
                    return Err("a list has no items".into());
                }
                children(node, &["listItem"], true)
            }
            "listItem" => children(node, &["paragraph", "bulletList", "orderedList", "codeBlock"], true),
            "blockquote" => children(node, &["paragraph", "bulletList", "orderedList"], true),
            "codeBlock" => children(node, &["text"], false),
            _ => Ok(()),
        }
    }

    /// The length of the document's text, as Jira counts it.
    pub(crate) fn text_len(v: &Value) -> usize {
        let own = v.get("text").and_then(Value::as_str).map_or(0, |s| s.encode_utf16().count());
        own + v.get("content").and_then(Value::as_array).into_iter().flatten().map(text_len).sum::<usize>()
    }

    /// The document's text, paragraphs and list items on their own lines.
    pub(crate) fn plain(v: &Value) -> String {
        let mut out = String::new();
        walk(v, &mut out);
        out.trim_end().to_owned()
    }

    fn walk(v: &Value, out: &mut String) {
        match kind(v) {
            "text" => out.push_str(v.get("text").and_then(Value::as_str).unwrap_or_default()),
            "hardBreak" => out.push('\n'),
            _ => {
                for c in v.get("content").and_then(Value::as_array).into_iter().flatten() {
                    walk(c, out);
                }
                if matches!(kind(v), "paragraph" | "heading") {
                    out.push('\n');
                }
            }
        }
    }
}
