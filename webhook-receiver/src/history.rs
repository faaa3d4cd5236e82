//! The incident history, for reports (`edgewatch report --receiver-store`):
//! the store's incidents read through a read-only connection, so it works
//! beside a running receiver (SQLite's WAL lets readers in while it
//! writes) and never changes the store, not even its schema.

use std::path::Path;

use edgewatch_catalog::names::Severity;
use rusqlite::{Connection, OpenFlags, params};

use crate::action::{Incident, Status};
use crate::store::sqlite::{SCHEMA_VERSION, notes_of};
use crate::store::{Note, StoreError};
use crate::time::parse_rfc3339;

/// A receiver's incidents, read only.
#[derive(Debug)]
pub struct History {
    conn: Connection,
    /// The store's schema version: notes exist from version 4.
    version: i64,
}

/// The schema version that added notes.
const NOTES_SINCE: i64 = 4;
/// The schema version that added mitigation suggestions.
const SUGGESTIONS_SINCE: i64 = 5;
/// The top offenders a record keeps: the named ones and the heaviest.
const OFFENDERS: usize = 8;

/// One incident as the store recorded it. Times are unix milliseconds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IncidentRecord {
    /// The store's id.
    pub id: i64,
    /// The grouping key (`customer=acme`).
    pub key: String,
    /// The catalog id of the customer, when its alerts named a known one.
    pub customer: Option<String>,
    /// The lead alert's `alertname` (it names the incident).
    pub alertname: String,
    /// The most urgent severity it had: of its alerts (`severity` label), or
    /// the incident's last one.
    pub severity: Option<Severity>,
    /// The lead alert's `slo` label.
    pub slo: Option<String>,
    /// When its first alert started.
    pub started_at: i64,
    /// When it resolved; `None` while firing.
    pub resolved_at: Option<i64>,
    /// Every alert it had.
    pub alerts: Vec<AlertRecord>,
    /// What each destination answered: the Jira issue key, the PagerDuty
    /// `dedup_key`.
    pub externals: Vec<ExternalRef>,
    /// When its first `open` action was delivered anywhere (a ticket or a
    /// page existed from then on).
    pub ticketed_at: Option<i64>,
    /// How often it reopened within the reopen window (the most `reopen`
    /// actions any destination got; 0 when unknown, as once pruned).
    pub reopened: u32,
    /// What analysts recorded on it, oldest first.
    pub notes: Vec<Note>,
    /// The top offenders read from the exporters for its mitigation
    /// suggestion, when one was made: those the rule named first, then by
    /// refused or failed requests.
    pub offenders: Vec<OffenderRecord>,
}

/// A top offender of an incident, from its mitigation suggestion.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OffenderRecord {
    /// `ip`, `asn`, `country`, `path` or `user_agent`.
    pub dimension: String,
    pub value: String,
    /// Its refused or failed requests in the exporters' window (at least).
    pub offending: u64,
    /// Their share of the customer's refused or failed requests.
    pub offending_share: f64,
    /// Its share of all the customer's requests.
    pub request_share: f64,
    /// Named by the suggested rule.
    pub named: bool,
}

/// An alert of an incident.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlertRecord {
    /// `alertname`.
    pub name: String,
    /// Its `alert_kind` label (`burn_rate_fast`, `attack`…).
    pub kind: Option<String>,
    /// Its `slo` label.
    pub slo: Option<String>,
    /// When it started firing.
    pub started_at: i64,
    /// When it resolved; `None` while firing.
    pub ended_at: Option<i64>,
}

/// What a destination (catalog name) answered for an incident.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExternalRef {
    /// The destination's name in the catalog.
    pub destination: String,
    /// Its reference: a Jira issue key (`NOC-123`), a PagerDuty `dedup_key`.
    pub reference: String,
}

impl History {
    /// Opens the store in `data_dir` read only. A missing store, one that is
    /// not a receiver's, and one written by a newer receiver (a schema this
    /// one does not know: [`StoreError::Newer`]) are errors.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join("receiver.db");
        if !path.is_file() {
            return Err(StoreError::Io {
                path: path.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no receiver store here"),
            });
        }
        let conn =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Newer { found: version, known: SCHEMA_VERSION });
        }
        if version < 1 {
            return Err(StoreError::Decode {
                what: "store",
                message: format!("{} is not a receiver store (schema version {version})", path.display()),
            });
        }
        Ok(Self { conn, version })
    }

    /// Incident `id`, or `None` when the store has none of that id.
    pub fn incident(&self, id: i64) -> Result<Option<IncidentRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT id, resolved_at, state FROM incidents WHERE id = ?1")?;
        let mut rows = stmt.query_map(params![id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, String>(2)?))
        })?;
        match rows.next() {
            Some(row) => {
                let (id, resolved_col, state) = row?;
                Ok(Some(self.record(id, resolved_col, &state)?))
            }
            None => Ok(None),
        }
    }

    /// The incidents that overlap `[from_ms, to_ms)`, of `customer` (or
    /// every one), oldest first.
    pub fn incidents(
        &self,
        customer: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<IncidentRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, resolved_at, state FROM incidents
             WHERE (resolved_at IS NULL OR resolved_at >= ?1)
               AND (?2 IS NULL OR json_extract(state, '$.customer') = ?2)
             ORDER BY id",
        )?;
        let rows = stmt.query_map(params![from_ms, customer], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, String>(2)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, resolved_col, state) = row?;
            let record = self.record(id, resolved_col, &state)?;
            if record.started_at >= to_ms || record.resolved_at.is_some_and(|end| end < from_ms) {
                continue;
            }
            out.push(record);
        }
        Ok(out)
    }

    /// The record of one incident row.
    fn record(&self, id: i64, resolved_col: Option<i64>, state: &str) -> Result<IncidentRecord, StoreError> {
        let incident: Incident =
            serde_json::from_str(state).map_err(|e| StoreError::Decode { what: "incident", message: e.to_string() })?;
        let started_at = parse_rfc3339(&incident.started_at).unwrap_or(0);
        let resolved_at = match incident.status {
            Status::Firing => None,
            Status::Resolved => incident.resolved_at.as_deref().and_then(parse_rfc3339).or(resolved_col),
        };
        let alerts = incident
            .alerts
            .iter()
            .map(|a| AlertRecord {
                name: a.labels.get("alertname").cloned().unwrap_or_default(),
                kind: a.labels.get("alert_kind").cloned(),
                slo: a.labels.get("slo").cloned(),
                started_at: parse_rfc3339(&a.starts_at).unwrap_or(started_at),
                ended_at: match a.status {
                    Status::Firing => None,
                    Status::Resolved => a.ends_at.as_deref().and_then(parse_rfc3339),
                },
            })
            .collect();
        // `Page` orders first: the most urgent is the least.
        let severity = incident
            .alerts
            .iter()
            .filter_map(|a| a.labels.get("severity")?.parse::<Severity>().ok())
            .chain(incident.severity)
            .min();
        Ok(IncidentRecord {
            id,
            key: incident.key,
            customer: incident.customer,
            alertname: incident.alertname,
            severity,
            slo: incident.slo,
            started_at,
            resolved_at,
            alerts,
            externals: self.externals(id)?,
            ticketed_at: self.conn.query_row(
                "SELECT MIN(done_at) FROM outbox WHERE incident_id = ?1 AND kind = 'open' AND status = 'delivered'",
                params![id],
                |r| r.get(0),
            )?,
            reopened: self.conn.query_row(
                "SELECT COALESCE(MAX(n), 0) FROM
                 (SELECT COUNT(*) AS n FROM outbox WHERE incident_id = ?1 AND kind = 'reopen' GROUP BY destination)",
                params![id],
                |r| r.get(0),
            )?,
            notes: if self.version >= NOTES_SINCE { notes_of(&self.conn, id)? } else { Vec::new() },
            offenders: if self.version >= SUGGESTIONS_SINCE { self.offenders(id)? } else { Vec::new() },
        })
    }

    fn offenders(&self, id: i64) -> Result<Vec<OffenderRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT body FROM suggestions WHERE incident_id = ?1")?;
        let Some(body) = stmt.query_map(params![id], |r| r.get::<_, String>(0))?.next().transpose()? else {
            return Ok(Vec::new());
        };
        let suggestion: crate::mitigation::Suggestion = serde_json::from_str(&body)
            .map_err(|e| StoreError::Decode { what: "mitigation suggestion", message: e.to_string() })?;
        let mut rows: Vec<_> = suggestion.rows.into_iter().filter(|r| r.offending.low > 0).collect();
        rows.sort_by(|a, b| b.chosen.cmp(&a.chosen).then(b.offending.low.cmp(&a.offending.low)));
        Ok(rows
            .into_iter()
            .take(OFFENDERS)
            .map(|r| OffenderRecord {
                dimension: r.dimension.as_str().to_owned(),
                value: r.value,
                offending: r.offending.low,
                offending_share: r.offending_share,
                request_share: r.request_share,
                named: r.chosen,
            })
            .collect())
    }

    fn externals(&self, id: i64) -> Result<Vec<ExternalRef>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT destination, external FROM externals WHERE incident_id = ?1 ORDER BY destination",
        )?;
        let rows = stmt.query_map(params![id], |r| Ok(ExternalRef { destination: r.get(0)?, reference: r.get(1)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
