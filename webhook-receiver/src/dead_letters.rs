//! Dead letters, for `edgewatch receiver dead-letters list|replay`: read
//! and queued again in the store of a receiver that may be running beside
//! (SQLite's locking), which delivers what is replayed within a second.

use std::path::Path;

use crate::store::Store;
use crate::store::sqlite::Sqlite;
use crate::store::{DeadLetter, StoreError};
use crate::time::now_ms;

/// The dead letters of a receiver's store.
#[derive(Debug)]
pub struct DeadLetters {
    store: std::sync::Arc<dyn Store>,
}

impl DeadLetters {
    /// Opens the store in `data_dir` (the receiver's) without starting a
    /// receiver.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Ok(Self { store: std::sync::Arc::new(Sqlite::open(data_dir)?) })
    }

    /// Opens the store `config` names (SQLite in its `data_dir`, or
    /// PostgreSQL, its password read through `env`), as [`Self::open`].
    pub fn connect(config: &crate::Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, StoreError> {
        Ok(Self { store: crate::store::open(config, env)? })
    }

    /// Every dead letter, oldest first.
    pub fn list(&self) -> Result<Vec<DeadLetter>, StoreError> {
        self.store.dead_letters()
    }

    /// Queues dead letter `id` again, or every one (`None`), to be delivered
    /// in their incidents' order: how many were queued.
    pub fn replay(&self, id: Option<i64>) -> Result<u64, StoreError> {
        self.store.replay(id, now_ms())
    }
}
