//! The incident history, for reports (`edgewatch report`) and
//! `edgewatch incidents`: the store's incidents, read beside running
//! receivers without changing the store, not even its schema. On SQLite
//! through a read-only connection (WAL lets readers in while the receiver
//! writes); on PostgreSQL through connections that only read.

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
    rows: Box<dyn Rows>,
}

/// An incident's row as either store keeps it.
#[derive(Debug)]
pub(crate) struct IncidentRow {
    pub id: i64,
    /// The row's `resolved_at`, for states that predate their own.
    pub resolved_at: Option<i64>,
    /// The incident, encoded (without its alerts, from schema version 9
    /// on SQLite and 5 on PostgreSQL).
    pub state: String,
    /// Its alerts' rows, encoded.
    pub alerts: Vec<String>,
}

/// What a record reads beside its incident's row.
#[derive(Debug, Default)]
pub(crate) struct Related {
    pub externals: Vec<ExternalRef>,
    /// When its first `open` action was delivered.
    pub ticketed_at: Option<i64>,
    /// The most `reopen` actions a destination got.
    pub reopened: i64,
    pub notes: Vec<Note>,
    /// Its mitigation suggestion, encoded.
    pub suggestion: Option<String>,
}

/// What [`History`] reads, from either store.
pub(crate) trait Rows: Send + std::fmt::Debug {
    /// Incident `id`'s row.
    fn incident(&self, id: i64) -> Result<Option<IncidentRow>, StoreError>;
    /// The rows of incidents firing or resolved from `from_ms` on, of
    /// `customer` (or every one), by id.
    fn incidents(&self, customer: Option<&str>, from_ms: i64) -> Result<Vec<IncidentRow>, StoreError>;
    /// What else incident `id`'s record shows.
    fn related(&self, id: i64) -> Result<Related, StoreError>;
}

/// The SQLite store, through a read-only connection.
#[derive(Debug)]
struct SqliteRows {
    conn: Connection,
    /// The store's schema version: notes exist from version 4.
    version: i64,
}

/// The schema version that added notes.
const NOTES_SINCE: i64 = 4;
/// The schema version that added mitigation suggestions.
const SUGGESTIONS_SINCE: i64 = 5;
/// The schema version that gave alerts rows of their own.
const ALERTS_SINCE: i64 = 9;
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
    /// Opens the SQLite store in `data_dir` read only. A missing store, one
    /// that is not a receiver's, and one written by a newer receiver (a
    /// schema this one does not know: [`StoreError::Newer`]) are errors.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Ok(Self { rows: Box::new(SqliteRows::open(data_dir)?) })
    }

    /// Opens the store `config` names, as [`Self::open`]: SQLite in its
    /// `data_dir`, or PostgreSQL (its password read through `env`), which
    /// is read without migrating it.
    pub fn connect(config: &crate::Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, StoreError> {
        match crate::store::postgres_target(config, env, "edgewatch-history")? {
            Some(target) => Ok(Self { rows: Box::new(crate::store::postgres::Postgres::reader(target)?) }),
            None => Self::open(&config.data_dir),
        }
    }

    /// Incident `id`, or `None` when the store has none of that id.
    pub fn incident(&self, id: i64) -> Result<Option<IncidentRecord>, StoreError> {
        self.rows.incident(id)?.map(|row| self.record(&row)).transpose()
    }

    /// The incidents that overlap `[from_ms, to_ms)`, of `customer` (or
    /// every one), oldest first.
    pub fn incidents(
        &self,
        customer: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<IncidentRecord>, StoreError> {
        let mut out = Vec::new();
        for row in self.rows.incidents(customer, from_ms)? {
            let record = self.record(&row)?;
            if record.started_at >= to_ms || record.resolved_at.is_some_and(|end| end < from_ms) {
                continue;
            }
            out.push(record);
        }
        Ok(out)
    }

    /// The record of one incident row.
    fn record(&self, row: &IncidentRow) -> Result<IncidentRecord, StoreError> {
        let (id, resolved_col) = (row.id, row.resolved_at);
        let incident: Incident = crate::store::alerts::assemble(&row.state, &row.alerts)?.incident;
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
        let related = self.rows.related(id)?;
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
            externals: related.externals,
            ticketed_at: related.ticketed_at,
            reopened: u32::try_from(related.reopened).unwrap_or(u32::MAX),
            notes: related.notes,
            offenders: related.suggestion.as_deref().map(offenders).transpose()?.unwrap_or_default(),
        })
    }
}

/// The top offenders of a stored mitigation suggestion.
fn offenders(body: &str) -> Result<Vec<OffenderRecord>, StoreError> {
    let suggestion: crate::mitigation::Suggestion = serde_json::from_str(body)
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
impl SqliteRows {
    /// `row` with its alerts' rows, in a store that has them.
    fn with_alerts(&self, mut row: IncidentRow) -> Result<IncidentRow, StoreError> {
        if self.version >= ALERTS_SINCE {
            row.alerts = crate::store::sqlite::alert_rows(&self.conn, row.id)?;
        }
        Ok(row)
    }

    fn open(data_dir: &Path) -> Result<Self, StoreError> {
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
}

impl Rows for SqliteRows {
    fn incident(&self, id: i64) -> Result<Option<IncidentRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT id, resolved_at, state FROM incidents WHERE id = ?1")?;
        let mut rows = stmt.query_map(params![id], |r| {
            Ok(IncidentRow { id: r.get(0)?, resolved_at: r.get(1)?, state: r.get(2)?, alerts: Vec::new() })
        })?;
        rows.next().transpose()?.map(|row| self.with_alerts(row)).transpose()
    }

    fn incidents(&self, customer: Option<&str>, from_ms: i64) -> Result<Vec<IncidentRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, resolved_at, state FROM incidents
             WHERE (resolved_at IS NULL OR resolved_at >= ?1)
               AND (?2 IS NULL OR json_extract(state, '$.customer') = ?2)
             ORDER BY id",
        )?;
        let rows = stmt.query_map(params![from_ms, customer], |r| {
            Ok(IncidentRow { id: r.get(0)?, resolved_at: r.get(1)?, state: r.get(2)?, alerts: Vec::new() })
        })?;
        rows.map(|row| self.with_alerts(row?)).collect()
    }

    fn related(&self, id: i64) -> Result<Related, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT destination, external FROM externals WHERE incident_id = ?1 ORDER BY destination",
        )?;
        let externals = stmt
            .query_map(params![id], |r| Ok(ExternalRef { destination: r.get(0)?, reference: r.get(1)? }))?
            .collect::<Result<_, _>>()?;
        let suggestion = if self.version >= SUGGESTIONS_SINCE {
            let mut stmt = self.conn.prepare_cached("SELECT body FROM suggestions WHERE incident_id = ?1")?;
            stmt.query_map(params![id], |r| r.get::<_, String>(0))?.next().transpose()?
        } else {
            None
        };
        Ok(Related {
            externals,
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
            suggestion,
        })
    }
}
