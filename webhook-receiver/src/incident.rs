//! Incidents: alerts grouped under a key of their own labels (customer,
//! alertname, slo or probe by default), whatever Alertmanager's route tree
//! groups them by, and what each notification does to one: open it, update
//! it, resolve it, or reopen it within the reopen window. Pure: the store
//! applies it inside the transaction that records the notification.

use std::collections::BTreeMap;

use edgewatch_catalog::names::{Severity, label};
use sha2::{Digest as _, Sha256};

use crate::action::{ActionKind, AlertState, Incident, Status, latest_end};
use crate::payload::{Notification, hex};

/// The labels whose values make an incident's key, in order.
pub const DEFAULT_KEY_LABELS: &[&str] = &[label::CUSTOMER, "alertname", label::SLO, label::PROBE];

/// The alerts of one notification that share an incident key.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupUpdate {
    /// `customer=acme,alertname=X,slo=availability` (labels without a value left out).
    pub key: String,
    /// Their alerts, as notified.
    pub alerts: Vec<AlertState>,
    /// Alertmanager's URL.
    pub alertmanager_url: String,
}

/// Splits a notification into incident updates, in key order.
pub fn groups(n: &Notification, key_labels: &[String]) -> Vec<GroupUpdate> {
    let mut by_key: BTreeMap<String, Vec<AlertState>> = BTreeMap::new();
    for a in &n.alerts {
        let key = key_labels
            .iter()
            .filter_map(|l| a.labels.get(l).filter(|v| !v.is_empty()).map(|v| format!("{l}={v}")))
            .collect::<Vec<_>>()
            .join(",");
        by_key.entry(key).or_default().push(AlertState {
            fingerprint: a.fingerprint.clone(),
            status: a.status,
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            starts_at: a.starts_at.clone(),
            ends_at: a.ended().map(str::to_owned),
            generator_url: a.generator_url.clone(),
        });
    }
    by_key
        .into_iter()
        .map(|(key, alerts)| GroupUpdate { key, alerts, alertmanager_url: n.external_url.clone() })
        .collect()
}

/// What a notification did to an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The incident after it; `id` 0 when it is a new one.
    pub incident: Incident,
    /// What the destinations should do, if anything.
    pub action: Option<ActionKind>,
}

/// One alert's label, the same on every alert of the group or the first's.
fn common(alerts: &[AlertState], name: &str) -> Option<String> {
    alerts.iter().find_map(|a| a.labels.get(name).filter(|v| !v.is_empty()).cloned())
}

/// The most urgent severity among the firing alerts (or all, when none fires).
fn severity(alerts: &[AlertState]) -> Option<Severity> {
    let of = |firing_only: bool| {
        alerts
            .iter()
            .filter(|a| !firing_only || a.status == Status::Firing)
            .filter_map(|a| a.labels.get(label::SEVERITY)?.parse::<Severity>().ok())
            .min()
    };
    of(true).or_else(|| of(false))
}

/// A fresh incident from `update`'s alerts.
fn open(update: &GroupUpdate, customer: Option<String>) -> Incident {
    let started_at = update.alerts.iter().map(|a| a.starts_at.as_str()).min().unwrap_or_default().to_owned();
    // From the key and the first alert's start, so that after losing its
    // store the receiver finds its own Jira issue by this label again.
    let mut h = Sha256::new();
    h.update(update.key.as_bytes());
    h.update([0x1f]);
    h.update(started_at.as_bytes());
    let dedup = format!("edgewatch-{}", &hex(&h.finalize())[..24]);
    let mut incident = Incident {
        id: 0,
        key: update.key.clone(),
        dedup,
        customer,
        alertname: common(&update.alerts, "alertname").unwrap_or_default(),
        severity: None,
        alert_kind: common(&update.alerts, label::ALERT_KIND),
        slo: common(&update.alerts, label::SLO),
        probe: common(&update.alerts, label::PROBE),
        status: Status::Firing,
        started_at,
        resolved_at: None,
        alerts: Vec::new(),
        alertmanager_url: update.alertmanager_url.clone(),
    };
    merge(&mut incident, &update.alerts);
    incident
}

/// Adds or replaces alerts by fingerprint, firing ones first, and sets the
/// severity from them.
fn merge(incident: &mut Incident, alerts: &[AlertState]) {
    let mut by_fp: BTreeMap<String, AlertState> =
        incident.alerts.drain(..).map(|a| (a.fingerprint.clone(), a)).collect();
    for a in alerts {
        by_fp.insert(a.fingerprint.clone(), a.clone());
    }
    let mut merged: Vec<AlertState> = by_fp.into_values().collect();
    merged.sort_by(|a, b| (a.status != Status::Firing, &a.starts_at).cmp(&(b.status != Status::Firing, &b.starts_at)));
    incident.alerts = merged;
    incident.severity = severity(&incident.alerts);
}

/// Firing fingerprints, to tell a real change from a repeat.
fn firing_set(i: &Incident) -> Vec<&str> {
    let mut v: Vec<&str> =
        i.alerts.iter().filter(|a| a.status == Status::Firing).map(|a| a.fingerprint.as_str()).collect();
    v.sort_unstable();
    v
}

/// What `update` does to the key's latest incident `current`. `now` is RFC
/// 3339, the notification's arrival: a resolved incident's `resolved_at` is
/// its alerts' latest `endsAt`, and `now` only when none has one.
/// `within_reopen` says whether `current` resolved recently enough to reopen.
pub fn apply(
    current: Option<&Incident>,
    update: &GroupUpdate,
    customer: Option<String>,
    now: &str,
    within_reopen: bool,
) -> Transition {
    let fires = update.alerts.iter().any(|a| a.status == Status::Firing);
    match current {
        None if fires => Transition { incident: open(update, customer), action: Some(ActionKind::Open) },
        // Resolved alerts of an incident never seen (or pruned): recorded,
        // nothing to tell anyone.
        None => {
            let mut i = open(update, customer);
            i.status = Status::Resolved;
            i.resolved_at = Some(latest_end(&i.alerts).unwrap_or_else(|| now.to_owned()));
            Transition { incident: i, action: None }
        }
        Some(cur) if cur.status == Status::Resolved => {
            if !fires {
                return Transition { incident: cur.clone(), action: None };
            }
            if within_reopen {
                let mut i = cur.clone();
                i.alerts.retain(|a| a.status == Status::Firing);
                merge(&mut i, &update.alerts);
                i.status = Status::Firing;
                i.resolved_at = None;
                Transition { incident: i, action: Some(ActionKind::Reopen) }
            } else {
                Transition { incident: open(update, customer), action: Some(ActionKind::Open) }
            }
        }
        Some(cur) => {
            let mut i = cur.clone();
            merge(&mut i, &update.alerts);
            if i.firing() == 0 {
                i.status = Status::Resolved;
                i.resolved_at = Some(latest_end(&i.alerts).unwrap_or_else(|| now.to_owned()));
                return Transition { incident: i, action: Some(ActionKind::Resolve) };
            }
            let changed = firing_set(&i) != firing_set(cur) || i.severity != cur.severity;
            Transition { incident: i, action: changed.then_some(ActionKind::Update) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(fp: &str, status: Status, severity: &str) -> AlertState {
        AlertState {
            fingerprint: fp.to_owned(),
            status,
            labels: [
                ("alertname", "EdgewatchProbeDown"),
                ("customer", "acme"),
                ("probe", "home"),
                ("severity", severity),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            annotations: BTreeMap::new(),
            starts_at: format!("2026-11-21T08:00:0{}Z", fp.len() % 10),
            ends_at: None,
            generator_url: String::new(),
        }
    }

    fn update(alerts: Vec<AlertState>) -> GroupUpdate {
        GroupUpdate {
            key: "customer=acme,alertname=EdgewatchProbeDown,probe=home".to_owned(),
            alerts,
            alertmanager_url: String::new(),
        }
    }

    #[test]
    fn an_incident_opens_updates_resolves_and_reopens() {
        let now = "2026-11-21T09:00:00Z";
        let t = apply(None, &update(vec![alert("a", Status::Firing, "ticket")]), Some("acme".to_owned()), now, false);
        assert_eq!(t.action, Some(ActionKind::Open));
        assert_eq!(t.incident.severity, Some(Severity::Ticket));
        assert!(t.incident.dedup.starts_with("edgewatch-") && t.incident.dedup.len() == 34);
        let opened = t.incident;

        // The same again (a repeat): nothing to say.
        let t = apply(Some(&opened), &update(vec![alert("a", Status::Firing, "ticket")]), None, now, false);
        assert_eq!(t.action, None);
        // A page joins: an update, and the severity rises.
        let t = apply(Some(&opened), &update(vec![alert("bb", Status::Firing, "page")]), None, now, false);
        assert_eq!(t.action, Some(ActionKind::Update));
        assert_eq!(t.incident.severity, Some(Severity::Page));
        assert_eq!(t.incident.firing(), 2);
        let both = t.incident;
        // One resolves: an update; both: resolved.
        let t = apply(Some(&both), &update(vec![alert("a", Status::Resolved, "ticket")]), None, now, false);
        assert_eq!(t.action, Some(ActionKind::Update));
        let t = apply(Some(&t.incident), &update(vec![alert("bb", Status::Resolved, "page")]), None, now, false);
        assert_eq!(t.action, Some(ActionKind::Resolve));
        assert_eq!(t.incident.status, Status::Resolved);
        let resolved = t.incident;

        // Firing again: within the window the same incident reopens…
        let t = apply(Some(&resolved), &update(vec![alert("a", Status::Firing, "ticket")]), None, now, true);
        assert_eq!(t.action, Some(ActionKind::Reopen));
        assert_eq!(t.incident.dedup, resolved.dedup);
        assert_eq!(t.incident.firing(), 1);
        // …after it, a new one opens with its own dedup key.
        let mut later = alert("a", Status::Firing, "ticket");
        later.starts_at = "2026-11-22T08:00:00Z".to_owned();
        let t = apply(Some(&resolved), &update(vec![later]), None, now, false);
        assert_eq!(t.action, Some(ActionKind::Open));
        assert_ne!(t.incident.dedup, resolved.dedup);
        // Resolved news of an unknown incident: kept, nobody told.
        let t = apply(None, &update(vec![alert("a", Status::Resolved, "ticket")]), None, now, false);
        assert_eq!((t.action, t.incident.status), (None, Status::Resolved));
    }

    #[test]
    fn an_incident_resolves_when_its_alerts_ended_not_when_the_news_arrived() {
        let t = apply(None, &update(vec![alert("a", Status::Firing, "page")]), None, "2026-11-21T08:00:00Z", false);
        let mut ended = alert("a", Status::Resolved, "page");
        ended.ends_at = Some("2026-11-21T09:00:00Z".to_owned());
        // Alertmanager's group_interval and retries: the news comes 210 s late.
        let arrival = "2026-11-21T09:03:30.000Z";
        let t = apply(Some(&t.incident), &update(vec![ended]), None, arrival, false);
        assert_eq!(t.action, Some(ActionKind::Resolve));
        assert_eq!(t.incident.resolved_at.as_deref(), Some("2026-11-21T09:00:00Z"));
        assert_eq!(t.incident.ended_at().as_deref(), Some("2026-11-21T09:00:00Z"));
        // Without any end, the arrival is all there is.
        let t = apply(Some(&t.incident), &update(vec![alert("b", Status::Firing, "page")]), None, arrival, true);
        let t = apply(Some(&t.incident), &update(vec![alert("b", Status::Resolved, "page")]), None, arrival, false);
        assert_eq!(t.incident.resolved_at.as_deref(), Some(arrival));
    }

    #[test]
    fn keys_come_from_labels_not_from_alertmanagers_groups() {
        let body = crate::payload::tests::SAMPLE;
        let n = crate::payload::parse(body.as_bytes()).unwrap();
        let keys: Vec<String> = DEFAULT_KEY_LABELS.iter().map(|s| (*s).to_owned()).collect();
        let g = groups(&n, &keys);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].key, "customer=acme-retail,alertname=EdgewatchErrorBudgetBurnFast,slo=availability");
    }
}
