//! Where a report's incidents come from: an [`IncidentSource`]. The
//! receiver implements it over its store (`ReportIncidents`, for
//! `--receiver-store` and scheduled reports; this crate knows nothing of
//! the receiver); without a store the command passes [`NoIncidents`], and
//! the report says incidents are not connected.
//!
//! The report computes what an incident cost from Prometheus, over the
//! incident's own `[start, end]`, so a source only lists what happened.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// How urgent an incident was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Someone was paged.
    Page,
    /// A ticket was opened.
    Ticket,
    /// Recorded only.
    Info,
}

impl Severity {
    /// The severity as the catalog and the alerts' labels write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::Ticket => "ticket",
            Self::Info => "info",
        }
    }
}

/// One incident of a customer, as its source recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// The source's id.
    pub id: String,
    /// What it was about.
    pub title: String,
    /// When its first alert fired.
    pub start: Timestamp,
    /// When its last alert resolved; `None` while open.
    pub end: Option<Timestamp>,
    /// Its highest severity.
    pub severity: Severity,
    /// The alerts that made it up.
    pub alerts: Vec<IncidentAlert>,
    /// Tickets, pages and other links.
    pub links: Vec<IncidentLink>,
    /// What was done about it.
    pub remediation: Vec<RemediationNote>,
    /// When its first ticket or page was opened, if any.
    pub ticketed: Option<Timestamp>,
    /// How often it reopened after resolving (noise, for the NOC review).
    pub reopened: u32,
    /// Its top offenders, when the source recorded them (the receiver
    /// does for attack, traffic-spike and client-error incidents).
    pub offenders: Vec<Offender>,
}

/// A top offender of an incident: a value along one dimension and its
/// part of the customer's refused or failed requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offender {
    /// `ip`, `asn`, `country`, `path` or `user_agent`.
    pub dimension: String,
    /// The address, AS number, country code, path or user agent.
    pub value: String,
    /// Its refused or failed requests in the window read (at least).
    pub offending: f64,
    /// Their share of the customer's refused or failed requests.
    pub offending_share: f64,
    /// Its share of all the customer's requests.
    pub request_share: f64,
    /// Named by the suggested mitigation rule.
    pub named: bool,
}

/// An alert that was part of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentAlert {
    /// `alertname`.
    pub name: String,
    /// Its `alert_kind` label (`burn_rate_fast`, `attack`…), if any.
    pub kind: Option<String>,
    /// The SLO it was about, if any.
    pub slo: Option<String>,
    /// When it started firing.
    pub start: Timestamp,
    /// When it resolved; null while firing.
    pub end: Option<Timestamp>,
}

/// What a link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// A ticket (Jira issue).
    Ticket,
    /// A page (PagerDuty incident).
    Page,
    /// Anything else (status page, postmortem).
    Other,
}

/// A link of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentLink {
    /// What it is.
    pub kind: LinkKind,
    /// Its text (`NOC-123`).
    pub title: String,
    /// Where it goes.
    pub url: String,
}

/// A remediation note: who did what, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediationNote {
    /// When it was recorded.
    pub at: Timestamp,
    /// Who recorded it.
    pub author: String,
    /// What was done.
    pub text: String,
}

/// An incident source that failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot list incidents from {source_name}: {message}")]
pub struct IncidentError {
    /// The source, as its `name()` says (`receiver store /var/lib/…`).
    pub source_name: String,
    /// What went wrong.
    pub message: String,
}

/// A boxed future, so sources can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Lists a customer's incidents.
pub trait IncidentSource: fmt::Debug + Send + Sync {
    /// Its name, shown in reports (`none`, `receiver store`).
    fn name(&self) -> &str;

    /// Whether it knows incidents at all (false: the report says incidents
    /// are not connected rather than "none").
    fn available(&self) -> bool {
        true
    }

    /// The incidents of `customer` that overlap `[from, to)`, any order.
    fn incidents<'a>(
        &'a self,
        customer: &'a str,
        from: Timestamp,
        to: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<Incident>, IncidentError>>;
}

/// No incident source: reports say incidents are not connected.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoIncidents;

impl IncidentSource for NoIncidents {
    fn name(&self) -> &'static str {
        "none"
    }

    fn available(&self) -> bool {
        false
    }

    fn incidents<'a>(
        &'a self,
        _customer: &'a str,
        _from: Timestamp,
        _to: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<Incident>, IncidentError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}
