//! The `statuspage` destination: an Atlassian Statuspage page customers
//! read (management API `https://api.statuspage.io/v1`, or the catalog's
//! `url`), written in the customer's words (`customer_title`,
//! `customer_body`: no internal names).
//!
//! | Action | Request | On the page |
//! |---|---|---|
//! | open | `POST /pages/{page_id}/incidents` | an incident, `investigating`, the customer's components marked |
//! | update | `PATCH /pages/{page_id}/incidents/{id}` | an update with the current impact |
//! | reopen | `PATCH …` | back to `investigating`, components marked again |
//! | resolve | `PATCH …` | `resolved`, components `operational` |
//! | note | nothing | notes are internal |
//!
//! Exactly one page incident per incident: the incident carries the
//! edgewatch dedup key in its `metadata`, and an open (or an action that
//! lost its page incident) first looks among the page's unresolved
//! incidents for it (`GET /pages/{page_id}/incidents/unresolved`), so a
//! retry after a lost answer finds the incident rather than making a
//! second one.
//!
//! The impact (`impact_override`) follows the destination's `impacts` by
//! severity; component status follows it too (major or critical: a major
//! outage; minor: a partial outage; none: degraded performance).
//!
//! Answers: 2xx is delivered (the page incident's id is kept); 420 and 429
//! (Statuspage's rate limit, one request a second per key) and 5xx are
//! retried, after `Retry-After` when given and never sooner than a second;
//! 401, 404 and 422 are final, with Statuspage's error text. The API key
//! travels only in the `Authorization: OAuth` header, and is cut out of
//! anything quoted.

use std::time::{Duration, SystemTime};

use edgewatch_catalog::Secret;
use edgewatch_catalog::model::StatuspageImpact;
use edgewatch_catalog::names::Severity;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use super::{BuildError, DeliveryError, Outcome, http};
use crate::action::{ActionKind, Delivery};

/// Statuspage's management API.
pub(crate) const DEFAULT_URL: &str = "https://api.statuspage.io/v1";

/// Statuspage's "Enhance your calm": its rate limit, beside 429.
const ENHANCE_YOUR_CALM: u16 = 420;

/// The shortest wait after a rate limit: one request a second per key.
const MIN_WAIT: Duration = Duration::from_secs(1);

/// A Statuspage page.
pub struct Statuspage {
    name: String,
    base: String,
    api_key: Secret,
    config: edgewatch_catalog::model::Statuspage,
    client: reqwest::Client,
}

impl std::fmt::Debug for Statuspage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statuspage").field("name", &self.name).field("base", &self.base).finish_non_exhaustive()
    }
}

fn impact_str(i: StatuspageImpact) -> &'static str {
    match i {
        StatuspageImpact::None => "none",
        StatuspageImpact::Minor => "minor",
        StatuspageImpact::Major => "major",
        StatuspageImpact::Critical => "critical",
    }
}

fn component_status(i: StatuspageImpact) -> &'static str {
    match i {
        StatuspageImpact::Major | StatuspageImpact::Critical => "major_outage",
        StatuspageImpact::Minor => "partial_outage",
        StatuspageImpact::None => "degraded_performance",
    }
}

/// The customer's components, each in `status`.
fn components(d: &Delivery<'_>, status: &str) -> Map<String, Value> {
    d.customer
        .map(|c| c.statuspage_components.iter().map(|id| (id.clone(), json!(status))).collect())
        .unwrap_or_default()
}

/// Statuspage's error answer in words: `{"error": "..."}` or a list.
fn error_text(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(v) => match &v["error"] {
            Value::String(s) => s.clone(),
            Value::Array(a) => {
                a.iter().map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned)).collect::<Vec<_>>().join("; ")
            }
            _ => body.to_owned(),
        },
        Err(_) => body.to_owned(),
    }
}

impl Statuspage {
    /// Sets up the destination `name` from the catalog, reading the API
    /// key through `env` (or its file).
    pub fn build(
        name: &str,
        config: &edgewatch_catalog::model::Statuspage,
        env: &dyn Fn(&str) -> Option<String>,
        client: reqwest::Client,
    ) -> Result<Self, BuildError> {
        let api_key = config
            .api_key
            .resolve(env)
            .map_err(|source| BuildError::Secret { destination: name.to_owned(), source })?;
        let base = config.url.as_ref().map_or(DEFAULT_URL, |u| u.as_str()).trim_end_matches('/').to_owned();
        Ok(Self { name: name.to_owned(), base, api_key, config: config.clone(), client })
    }

    /// Who reads the page.
    pub(crate) fn recipients(&self) -> String {
        format!("the subscribers of status page {}", self.config.page_id)
    }

    fn page(&self) -> String {
        format!("{}/pages/{}", self.base, self.config.page_id)
    }

    /// One request; the answer's JSON, or why not.
    async fn call(&self, what: &str, req: reqwest::RequestBuilder) -> Result<Value, DeliveryError> {
        let what = format!("{}: Statuspage {what}", self.name);
        let req = req.header("Authorization", format!("OAuth {}", self.api_key.expose()));
        let answer = req.send().await.map_err(|e| http::unanswered(&what, e))?;
        let status = answer.status();
        let wait = http::retry_after(answer.headers(), SystemTime::now());
        let headers = answer.headers().clone();
        let body = answer.text().await.map_err(|e| http::unanswered(&what, e))?;
        if status.as_u16() == ENHANCE_YOUR_CALM || status == StatusCode::TOO_MANY_REQUESTS {
            let text = http::redact(&error_text(&body), self.api_key.expose());
            return Err(DeliveryError::Transient {
                reason: format!("{what}: HTTP {}: rate limited: {text}", status.as_u16()),
                retry_after: Some(wait.unwrap_or(MIN_WAIT).max(MIN_WAIT)),
            });
        }
        if !status.is_success() {
            http::classify(&what, status, &headers, &http::redact(&error_text(&body), self.api_key.expose()))?;
        }
        Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// The page's unresolved incident that carries `dedup`, if any.
    async fn find(&self, dedup: &str) -> Result<Option<String>, DeliveryError> {
        let list =
            self.call("list unresolved", self.client.get(format!("{}/incidents/unresolved", self.page()))).await?;
        Ok(list.as_array().into_iter().flatten().find_map(|i| {
            (i["metadata"]["edgewatch"]["dedup"].as_str() == Some(dedup))
                .then(|| i["id"].as_str().map(str::to_owned))?
        }))
    }

    pub(crate) async fn deliver(&self, d: &Delivery<'_>) -> Result<Outcome, DeliveryError> {
        if d.kind == ActionKind::Note {
            // Notes are internal: customers never read them.
            return Ok(Outcome::Delivered { external: d.external.map(str::to_owned) });
        }
        let impact = self.config.impact_for(d.incident.severity.unwrap_or(Severity::Ticket));
        let known = match d.external {
            Some(id) => Some(id.to_owned()),
            None => self.find(&d.incident.dedup).await?,
        };
        let (status, components) = if d.kind == ActionKind::Resolve {
            ("resolved", components(d, "operational"))
        } else {
            ("investigating", components(d, component_status(impact)))
        };
        let Some(id) = known else {
            if d.kind == ActionKind::Resolve {
                // Never on the page (it was opened nowhere): nothing to resolve.
                return Ok(Outcome::Delivered { external: None });
            }
            let body = json!({"incident": {
                "name": d.message.customer_title,
                "status": status,
                "impact_override": impact_str(impact),
                "body": d.message.customer_body,
                "component_ids": components.keys().collect::<Vec<_>>(),
                "components": components,
                "deliver_notifications": true,
                "metadata": {"edgewatch": {"dedup": d.incident.dedup}},
            }});
            let created =
                self.call("create", self.client.post(format!("{}/incidents", self.page())).json(&body)).await?;
            let id = created["id"].as_str().ok_or_else(|| DeliveryError::Permanent {
                reason: format!("{}: Statuspage create: an answer without the incident's id", self.name),
            })?;
            return Ok(Outcome::Delivered { external: Some(id.to_owned()) });
        };
        let mut incident = json!({
            "status": status,
            "body": d.message.customer_body,
            "components": components,
            "deliver_notifications": true,
        });
        if d.kind != ActionKind::Resolve {
            incident["impact_override"] = json!(impact_str(impact));
            incident["name"] = json!(d.message.customer_title);
        }
        let url = format!("{}/incidents/{id}", self.page());
        self.call(d.kind.as_str(), self.client.patch(url).json(&json!({ "incident": incident }))).await?;
        Ok(Outcome::Delivered { external: Some(id) })
    }
}
