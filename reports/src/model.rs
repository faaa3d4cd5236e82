//! A customer report as data: what the JSON format writes (its schema is
//! `docs/report.schema.json`), and what the Markdown and HTML formats show.
//!
//! Ratios are fractions (`0.9995`), never percentages, except `objective`,
//! which is the catalog's percentage. Counts are what Prometheus' `increase()`
//! gives (whole numbers on aligned data, near-whole where it extrapolates).
//! Times are RFC 3339 in UTC; dates are calendar dates of the report's zone.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::incidents::{IncidentAlert, IncidentLink, RemediationNote, Severity};

/// The value of [`Report::schema`] this version writes.
pub const SCHEMA: &str = "edgewatch.report/v1";

/// One customer's report over one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: String,
    /// When the report was made.
    pub generated_at: Timestamp,
    /// What it covers.
    pub period: PeriodInfo,
    /// Whom it is about.
    pub customer: CustomerInfo,
    /// One entry per SLO the catalog gives the customer (probe SLOs only
    /// when it has probes), in the catalog's order.
    pub slos: Vec<SloReport>,
    /// Requests, peak rate and status mix.
    pub traffic: Traffic,
    /// Latency percentiles per day, per latency the customer's SLOs read
    /// (edge time to first byte when none does).
    pub latency: Vec<LatencyReport>,
    /// Each synthetic probe.
    pub probes: Vec<ProbeReport>,
    /// Requests security rules stopped.
    pub security: Security,
    /// Incidents, when an incident source is connected.
    pub incidents: Incidents,
}

/// The period of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodInfo {
    /// Start, inclusive.
    pub from: Timestamp,
    /// End, exclusive.
    pub to: Timestamp,
    /// IANA zone the days are read in.
    pub timezone: String,
    /// Short name (`2026-11`, `2026-W47`, `2026-Q3`, or the dates).
    pub label: String,
    /// Length in days.
    pub days: f64,
}

/// Who the report is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerInfo {
    /// Catalog id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Tier, if any.
    pub tier: Option<String>,
}

/// What an SLO measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SloKind {
    /// Requests that did not fail.
    Availability,
    /// Requests under a latency threshold.
    Latency,
    /// Synthetic probes that succeeded.
    Probe,
}

/// Where the error budget stands at the end of the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetStatus {
    /// Less than [`WARNING_CONSUMED`] of the budget consumed.
    Ok,
    /// At least [`WARNING_CONSUMED`] consumed, the objective still met.
    Warning,
    /// Over the budget: the objective was missed.
    Breached,
    /// Fewer requests than the customer's traffic floor: not judged.
    InsufficientData,
}

/// Share of the budget consumed from which the status is a warning.
pub const WARNING_CONSUMED: f64 = 0.75;

/// Share of the period's budget above which an incident needs a postmortem
/// (the SRE Workbook's error budget policy).
pub const POSTMORTEM_CONSUMED: f64 = 0.2;

impl BudgetStatus {
    /// The word the reports print.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Breached => "breached",
            Self::InsufficientData => "insufficient data",
        }
    }
}

/// One SLO over the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloReport {
    /// The SLO's name in the catalog.
    pub name: String,
    /// What it measures.
    pub kind: SloKind,
    /// In words (`edge time to first byte under 0.3 s`).
    pub description: String,
    /// The objective, in percent (`99.9`).
    pub objective: f64,
    /// The SLO's own rolling period in the catalog (`30d`); the report
    /// judges it over the report's period.
    pub slo_period: String,
    /// Requests (or probes) the SLI counted.
    pub requests: f64,
    /// Of which bad: failed, slower than the threshold, or failed probes.
    pub bad: f64,
    /// Good share, `1 - bad / requests`; null without requests.
    pub sli: Option<f64>,
    /// Whether the SLI met the objective; null when not judged (under the floor).
    pub met: Option<bool>,
    /// The error budget over the period.
    pub budget: Budget,
    /// The traffic floor: fewer requests than this are insufficient data.
    pub floor: u64,
    /// One entry per day of the period.
    pub daily: Vec<SloDay>,
}

/// An error budget over the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Bad requests the objective allows over the period's requests.
    pub allowed: f64,
    /// Share of it used, `bad / allowed`; null without requests.
    pub consumed: Option<f64>,
    /// `1 - consumed` (below 0 when overspent); null without requests.
    pub remaining: Option<f64>,
    /// Where it stands.
    pub status: BudgetStatus,
}

/// One SLO on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloDay {
    /// The date.
    pub date: Date,
    /// Requests.
    pub requests: f64,
    /// Bad requests.
    pub bad: f64,
    /// The day's SLI; null without requests.
    pub sli: Option<f64>,
    /// The period's budget left at the end of the day; null when the
    /// period had no requests.
    pub budget_remaining: Option<f64>,
}

/// Requests over the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// All requests.
    pub requests: f64,
    /// The highest request rate over five minutes, per second.
    pub peak_rate: Option<f64>,
    /// Requests by status class (`2xx`, `5xx`, …).
    pub status_classes: BTreeMap<String, f64>,
    /// One entry per day.
    pub daily: Vec<TrafficDay>,
}

/// Requests on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficDay {
    /// The date.
    pub date: Date,
    /// Requests.
    pub requests: f64,
    /// The day's highest five-minute rate, per second.
    pub peak_rate: Option<f64>,
    /// By status class.
    pub status_classes: BTreeMap<String, f64>,
}

/// Latency percentiles of one histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyReport {
    /// `edge_ttfb` or `origin_duration`.
    pub source: String,
    /// Over the whole period.
    pub period: Percentiles,
    /// Per day.
    pub daily: Vec<LatencyDay>,
}

/// Percentiles in seconds, interpolated within histogram buckets as
/// Prometheus' `histogram_quantile` does; null without requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Percentiles {
    /// Requests the histogram counted.
    pub requests: f64,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
}

/// Latency on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyDay {
    /// The date.
    pub date: Date,
    /// The day's percentiles.
    pub percentiles: Percentiles,
}

/// A synthetic probe over the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeReport {
    /// Its name in the catalog.
    pub name: String,
    /// What it requests.
    pub url: String,
    /// Probes run (every address counts).
    pub checks: f64,
    /// Of which failed.
    pub failures: f64,
    /// Share that succeeded; null when none ran.
    pub uptime: Option<f64>,
    /// When the certificate last served expires; null when none was seen.
    pub certificate_expires: Option<Timestamp>,
    /// Days from the period's end to that expiry (negative: expired).
    pub certificate_days_left: Option<f64>,
}

/// Requests the edge's security rules stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// Blocked or challenged requests.
    pub mitigated: f64,
    /// Their share of all requests; null without requests.
    pub share: Option<f64>,
    /// By action (`block`, `managed_challenge`, …).
    pub by_action: BTreeMap<String, f64>,
    /// Per day.
    pub daily: Vec<SecurityDay>,
    /// Attack alerts among the period's incidents, by start (empty when
    /// incidents are not connected).
    pub attacks: Vec<AttackAlert>,
}

/// An attack alert (`alert_kind` `attack`) of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackAlert {
    /// `alertname` (`EdgewatchSuspectedAttack`, `EdgewatchClientErrorSurge`).
    pub alert: String,
    /// When it started firing.
    pub start: Timestamp,
    /// When it resolved; null while firing.
    pub end: Option<Timestamp>,
    /// The incident it was part of.
    pub incident: String,
    /// The incident's top offenders, when recorded (named by the suggested
    /// rule first, then by refused or failed requests).
    pub offenders: Vec<crate::incidents::Offender>,
}

/// Mitigated requests on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityDay {
    /// The date.
    pub date: Date,
    /// Blocked or challenged requests.
    pub mitigated: f64,
}

/// The incidents section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incidents {
    /// Which source listed them (`none` when no store is connected).
    pub source: String,
    /// Whether incidents are known at all; when false the list is empty
    /// because nobody asked, not because nothing happened.
    pub available: bool,
    /// Incidents that overlap the period, by start.
    pub items: Vec<IncidentReport>,
}

/// One incident, with the budget it consumed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentReport {
    /// The source's id.
    pub id: String,
    /// What it was.
    pub title: String,
    /// Start.
    pub start: Timestamp,
    /// End; null while open.
    pub end: Option<Timestamp>,
    /// Seconds from start to end (to the period's end while open).
    pub duration_seconds: f64,
    /// Its highest severity.
    pub severity: Severity,
    /// The alerts that made it up.
    pub alerts: Vec<IncidentAlert>,
    /// Tickets, pages and other links.
    pub links: Vec<IncidentLink>,
    /// What was done, as recorded.
    pub remediation: Vec<RemediationNote>,
    /// When its first ticket or page was opened; null if none was.
    pub ticketed: Option<Timestamp>,
    /// How often it reopened after resolving.
    pub reopened: u32,
    /// Per SLO, the bad requests within the incident (clipped to the
    /// period) and their share of the period's budget.
    pub budget: Vec<IncidentBudget>,
    /// Whether it consumed more than [`POSTMORTEM_CONSUMED`] of some SLO's
    /// budget.
    pub postmortem: bool,
    /// Its top offenders, when recorded.
    pub offenders: Vec<crate::incidents::Offender>,
}

/// What an incident cost one SLO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentBudget {
    /// The SLO.
    pub slo: String,
    /// Bad requests within the incident.
    pub bad: f64,
    /// Their share of the period's budget; null when the budget is empty.
    pub consumed: Option<f64>,
}
