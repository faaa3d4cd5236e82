//! Basic auth and response headers from the web config, on every endpoint.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::{ApiError, WebConfig};

struct Rules {
    users: std::collections::BTreeMap<String, String>,
    headers: Vec<(axum::http::HeaderName, HeaderValue)>,
    /// A real hash to check unknown users against, so that their requests
    /// take as long as a wrong password and timing tells no user names.
    decoy: String,
}

pub(crate) fn layer(router: axum::Router, web: &WebConfig) -> axum::Router {
    if web.users.is_empty() && web.headers.is_empty() {
        return router;
    }
    let decoy =
        if web.users.is_empty() { String::new() } else { bcrypt::hash("edgewatch-decoy", 10).unwrap_or_default() };
    let rules = Arc::new(Rules { users: web.users.clone(), headers: web.headers.clone(), decoy });
    router.layer(axum::middleware::from_fn(move |req: Request, next: Next| {
        let rules = Arc::clone(&rules);
        async move { guard(&rules, req, next).await }
    }))
}

async fn guard(rules: &Rules, req: Request, next: Next) -> Response {
    let allowed = rules.users.is_empty() || authorized(rules, credentials(&req)).await;
    let mut resp = if allowed {
        next.run(req).await
    } else {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized").challenge("Basic realm=\"edgewatch\"").into_response()
    };
    for (name, value) in &rules.headers {
        resp.headers_mut().insert(name.clone(), value.clone());
    }
    resp
}

async fn authorized(rules: &Rules, credentials: Option<(String, String)>) -> bool {
    let Some((user, password)) = credentials else { return false };
    let (hash, known) = match rules.users.get(&user) {
        Some(h) => (h.clone(), true),
        None => (rules.decoy.clone(), false),
    };
    // bcrypt is deliberately slow: keep it off the async workers.
    let matched =
        tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false)).await.unwrap_or(false);
    known && matched
}

fn credentials(req: &Request) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}
