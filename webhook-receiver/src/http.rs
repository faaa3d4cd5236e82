//! The receiver's endpoints: the webhook, `/metrics`, `/-/healthy`,
//! `/-/ready`, and a landing page at `/`.
//!
//! The webhook answers 200 only once the notification is committed to the
//! store; 503 when it could not be (Alertmanager retries 5xx, and re-sends
//! the group at its next interval); 4xx for what retrying cannot fix.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use edgewatch_catalog::Secret;
use edgewatch_web::ApiError;
use tokio::sync::Notify;

use crate::incident::groups;
use crate::metrics::Metrics;
use crate::payload::PayloadError;
use crate::policy::CatalogPolicy;
use crate::store::{Accepted, Inbound, NewNote, NoteKind, Store, StoreError};
use crate::time::now_ms;

/// What the endpoints work with: how a webhook is checked and read, the
/// store it is recorded in, under the catalog's policy, and the deliverer to
/// wake when actions were queued.
#[derive(Debug)]
pub(crate) struct Intake {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) policy: Arc<CatalogPolicy>,
    /// The labels incidents are keyed by.
    pub(crate) key_labels: Vec<String>,
    pub(crate) body_limit: u64,
    /// The token Alertmanager must send, if any.
    pub(crate) bearer: Option<Secret>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) wake: Arc<Notify>,
    /// Set when shutdown begins: `/-/ready` answers 503.
    pub(crate) stopping: AtomicBool,
}

impl Intake {
    /// Shutdown began: `/-/ready` answers 503 from now on.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }
}

/// The webhook's path.
pub const WEBHOOK_PATH: &str = "/api/v1/alertmanager";

/// Where analysts record notes on an incident (`{id}`: the store's id, as
/// `edgewatch incidents list` shows it).
pub const NOTES_PATH: &str = "/api/v1/incidents/{id}/notes";

/// Where an analyst sends or drops an incident's held customer messages.
pub const OUTREACH_PATH: &str = "/api/v1/incidents/{id}/outreach";

/// The longest note body taken.
const NOTE_BODY_LIMIT: u64 = 64 * 1024;

/// The landing page: what the receiver is and where its endpoints are.
fn landing() -> edgewatch_web::Landing {
    use edgewatch_web::Endpoint;
    edgewatch_web::Landing {
        name: "edgewatch receiver",
        description: "Alertmanager's webhook target: incidents, Jira issues and PagerDuty alerts.",
        version: env!("CARGO_PKG_VERSION"),
        endpoints: vec![
            Endpoint::post(WEBHOOK_PATH, "Alertmanager's webhook (version 4 notifications)"),
            Endpoint::post(
                NOTES_PATH,
                "a note on an incident: {\"kind\":\"remediation\",\"author\":…,\"text\":…} (the bearer token)",
            ),
            Endpoint::post(
                OUTREACH_PATH,
                "send or drop an incident's messages held for approval: {\"decision\":\"send\"|\"discard\",\"author\":…} (the bearer token)",
            ),
            Endpoint::get("/metrics", "the receiver's own metrics (OpenMetrics)"),
            Endpoint::get("/-/healthy", "200 while the process runs"),
            Endpoint::get("/-/ready", "200 while the store can commit; 503 otherwise and while stopping"),
        ],
    }
}

pub(crate) fn router(intake: Arc<Intake>) -> Router {
    Router::new()
        .route("/", landing().route())
        .route(WEBHOOK_PATH, post(webhook))
        .route(NOTES_PATH, post(note))
        .route(OUTREACH_PATH, post(outreach))
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(|| async { "Healthy.\n" }))
        .route("/-/ready", get(ready))
        .with_state(intake)
}

impl From<PayloadError> for ApiError {
    fn from(e: PayloadError) -> Self {
        Self::new(e.status(), e.to_string())
    }
}

/// Whether the request carries the configured bearer token. The scheme is
/// case-insensitive (RFC 9110, section 11.1).
fn authorized(intake: &Intake, headers: &HeaderMap) -> bool {
    let Some(token) = &intake.bearer else { return true };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| {
            let v = v.as_bytes();
            let space = v.iter().position(|b| *b == b' ')?;
            let (scheme, rest) = v.split_at(space);
            scheme.eq_ignore_ascii_case(b"bearer").then(|| rest.trim_ascii())
        })
        .is_some_and(|presented| token.matches(presented))
}

/// Why a webhook's body was not read whole.
enum BodyError {
    TooLarge,
    Unreadable(StatusCode, String),
}

/// Reads the body, never holding more than `limit` bytes of it.
async fn read_body(body: Body, limit: u64) -> Result<Bytes, BodyError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, limit)).await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(e) => Err(BodyError::Unreadable(edgewatch_web::body_error_status(&*e), e.to_string())),
    }
}

async fn webhook(State(intake): State<Arc<Intake>>, headers: HeaderMap, body: Body) -> Response {
    let started = std::time::Instant::now();
    if !authorized(&intake, &headers) {
        intake.metrics.notification("unauthorized");
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a bearer token is required (Alertmanager's http_config.authorization)",
        )
        .challenge("Bearer")
        .into_response();
    }
    // The declared length is checked before a byte of the body is read.
    let too_large = || {
        intake.metrics.notification("too_large");
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over the limit of {} bytes; lower the webhook's max_alerts", intake.body_limit),
        )
        .into_response()
    };
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > intake.body_limit) {
        return too_large();
    }
    let body = match read_body(body, intake.body_limit).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return too_large(),
        Err(BodyError::Unreadable(status, message)) => {
            intake.metrics.notification(if status == StatusCode::REQUEST_TIMEOUT { "timeout" } else { "malformed" });
            return ApiError::new(status, format!("the body could not be read: {message}")).into_response();
        }
    };
    let n = match crate::payload::parse(&body) {
        Ok(n) => n,
        Err(e) => {
            intake.metrics.notification(if e.status() == StatusCode::BAD_REQUEST { "malformed" } else { "invalid" });
            return ApiError::from(e).into_response();
        }
    };
    let inbound = Inbound {
        hash: n.dedup_hash(),
        received_at: now_ms(),
        body: String::from_utf8_lossy(&body).into_owned(),
        groups: groups(&n, &intake.key_labels),
    };
    let accepted = {
        let intake = Arc::clone(&intake);
        tokio::task::spawn_blocking(move || intake.store.accept(&inbound, intake.policy.as_ref())).await
    };
    let answer = match accepted {
        Ok(Ok(Accepted::New { actions })) => {
            intake.metrics.notification("accepted");
            if actions > 0 {
                intake.wake.notify_one();
            }
            tracing::debug!(group = %n.group_key, alerts = n.alerts.len(), actions, "notification stored");
            (StatusCode::OK, Json(json!({"status": "accepted", "actions": actions}))).into_response()
        }
        Ok(Ok(Accepted::Duplicate)) => {
            intake.metrics.notification("duplicate");
            (StatusCode::OK, Json(json!({"status": "duplicate"}))).into_response()
        }
        Ok(Err(e)) => {
            intake.metrics.notification("unavailable");
            tracing::error!(error = %e, group = %n.group_key, "cannot store a notification; answering 503 so Alertmanager retries");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the notification could not be stored; retry")
                .into_response()
        }
        Err(e) => {
            intake.metrics.notification("unavailable");
            tracing::error!(error = %e, "the store task failed");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the notification could not be stored; retry")
                .into_response()
        }
    };
    intake.metrics.ack(started.elapsed().as_secs_f64());
    answer
}

/// A note's body, as the API takes it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    #[serde(default = "remediation")]
    kind: NoteKind,
    author: String,
    text: String,
}

const fn remediation() -> NoteKind {
    NoteKind::Remediation
}

/// `POST /api/v1/incidents/{id}/notes`: records a note (201) and queues it
/// for the incident's destinations. It needs the receiver's bearer token,
/// and a receiver without one refuses (403): notes name people and reach
/// tickets.
/// What an incident's analyst endpoints require: a receiver with a bearer
/// token (403 without: anyone could act), the token (401), a numeric id
/// (404). `what` names the endpoint in the 403.
#[allow(clippy::result_large_err)] // the refusal is the response itself
fn gate(intake: &Intake, headers: &HeaderMap, id: &str, what: &str) -> Result<i64, Response> {
    if intake.bearer.is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{what} need the receiver's bearer token: set auth.bearer_token in receiver.yml"),
        )
        .into_response());
    }
    if !authorized(intake, headers) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "the receiver's bearer token is required")
            .challenge("Bearer")
            .into_response());
    }
    id.parse::<i64>().map_err(|_| {
        ApiError::new(StatusCode::NOT_FOUND, format!("no incident `{id}`: ids are numbers")).into_response()
    })
}

/// `{"decision": "send"|"discard", "author": …}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OutreachBody {
    decision: Decision,
    author: String,
}

#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Decision {
    Send,
    Discard,
}

/// Sends or drops an incident's customer messages held for approval.
async fn outreach(
    State(intake): State<Arc<Intake>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let id = match gate(&intake, &headers, &id, "outreach decisions") {
        Ok(id) => id,
        Err(refused) => return refused,
    };
    let parsed: OutreachBody = match read_body(body, NOTE_BODY_LIMIT).await {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(b) => b,
            Err(e) => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("expected {{\"decision\":\"send\"|\"discard\",\"author\":…}}: {e}"),
                )
                .into_response();
            }
        },
        Err(BodyError::TooLarge) => {
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("at most {NOTE_BODY_LIMIT} bytes"))
                .into_response();
        }
        Err(BodyError::Unreadable(status, message)) => {
            return ApiError::new(status, format!("the body could not be read: {message}")).into_response();
        }
    };
    let send = parsed.decision == Decision::Send;
    let note = match crate::outreach::decision_note(send, &parsed.author) {
        Ok(n) => n,
        Err(e) => return ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).into_response(),
    };
    let decided = {
        let store = Arc::clone(&intake.store);
        tokio::task::spawn_blocking(move || store.decide(id, send, &note, now_ms())).await
    };
    match decided {
        Ok(Ok(0)) => ApiError::new(StatusCode::CONFLICT, format!("incident {id} has no message waiting for approval"))
            .into_response(),
        Ok(Ok(n)) => {
            intake.wake.notify_one();
            let what = if send { "sent" } else { "discarded" };
            tracing::info!(incident = id, author = %parsed.author, messages = n, "Held messages {what}.");
            (StatusCode::OK, Json(json!({"status": what, "messages": n}))).into_response()
        }
        Ok(Err(StoreError::NoIncident(_))) => {
            ApiError::new(StatusCode::NOT_FOUND, format!("no incident {id} (never, or pruned)")).into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, incident = id, "cannot record an outreach decision");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the decision could not be stored; retry").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "the store task failed");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the decision could not be stored; retry").into_response()
        }
    }
}

async fn note(
    State(intake): State<Arc<Intake>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let id = match gate(&intake, &headers, &id, "notes") {
        Ok(id) => id,
        Err(refused) => return refused,
    };
    let bytes = match read_body(body, NOTE_BODY_LIMIT).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a note's body is at most {NOTE_BODY_LIMIT} bytes"),
            )
            .into_response();
        }
        Err(BodyError::Unreadable(status, message)) => {
            return ApiError::new(status, format!("the body could not be read: {message}")).into_response();
        }
    };
    let parsed: NoteBody = match serde_json::from_slice(&bytes) {
        Ok(b) => b,
        Err(e) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"kind\":\"remediation\"|\"comment\",\"author\":…,\"text\":…}}: {e}"),
            )
            .into_response();
        }
    };
    let new = match NewNote::new(parsed.kind, &parsed.author, &parsed.text) {
        Ok(n) => n,
        Err(e) => return ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).into_response(),
    };
    let added = {
        let store = Arc::clone(&intake.store);
        tokio::task::spawn_blocking(move || store.add_note(id, &new, now_ms())).await
    };
    match added {
        Ok(Ok((note, actions))) => {
            if actions > 0 {
                intake.wake.notify_one();
            }
            tracing::info!(incident = id, note = note.id, author = %note.author, kind = note.kind.as_str(), actions, "Note recorded.");
            (StatusCode::CREATED, Json(json!({"status": "created", "note": note, "actions": actions}))).into_response()
        }
        Ok(Err(StoreError::NoIncident(_))) => {
            ApiError::new(StatusCode::NOT_FOUND, format!("no incident {id} (never, or pruned)")).into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, incident = id, "cannot store a note");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the note could not be stored; retry").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "the store task failed");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the note could not be stored; retry").into_response()
        }
    }
}

async fn metrics(State(intake): State<Arc<Intake>>) -> Response {
    let store = Arc::clone(&intake.store);
    let depth = tokio::task::spawn_blocking(move || store.depth()).await.ok().and_then(Result::ok).unwrap_or_default();
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        intake.metrics.render(depth, now_ms()),
    )
        .into_response()
}

/// 200 only while the store can commit and the receiver is not stopping:
/// a load balancer sends webhooks elsewhere otherwise.
async fn ready(State(intake): State<Arc<Intake>>) -> Response {
    if intake.stopping.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "Not ready: shutting down.\n").into_response();
    }
    let store = Arc::clone(&intake.store);
    let checked = tokio::task::spawn_blocking(move || store.check_commit(now_ms())).await;
    match checked {
        Ok(Ok(())) => (StatusCode::OK, "Ready.\n").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Not ready: the store cannot commit.");
            (StatusCode::SERVICE_UNAVAILABLE, format!("Not ready: the store cannot commit: {e}\n")).into_response()
        }
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("Not ready: {e}\n")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_payload_error_answers_in_the_shared_json_shape() {
        let answer = |e: ApiError| async move {
            let r = e.into_response();
            let (status, scheme) = (r.status(), r.headers().get(header::WWW_AUTHENTICATE).cloned());
            let body = axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap();
            (status, scheme, serde_json::from_slice::<serde_json::Value>(&body).unwrap())
        };
        let malformed = crate::payload::parse(b"{").unwrap_err();
        let (status, scheme, body) = answer(ApiError::from(malformed.clone())).await;
        assert_eq!((status, scheme), (StatusCode::BAD_REQUEST, None));
        assert_eq!(body, json!({"status": "error", "error": malformed.to_string()}));
    }
}
