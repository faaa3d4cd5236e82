//! What the receiver asks a destination to do: an incident changed (opened,
//! updated, resolved, reopened), or an analyst noted something on it. Each outbox row keeps the incident as it
//! stood when the action was decided, so a retry or a replay acts on that;
//! the text for people is rendered at each attempt, with the live values of
//! that moment.

use std::collections::{BTreeMap, BTreeSet};

use edgewatch_catalog::Customer;
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
    /// An analyst recorded a note (remediation) on it: a comment on the
    /// issue; nothing for a page.
    Note,
}

impl ActionKind {
    /// The name used in logs, metrics and the log destination.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Update => "update",
            Self::Resolve => "resolve",
            Self::Reopen => "reopen",
            Self::Note => "note",
        }
    }
}

/// Firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Firing,
    Resolved,
}

/// One alert of an incident, as last notified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    /// Alertmanager's hash of the label set.
    pub fingerprint: String,
    pub status: Status,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// When it started (RFC 3339).
    pub starts_at: String,
    /// When it ended (RFC 3339), for resolved alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// The Prometheus expression browser link.
    pub generator_url: String,
}

/// An incident as an action saw it. Rows stored by older receivers lack the
/// fields marked `serde(default)`; they decode with those empty or unknown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// The store's id.
    pub id: i64,
    /// The grouping key (`customer=acme`, `customer=acme,incident=certificate`,
    /// or `alertname=X` for alerts without any key label).
    pub key: String,
    /// The labels and values of the key (`customer: acme`).
    #[serde(default)]
    pub grouped_by: BTreeMap<String, String>,
    /// Stable per incident (also across reopens), safe as a Jira label and a
    /// PagerDuty `dedup_key`: `edgewatch-` and 24 hex digits.
    pub dedup: String,
    /// The catalog id of the customer, when the alerts name a known one.
    pub customer: Option<String>,
    /// The lead alert's `alertname`: the first firing alert of the highest
    /// severity (it names the incident in titles).
    pub alertname: String,
    /// The most urgent severity among the firing alerts; once none fires,
    /// the last one it had.
    pub severity: Option<Severity>,
    /// The lead alert's `alert_kind` label.
    pub alert_kind: Option<String>,
    /// The lead alert's `slo` label.
    pub slo: Option<String>,
    /// The lead alert's `probe` label.
    pub probe: Option<String>,
    pub status: Status,
    /// When the first alert started (RFC 3339).
    pub started_at: String,
    /// When it resolved (RFC 3339).
    pub resolved_at: Option<String>,
    /// Every alert seen: firing ones first, the most urgent first, then by
    /// start. The first is the lead.
    pub alerts: Vec<AlertState>,
    /// Alertmanager's external URL, for links back.
    pub alertmanager_url: String,
    /// What the last notification changed.
    #[serde(default)]
    pub change: Change,
    /// Destinations (catalog names) where the incident is open now: opened
    /// (or reopened) there and not resolved since. `None` in a row stored
    /// before receivers kept it: unknown.
    #[serde(default)]
    pub engaged: Option<BTreeSet<String>>,
    /// Destinations that ever received the incident: a destination that
    /// did gets `reopen` rather than `open`. `None` likewise.
    #[serde(default)]
    pub notified: Option<BTreeSet<String>>,
    /// When each destination was last given an action of the incident
    /// (unix milliseconds): status updates (`update_every`) count from it.
    #[serde(default)]
    pub last_sent: BTreeMap<String, i64>,
}

impl Incident {
    /// This incident without its alerts: its header, copied without
    /// copying every alert of a large incident.
    pub(crate) fn without_alerts(&self) -> Self {
        // Every field named, so that a new one is not forgotten here.
        let Self {
            id,
            key,
            grouped_by,
            dedup,
            customer,
            alertname,
            severity,
            alert_kind,
            slo,
            probe,
            status,
            started_at,
            resolved_at,
            alerts: _,
            alertmanager_url,
            change,
            engaged,
            notified,
            last_sent,
        } = self;
        Self {
            id: *id,
            key: key.clone(),
            grouped_by: grouped_by.clone(),
            dedup: dedup.clone(),
            customer: customer.clone(),
            alertname: alertname.clone(),
            severity: *severity,
            alert_kind: alert_kind.clone(),
            slo: slo.clone(),
            probe: probe.clone(),
            status: *status,
            started_at: started_at.clone(),
            resolved_at: resolved_at.clone(),
            alerts: Vec::new(),
            alertmanager_url: alertmanager_url.clone(),
            change: change.clone(),
            engaged: engaged.clone(),
            notified: notified.clone(),
            last_sent: last_sent.clone(),
        }
    }
}

/// What one notification changed in an incident.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Fingerprints of the alerts that started firing in it (new ones, or
    /// ones firing again).
    #[serde(default)]
    pub joined: Vec<String>,
    /// Fingerprints of the alerts that stopped firing.
    #[serde(default)]
    pub ended: Vec<String>,
    /// The incident's severity before (`None` for a new incident).
    #[serde(default)]
    pub severity_before: Option<Severity>,
    /// Its severity after.
    #[serde(default)]
    pub severity_after: Option<Severity>,
    /// Nothing changed: a scheduled status update (`update_every`).
    #[serde(default)]
    pub status_update: bool,
}

impl Change {
    /// This change, said after `earlier`'s, which was never sent: what the
    /// two say together (an update still waiting takes the news of the
    /// next instead of a second update being queued).
    pub(crate) fn absorb(&mut self, earlier: &Self) {
        for (all, more) in [(&mut self.joined, &earlier.joined), (&mut self.ended, &earlier.ended)] {
            let later = std::mem::replace(all, more.clone());
            for f in later {
                if !all.contains(&f) {
                    all.push(f);
                }
            }
        }
        self.severity_before = earlier.severity_before;
        self.status_update &= earlier.status_update;
    }

    /// Whether the severity changed (from none, for a new incident).
    pub fn severity_changed(&self) -> bool {
        self.severity_before != self.severity_after
    }

    /// Whether it became more urgent (`ticket` to `page`).
    pub fn severity_raised(&self) -> bool {
        // `Severity` orders the most urgent first.
        matches!((self.severity_before, self.severity_after), (Some(b), Some(a)) if a < b)
    }

    /// Whether it became less urgent (`page` to `ticket`).
    pub fn severity_lowered(&self) -> bool {
        matches!((self.severity_before, self.severity_after), (Some(b), Some(a)) if a > b)
    }
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

/// The text and links rendered for people, at each attempt of an action.
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
    /// For customers (a status page): one line, without internal names.
    #[serde(default)]
    pub customer_title: String,
    /// For customers: what is affected, since when, what is being done.
    #[serde(default)]
    pub customer_body: String,
}

/// A titled link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub text: String,
    pub href: String,
}

/// One action for one destination.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub kind: ActionKind,
    /// The action's id in the store: the same for every attempt at it.
    pub action: i64,
    /// The incident as it stood when the action was decided.
    pub incident: &'a Incident,
    /// Its text, rendered now.
    pub message: &'a Message,
    /// What this destination answered to an earlier action of the incident
    /// (a Jira issue key), if anything.
    pub external: Option<&'a str>,
    /// The incident's customer, when the catalog has it.
    pub customer: Option<&'a Customer>,
    /// Alertmanager's URL for people (the receiver's `alertmanager_url`),
    /// used instead of the incident's `externalURL` when set.
    pub alertmanager_url: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_that_waits_takes_the_news_of_the_next() {
        let earlier = Change {
            joined: vec!["a".to_owned(), "b".to_owned()],
            ended: vec![],
            severity_before: Some(Severity::Ticket),
            severity_after: Some(Severity::Page),
            status_update: false,
        };
        let mut later = Change {
            joined: vec!["b".to_owned(), "c".to_owned()],
            ended: vec!["a".to_owned()],
            severity_before: Some(Severity::Page),
            severity_after: Some(Severity::Page),
            status_update: false,
        };
        later.absorb(&earlier);
        assert_eq!(later.joined, ["a", "b", "c"], "each once, in the order they joined");
        assert_eq!(later.ended, ["a"]);
        assert!(later.severity_raised(), "from before the first to after the second");
        // A status update says nothing new; with news, it is news.
        let mut status = Change { status_update: true, ..Change::default() };
        status.absorb(&Change { status_update: true, ..Change::default() });
        assert!(status.status_update);
        status.absorb(&earlier);
        assert!(!status.status_update);
    }
}
