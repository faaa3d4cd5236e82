//! Mitigations of a receiver's store, for `edgewatch mitigate` beside a
//! running receiver: the suggestion kept for an incident, and the rules
//! applied from it. Applying or removing a rule records a remediation note
//! in the same transaction, which the running receiver delivers as a
//! comment on the ticket, and which reports show.

use std::path::Path;

use super::Suggestion;
use crate::store::Store;
use crate::store::sqlite::Sqlite;
use crate::store::{AppliedRule, NewAppliedRule, NewNote, Note, StoreError};
use crate::time::now_ms;

/// An incident as `edgewatch mitigate` needs it.
#[derive(Debug, Clone)]
pub struct Suggested {
    /// Stable per incident: names the rules applied from it.
    pub dedup: String,
    /// The catalog id of its customer.
    pub customer: Option<String>,
    /// The suggestion its first attack or spike action made, if any.
    pub suggestion: Option<Suggestion>,
}

/// The mitigations of a receiver's store.
#[derive(Debug)]
pub struct Mitigations {
    store: std::sync::Arc<dyn Store>,
}

impl Mitigations {
    /// Opens the store in `data_dir` (the receiver's) without starting a
    /// receiver; an older schema is brought up to date, as at a start.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Ok(Self { store: std::sync::Arc::new(Sqlite::open(data_dir)?) })
    }

    /// Opens the store `config` names (SQLite in its `data_dir`, or
    /// PostgreSQL, its password read through `env`), as [`Self::open`].
    pub fn connect(config: &crate::Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, StoreError> {
        Ok(Self { store: crate::store::open(config, env)? })
    }

    /// Incident `id` ([`StoreError::NoIncident`] when there is none) and
    /// its suggestion.
    pub fn suggested(&self, id: i64) -> Result<Suggested, StoreError> {
        let incident = self.store.incident(id)?;
        let suggestion = match self.store.suggestion(id)? {
            Some(body) => Some(
                serde_json::from_str(&body)
                    .map_err(|e| StoreError::Decode { what: "suggestion", message: e.to_string() })?,
            ),
            None => None,
        };
        Ok(Suggested { dedup: incident.dedup, customer: incident.customer, suggestion })
    }

    /// The rules applied on incident `id`, oldest first.
    pub fn applied(&self, id: i64) -> Result<Vec<AppliedRule>, StoreError> {
        self.store.applied(id)
    }

    /// Records `rule` as applied on incident `id`, with `note`.
    pub fn record_applied(
        &self,
        id: i64,
        rule: &NewAppliedRule,
        note: &NewNote,
    ) -> Result<(AppliedRule, Note), StoreError> {
        self.store.record_applied(id, rule, note, now_ms())
    }

    /// Records that applied rule `applied_id` was removed, with `note`.
    pub fn record_reverted(&self, applied_id: i64, note: &NewNote) -> Result<Note, StoreError> {
        self.store.record_reverted(applied_id, note, now_ms())
    }
}
