//! Notes on incidents, for `edgewatch incidents note` beside a running
//! receiver (SQLite's locking): each is committed with a `note` action for
//! every destination the incident reached, which the running receiver
//! delivers within a second (a comment on the Jira issue).

use std::path::Path;

use crate::store::Store;
use crate::store::sqlite::Sqlite;
use crate::store::{NewNote, Note, StoreError};
use crate::time::now_ms;

/// The notes of a receiver's store.
#[derive(Debug)]
pub struct Notes {
    store: std::sync::Arc<dyn Store>,
}

impl Notes {
    /// Opens the store in `data_dir` (the receiver's) without starting a
    /// receiver; a store of an older schema is brought up to date, as a
    /// receiver's start would.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Ok(Self { store: std::sync::Arc::new(Sqlite::open(data_dir)?) })
    }

    /// Opens the store `config` names (SQLite in its `data_dir`, or
    /// PostgreSQL, its password read through `env`), as [`Self::open`].
    pub fn connect(config: &crate::Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, StoreError> {
        Ok(Self { store: crate::store::open(config, env)? })
    }

    /// Records `note` on incident `incident_id` ([`StoreError::NoIncident`]
    /// when there is none): the note as stored, and how many destinations
    /// will hear of it.
    pub fn add(&self, incident_id: i64, note: &NewNote) -> Result<(Note, usize), StoreError> {
        self.store.add_note(incident_id, note, now_ms())
    }
}
