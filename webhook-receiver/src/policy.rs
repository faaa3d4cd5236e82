//! The catalog's policy, which the store applies inside each notification's
//! transaction: an alert's customer is the one its `customer` label names,
//! when the catalog has it; an incident fired again within the reopen window
//! reopens; each destination gets the actions the customer's routes send it
//! (alerts of customers not in the catalog go to the `unrouted`
//! destinations).

use std::sync::Arc;

use edgewatch_catalog::Catalog;
use edgewatch_catalog::names::{AlertKind, Severity, label};

use crate::action::{ActionKind, AlertState, Incident, Status};
use crate::config::Config;
use crate::incident::{self, GroupUpdate, Transition};
use crate::store::Policy;
use crate::time;

/// Incidents by the configured key, routes from the catalog.
#[derive(Debug)]
pub(crate) struct CatalogPolicy {
    catalog: Arc<Catalog>,
    reopen_window_ms: i64,
    unrouted: Vec<String>,
    update_hold_ms: i64,
}

impl CatalogPolicy {
    pub(crate) fn new(catalog: Arc<Catalog>, config: &Config) -> Self {
        Self {
            catalog,
            reopen_window_ms: time::millis(config.incidents.reopen_window),
            unrouted: config.unrouted.clone(),
            update_hold_ms: time::millis(config.delivery.update_hold),
        }
    }
}

impl Policy for CatalogPolicy {
    fn transition(
        &self,
        current: Option<&Incident>,
        update: &GroupUpdate,
        now: i64,
        resolved_ms_ago: Option<i64>,
    ) -> Transition {
        let customer = update
            .alerts
            .iter()
            .find_map(|a| a.labels.get(label::CUSTOMER))
            .filter(|id| self.catalog.customer(id).is_some())
            .cloned();
        let within = resolved_ms_ago.is_some_and(|ago| ago <= self.reopen_window_ms);
        // The notification's arrival: the instant the store records.
        incident::apply(current, update, customer, &time::rfc3339(now), within)
    }

    fn plan(
        &self,
        before: Option<&Incident>,
        after: &mut Incident,
        action: Option<ActionKind>,
        now: i64,
    ) -> Vec<(String, ActionKind)> {
        let customer = after.customer.as_deref().and_then(|id| self.catalog.customer(id));
        // Routes that escalate later wait until the incident has fired so long.
        let firing_for = now - time::parse_rfc3339(&after.started_at).unwrap_or(now);
        // Unknown customers go to `unrouted`, whatever the alerts say.
        let matching = |kind: Option<&str>, severity: Option<Severity>| match customer {
            Some(c) => {
                let kind = kind.and_then(|k| k.parse::<AlertKind>().ok());
                c.alerting.destinations_at(kind, severity, firing_for).into_iter().map(ToString::to_string).collect()
            }
            None => self.unrouted.clone(),
        };
        let route = |a: &AlertState| {
            let severity = a.labels.get(label::SEVERITY).and_then(|s| s.parse().ok());
            matching(a.labels.get(label::ALERT_KIND).map(String::as_str), severity)
        };
        // What receivers before per-destination tracking routed by.
        let legacy = |i: &Incident| matching(i.alert_kind.as_deref(), i.severity);
        incident::plan(before, after, action, &route, &legacy)
    }

    fn scheduled(&self, current: &Incident, now: i64) -> Option<(Incident, Vec<(String, ActionKind)>)> {
        let customer = current.customer.as_deref().and_then(|id| self.catalog.customer(id))?;
        let mut after = current.clone();
        after.change = crate::action::Change::default();
        // Escalations: destinations whose route is now due get the incident.
        let mut steps = self.plan(Some(current), &mut after, None, now);
        // Status updates, to destinations the incident is open at.
        let engaged = after.engaged.clone().unwrap_or_default();
        let escalated: Vec<String> = steps.iter().map(|(d, _)| d.clone()).collect();
        for d in engaged.iter().filter(|d| !escalated.contains(d)) {
            let Some(every) = customer.alerting.update_every(d) else { continue };
            let last = current.last_sent.get(d).copied().unwrap_or(0);
            if now - last >= i64::try_from(every.as_millis()).unwrap_or(i64::MAX) {
                steps.push((d.clone(), ActionKind::Update));
                after.change.status_update = true;
            }
        }
        (!steps.is_empty()).then_some((after, steps))
    }

    fn next_due(&self, incident: &Incident, now: i64) -> Option<i64> {
        if incident.status != Status::Firing {
            return None;
        }
        let customer = incident.customer.as_deref().and_then(|id| self.catalog.customer(id))?;
        let alerting = &customer.alerting;
        // As `plan` counts it: from the start, or from `now` for a start
        // that does not parse (which never escalates).
        let started = time::parse_rfc3339(&incident.started_at).unwrap_or(now);
        let escalations = alerting
            .routes
            .iter()
            .filter_map(|r| r.escalate_after)
            .map(|after| started.saturating_add(time::millis(after)))
            .filter(|at| *at > now);
        let updates = incident.engaged.iter().flatten().filter_map(|d| {
            let every = alerting.update_every(d)?;
            Some(incident.last_sent.get(d).copied().unwrap_or(0).saturating_add(time::millis(every)))
        });
        escalations.chain(updates).min()
    }

    fn held(&self, incident: &Incident, destination: &str) -> bool {
        incident
            .customer
            .as_deref()
            .and_then(|id| self.catalog.customer(id))
            .is_some_and(|c| c.alerting.approval_required(destination))
    }

    fn update_hold(&self) -> i64 {
        self.update_hold_ms
    }
}
