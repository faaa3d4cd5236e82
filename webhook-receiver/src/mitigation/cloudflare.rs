//! Cloudflare's rulesets API, for `edgewatch mitigate apply|revert`: a rule
//! is added to a zone's phase entry point ruleset (created when the zone
//! has none) and deleted by its id. Never `PUT .../entrypoint` on an
//! existing ruleset: that replaces every rule of the phase.
//!
//! A rule carries a `ref` of our own (`edgewatch-<dedup>-custom`), so
//! applying twice (a retry after a lost answer, a second analyst) finds the
//! rule already there instead of adding another.

use std::time::{Duration, SystemTime};

use edgewatch_catalog::Secret;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Cloudflare's API.
pub const DEFAULT_BASE: &str = "https://api.cloudflare.com/client/v4";

/// Attempts per call before a rate limit or a server error is final.
const ATTEMPTS: u32 = 4;
/// The longest `Retry-After` waited for; longer is reported instead.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// A ruleset phase a suggestion writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Custom rules.
    Custom,
    /// Rate-limiting rules.
    RateLimit,
}

impl Phase {
    /// The phase's name in the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Custom => "http_request_firewall_custom",
            Self::RateLimit => "http_ratelimit",
        }
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CloudflareError {
    /// Cloudflare answered with an error (its messages, never the token).
    #[error("Cloudflare {what}: HTTP {status}: {message}")]
    Api { what: &'static str, status: u16, message: String },
    /// No answer.
    #[error("Cloudflare {what}: {message}")]
    Unanswered { what: &'static str, message: String },
    /// An answer that is not the documented shape.
    #[error("Cloudflare {what}: unexpected answer: {message}")]
    Unexpected { what: &'static str, message: String },
}

/// Where a rule went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub ruleset_id: String,
    pub rule_id: String,
    /// It was there already (same `ref`): nothing was added.
    pub already: bool,
}

/// A client of the rulesets API with one API token.
pub struct Cloudflare {
    client: reqwest::Client,
    base: String,
    token: Secret,
}

impl std::fmt::Debug for Cloudflare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cloudflare").field("base", &self.base).finish_non_exhaustive()
    }
}

impl Cloudflare {
    /// A client of the API at `base` ([`DEFAULT_BASE`]) with `token`
    /// (`Authorization: Bearer`), each request within `timeout`.
    pub fn new(base: &str, token: Secret, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = crate::dest::http::client(timeout)?;
        Ok(Self { client, base: base.trim_end_matches('/').to_owned(), token })
    }

    /// Adds `rule` (with its `ref`) to the zone's entry point of `phase`,
    /// unless a rule with that `ref` is there already.
    pub async fn add(&self, zone: &str, phase: Phase, rule: &Value) -> Result<Placed, CloudflareError> {
        let reference = rule["ref"].as_str().unwrap_or_default().to_owned();
        let entry = format!("/zones/{zone}/rulesets/phases/{}/entrypoint", phase.as_str());
        let Some(ruleset) = self.call("read the entry point ruleset", Method::GET, &entry, None).await? else {
            // No entry point yet: create it holding the one rule.
            let body = json!({
                "name": "default",
                "kind": "zone",
                "phase": phase.as_str(),
                "rules": [rule],
            });
            let path = format!("/zones/{zone}/rulesets");
            let what = "create the entry point ruleset";
            let ruleset = self.call(what, Method::POST, &path, Some(&body)).await?.ok_or_else(|| {
                CloudflareError::Unexpected { what, message: "404 for the zone: is the zone id right?".to_owned() }
            })?;
            return placed(&ruleset, &reference, what);
        };
        let id = ruleset_id(&ruleset, "read the entry point ruleset")?;
        if let Some(rule_id) = find(&ruleset, &reference) {
            return Ok(Placed { ruleset_id: id, rule_id, already: true });
        }
        let path = format!("/zones/{zone}/rulesets/{id}/rules");
        let ruleset = self.call("add the rule", Method::POST, &path, Some(rule)).await?.ok_or_else(|| {
            CloudflareError::Unexpected { what: "add the rule", message: "the ruleset is gone".to_owned() }
        })?;
        placed(&ruleset, &reference, "add the rule")
    }

    /// Deletes a rule; `false` when it was gone already.
    pub async fn remove(&self, zone: &str, ruleset_id: &str, rule_id: &str) -> Result<bool, CloudflareError> {
        let path = format!("/zones/{zone}/rulesets/{ruleset_id}/rules/{rule_id}");
        Ok(self.call("delete the rule", Method::DELETE, &path, None).await?.is_some())
    }

    /// One call, retried on 429 (after `Retry-After`) and 5xx: the
    /// `result`, or `None` for 404.
    async fn call(
        &self,
        what: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, CloudflareError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req =
                self.client.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(self.token.expose());
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| CloudflareError::Unanswered { what, message: crate::dest::http::describe(e) })?;
            let status = resp.status();
            let wait = crate::dest::http::retry_after(resp.headers(), SystemTime::now());
            let text = resp.text().await.unwrap_or_default();
            let retry = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
            if retry && attempt < ATTEMPTS {
                let wait = wait.unwrap_or(Duration::from_secs(1 << attempt));
                if wait <= MAX_WAIT {
                    tracing::info!(
                        status = status.as_u16(),
                        wait_s = wait.as_secs_f64(),
                        "Cloudflare {what}: retrying"
                    );
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            if status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let doc: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if !status.is_success() || doc["success"] == Value::Bool(false) {
                return Err(CloudflareError::Api {
                    what,
                    status: status.as_u16(),
                    message: messages(&doc).unwrap_or_else(|| text.chars().take(300).collect()),
                });
            }
            return Ok(Some(doc["result"].clone()));
        }
    }
}

/// Cloudflare's `errors[].message`s (with their codes), joined.
fn messages(doc: &Value) -> Option<String> {
    let errors = doc["errors"].as_array()?;
    let all: Vec<String> = errors
        .iter()
        .map(|e| match (e["code"].as_i64(), e["message"].as_str()) {
            (Some(code), Some(m)) => format!("{m} (code {code})"),
            (None, Some(m)) => m.to_owned(),
            _ => e.to_string(),
        })
        .collect();
    (!all.is_empty()).then(|| all.join("; "))
}

fn ruleset_id(ruleset: &Value, what: &'static str) -> Result<String, CloudflareError> {
    ruleset["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| CloudflareError::Unexpected { what, message: "a ruleset without an id".to_owned() })
}

/// The id of the rule with `ref` in `ruleset`.
fn find(ruleset: &Value, reference: &str) -> Option<String> {
    ruleset["rules"]
        .as_array()?
        .iter()
        .find(|r| r["ref"].as_str() == Some(reference))
        .and_then(|r| r["id"].as_str().map(str::to_owned))
}

fn placed(ruleset: &Value, reference: &str, what: &'static str) -> Result<Placed, CloudflareError> {
    let ruleset_id = ruleset_id(ruleset, what)?;
    let rule_id = find(ruleset, reference).ok_or_else(|| CloudflareError::Unexpected {
        what,
        message: format!("the ruleset holds no rule `{reference}`"),
    })?;
    Ok(Placed { ruleset_id, rule_id, already: false })
}
