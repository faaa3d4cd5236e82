//! Customer messages held for approval (a route's `approval: required`),
//! for `edgewatch outreach` beside a running receiver: list them with
//! their drafts, then send or drop every held message of an incident. The
//! decision is one transaction with a note saying who decided (a comment
//! on the ticket); the running receiver sends within a second.

use std::path::Path;

use crate::store::Store;
use crate::store::sqlite::Sqlite;
use crate::store::{Held, NewNote, NoteError, NoteKind, StoreError};
use crate::time::now_ms;

/// The note recording a decision by `author`.
pub(crate) fn decision_note(send: bool, author: &str) -> Result<NewNote, NoteError> {
    let text = if send {
        format!("Customer messages held for approval were approved by {} and are being sent.", author.trim())
    } else {
        format!("Customer messages held for approval were discarded by {}: nothing was sent.", author.trim())
    };
    NewNote::new(NoteKind::Comment, author, &text)
}

/// The held messages of a receiver's store.
#[derive(Debug)]
pub struct Outreach {
    store: std::sync::Arc<dyn Store>,
}

impl Outreach {
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

    /// Messages waiting for approval, of one incident or every one.
    pub fn held(&self, incident: Option<i64>) -> Result<Vec<Held>, StoreError> {
        self.store.held(incident)
    }

    /// Sends (`send`) or drops every held message of `incident`, recorded
    /// as decided by `author`: how many.
    pub fn decide(&self, incident: i64, send: bool, author: &str) -> Result<u64, OutreachError> {
        let note = decision_note(send, author)?;
        Ok(self.store.decide(incident, send, &note, now_ms())?)
    }
}

/// Why a decision could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum OutreachError {
    /// The author's name is not one a note takes.
    #[error(transparent)]
    Author(#[from] NoteError),
    /// The store said no.
    #[error(transparent)]
    Store(#[from] StoreError),
}
