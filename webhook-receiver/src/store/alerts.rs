//! An incident's alerts in rows of their own (`alerts`), its row holding
//! the rest (the header). An incident grows with every alert that joins
//! it, and in a storm each notification brings one more: written whole,
//! each wrote the incident again, and again in its action. Now a
//! notification writes the header and the alerts it changed, and an action
//! keeps the incident as decided without what its alerts' rows hold: the
//! header and each alert's fingerprint, status, start and end, in the
//! incident's order (so a page names the alert that led it when it was
//! decided, whatever happened since), with labels, annotations and links
//! read from the rows when it is sent.
//!
//! States written before this hold their alerts: they are read as they
//! are, and the alerts move to rows when the incident is next written.
//! Both stores share this.

use std::collections::BTreeMap;

use super::StoreError;
use super::codec::{decode, encode};
use crate::action::{AlertState, Incident};

/// `incident`'s state as its row and its actions keep it: without alerts.
pub(crate) fn header(incident: &mut Incident) -> Result<String, StoreError> {
    encode_with(incident, Vec::new())
}

/// `incident` encoded with `alerts` in place of its own, which it keeps.
fn encode_with(incident: &mut Incident, alerts: Vec<AlertState>) -> Result<String, StoreError> {
    let own = std::mem::replace(&mut incident.alerts, alerts);
    let encoded = encode("incident", &*incident);
    incident.alerts = own;
    encoded
}

/// `incident` as its actions keep it: the header, and each alert without
/// its labels, annotations and link (see [`for_action`]).
pub(crate) fn as_decided(incident: &mut Incident) -> Result<String, StoreError> {
    let skeleton = incident
        .alerts
        .iter()
        .map(|a| AlertState {
            fingerprint: a.fingerprint.clone(),
            status: a.status,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            starts_at: a.starts_at.clone(),
            ends_at: a.ends_at.clone(),
            generator_url: String::new(),
        })
        .collect();
    encode_with(incident, skeleton)
}

/// The incident an action delivers, from its `payload` ([`as_decided`];
/// a whole incident from before alerts had rows; or a header, a note's)
/// and its incident's alert rows: each alert as decided, with its labels,
/// annotations and link from its row. Every alert has labels (a
/// notification's alerts name at least `alertname`), so an alert without
/// is one of [`as_decided`]'s.
pub(crate) fn for_action(payload: &str, rows: &[String]) -> Result<Incident, StoreError> {
    let mut incident: Incident = decode("incident", payload)?;
    if incident.alerts.is_empty() {
        return Ok(with_rows(incident, rows)?.incident);
    }
    if incident.alerts.iter().all(|a| !a.labels.is_empty()) {
        return Ok(incident);
    }
    let mut by_fingerprint: BTreeMap<String, AlertState> = BTreeMap::new();
    for row in rows {
        let alert: AlertState = decode("alert", row)?;
        by_fingerprint.insert(alert.fingerprint.clone(), alert);
    }
    for alert in incident.alerts.iter_mut().filter(|a| a.labels.is_empty()) {
        if let Some(row) = by_fingerprint.remove(&alert.fingerprint) {
            alert.labels = row.labels;
            alert.annotations = row.annotations;
            alert.generator_url = row.generator_url;
        }
    }
    Ok(incident)
}

/// An incident as read: whole, and whether its alerts came from rows.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub incident: Incident,
    /// False for a state written before alerts had rows (they are in it).
    pub in_rows: bool,
}

/// The incident a `state` (a row's or an action's) and its alerts' row
/// states make, its alerts in the incident's order.
pub(crate) fn assemble(state: &str, rows: &[String]) -> Result<Loaded, StoreError> {
    with_rows(decode("incident", state)?, rows)
}

/// `incident` with the alerts of `rows`, unless its state held its own.
fn with_rows(mut incident: Incident, rows: &[String]) -> Result<Loaded, StoreError> {
    if !incident.alerts.is_empty() {
        return Ok(Loaded { incident, in_rows: false });
    }
    let mut alerts = rows.iter().map(|r| decode::<AlertState>("alert", r)).collect::<Result<Vec<_>, _>>()?;
    crate::incident::order(&mut alerts);
    incident.alerts = alerts;
    Ok(Loaded { incident, in_rows: true })
}

/// What to write of an incident's alerts.
#[derive(Debug, Default)]
pub(crate) struct Changed {
    /// Fingerprint and state of each alert to insert or replace.
    pub upsert: Vec<(String, String)>,
    /// Fingerprints of the rows to delete (alerts a reopen left behind).
    pub removed: Vec<String>,
}

/// The alert rows `after` needs, given what the store held of the same
/// incident `before` (none, or another incident: every alert is written).
pub(crate) fn changed(before: Option<&Loaded>, after: &Incident) -> Result<Changed, StoreError> {
    let stored: BTreeMap<&str, &AlertState> = match before {
        Some(b) if b.in_rows && b.incident.id == after.id && after.id != 0 => {
            b.incident.alerts.iter().map(|a| (a.fingerprint.as_str(), a)).collect()
        }
        _ => BTreeMap::new(),
    };
    let mut out = Changed::default();
    for a in &after.alerts {
        if stored.get(a.fingerprint.as_str()) != Some(&a) {
            out.upsert.push((a.fingerprint.clone(), encode("alert", a)?));
        }
    }
    let kept: std::collections::BTreeSet<&str> = after.alerts.iter().map(|a| a.fingerprint.as_str()).collect();
    out.removed = stored.keys().filter(|fp| !kept.contains(**fp)).map(|fp| (*fp).to_owned()).collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Status;

    fn alert(fp: &str, status: Status, severity: &str, starts: &str) -> AlertState {
        AlertState {
            fingerprint: fp.to_owned(),
            status,
            labels: [("severity".to_owned(), severity.to_owned())].into(),
            annotations: BTreeMap::new(),
            starts_at: starts.to_owned(),
            ends_at: None,
            generator_url: String::new(),
        }
    }

    fn incident(id: i64, alerts: Vec<AlertState>) -> Incident {
        let state = r#"{"id":0,"key":"customer=shop","dedup":"edgewatch-0123456789abcdef01234567","customer":"shop","alertname":"X","severity":"page","alert_kind":null,"slo":null,"probe":null,"status":"firing","started_at":"2026-11-21T08:00:00Z","resolved_at":null,"alerts":[],"alertmanager_url":"http://am"}"#;
        let mut i: Incident = decode("incident", state).unwrap();
        i.id = id;
        i.alerts = alerts;
        i
    }

    #[test]
    fn an_incident_read_back_from_its_header_and_rows_is_the_one_written() {
        let mut written = incident(
            7,
            vec![
                alert("b2", Status::Firing, "page", "2026-11-21T08:00:00Z"),
                alert("a1", Status::Firing, "ticket", "2026-11-21T07:00:00Z"),
                alert("c3", Status::Resolved, "page", "2026-11-21T06:00:00Z"),
            ],
        );
        let header = header(&mut written).unwrap();
        assert!(header.contains(r#""alerts":[]"#), "{header}");
        assert_eq!(written.alerts.len(), 3, "the incident keeps its alerts");
        // Rows come back in any order; the incident's order is firing
        // first, the most urgent first, then by start.
        let mut rows: Vec<String> = written.alerts.iter().map(|a| encode("alert", a).unwrap()).collect();
        rows.reverse();
        let read = assemble(&header, &rows).unwrap();
        assert!(read.in_rows);
        assert_eq!(read.incident, written);
        // A state from before rows holds its alerts, read as they are.
        let old = encode("incident", &written).unwrap();
        let read = assemble(&old, &[]).unwrap();
        assert!(!read.in_rows);
        assert_eq!(read.incident, written);
    }

    #[test]
    fn an_action_delivers_its_alerts_as_decided_with_their_labels_from_their_rows() {
        let mut decided = incident(
            7,
            vec![
                alert("a1", Status::Firing, "page", "2026-11-21T07:00:00Z"),
                alert("b2", Status::Firing, "ticket", "2026-11-21T08:00:00Z"),
            ],
        );
        decided.alerts[0].annotations.insert("summary".to_owned(), "probe down".to_owned());
        let payload = as_decided(&mut decided).unwrap();
        assert!(!payload.contains("probe down"), "{payload}");
        // Since: the page ended and its summary changed.
        let mut now = decided.alerts.clone();
        now[0].status = Status::Resolved;
        now[0].annotations.insert("summary".to_owned(), "probe up".to_owned());
        let rows: Vec<String> = now.iter().map(|a| encode("alert", a).unwrap()).collect();
        let sent = for_action(&payload, &rows).unwrap();
        // The page still leads, firing, as when it was decided; what the
        // alert's row says comes from the row.
        assert_eq!(sent.alerts[0].status, Status::Firing);
        assert_eq!(sent.alerts[0].annotations["summary"], "probe up");
        assert_eq!(sent.alerts[0].labels, decided.alerts[0].labels);
        assert_eq!(sent.alerts.len(), 2);
        // A whole incident from before is delivered as it is.
        let whole = encode("incident", &decided).unwrap();
        assert_eq!(for_action(&whole, &rows).unwrap(), decided);
    }

    #[test]
    fn only_the_alerts_a_notification_changed_are_written() {
        let a = alert("a1", Status::Firing, "page", "2026-11-21T08:00:00Z");
        let b = alert("b2", Status::Firing, "page", "2026-11-21T08:01:00Z");
        let before = Loaded { incident: incident(7, vec![a.clone(), b.clone()]), in_rows: true };
        let mut ended = b;
        ended.status = Status::Resolved;
        let c = alert("c3", Status::Firing, "ticket", "2026-11-21T08:02:00Z");
        let after = incident(7, vec![a.clone(), c, ended]);
        let change = changed(Some(&before), &after).unwrap();
        let fps: Vec<&str> = change.upsert.iter().map(|(fp, _)| fp.as_str()).collect();
        assert_eq!(fps, ["c3", "b2"]);
        assert!(change.removed.is_empty());
        // A reopen keeps the firing alerts only: the rest's rows go.
        let reopened = incident(7, vec![a.clone()]);
        let change = changed(Some(&before), &reopened).unwrap();
        assert!(change.upsert.is_empty());
        assert_eq!(change.removed, ["b2"]);
        // A new incident, or one whose alerts were in its state, writes all.
        for (before, after) in [
            (Some(Loaded { in_rows: false, ..before.clone() }), incident(7, vec![a.clone()])),
            (Some(before.clone()), incident(0, vec![a.clone()])),
            (Some(before), incident(8, vec![a.clone()])),
            (None, incident(7, vec![a])),
        ] {
            let change = changed(before.as_ref(), &after).unwrap();
            assert_eq!((change.upsert.len(), change.removed.len()), (1, 0));
        }
    }
}
