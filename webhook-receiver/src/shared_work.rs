//! Work that receivers sharing a store do once between them (scheduled
//! reports), for the command that runs it beside the webhook: whose turn
//! it is, and what was already done. On SQLite a store has one receiver,
//! so its turn is always now; the records of what was done are the same.

use std::sync::Arc;
use std::time::Duration;

use crate::store::{Store, StoreError};
use crate::time::now_ms;

/// Turns at shared work, and what was done, in a receiver's store.
#[derive(Debug)]
pub struct SharedWork {
    store: Arc<dyn Store>,
}

impl SharedWork {
    /// Opens the store `config` names (SQLite in its `data_dir`, or
    /// PostgreSQL, its password read through `env`).
    pub fn connect(config: &crate::Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, StoreError> {
        Ok(Self { store: crate::store::open(config, env)? })
    }

    /// Takes `job` for `ttl`, or renews this one's turn: whether it is this
    /// one's. Another receiver takes it once `ttl` passed without renewal.
    pub fn take_turn(&self, job: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.store.take_turn(job, now_ms(), ms(ttl))
    }

    /// What was recorded done under `name`: when (unix milliseconds), and
    /// how.
    pub fn done(&self, name: &str) -> Result<Option<(i64, String)>, StoreError> {
        self.store.done(name)
    }

    /// Records `name` done, `what` saying how (the first record stays).
    pub fn record_done(&self, name: &str, what: &str) -> Result<(), StoreError> {
        self.store.record_done(name, what, now_ms())
    }

    /// Forgets what was recorded done longer than `age` ago: how many.
    pub fn forget_done(&self, age: Duration) -> Result<u64, StoreError> {
        self.store.forget_done(now_ms().saturating_sub(ms(age)))
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
