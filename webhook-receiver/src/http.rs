//! The receiver's endpoints: the webhook, `/metrics`, `/-/healthy`,
//! `/-/ready`, and a landing page at `/`.
//!
//! The webhook answers 200 only once the notification is committed to the
//! store; 503 when it could not be (Alertmanager retries 5xx, and re-sends
//! the group at its next interval); 4xx for what retrying cannot fix.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::Inner;
use crate::incident::groups;
use crate::store::{Accepted, Inbound};
use crate::time::now_ms;

/// The webhook's path.
pub const WEBHOOK_PATH: &str = "/api/v1/alertmanager";

/// The landing page: what the receiver is and where its endpoints are.
fn landing() -> edgewatch_web::Landing {
    use edgewatch_web::Endpoint;
    edgewatch_web::Landing {
        name: "edgewatch receiver",
        description: "Alertmanager's webhook target: incidents, Jira issues and PagerDuty alerts.",
        version: env!("CARGO_PKG_VERSION"),
        endpoints: vec![
            Endpoint::post(WEBHOOK_PATH, "Alertmanager's webhook (version 4 notifications)"),
            Endpoint::get("/metrics", "the receiver's own metrics (OpenMetrics)"),
            Endpoint::get("/-/healthy", "200 while the process runs"),
            Endpoint::get("/-/ready", "200 when the store answers"),
        ],
    }
}

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    let limit = usize::try_from(inner.body_limit).unwrap_or(usize::MAX);
    Router::new()
        .route("/", landing().route())
        .route(WEBHOOK_PATH, post(webhook).layer(DefaultBodyLimit::max(limit)))
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(|| async { "Healthy.\n" }))
        .route("/-/ready", get(ready))
        .with_state(inner)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"status": "error", "error": message}))).into_response()
}

/// Whether the request carries the configured bearer token.
fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    let Some(token) = &inner.bearer else { return true };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .is_some_and(|presented| token.matches(presented))
}

async fn webhook(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let started = std::time::Instant::now();
    if !authorized(&inner, &headers) {
        inner.metrics.notification("unauthorized");
        let mut r =
            error(StatusCode::UNAUTHORIZED, "a bearer token is required (Alertmanager's http_config.authorization)");
        r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        return r;
    }
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            inner.metrics.notification("too_large");
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is over the limit of {} bytes; lower the webhook's max_alerts", inner.body_limit),
            );
        }
        Err(e) => {
            inner.metrics.notification("malformed");
            return error(StatusCode::BAD_REQUEST, &e.body_text());
        }
    };
    let n = match crate::payload::parse(&body) {
        Ok(n) => n,
        Err(e) => {
            inner.metrics.notification(if e.status() == 400 { "malformed" } else { "invalid" });
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            return error(status, &e.to_string());
        }
    };
    let inbound = Inbound {
        hash: n.dedup_hash(),
        received_at: now_ms(),
        body: String::from_utf8_lossy(&body).into_owned(),
        groups: groups(&n, &inner.key_labels),
    };
    let accepted = {
        let inner = Arc::clone(&inner);
        tokio::task::spawn_blocking(move || inner.store.accept(&inbound, &inner.policy)).await
    };
    let answer = match accepted {
        Ok(Ok(Accepted::New { actions })) => {
            inner.metrics.notification("accepted");
            if actions > 0 {
                inner.wake.notify_one();
            }
            tracing::debug!(group = %n.group_key, alerts = n.alerts.len(), actions, "notification stored");
            (StatusCode::OK, Json(json!({"status": "accepted", "actions": actions}))).into_response()
        }
        Ok(Ok(Accepted::Duplicate)) => {
            inner.metrics.notification("duplicate");
            (StatusCode::OK, Json(json!({"status": "duplicate"}))).into_response()
        }
        Ok(Err(e)) => {
            inner.metrics.notification("unavailable");
            tracing::error!(error = %e, group = %n.group_key, "cannot store a notification; answering 503 so Alertmanager retries");
            error(StatusCode::SERVICE_UNAVAILABLE, "the notification could not be stored; retry")
        }
        Err(e) => {
            inner.metrics.notification("unavailable");
            tracing::error!(error = %e, "the store task failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "the notification could not be stored; retry")
        }
    };
    inner.metrics.ack(started.elapsed().as_secs_f64());
    answer
}

async fn metrics(State(inner): State<Arc<Inner>>) -> Response {
    let store = Arc::clone(&inner.store);
    let depth = tokio::task::spawn_blocking(move || store.depth()).await.ok().and_then(Result::ok).unwrap_or_default();
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        inner.metrics.render(depth, now_ms()),
    )
        .into_response()
}

async fn ready(State(inner): State<Arc<Inner>>) -> Response {
    let store = Arc::clone(&inner.store);
    match tokio::task::spawn_blocking(move || store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "Ready.\n").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "The store does not answer.\n").into_response(),
    }
}
