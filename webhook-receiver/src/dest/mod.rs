//! Destinations: where actions go (Jira, PagerDuty, a log file, a
//! customer-facing Statuspage page, mail to the customer's contacts). Each
//! turns
//! a [`Delivery`] into requests and says whether it worked, failed for a
//! while (retry, maybe after a time the service named) or failed for good
//! (a dead letter); the HTTP ones send and read through [`http::send`].
//! Retries, ordering and backoff are the deliverer's, not theirs.

pub(crate) mod email;
pub(crate) mod http;
pub(crate) mod jira;
pub(crate) mod log;
pub(crate) mod pagerduty;
pub(crate) mod statuspage;

use std::time::Duration;

use crate::action::Delivery;

/// What a destination answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done; `external` is what later actions of the incident need (a Jira
    /// issue key), kept by the store.
    Delivered {
        /// The destination's id for the incident, if it has one.
        external: Option<String>,
    },
}

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying: a network error, a timeout, 429, 5xx.
    #[error("{reason}")]
    Transient {
        /// What happened, without secrets.
        reason: String,
        /// When the service asked to be called again (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// Not worth retrying until someone fixes something: 400, 401, 403, 404,
    /// 410, a missing transition. The action becomes a dead letter.
    #[error("{reason}")]
    Permanent {
        /// What happened, without secrets.
        reason: String,
    },
}

/// Why a destination could not be set up from the catalog.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A credential reference could not be read.
    #[error("destination `{destination}`: {source}")]
    Secret {
        /// The destination's name in the catalog.
        destination: String,
        /// Why (names the variable or file, never a value).
        source: edgewatch_catalog::SecretError,
    },
    /// The log file could not be opened.
    #[error(
        "destination `{destination}`: cannot open {path} for appending: {source}; create its folder, or point `destinations.{destination}.log.path` in the catalog elsewhere (`-` is standard output)"
    )]
    Open {
        /// The destination's name in the catalog.
        destination: String,
        path: String,
        source: std::io::Error,
    },
    /// The destination's settings cannot work (an unreadable CA file).
    #[error("destination `{destination}`: {reason}")]
    Invalid {
        /// The destination's name in the catalog.
        destination: String,
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("destination `{destination}`: cannot build an HTTP client: {source}")]
    Client {
        /// The destination's name in the catalog.
        destination: String,
        source: reqwest::Error,
    },
}

/// A configured destination.
#[derive(Debug)]
pub enum Destination {
    /// Jira Cloud or Data Center.
    Jira(jira::Jira),
    /// PagerDuty Events API v2.
    PagerDuty(pagerduty::PagerDuty),
    /// JSON lines to a file or stdout.
    Log(log::Log),
    /// A customer-facing Statuspage page.
    Statuspage(statuspage::Statuspage),
    /// Mail to the customer's contacts (boxed: its SMTP transport is large).
    Email(Box<email::Mailer>),
}

impl Destination {
    /// Sets up the catalog's destination `name`, reading its secrets
    /// through `env`; the HTTP ones send with `client` (one client for
    /// every destination: one connection pool, the configured timeouts),
    /// e-mail gives up an SMTP command after `timeout`.
    pub fn build(
        name: &str,
        config: &edgewatch_catalog::model::Destination,
        env: &dyn Fn(&str) -> Option<String>,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<Self, BuildError> {
        use edgewatch_catalog::model::Destination as Config;
        Ok(match config {
            Config::Jira(j) => Self::Jira(jira::Jira::build(name, j, env, client.clone())?),
            Config::PagerDuty(p) => Self::PagerDuty(pagerduty::PagerDuty::build(name, p, env, client.clone())?),
            Config::Log(l) => Self::Log(log::Log::build(name, &l.path)?),
            Config::Statuspage(s) => Self::Statuspage(statuspage::Statuspage::build(name, s, env, client.clone())?),
            Config::Email(e) => Self::Email(Box::new(email::Mailer::build(name, e, env, timeout)?)),
        })
    }

    /// Who reads what this destination is given about an incident of
    /// `customer`, when it is customers: a message to it is recorded on the
    /// incident with them.
    pub fn recipients(&self, customer: Option<&edgewatch_catalog::Customer>) -> Option<String> {
        match self {
            Self::Statuspage(s) => Some(s.recipients()),
            Self::Email(e) => Some(e.recipients(customer)),
            Self::Jira(_) | Self::PagerDuty(_) | Self::Log(_) => None,
        }
    }

    /// Carries out one action.
    pub async fn deliver(&self, d: &Delivery<'_>) -> Result<Outcome, DeliveryError> {
        match self {
            Self::Jira(j) => j.deliver(d).await,
            Self::PagerDuty(p) => p.deliver(d).await,
            Self::Log(l) => l.deliver(d).await,
            Self::Statuspage(s) => s.deliver(d).await,
            Self::Email(e) => e.deliver(d).await,
        }
    }
}
