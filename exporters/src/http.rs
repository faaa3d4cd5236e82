//! The exporter's HTTP endpoints.
//!
//! - `POST <push path>`: a Logpush batch, counted as it streams in. 200 once
//!   counted; 401 without the secret; 400 for a broken gzip stream or a body
//!   cut off; 408 for a body sent too slowly; 413 over a size limit; 503
//!   with `Retry-After` past `--web.max-in-flight` or while stopping.
//!   Logpush retries on failure, and a refused batch was counted in no part.
//! - `GET /metrics`: Prometheus text, OpenMetrics or the Prometheus protobuf
//!   format (with native histograms), by `Accept`.
//! - `GET /-/healthy`, `GET /-/ready`.
//! - `GET /`: a landing page linking the endpoints.
//! - `GET /api/v1/top?customer=ID&by=ip|asn|country|path|user_agent[&n=10][&of=offending|requests]`:
//!   a customer's top keys over the last `limits.top_window`, among its
//!   mitigated or failed requests (`offending`, the default) or all of them.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use edgewatch_web::ApiError;
use http_body_util::BodyExt as _;
use serde::Deserialize;
use serde_json::json;

use crate::chunks::{self, ChunkReader};
use crate::common::{DIMENSIONS, SETS};
use crate::expose;
use crate::ingest::{self, IngestError, Outcome};
use crate::writer::Exposition;
use crate::{Inner, Push, unix_now, unix_now_secs};

/// The landing page: what the exporter is and where its endpoints are.
fn landing(inner: &Inner) -> edgewatch_web::Landing {
    use edgewatch_web::Endpoint;
    let mut endpoints = vec![
        Endpoint::get("/metrics", "per-customer metrics (Prometheus text, OpenMetrics or protobuf)"),
        Endpoint::get("/-/healthy", "200 while the process runs"),
        Endpoint::get("/-/ready", "200 when it takes pushes; 503 while it starts or stops"),
        Endpoint::get(
            "/api/v1/top?customer=ID&by=ip",
            "top offenders of a customer (by ip, asn, country, path or user_agent; of=offending or requests)",
        ),
    ];
    for push in &inner.pushes {
        endpoints.push(Endpoint::post(
            push.config.path.clone(),
            format!("batches of `{}` lines for input `{}`", push.config.format.name(), push.config.name),
        ));
    }
    edgewatch_web::Landing {
        name: "edgewatch exporter",
        description: "Per-customer Layer-7 metrics from request logs and synthetic probes.",
        version: env!("CARGO_PKG_VERSION"),
        endpoints,
    }
}

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    let mut router = Router::new()
        .route("/", landing(&inner).route())
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(|| async { "OK\n" }))
        .route("/-/ready", get(ready))
        .route("/api/v1/top", get(top));
    for (i, push) in inner.pushes.iter().enumerate() {
        router = router.route(
            &push.config.path,
            post(move |state: State<Arc<Inner>>, headers: HeaderMap, body: Body| ingest_push(state, i, headers, body)),
        );
    }
    router.with_state(inner)
}

/// An error answer, in the shape every edgewatch service answers with.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    ApiError::new(status, message).into_response()
}

/// How the body's transfer ended, as the HTTP task saw it.
enum Received {
    /// Every byte was handed to the parser (or the parser stopped early and
    /// its own result says why).
    Whole,
    /// Over the push's `max_body_bytes`.
    TooLarge(u64),
    /// The client broke off, sent a malformed body (400) or sent it too
    /// slowly (408).
    Broken(StatusCode, String),
}

async fn ingest_push(State(inner): State<Arc<Inner>>, i: usize, headers: HeaderMap, body: Body) -> Response {
    let Some(push) = inner.pushes.get(i) else {
        return error(StatusCode::NOT_FOUND, "no such input");
    };
    let name = push.config.name.clone();
    if !authorized(push, &headers) {
        inner.lock().count_batch(&name, "unauthorized");
        let header = push.config.auth.as_ref().map_or("", |a| a.header.as_str());
        return error(StatusCode::UNAUTHORIZED, format!("missing or wrong `{header}` header"));
    }
    let limit = push.config.max_body_bytes.0;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        inner.lock().count_batch(&name, "too_large");
        return error(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than {limit} bytes"));
    }
    let gzip_header = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
    let max = push.config.max_decompressed_bytes.0;
    let format = push.config.format.clone();

    // Decompressing and parsing is CPU work: it runs on a blocking thread,
    // reading the body while this task receives it, so batches use every
    // core, a large batch is never held whole, and the server stays
    // responsive.
    let (tx, rx) = tokio::sync::mpsc::channel(chunks::IN_FLIGHT);
    let work = Arc::clone(&inner);
    let parser = tokio::task::spawn_blocking(move || {
        let mut src = ChunkReader::new(rx);
        // Logpush's Content-Encoding is not guaranteed: the magic bytes decide too.
        let gzip = gzip_header || src.starts_with_gzip_magic();
        ingest::process(src, gzip, max, &format, &work.cx, unix_now())
    });
    let received = receive(body, limit, &tx).await;
    drop(tx);
    let result = parser.await;

    let refused = |reason: &'static str, status: StatusCode, message: String| {
        inner.lock().count_batch(&name, reason);
        error(status, message)
    };
    match (received, result) {
        (Received::TooLarge(limit), _) => {
            refused("too_large", StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than {limit} bytes"))
        }
        (Received::Broken(status, e), _) => {
            let reason = if status == StatusCode::REQUEST_TIMEOUT { "timeout" } else { "broken" };
            refused(reason, status, format!("the body could not be read: {e}"))
        }
        (Received::Whole, Ok(Ok(Outcome::Counted(batch)))) => {
            let (lines, malformed) = (batch.lines, batch.malformed);
            inner.lock().merge(&name, &batch, std::time::Instant::now(), unix_now_secs());
            batch.recycle(&inner.cx);
            (StatusCode::OK, axum::Json(json!({ "lines": lines, "malformed": malformed }))).into_response()
        }
        (Received::Whole, Ok(Ok(Outcome::Validation))) => {
            inner.lock().count_batch(&name, "validation");
            (StatusCode::OK, axum::Json(json!({ "validation": "ok" }))).into_response()
        }
        (Received::Whole, Ok(Err(e @ IngestError::TooLarge(_)))) => {
            refused("too_large", StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
        }
        (Received::Whole, Ok(Err(e @ IngestError::BadGzip(_)))) => {
            refused("bad_gzip", StatusCode::BAD_REQUEST, e.to_string())
        }
        (Received::Whole, Ok(Err(e @ IngestError::Read(_)))) => {
            refused("broken", StatusCode::BAD_REQUEST, e.to_string())
        }
        (Received::Whole, Err(join)) => {
            tracing::error!(error = %join, input = %name, "Batch processing failed.");
            error(StatusCode::INTERNAL_SERVER_ERROR, "batch processing failed")
        }
    }
}

/// Hands the body to the parser chunk by chunk, up to `limit` bytes.
async fn receive(mut body: Body, limit: u64, tx: &tokio::sync::mpsc::Sender<Bytes>) -> Received {
    let mut received: u64 = 0;
    while let Some(frame) = body.frame().await {
        let chunk = match frame.map(hyper::body::Frame::into_data) {
            Ok(Ok(data)) => data,
            // Trailers carry nothing to count.
            Ok(Err(_)) => continue,
            Err(e) => return Received::Broken(edgewatch_web::body_error_status(&e), e.to_string()),
        };
        received += chunk.len() as u64;
        if received > limit {
            return Received::TooLarge(limit);
        }
        // A closed channel means the parser stopped early; its result says why.
        if tx.send(chunk).await.is_err() {
            break;
        }
    }
    Received::Whole
}

fn authorized(push: &Push, headers: &HeaderMap) -> bool {
    match (&push.config.auth, &push.secret) {
        (Some(auth), Some(secret)) => headers.get(auth.header.as_str()).is_some_and(|v| secret.matches(v.as_bytes())),
        (None, _) => true,
        (Some(_), None) => false,
    }
}

async fn metrics(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let format = Exposition::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let body = {
        let mut state = inner.lock();
        state.expire(std::time::Instant::now());
        // Always taken after the state's lock, never before: no deadlock.
        expose::encode(&state, &inner.prober.lock(), format)
    };
    ([(header::CONTENT_TYPE, format.content_type())], body).into_response()
}

async fn ready(State(inner): State<Arc<Inner>>) -> Response {
    let starting = inner.starting.load(Ordering::Relaxed);
    if !inner.ready.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "Not ready: shutting down\n").into_response()
    } else if starting > 0 {
        (StatusCode::SERVICE_UNAVAILABLE, format!("Not ready: {starting} file input(s) starting\n")).into_response()
    } else {
        (StatusCode::OK, "Ready\n").into_response()
    }
}

#[derive(Debug, Deserialize)]
struct TopQuery {
    customer: String,
    by: String,
    n: Option<usize>,
    of: Option<String>,
}

async fn top(
    State(inner): State<Arc<Inner>>,
    query: Result<Query<TopQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return error(StatusCode::BAD_REQUEST, "expected ?customer=ID&by=DIMENSION[&n=N][&of=SET]");
    };
    if !DIMENSIONS.contains(&q.by.as_str()) {
        return error(StatusCode::BAD_REQUEST, format!("`by` must be one of {}", DIMENSIONS.join(", ")));
    }
    let of = q.of.as_deref().unwrap_or(SETS[0]);
    if !SETS.contains(&of) {
        return error(StatusCode::BAD_REQUEST, format!("`of` must be one of {}", SETS.join(", ")));
    }
    let n = q.n.unwrap_or(10).clamp(1, 100);
    let report = inner.lock().top(&q.customer, of, &q.by, n, unix_now_secs());
    match report {
        Some(r) => axum::Json(json!({
            "customer": q.customer,
            "by": q.by,
            "of": of,
            "window_seconds": r.window_seconds,
            "total": r.total,
            "unlisted": r.unlisted,
            "top": r.entries.iter().map(|e| json!({ "value": e.key, "count": e.count, "error": e.error, "share": e.share })).collect::<Vec<_>>(),
        }))
        .into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no customer `{}`", q.customer)),
    }
}
