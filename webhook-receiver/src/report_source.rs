//! The receiver's store as the reports' incident source: the receiver's
//! read-only [`History`] (SQLite or PostgreSQL) as an [`IncidentSource`] of `edgewatch-reports`
//! (which knows nothing of the receiver). Links
//! come from the catalog's destinations: a Jira issue key becomes its
//! `/browse/` page; a PagerDuty `dedup_key` has no page of its own, so it
//! is shown as text.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use edgewatch_catalog::Catalog;
use edgewatch_catalog::model::Destination;
use edgewatch_catalog::names::Severity as CatalogSeverity;
use edgewatch_reports::IncidentSource;
use edgewatch_reports::incidents::{
    BoxFuture, Incident, IncidentAlert, IncidentError, IncidentLink, LinkKind, Offender, RemediationNote, Severity,
};
use jiff::Timestamp;

use crate::history::{History, IncidentRecord};
use crate::store::{NoteKind, StoreError};

/// What a destination's references are.
#[derive(Debug, Clone)]
enum Refs {
    /// Jira issue keys under this site (no trailing `/`).
    Jira(String),
    /// PagerDuty dedup keys.
    PagerDuty,
    /// Anything else.
    Other,
}

/// Incidents from a receiver's store, for `edgewatch report
/// --receiver-store` and scheduled reports.
#[derive(Debug)]
pub struct ReportIncidents {
    history: Mutex<History>,
    refs: BTreeMap<String, Refs>,
}

impl ReportIncidents {
    /// Opens the store in `data_dir` read only; `catalog` names the
    /// destinations its references came from.
    pub fn open(data_dir: &Path, catalog: &Catalog) -> Result<Self, StoreError> {
        Ok(Self::over(History::open(data_dir)?, catalog))
    }

    /// Opens the store `config` names (SQLite in its `data_dir`, or
    /// PostgreSQL, its password read through `env`) read only, as
    /// [`Self::open`].
    pub fn connect(
        config: &crate::Config,
        env: &dyn Fn(&str) -> Option<String>,
        catalog: &Catalog,
    ) -> Result<Self, StoreError> {
        Ok(Self::over(History::connect(config, env)?, catalog))
    }

    fn over(history: History, catalog: &Catalog) -> Self {
        let refs = catalog
            .destinations
            .iter()
            .map(|(name, d)| {
                let refs = match d {
                    Destination::Jira(j) => Refs::Jira(j.url.base().to_owned()),
                    Destination::PagerDuty(_) => Refs::PagerDuty,
                    Destination::Log(_) | Destination::Statuspage(_) | Destination::Email(_) => Refs::Other,
                };
                (name.as_str().to_owned(), refs)
            })
            .collect();
        Self { history: Mutex::new(history), refs }
    }

    fn list(&self, customer: &str, from: Timestamp, to: Timestamp) -> Result<Vec<Incident>, String> {
        let history = self.history.lock().map_err(|_| "a previous read panicked".to_owned())?;
        let records =
            history.incidents(Some(customer), from.as_millisecond(), to.as_millisecond()).map_err(|e| e.to_string())?;
        records.iter().map(|r| self.incident(r)).collect()
    }

    fn incident(&self, r: &IncidentRecord) -> Result<Incident, String> {
        let time = |ms: i64| Timestamp::from_millisecond(ms).map_err(|e| format!("incident {}: {e}", r.id));
        let links = r
            .externals
            .iter()
            .map(|x| match self.refs.get(&x.destination) {
                Some(Refs::Jira(site)) => IncidentLink {
                    kind: LinkKind::Ticket,
                    title: x.reference.clone(),
                    url: format!("{site}/browse/{}", x.reference),
                },
                Some(Refs::PagerDuty) => IncidentLink {
                    kind: LinkKind::Page,
                    title: format!("PagerDuty {}", x.reference),
                    url: String::new(),
                },
                Some(Refs::Other) | None => IncidentLink {
                    kind: LinkKind::Other,
                    title: format!("{} {}", x.destination, x.reference),
                    url: String::new(),
                },
            })
            .collect();
        let alerts = r
            .alerts
            .iter()
            .map(|a| {
                Ok(IncidentAlert {
                    name: a.name.clone(),
                    kind: a.kind.clone(),
                    slo: a.slo.clone(),
                    start: time(a.started_at)?,
                    end: a.ended_at.map(time).transpose()?,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Incident {
            id: r.id.to_string(),
            title: match &r.slo {
                Some(slo) => format!("{} ({slo})", r.alertname),
                None => r.alertname.clone(),
            },
            start: time(r.started_at)?,
            end: r.resolved_at.map(time).transpose()?,
            severity: match r.severity {
                Some(CatalogSeverity::Page) => Severity::Page,
                Some(CatalogSeverity::Ticket) => Severity::Ticket,
                Some(CatalogSeverity::Info) | None => Severity::Info,
            },
            alerts,
            links,
            remediation: r
                .notes
                .iter()
                .filter(|n| n.kind == NoteKind::Remediation)
                .map(|n| {
                    Ok(RemediationNote { at: time(n.created_at)?, author: n.author.clone(), text: n.text.clone() })
                })
                .collect::<Result<_, String>>()?,
            ticketed: r.ticketed_at.map(time).transpose()?,
            reopened: r.reopened,
            offenders: r
                .offenders
                .iter()
                .map(|o| Offender {
                    dimension: o.dimension.clone(),
                    value: o.value.clone(),
                    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
                    offending: o.offending as f64,
                    offending_share: o.offending_share,
                    request_share: o.request_share,
                    named: o.named,
                })
                .collect(),
        })
    }
}

impl IncidentSource for ReportIncidents {
    fn name(&self) -> &'static str {
        "receiver store"
    }

    fn incidents<'a>(
        &'a self,
        customer: &'a str,
        from: Timestamp,
        to: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<Incident>, IncidentError>> {
        // A local read of a few rows: done here, not on a blocking thread.
        let listed = self
            .list(customer, from, to)
            .map_err(|message| IncidentError { source_name: "the receiver store".to_owned(), message });
        Box::pin(async move { listed })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::history::{AlertRecord, ExternalRef};
    use crate::store::Note;

    use super::*;

    fn at(t: &str) -> Timestamp {
        t.parse().unwrap()
    }

    #[test]
    fn a_stored_incident_is_a_report_incident_with_its_links() {
        let refs = BTreeMap::from([
            ("jira".to_owned(), Refs::Jira("https://noc.atlassian.net".to_owned())),
            ("pd".to_owned(), Refs::PagerDuty),
        ]);
        // The store is not read here: an empty one stands in.
        let dir = edgewatch_test_kit::scratch_dir("store-incidents-mapping");
        drop(crate::DeadLetters::open(&dir).unwrap());
        let source = ReportIncidents { history: Mutex::new(History::open(&dir).unwrap()), refs };
        let ms = |t: &str| at(t).as_millisecond();
        let record = IncidentRecord {
            id: 7,
            key: "customer=shop".to_owned(),
            customer: Some("shop".to_owned()),
            alertname: "EdgewatchErrorBudgetBurnFast".to_owned(),
            severity: Some(CatalogSeverity::Page),
            slo: Some("availability".to_owned()),
            started_at: ms("2026-11-21T08:00:00Z"),
            resolved_at: Some(ms("2026-11-21T08:45:00Z")),
            alerts: vec![AlertRecord {
                name: "EdgewatchErrorBudgetBurnFast".to_owned(),
                kind: Some("burn_rate_fast".to_owned()),
                slo: Some("availability".to_owned()),
                started_at: ms("2026-11-21T08:00:00Z"),
                ended_at: Some(ms("2026-11-21T08:30:00Z")),
            }],
            externals: vec![
                ExternalRef { destination: "jira".to_owned(), reference: "NOC-12".to_owned() },
                ExternalRef { destination: "pd".to_owned(), reference: "edgewatch-0123".to_owned() },
                ExternalRef { destination: "gone".to_owned(), reference: "x".to_owned() },
            ],
            ticketed_at: Some(ms("2026-11-21T08:00:02Z")),
            reopened: 1,
            notes: vec![
                Note {
                    id: 1,
                    incident_id: 7,
                    kind: NoteKind::Comment,
                    author: "bob".to_owned(),
                    text: "Customer called.".to_owned(),
                    created_at: ms("2026-11-21T08:10:00Z"),
                },
                Note {
                    id: 2,
                    incident_id: 7,
                    kind: NoteKind::Remediation,
                    author: "alice".to_owned(),
                    text: "Rolled back.".to_owned(),
                    created_at: ms("2026-11-21T08:40:00Z"),
                },
            ],
            offenders: vec![crate::history::OffenderRecord {
                dimension: "ip".to_owned(),
                value: "192.0.2.66".to_owned(),
                offending: 4100,
                offending_share: 0.41,
                request_share: 0.05,
                named: true,
            }],
        };
        let i = source.incident(&record).unwrap();
        assert_eq!(i.id, "7");
        assert_eq!(i.title, "EdgewatchErrorBudgetBurnFast (availability)");
        assert_eq!((i.start, i.end), (at("2026-11-21T08:00:00Z"), Some(at("2026-11-21T08:45:00Z"))));
        assert_eq!(i.severity, Severity::Page);
        assert_eq!(i.alerts[0].end, Some(at("2026-11-21T08:30:00Z")));
        assert_eq!(i.alerts[0].kind.as_deref(), Some("burn_rate_fast"));
        assert_eq!(i.ticketed, Some(at("2026-11-21T08:00:02Z")));
        assert_eq!(i.reopened, 1);
        let top: Vec<_> =
            i.offenders.iter().map(|o| (o.dimension.as_str(), o.value.as_str(), o.offending, o.named)).collect();
        assert_eq!(top, [("ip", "192.0.2.66", 4100.0, true)]);
        // Only remediation reaches the report.
        let done: Vec<_> = i.remediation.iter().map(|n| (n.at, n.author.as_str(), n.text.as_str())).collect();
        assert_eq!(done, [(at("2026-11-21T08:40:00Z"), "alice", "Rolled back.")]);
        let links: Vec<_> = i.links.iter().map(|l| (l.kind, l.title.as_str(), l.url.as_str())).collect();
        assert_eq!(
            links,
            [
                (LinkKind::Ticket, "NOC-12", "https://noc.atlassian.net/browse/NOC-12"),
                (LinkKind::Page, "PagerDuty edgewatch-0123", ""),
                (LinkKind::Other, "gone x", ""),
            ]
        );
        // An empty store lists nothing, for any customer.
        assert!(source.list("shop", at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z")).unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
