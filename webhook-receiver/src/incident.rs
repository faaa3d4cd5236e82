//! Incidents: one per customer problem. Alerts group under a key of their
//! own labels (`customer` and `incident` by default), whatever
//! Alertmanager's route tree groups them by; each notification opens,
//! updates, resolves or (within the reopen window) reopens one, and
//! [`plan`] turns that into an action per destination from where the
//! incident is routed now and where it is open. Pure: the store applies it
//! inside the transaction that records the notification.

use std::collections::{BTreeMap, BTreeSet};

use edgewatch_catalog::names::{Severity, label};
use sha2::{Digest as _, Sha256};

use crate::action::{ActionKind, AlertState, Change, Incident, Status, latest_end};
use crate::payload::{Notification, hex};

/// The labels whose values make an incident's key, in order: one incident
/// per customer, and apart from it those of its alerts labelled with
/// another `incident` (`certificate`, `config`).
pub(crate) const DEFAULT_KEY_LABELS: &[&str] = &[label::CUSTOMER, label::INCIDENT];

/// The alerts of one notification that share an incident key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupUpdate {
    /// `customer=acme,incident=certificate` (labels without a value left
    /// out), or `alertname=X` when the alerts have none of the key labels.
    pub key: String,
    /// The labels and values of the key.
    pub labels: BTreeMap<String, String>,
    /// Their alerts, as notified.
    pub alerts: Vec<AlertState>,
    /// Alertmanager's URL.
    pub alertmanager_url: String,
}

/// The key of an alert with `labels`, and its labels and values.
fn key_of(labels: &BTreeMap<String, String>, key_labels: &[String]) -> (String, BTreeMap<String, String>) {
    let mut pairs: BTreeMap<String, String> = BTreeMap::new();
    let mut key = Vec::new();
    for l in key_labels {
        if let Some(v) = labels.get(l).filter(|v| !v.is_empty()) {
            key.push(format!("{l}={v}"));
            pairs.insert(l.clone(), v.clone());
        }
    }
    if key.is_empty() {
        // Alerts about nothing the key names (edgewatch itself): one
        // incident per alert name, not one for all of them.
        let name = labels.get("alertname").cloned().unwrap_or_default();
        key.push(format!("alertname={name}"));
        pairs.insert("alertname".to_owned(), name);
    }
    (key.join(","), pairs)
}

/// Splits a notification into incident updates, in key order.
pub(crate) fn groups(n: &Notification, key_labels: &[String]) -> Vec<GroupUpdate> {
    let mut by_key: BTreeMap<String, GroupUpdate> = BTreeMap::new();
    for a in &n.alerts {
        let (key, labels) = key_of(&a.labels, key_labels);
        let group = by_key.entry(key.clone()).or_insert_with(|| GroupUpdate {
            key,
            labels,
            alerts: Vec::new(),
            alertmanager_url: n.external_url.clone(),
        });
        group.alerts.push(AlertState {
            fingerprint: a.fingerprint.clone(),
            status: a.status,
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            starts_at: a.starts_at.clone(),
            ends_at: a.ended().map(str::to_owned),
            generator_url: a.generator_url.clone(),
        });
    }
    by_key.into_values().collect()
}

/// Moves the alerts that belong to an incident `held` under another key
/// (`(key, fingerprints)`: one that was firing when the receiver's key
/// changed, on an upgrade) to an update of that key, so that the incident
/// gets their news until it resolves instead of being left open while a
/// second incident opens for the same alerts. The rest keep their key.
pub(crate) fn divert(groups: Vec<GroupUpdate>, held: &[(String, BTreeSet<String>)]) -> Vec<GroupUpdate> {
    if held.is_empty() {
        return groups;
    }
    let mut by_key: BTreeMap<String, GroupUpdate> = BTreeMap::new();
    for g in groups {
        let GroupUpdate { key, labels, alerts, alertmanager_url } = g;
        for a in alerts {
            let owner = held.iter().find(|(k, fps)| *k != key && fps.contains(&a.fingerprint));
            let (k, l) = match owner {
                // The stored incident keeps its own `grouped_by` (empty in old rows).
                Some((k, _)) => (k.clone(), BTreeMap::new()),
                None => (key.clone(), labels.clone()),
            };
            let group = by_key.entry(k.clone()).or_insert_with(|| GroupUpdate {
                key: k,
                labels: l,
                alerts: Vec::new(),
                alertmanager_url: alertmanager_url.clone(),
            });
            group.alerts.push(a);
        }
    }
    by_key.into_values().collect()
}

/// What a notification did to an incident.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Transition {
    /// The incident after it; `id` 0 when it is a new one.
    pub incident: Incident,
    /// What the destinations that have the incident should do, if anything.
    pub action: Option<ActionKind>,
}

/// An alert's severity label.
fn severity_of(a: &AlertState) -> Option<Severity> {
    a.labels.get(label::SEVERITY)?.parse().ok()
}

/// The most urgent severity among `alerts`, firing ones only if asked.
fn most_urgent(alerts: &[AlertState], firing_only: bool) -> Option<Severity> {
    alerts.iter().filter(|a| !firing_only || a.status == Status::Firing).filter_map(severity_of).min()
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
        grouped_by: update.labels.clone(),
        dedup,
        customer,
        alertname: String::new(),
        severity: None,
        alert_kind: None,
        slo: None,
        probe: None,
        status: Status::Firing,
        started_at,
        resolved_at: None,
        alerts: Vec::new(),
        alertmanager_url: update.alertmanager_url.clone(),
        change: Change::default(),
        engaged: Some(BTreeSet::new()),
        notified: Some(BTreeSet::new()),
        last_sent: BTreeMap::new(),
    };
    merge(&mut incident, &update.alerts);
    incident
}

/// Adds or replaces alerts by fingerprint, orders them (firing first, the
/// most urgent first, then by start), and takes the severity and the lead
/// alert's labels from them.
fn merge(incident: &mut Incident, alerts: &[AlertState]) {
    let mut by_fp: BTreeMap<String, AlertState> =
        incident.alerts.drain(..).map(|a| (a.fingerprint.clone(), a)).collect();
    for a in alerts {
        by_fp.insert(a.fingerprint.clone(), a.clone());
    }
    let mut merged: Vec<AlertState> = by_fp.into_values().collect();
    order(&mut merged);
    incident.alerts = merged;
    // Once nothing fires the incident keeps the severity it ended with: a
    // page that ended before the last ticket does not come back at the end.
    incident.severity =
        most_urgent(&incident.alerts, true).or(incident.severity).or_else(|| most_urgent(&incident.alerts, false));
    if let Some(lead) = incident.alerts.first() {
        let get = |name: &str| lead.labels.get(name).filter(|v| !v.is_empty()).cloned();
        incident.alertname = get("alertname").unwrap_or_default();
        incident.alert_kind = get(label::ALERT_KIND);
        incident.slo = get(label::SLO);
        incident.probe = get(label::PROBE);
    }
}

/// Puts an incident's alerts in its order: firing first, the most urgent
/// first, then by start, then by fingerprint. The first is the lead.
pub(crate) fn order(alerts: &mut [AlertState]) {
    // An alert without a severity sorts after those with one.
    let rank = |a: &AlertState| (severity_of(a).is_none(), severity_of(a));
    alerts.sort_by(|a, b| {
        (a.status != Status::Firing, rank(a), &a.starts_at, &a.fingerprint).cmp(&(
            b.status != Status::Firing,
            rank(b),
            &b.starts_at,
            &b.fingerprint,
        ))
    });
}

/// Firing fingerprints.
fn firing_set(i: &Incident) -> BTreeSet<&str> {
    i.alerts.iter().filter(|a| a.status == Status::Firing).map(|a| a.fingerprint.as_str()).collect()
}

/// What changed from `before` (the same incident, if it existed) to `after`.
fn diff(before: Option<&Incident>, after: &Incident) -> Change {
    let was = before.map(firing_set).unwrap_or_default();
    let now = firing_set(after);
    Change {
        joined: after
            .alerts
            .iter()
            .filter(|a| a.status == Status::Firing && !was.contains(a.fingerprint.as_str()))
            .map(|a| a.fingerprint.clone())
            .collect(),
        ended: after
            .alerts
            .iter()
            .filter(|a| was.contains(a.fingerprint.as_str()) && !now.contains(a.fingerprint.as_str()))
            .map(|a| a.fingerprint.clone())
            .collect(),
        severity_before: before.and_then(|b| b.severity),
        severity_after: after.severity,
        status_update: false,
    }
}

/// What `update` does to the key's latest incident `current`. `now` is RFC
/// 3339, the notification's arrival: a resolved incident's `resolved_at` is
/// its alerts' latest `endsAt`, and `now` only when none has one.
/// `within_reopen` says whether `current` resolved recently enough to reopen.
pub(crate) fn apply(
    current: Option<&Incident>,
    update: &GroupUpdate,
    customer: Option<String>,
    now: &str,
    within_reopen: bool,
) -> Transition {
    let fires = update.alerts.iter().any(|a| a.status == Status::Firing);
    let resolve = |i: &mut Incident| {
        i.status = Status::Resolved;
        i.resolved_at = Some(latest_end(&i.alerts).unwrap_or_else(|| now.to_owned()));
    };
    // The incident after, the action, and the same incident before, if any.
    let (mut incident, action, before) = match current {
        None if fires => (open(update, customer), Some(ActionKind::Open), None),
        // Resolved alerts of an incident never seen (or pruned): recorded,
        // nothing to tell anyone.
        None => {
            let mut i = open(update, customer);
            resolve(&mut i);
            (i, None, None)
        }
        Some(cur) if cur.status == Status::Resolved => {
            if !fires {
                (cur.clone(), None, Some(cur))
            } else if within_reopen {
                let mut i = cur.clone();
                i.alerts.retain(|a| a.status == Status::Firing);
                merge(&mut i, &update.alerts);
                i.status = Status::Firing;
                i.resolved_at = None;
                (i, Some(ActionKind::Reopen), Some(cur))
            } else {
                (open(update, customer), Some(ActionKind::Open), None)
            }
        }
        Some(cur) => {
            let mut i = cur.clone();
            merge(&mut i, &update.alerts);
            if i.firing() == 0 {
                resolve(&mut i);
                (i, Some(ActionKind::Resolve), Some(cur))
            } else {
                let changed = firing_set(&i) != firing_set(cur) || i.severity != cur.severity;
                (i, changed.then_some(ActionKind::Update), Some(cur))
            }
        }
    };
    incident.change = diff(before, &incident);
    Transition { incident, action }
}

/// Where an incident goes and what each destination is told, from the
/// incident `before` the notification (the key's latest; ignored when
/// `after` is another incident) and `after` it, and the transition's
/// `action`. Records in `after` where it is open now (`engaged`) and where
/// it has ever been (`notified`).
///
/// It is routed now to the union, over its firing alerts, of `route(alert)`
/// (nowhere once none fires). A destination newly routed gets `open`, or
/// `reopen` if it had the incident before; one routed and engaged gets the
/// action, as an `update`, if there is one; one engaged and no longer
/// routed gets `resolve`. An incident stored before receivers kept
/// `engaged` and `notified` counts as engaged (if firing) and notified
/// where `legacy(incident)` says its stored severity was routed.
pub(crate) fn plan(
    before: Option<&Incident>,
    after: &mut Incident,
    action: Option<ActionKind>,
    route: &dyn Fn(&AlertState) -> Vec<String>,
    legacy: &dyn Fn(&Incident) -> Vec<String>,
) -> Vec<(String, ActionKind)> {
    let before = before.filter(|b| b.dedup == after.dedup);
    let engaged: BTreeSet<String> = before
        .map(|b| {
            b.engaged.clone().unwrap_or_else(|| {
                if b.status == Status::Firing { legacy(b).into_iter().collect() } else { BTreeSet::new() }
            })
        })
        .unwrap_or_default();
    let mut notified: BTreeSet<String> =
        before.map(|b| b.notified.clone().unwrap_or_else(|| legacy(b).into_iter().collect())).unwrap_or_default();
    // In route order, the lead alert's destinations first.
    let mut routed: Vec<String> = Vec::new();
    if after.status == Status::Firing {
        for a in after.alerts.iter().filter(|a| a.status == Status::Firing) {
            for d in route(a) {
                if !routed.contains(&d) {
                    routed.push(d);
                }
            }
        }
    }
    let mut steps = Vec::new();
    for d in &routed {
        if engaged.contains(d) {
            if action.is_some() {
                steps.push((d.clone(), ActionKind::Update));
            }
        } else {
            let kind = if notified.contains(d) { ActionKind::Reopen } else { ActionKind::Open };
            steps.push((d.clone(), kind));
        }
    }
    for d in engaged.iter().filter(|d| !routed.contains(d)) {
        steps.push((d.clone(), ActionKind::Resolve));
    }
    notified.extend(routed.iter().cloned());
    after.engaged = Some(routed.into_iter().collect());
    after.notified = Some(notified);
    steps
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

    /// An alert of `acme` named `name`, of `kind` and `severity`.
    fn named(fp: &str, name: &str, kind: &str, severity: &str, status: Status) -> AlertState {
        let mut a = alert(fp, status, severity);
        a.labels.insert("alertname".to_owned(), name.to_owned());
        a.labels.insert("alert_kind".to_owned(), kind.to_owned());
        a.labels.remove("probe");
        a.annotations.insert("summary".to_owned(), format!("acme: {name}"));
        a
    }

    fn update(alerts: Vec<AlertState>) -> GroupUpdate {
        GroupUpdate {
            key: "customer=acme".to_owned(),
            labels: BTreeMap::from([("customer".to_owned(), "acme".to_owned())]),
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
        assert!(t.incident.change.joined.is_empty() && !t.incident.change.severity_changed());
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

    /// Routes as a NOC sets them: pages to PagerDuty and Jira, tickets to Jira.
    fn route(a: &AlertState) -> Vec<String> {
        match a.labels.get("severity").map(String::as_str) {
            Some("page") => vec!["pagerduty".to_owned(), "jira".to_owned()],
            Some("ticket") => vec!["jira".to_owned()],
            _ => Vec::new(),
        }
    }

    /// Where an old row's stored severity went.
    fn legacy(i: &Incident) -> Vec<String> {
        match i.severity {
            Some(Severity::Page) => vec!["pagerduty".to_owned(), "jira".to_owned()],
            Some(Severity::Ticket) => vec!["jira".to_owned()],
            _ => Vec::new(),
        }
    }

    /// One notification: the transition, then the plan.
    fn step(
        current: Option<&Incident>,
        alerts: Vec<AlertState>,
        within: bool,
    ) -> (Incident, Vec<(String, ActionKind)>) {
        let t = apply(current, &update(alerts), Some("acme".to_owned()), "2026-11-21T09:00:00Z", within);
        let mut incident = t.incident;
        let steps = plan(current, &mut incident, t.action, &route, &legacy);
        (incident, steps)
    }

    fn to(steps: &[(&str, ActionKind)]) -> Vec<(String, ActionKind)> {
        steps.iter().map(|(d, k)| ((*d).to_owned(), *k)).collect()
    }

    #[test]
    fn each_destination_follows_the_alerts_routed_to_it() {
        use ActionKind::{Open, Reopen, Resolve, Update};
        let origin = |s| named("o", "EdgewatchOriginErrors", "origin_errors", "ticket", s);
        let burn = |s| named("bb", "EdgewatchErrorBudgetBurnFast", "burn_rate_fast", "page", s);

        // A ticket opens: Jira only.
        let (i, steps) = step(None, vec![origin(Status::Firing)], false);
        assert_eq!(steps, to(&[("jira", Open)]));
        assert_eq!(i.severity, Some(Severity::Ticket));

        // A page joins: PagerDuty opens, Jira is told, the severity rises,
        // and the page leads the title.
        let (i, steps) = step(Some(&i), vec![burn(Status::Firing)], false);
        assert_eq!(steps, to(&[("pagerduty", Open), ("jira", Update)]));
        assert_eq!(i.severity, Some(Severity::Page));
        assert_eq!(i.change.joined, ["bb"]);
        assert!(i.change.severity_raised());
        assert_eq!(i.alertname, "EdgewatchErrorBudgetBurnFast");
        assert_eq!(i.alert_kind.as_deref(), Some("burn_rate_fast"));

        // The same again: nothing for anyone.
        let (i, steps) = step(Some(&i), vec![burn(Status::Firing), origin(Status::Firing)], false);
        assert!(steps.is_empty(), "{steps:?}");

        // The page ends, the ticket fires on: PagerDuty resolves, Jira hears
        // the severity went down.
        let (i, steps) = step(Some(&i), vec![burn(Status::Resolved)], false);
        assert_eq!(steps, to(&[("jira", Update), ("pagerduty", Resolve)]));
        assert_eq!(i.severity, Some(Severity::Ticket));
        assert_eq!(i.change.ended, ["bb"]);
        assert!(i.change.severity_lowered());
        assert_eq!(i.alertname, "EdgewatchOriginErrors");

        // Everything ends: Jira resolves; PagerDuty has nothing open.
        let (i, steps) = step(Some(&i), vec![origin(Status::Resolved)], false);
        assert_eq!(steps, to(&[("jira", Resolve)]));
        assert_eq!(i.status, Status::Resolved);
        assert_eq!(i.severity, Some(Severity::Ticket), "the severity it ended with");

        // It fires again within the reopen window: both had it, both reopen.
        let (i, steps) = step(Some(&i), vec![burn(Status::Firing), origin(Status::Firing)], true);
        assert_eq!(steps, to(&[("pagerduty", Reopen), ("jira", Reopen)]));
        assert!(i.change.severity_raised());
        assert_eq!(i.engaged, Some(["jira".to_owned(), "pagerduty".to_owned()].into()));

        // A ticket-only incident that later pages: PagerDuty never had it, so
        // it opens there, while Jira, which had it, reopens.
        let (i, _) = step(None, vec![origin(Status::Firing)], false);
        let (i, _) = step(Some(&i), vec![origin(Status::Resolved)], false);
        let (_, steps) = step(Some(&i), vec![burn(Status::Firing)], true);
        assert_eq!(steps, to(&[("pagerduty", Open), ("jira", Reopen)]));
    }

    #[test]
    fn rows_stored_before_destinations_were_tracked_still_work() {
        // An incident as a receiver stored it before `engaged`, `notified`,
        // `change` and `grouped_by` existed: firing, page.
        let old = r#"{"id":3,"key":"customer=acme","dedup":"edgewatch-0123456789abcdef01234567","customer":"acme","alertname":"EdgewatchProbeDown","severity":"page","alert_kind":"probe_down","slo":null,"probe":"home","status":"firing","started_at":"2026-11-21T08:00:01Z","resolved_at":null,"alerts":[{"fingerprint":"a","status":"firing","labels":{"alertname":"EdgewatchProbeDown","customer":"acme","probe":"home","severity":"page"},"annotations":{},"starts_at":"2026-11-21T08:00:01Z","generator_url":""}],"alertmanager_url":"http://am"}"#;
        let old: Incident = serde_json::from_str(old).unwrap();
        assert_eq!((old.engaged.as_ref(), old.notified.as_ref()), (None, None));
        // Its stored severity routed it to both: they have it open.
        let (i, steps) = step(Some(&old), vec![alert("a", Status::Resolved, "page")], false);
        assert_eq!(steps, to(&[("jira", ActionKind::Resolve), ("pagerduty", ActionKind::Resolve)]));
        // Resolved, then firing again: both reopen.
        let (_, steps) = step(Some(&i), vec![alert("a", Status::Firing, "page")], true);
        assert_eq!(steps, to(&[("pagerduty", ActionKind::Reopen), ("jira", ActionKind::Reopen)]));
        // An old resolved row: nothing engaged, both notified.
        let mut resolved = old;
        resolved.status = Status::Resolved;
        let (_, steps) = step(Some(&resolved), vec![alert("a", Status::Firing, "page")], true);
        assert_eq!(steps, to(&[("pagerduty", ActionKind::Reopen), ("jira", ActionKind::Reopen)]));
    }

    #[test]
    fn alerts_of_an_incident_held_under_an_old_key_go_to_it_until_it_resolves() {
        let held = vec![(
            "customer=acme,alertname=EdgewatchProbeDown,probe=home".to_owned(),
            BTreeSet::from(["a".to_owned(), "c".to_owned()]),
        )];
        let g = update(vec![alert("a", Status::Resolved, "page"), alert("bb", Status::Firing, "page")]);
        let out = divert(vec![g.clone()], &held);
        let keys: Vec<(&str, Vec<&str>)> =
            out.iter().map(|g| (g.key.as_str(), g.alerts.iter().map(|a| a.fingerprint.as_str()).collect())).collect();
        assert_eq!(
            keys,
            [("customer=acme", vec!["bb"]), ("customer=acme,alertname=EdgewatchProbeDown,probe=home", vec!["a"])]
        );
        // Nothing held, or held under the same key: as they were.
        assert_eq!(divert(vec![g.clone()], &[]), std::slice::from_ref(&g));
        let same = vec![("customer=acme".to_owned(), BTreeSet::from(["a".to_owned()]))];
        assert_eq!(divert(vec![g.clone()], &same), [g]);
    }

    #[test]
    fn keys_come_from_labels_not_from_alertmanagers_groups() {
        let body = crate::payload::tests::SAMPLE;
        let n = crate::payload::parse(body.as_bytes()).unwrap();
        let keys: Vec<String> = DEFAULT_KEY_LABELS.iter().map(|s| (*s).to_owned()).collect();
        let g = groups(&n, &keys);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].key, "customer=acme-retail");
        // Another customer problem of the same customer: the same incident;
        // one labelled apart: its own; none of the labels: its alert name.
        let with = |extra: &str| {
            let body = body.replace("\"customer\":\"acme-retail\"", extra);
            groups(&crate::payload::parse(body.as_bytes()).unwrap(), &keys)[0].key.clone()
        };
        assert_eq!(
            with("\"customer\":\"acme-retail\",\"incident\":\"certificate\""),
            "customer=acme-retail,incident=certificate"
        );
        assert_eq!(with("\"customer\":\"\""), "alertname=EdgewatchErrorBudgetBurnFast");
        let g = groups(
            &crate::payload::parse(body.replace("\"customer\":\"acme-retail\",", "").as_bytes()).unwrap(),
            &keys,
        );
        assert_eq!(g[0].labels, BTreeMap::from([("alertname".to_owned(), "EdgewatchErrorBudgetBurnFast".to_owned())]));
    }
}
