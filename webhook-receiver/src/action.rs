//! What the receiver asks a destination to do: an incident changed (opened,
//! updated, resolved, reopened), with the incident as it stood then and the
//! text rendered for people. Stored with each outbox row, so a retry or a
//! replay sends exactly what was decided.

use std::collections::BTreeMap;

use edgewatch_catalog::names::Severity;
use serde::{Deserialize, Serialize};

/// How an incident changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// The incident started: create the issue, trigger the page.
    Open,
    /// Alerts joined or left, or the severity changed, while firing.
    Update,
    /// Every alert resolved.
    Resolve,
    /// It fired again within the reopen window: the same issue and page.
    Reopen,
}

impl ActionKind {
    /// The name used in logs, metrics and the log destination.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Update => "update",
            Self::Resolve => "resolve",
            Self::Reopen => "reopen",
        }
    }
}

/// Firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Active.
    Firing,
    /// Over.
    Resolved,
}

/// One alert of an incident, as last notified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    /// Alertmanager's hash of the label set.
    pub fingerprint: String,
    /// Firing or resolved.
    pub status: Status,
    /// The alert's labels.
    pub labels: BTreeMap<String, String>,
    /// The alert's annotations.
    pub annotations: BTreeMap<String, String>,
    /// When it started (RFC 3339).
    pub starts_at: String,
    /// When it ended (RFC 3339), for resolved alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// The Prometheus expression browser link.
    pub generator_url: String,
}

/// An incident as an action saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// The store's id.
    pub id: i64,
    /// The grouping key (`customer/alertname/slo`).
    pub key: String,
    /// Stable per incident (also across reopens), safe as a Jira label and a
    /// PagerDuty `dedup_key`: `edgewatch-` and 24 hex digits.
    pub dedup: String,
    /// The catalog id of the customer, when the alerts name a known one.
    pub customer: Option<String>,
    /// The alerts' `alertname`.
    pub alertname: String,
    /// The highest severity among the firing alerts (or the last ones).
    pub severity: Option<Severity>,
    /// The alerts' `alert_kind` label.
    pub alert_kind: Option<String>,
    /// The alerts' `slo` label.
    pub slo: Option<String>,
    /// The alerts' `probe` label.
    pub probe: Option<String>,
    /// Firing or resolved.
    pub status: Status,
    /// When the first alert started (RFC 3339).
    pub started_at: String,
    /// When it resolved (RFC 3339).
    pub resolved_at: Option<String>,
    /// Every alert seen, firing ones first.
    pub alerts: Vec<AlertState>,
    /// Alertmanager's external URL, for links back.
    pub alertmanager_url: String,
}

impl Incident {
    /// Alerts still firing.
    pub fn firing(&self) -> usize {
        self.alerts.iter().filter(|a| a.status == Status::Firing).count()
    }

    /// When a resolved incident ended: the latest `endsAt` of its alerts,
    /// else `resolved_at` (when the news arrived); `None` while it fires.
    pub fn ended_at(&self) -> Option<String> {
        if self.status != Status::Resolved {
            return None;
        }
        // Alertmanager tells of an end a `group_interval` or more after it
        // happened: the alerts' own end is when the customer's problem ended.
        latest_end(&self.alerts).or_else(|| self.resolved_at.clone())
    }
}

/// The latest `endsAt` among `alerts`, as written.
pub(crate) fn latest_end(alerts: &[AlertState]) -> Option<String> {
    alerts
        .iter()
        .filter_map(|a| {
            let end = a.ends_at.as_deref()?;
            Some((crate::time::parse_rfc3339(end)?, end))
        })
        .max_by_key(|(ms, _)| *ms)
        .map(|(_, end)| end.to_owned())
}

/// The text and links rendered for people, once per action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// One line: a Jira summary, a PagerDuty summary (cut by each destination
    /// to its limit).
    pub title: String,
    /// Several lines of plain text: a Jira description.
    pub description: String,
    /// What changed, for a comment on an existing issue.
    pub comment: String,
    /// Dashboard, runbook, Alertmanager and Prometheus links, titled.
    pub links: Vec<Link>,
    /// Structured context (customer, tier, live values…): PagerDuty's
    /// `custom_details`, the log destination's record.
    pub details: BTreeMap<String, serde_json::Value>,
}

/// A titled link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// What it is.
    pub text: String,
    /// Where it goes.
    pub href: String,
}

/// One action for one destination.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// What changed.
    pub kind: ActionKind,
    /// The incident then.
    pub incident: &'a Incident,
    /// Its text.
    pub message: &'a Message,
    /// What this destination answered to an earlier action of the incident
    /// (a Jira issue key), if anything.
    pub external: Option<&'a str>,
    /// The customer's Jira project, overriding the destination's.
    pub jira_project: Option<&'a str>,
    /// Alertmanager's URL for people (the receiver's `alertmanager_url`),
    /// used instead of the incident's `externalURL` when set.
    pub alertmanager_url: Option<&'a str>,
}
