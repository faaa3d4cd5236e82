//! The one error answer of every edgewatch service: a status and
//! `{"status":"error","error":"<message>"}` (the shape of Prometheus's HTTP
//! API errors), so a client reads the exporter's and the receiver's alike.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer. A 401 may name the scheme it wants
/// ([`ApiError::challenge`]), a 503 when to come back
/// ([`ApiError::retry_after`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    challenge: Option<&'static str>,
    retry_after: Option<u32>,
}

#[derive(Serialize)]
struct Body<'a> {
    status: &'static str,
    error: &'a str,
}

impl ApiError {
    /// `status` with `message`, which is sent as is: it must not hold a
    /// secret.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), challenge: None, retry_after: None }
    }

    /// Adds `WWW-Authenticate: <challenge>` (`Bearer`, `Basic realm=…`).
    #[must_use]
    pub fn challenge(mut self, challenge: &'static str) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// Adds `Retry-After: <seconds>`.
    #[must_use]
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The answer's status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The answer's message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(Body { status: "error", error: &self.message })).into_response();
        let headers = r.headers_mut();
        if let Some(challenge) = self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_with_the_shared_json_shape_and_its_headers() {
        let r = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy \"now\"").retry_after(1).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(r.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], br#"{"status":"error","error":"busy \"now\""}"#);
        let r = ApiError::new(StatusCode::UNAUTHORIZED, "a token, please").challenge("Bearer").into_response();
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
