//! What every HTTP destination shares: one client with timeouts, and one
//! way to send a request and read its answer into delivered, retry later,
//! or give up ([`send`]).

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};

use super::DeliveryError;

/// The outbound client: rustls with the platform's roots, a connect and a
/// total timeout, no redirects (an API that redirects is misconfigured).
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    // reqwest is built without a crypto provider; ring is the workspace's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("edgewatch-receiver/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends `request` and reads the answer: the body of a success, else why
/// not ([`classify`]). `what` names the request in the reason (`Jira
/// create`); `error_text` puts an error answer into words (a service's error
/// JSON), and `secret` is cut out of whatever is quoted from it. An answer
/// that cannot be read whole counts as none: worth a retry.
pub(crate) async fn send(
    what: &str,
    request: RequestBuilder,
    error_text: fn(&str) -> String,
    secret: &str,
) -> Result<String, DeliveryError> {
    let answer = request.send().await.map_err(|e| unanswered(what, e))?;
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.text().await.map_err(|e| unanswered(what, e))?;
    if !status.is_success() {
        classify(what, status, &headers, &redact(&error_text(&body), secret))?;
    }
    Ok(body)
}

/// `text` with every occurrence of `secret` replaced by `**REDACTED**`.
pub(crate) fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() { text.to_owned() } else { text.replace(secret, "**REDACTED**") }
}

/// `Retry-After` as seconds or an HTTP date, capped at an hour.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate::parse_http_date(value).ok()?.duration_since(now).unwrap_or(Duration::ZERO),
    };
    Some(wait.min(Duration::from_secs(3600)))
}

/// Whether an answer is a success, worth a retry, or final. `what` names
/// the request in the reason (`Jira create`), `body` is the answer's text
/// (cut, since error bodies may be long).
pub(crate) fn classify(what: &str, status: StatusCode, headers: &HeaderMap, body: &str) -> Result<(), DeliveryError> {
    if status.is_success() {
        return Ok(());
    }
    let mut excerpt: String = body.chars().take(300).collect();
    if excerpt.len() < body.len() {
        excerpt.push('…');
    }
    let reason = format!("{what}: HTTP {}: {excerpt}", status.as_u16());
    match status.as_u16() {
        // Timeouts, rate limits, and the server's own trouble pass.
        408 | 425 | 429 | 500..=599 => {
            Err(DeliveryError::Transient { reason, retry_after: retry_after(headers, SystemTime::now()) })
        }
        _ => Err(DeliveryError::Permanent { reason }),
    }
}

/// A request that got no answer: always worth a retry. The reason names the
/// kind of failure, never the URL's query or headers.
pub(crate) fn unanswered(what: &str, e: reqwest::Error) -> DeliveryError {
    DeliveryError::Transient { reason: format!("{what}: {}", describe(e)), retry_after: None }
}

/// A request's failure in words: the kind, then the cause, without the URL
/// (its query may carry a secret).
pub(crate) fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    format!("{kind}: {}", e.without_url())
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(retry: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(retry).unwrap());
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_after(&headers("7"), now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(retry_after(&headers(&later), now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(&headers("99999"), now), Some(Duration::from_secs(3600)));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn rate_limits_and_server_errors_are_retried_client_errors_are_not() {
        let h = headers("5");
        for code in [429, 500, 502, 503, 504, 408] {
            let e = classify("x", StatusCode::from_u16(code).unwrap(), &h, "busy").unwrap_err();
            assert!(
                matches!(e, DeliveryError::Transient { retry_after: Some(d), .. } if d == Duration::from_secs(5)),
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 410, 422] {
            let e = classify("Jira create", StatusCode::from_u16(code).unwrap(), &h, "{\"errorMessages\":[\"no\"]}")
                .unwrap_err();
            assert!(
                matches!(&e, DeliveryError::Permanent { reason } if reason.starts_with(&format!("Jira create: HTTP {code}: "))),
                "{code}"
            );
        }
        assert!(classify("x", StatusCode::CREATED, &h, "").is_ok());
        let long = "e".repeat(1000);
        let e = classify("x", StatusCode::BAD_REQUEST, &h, &long).unwrap_err();
        assert!(e.to_string().len() < 340, "bodies are cut");
    }
}
