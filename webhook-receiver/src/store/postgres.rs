//! The PostgreSQL store, for several receivers on one database
//! (docs/receiver.md, "High availability"). The same operations as the
//! SQLite store, with what sharing the database needs:
//!
//! - every notification, note and schedule change of an incident key takes
//!   that key's transaction-scoped advisory lock, so one key's outbox rows
//!   commit in the order of their ids (and are delivered in that order);
//! - `due` claims the actions it returns (`FOR UPDATE SKIP LOCKED`) for a
//!   lease, so each is delivered by one receiver; a receiver that dies
//!   leaves its claims to the others when the lease runs out;
//! - the schedule and pruning run on one receiver at a time.
//!
//! Commits are durable as PostgreSQL makes them (`synchronous_commit`, on
//! by default): the webhook answers after the commit returns. Notifications
//! that arrive while a commit is under way share the next (group commit, as
//! on SQLite), and so do delivery outcomes.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use postgres::error::SqlState;

use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row, Statement, Transaction};

use super::alerts::{Loaded, as_decided, assemble, for_action, header};
use super::codec::{
    change_of, decode, encode, kind_from, merged_change, note_kind_from, rule_kind_from, status_str, with_change,
};
use super::group::GroupCommit;
use super::{
    Accepted, AppliedRule, DeadLetter, Decided, Depth, Held, Inbound, NewAppliedRule, NewNote, Note, Outcome, Pending,
    Policy, Pruned, Scheduled, Store, StoreError, decide, reached, scheduled,
};
use crate::action::{ActionKind, Incident};
use crate::history::{ExternalRef, IncidentRow, Related};
use crate::incident::{self, GroupUpdate};
use crate::metrics::Metrics;

/// Schema changes, applied in order; `edgewatch_schema.version` counts
/// those done. The first is the SQLite store's six, as one.
const MIGRATIONS: &[&str] = &[
    // 1: the inbox, incidents, notes, the outbox (dead letters are its
    // `dead` rows; `claimed_by` and `claim_until` say which receiver
    // delivers a row), what destinations answered, mitigations.
    "CREATE TABLE notifications (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        received_at BIGINT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX notifications_received ON notifications (received_at);
    CREATE TABLE incidents (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
        opened_at BIGINT NOT NULL,
        resolved_at BIGINT,
        updated_at BIGINT NOT NULL,
        state TEXT NOT NULL,
        held BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX incidents_key ON incidents (key, id);
    CREATE INDEX incidents_firing ON incidents (id) WHERE status = 'firing';
    CREATE TABLE notes (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        incident_id BIGINT NOT NULL REFERENCES incidents (id),
        kind TEXT NOT NULL CHECK (kind IN ('remediation', 'comment')),
        author TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE INDEX notes_incident ON notes (incident_id, id);
    CREATE TABLE outbox (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        incident_id BIGINT NOT NULL REFERENCES incidents (id),
        destination TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        done_at BIGINT,
        sending_since BIGINT,
        note_id BIGINT REFERENCES notes (id),
        approval TEXT CHECK (approval IN ('required', 'drafted', 'sent', 'discarded')),
        draft TEXT,
        claimed_by TEXT,
        claim_until BIGINT
    );
    CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
    CREATE INDEX outbox_pair ON outbox (incident_id, destination, id);
    CREATE INDEX outbox_dead ON outbox (id) WHERE status = 'dead';
    CREATE INDEX outbox_done ON outbox (done_at) WHERE status = 'delivered';
    CREATE TABLE externals (
        incident_id BIGINT NOT NULL REFERENCES incidents (id),
        destination TEXT NOT NULL,
        external TEXT NOT NULL,
        PRIMARY KEY (incident_id, destination)
    );
    CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE suggestions (
        incident_id BIGINT PRIMARY KEY REFERENCES incidents (id),
        created_at BIGINT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE mitigations (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        incident_id BIGINT NOT NULL REFERENCES incidents (id),
        rule TEXT NOT NULL CHECK (rule IN ('custom', 'rate_limit')),
        zone TEXT NOT NULL,
        ruleset_id TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        body TEXT NOT NULL,
        applied_by TEXT NOT NULL,
        applied_at BIGINT NOT NULL,
        reverted_at BIGINT
    );
    CREATE INDEX mitigations_incident ON mitigations (incident_id, id);",
    // 2: an update that waited and took later news keeps what changed in
    // all of them here (its payload is the newest incident).
    "ALTER TABLE outbox ADD COLUMN change TEXT;",
    // 3: work one receiver does at a time (`turns`: who, until when), and
    // what was done once for all (each scheduled report run, each report
    // mailed).
    "CREATE TABLE turns (job TEXT PRIMARY KEY, holder TEXT NOT NULL, until BIGINT NOT NULL);
    CREATE TABLE done (name TEXT PRIMARY KEY, at BIGINT NOT NULL, what TEXT NOT NULL);",
    // 4: the incidents held under an old key, which every notification
    // reads, by an index of their own (as on SQLite): without it the read
    // went through every firing incident.
    "CREATE INDEX incidents_held ON incidents (id) WHERE held;",
    // 5: an incident's alerts in rows of their own (`store::alerts`), as
    // on SQLite.
    "CREATE TABLE alerts (
        incident_id BIGINT NOT NULL REFERENCES incidents (id),
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (incident_id, fingerprint)
    );",
    // 6: when the schedule next has something for a firing incident, as
    // on SQLite (its migration 10).
    "ALTER TABLE incidents ADD COLUMN due_at BIGINT;
    UPDATE incidents SET due_at = 0 WHERE status = 'firing';
    CREATE INDEX incidents_due ON incidents (due_at) WHERE status = 'firing' AND NOT held;",
    // 7: a row in `meta` says that incidents are held (see
    // `lock_keys_reading_held`), set for those held before.
    "INSERT INTO meta (name, value) SELECT 'held', '' WHERE EXISTS (SELECT 1 FROM incidents WHERE held)
     ON CONFLICT (name) DO NOTHING;",
];

/// The schema version that gave alerts rows of their own.
const ALERTS_SINCE: i64 = 5;

/// The schema version this receiver writes.
#[allow(clippy::cast_possible_wrap)] // a handful of migrations
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Advisory locks, as `(class, id)` pairs of the two-key form: a class
/// per purpose, so none collides with another's.
mod lock {
    /// Schema migrations (session-scoped, at connect).
    pub(super) const MIGRATE: (i32, i32) = (0x6577, 1);
    /// Changing the key labels, against every notification (shared).
    pub(super) const KEY_LABELS: (i32, i32) = (0x6577, 2);
    /// The schedule: one receiver at a time.
    pub(super) const TICK: (i32, i32) = (0x6577, 3);
    /// Pruning: one receiver at a time.
    pub(super) const PRUNE: (i32, i32) = (0x6577, 4);
    /// One incident key (`hashtext(key)` is the second half).
    pub(super) const KEY_CLASS: i32 = 0x6578;
}

/// Connections kept open at most; callers beyond wait for one.
const POOL_SIZE: usize = 16;
/// How long a caller waits for a connection before the store is called busy.
const POOL_WAIT: Duration = Duration::from_secs(10);
/// Transactions a serialization failure or deadlock is retried.
const RETRIES: usize = 5;

/// Where the store is and who this receiver is among those sharing it.
#[derive(Clone)]
pub(crate) struct Target {
    /// Host, port, database, user, and the password read from its reference.
    pub config: postgres::Config,
    /// TLS as the URL's `sslmode` asks.
    pub tls: tokio_postgres_rustls::MakeRustlsConnect,
    /// This receiver's name in claims (`host:pid:random`).
    pub receiver: String,
    /// How long a claim lasts without news: a receiver that died is taken
    /// over after it.
    pub lease_ms: i64,
}

impl std::fmt::Debug for Target {
    // postgres::Config's Debug redacts the password; this says less still.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("hosts", &self.config.get_hosts().len())
            .field("dbname", &self.config.get_dbname())
            .field("receiver", &self.receiver)
            .field("lease_ms", &self.lease_ms)
            .finish_non_exhaustive()
    }
}

/// Open connections, lent one per operation.
struct Pool {
    config: postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    state: Mutex<PoolState>,
    freed: Condvar,
    /// Where commits and the pool's connections are counted, once the
    /// receiver says.
    metrics: OnceLock<Arc<Metrics>>,
}

struct PoolState {
    idle: Vec<Conn>,
    /// Connections lent or idle.
    open: usize,
}

impl Pool {
    fn state(&self) -> Result<std::sync::MutexGuard<'_, PoolState>, StoreError> {
        self.state.lock().map_err(|_| StoreError::Poisoned)
    }

    fn get(&self) -> Result<Lent<'_>, StoreError> {
        let mut state = self.state()?;
        let deadline = std::time::Instant::now() + POOL_WAIT;
        // Set once every connection was found busy.
        let mut waited = None;
        loop {
            if let Some(conn) = state.idle.pop() {
                self.count(&state, waited);
                return Ok(Lent { pool: self, conn: Some(conn), broken: false });
            }
            if state.open < POOL_SIZE {
                state.open += 1;
                self.count(&state, waited);
                drop(state);
                return match self.config.connect(self.tls.clone()) {
                    Ok(client) => {
                        Ok(Lent { pool: self, conn: Some(Conn { client, prepared: HashMap::new() }), broken: false })
                    }
                    Err(e) => {
                        let mut state = self.state()?;
                        state.open -= 1;
                        self.count(&state, None);
                        drop(state);
                        self.freed.notify_one();
                        Err(e.into())
                    }
                };
            }
            let now = std::time::Instant::now();
            let since = *waited.get_or_insert(now);
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() {
                self.count(&state, Some(since));
                return Err(StoreError::Busy);
            }
            state = self.freed.wait_timeout(state, left).map_err(|_| StoreError::Poisoned)?.0;
        }
    }

    /// Shows the pool's connections in the metrics, and how long a lending
    /// that found them all busy waited (since `waited`).
    fn count(&self, state: &PoolState, waited: Option<std::time::Instant>) {
        let Some(m) = self.metrics.get() else { return };
        m.pool(state.open, state.open.saturating_sub(state.idle.len()));
        if let Some(since) = waited {
            m.connection_wait(since.elapsed().as_secs_f64());
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // A client owns a small runtime of its own, which must not be
        // dropped on a thread that drives async tasks (the receiver may be
        // dropped on one): they go on a thread of their own.
        let idle = self.state.get_mut().map(|s| std::mem::take(&mut s.idle)).unwrap_or_default();
        if !idle.is_empty() {
            let _ = std::thread::Builder::new().name("edgewatch-pg-close".to_owned()).spawn(move || drop(idle));
        }
    }
}

/// A connection and the statements prepared on it: each is prepared once
/// per connection (run unprepared, a statement costs a second round trip).
struct Conn {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
}

/// Runs statements on a connection or a transaction `C`, each prepared once
/// per connection.
struct Db<'a, C> {
    on: &'a mut C,
    prepared: &'a mut HashMap<&'static str, Statement>,
}

/// A transaction, with the connection's prepared statements.
type Tx<'a, 'b> = Db<'a, Transaction<'b>>;

/// A statement's parameters.
type Params<'p> = [&'p (dyn ToSql + Sync)];

impl<C: GenericClient> Db<'_, C> {
    fn statement(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(prepared) = self.prepared.get(sql) {
            return Ok(prepared.clone());
        }
        let prepared = self.on.prepare(sql)?;
        self.prepared.insert(sql, prepared.clone());
        Ok(prepared)
    }

    fn execute(&mut self, sql: &'static str, params: &Params<'_>) -> Result<u64, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.on.execute(&statement, params)?)
    }

    fn query(&mut self, sql: &'static str, params: &Params<'_>) -> Result<Vec<Row>, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.on.query(&statement, params)?)
    }

    fn query_one(&mut self, sql: &'static str, params: &Params<'_>) -> Result<Row, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.on.query_one(&statement, params)?)
    }

    fn query_opt(&mut self, sql: &'static str, params: &Params<'_>) -> Result<Option<Row>, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.on.query_opt(&statement, params)?)
    }

    /// A statement put together at run time: not kept prepared.
    fn execute_once(&mut self, sql: &str, params: &Params<'_>) -> Result<u64, StoreError> {
        Ok(self.on.execute(sql, params)?)
    }

    /// A query put together at run time: not kept prepared.
    fn query_once(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, StoreError> {
        Ok(self.on.query(sql, params)?)
    }
}

/// A connection lent by the pool: back to it when dropped, unless broken.
struct Lent<'a> {
    pool: &'a Pool,
    conn: Option<Conn>,
    broken: bool,
}

impl Lent<'_> {
    fn conn(&mut self) -> Result<&mut Conn, StoreError> {
        self.conn.as_mut().ok_or(StoreError::Poisoned)
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let Ok(mut state) = self.pool.state.lock() else { return };
        match self.conn.take() {
            Some(conn) if !self.broken && !conn.client.is_closed() => state.idle.push(conn),
            _ => state.open -= 1,
        }
        self.pool.count(&state, None);
        drop(state);
        self.pool.freed.notify_one();
    }
}

/// Runs `run`, which blocks on the client's own runtime, where tokio lets
/// a thread block: tokio refuses it on a thread that drives async tasks,
/// and the store's callers may be on one (the receiver's start, the CLI).
/// The receiver's own calls come from tokio's blocking threads (and plain
/// ones), which run it as it is: a thread of its own for every call cost
/// two receivers about 15 % of their throughput (docs/performance.md).
/// A panic is an error, as it was on a thread of its own: a group commit's
/// leader must answer the others.
fn blocking<T: Send>(run: impl FnOnce() -> Result<T, StoreError> + Send) -> Result<T, StoreError> {
    let caught = || std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or(Err(StoreError::Poisoned));
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        // No runtime here.
        Err(_) => caught(),
        // A worker hands its tasks to another thread first; on a blocking
        // thread, or in `Runtime::block_on`, it runs at once.
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(caught),
        // A current-thread runtime cannot hand its tasks over.
        Ok(_) => std::thread::scope(|scope| scope.spawn(caught).join().unwrap_or(Err(StoreError::Poisoned))),
    }
}

/// Whether `e` says the connection, not the statement, failed: such a
/// connection is dropped, and the next operation opens a new one (after a
/// database restart, say). A server shutting down says so first, as an
/// error of class 57P (`admin_shutdown`), before the client sees the
/// connection closed.
fn connection_lost(e: &StoreError) -> bool {
    matches!(e, StoreError::Postgres(e)
        if e.as_db_error().is_none() || e.is_closed() || e.code().is_some_and(|c| c.code().starts_with("57P")))
}

/// Whether the transaction may simply run again.
fn retryable(e: &StoreError) -> bool {
    matches!(e, StoreError::Postgres(e)
        if matches!(e.code(), Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED))
}

/// The PostgreSQL store.
pub(crate) struct Postgres {
    pool: Pool,
    target: Target,
    /// The schema version of the store: this receiver's, or an older one
    /// that a reader found.
    schema: i64,
    /// Notifications waiting for a commit (group commit, as on SQLite).
    intake: GroupCommit<Inbound, Accepted>,
    /// Delivery outcomes waiting for a commit (group commit, as on SQLite).
    outcomes: GroupCommit<Outcome, ()>,
    /// The [`HOT_TABLES`] known to have statistics (analysed here, or
    /// found analysed), or not this role's to analyse: once all,
    /// [`Store::gather_statistics`] looks no more.
    have_statistics: Mutex<BTreeSet<&'static str>>,
}

/// The tables a notification or a poll reads by key: a plan made for them
/// without statistics can scan them whole.
const HOT_TABLES: [&str; 5] = ["alerts", "externals", "incidents", "notifications", "outbox"];

/// Changes to a table never analysed after which the receiver analyses it
/// rather than wait for autovacuum.
const CHANGES_BEFORE_ANALYSE: i64 = 500;

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").field("target", &self.target).finish_non_exhaustive()
    }
}

impl Postgres {
    /// The store at `target`, no connection opened yet.
    fn unconnected(target: Target) -> Self {
        Self {
            pool: Pool {
                config: target.config.clone(),
                tls: target.tls.clone(),
                state: Mutex::new(PoolState { idle: Vec::new(), open: 0 }),
                freed: Condvar::new(),
                metrics: OnceLock::new(),
            },
            target,
            schema: SCHEMA_VERSION,
            intake: GroupCommit::default(),
            outcomes: GroupCommit::default(),
            have_statistics: Mutex::new(BTreeSet::new()),
        }
    }

    /// Connects and brings the schema up to date (one receiver at a time:
    /// the others wait on the migration lock).
    pub(crate) fn connect(target: Target) -> Result<Self, StoreError> {
        let store = Self::unconnected(target);
        store.with(migrate)?;
        Ok(store)
    }

    /// Connects to read only (`edgewatch incidents`, reports): the schema is
    /// checked, never migrated.
    pub(crate) fn reader(target: Target) -> Result<Self, StoreError> {
        let mut store = Self::unconnected(target);
        store.schema = store.with(|db| {
            let client = &mut *db.on;
            let found = client.query_opt("SELECT to_regclass('edgewatch_schema') IS NOT NULL", &[])?;
            let version = if found.is_some_and(|r| r.get::<_, bool>(0)) {
                client.query_opt("SELECT version FROM edgewatch_schema", &[])?.map_or(0, |r| r.get::<_, i64>(0))
            } else {
                0
            };
            if version > SCHEMA_VERSION {
                return Err(StoreError::Newer { found: version, known: SCHEMA_VERSION });
            }
            if version < 1 {
                let db = store.target.config.get_dbname().unwrap_or("(default)");
                return Err(StoreError::Decode {
                    what: "store",
                    message: format!(
                        "the PostgreSQL database `{db}` holds no receiver store (no receiver has started on it)"
                    ),
                });
            }
            Ok(version)
        })?;
        Ok(store)
    }

    /// Runs `f` on a lent connection; a connection that failed is dropped.
    fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut Db<'_, Client>) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        blocking(|| {
            let mut lent = self.pool.get()?;
            let Conn { client, prepared } = lent.conn()?;
            let result = f(&mut Db { on: client, prepared });
            if let Err(e) = &result {
                lent.broken = connection_lost(e);
            }
            result
        })
    }

    /// Runs `f` in a transaction and commits, running it again after a
    /// serialization failure or a deadlock.
    fn tx<T: Send>(&self, mut f: impl FnMut(&mut Tx<'_, '_>) -> Result<T, StoreError> + Send) -> Result<T, StoreError> {
        let mut tries = 0;
        loop {
            let result = self.with(|db| {
                let mut tx = db.on.transaction()?;
                let value = f(&mut Db { on: &mut tx, prepared: db.prepared })?;
                tx.commit()?;
                Ok(value)
            });
            match result {
                Err(e) if retryable(&e) && tries < RETRIES => tries += 1,
                other => return other,
            }
        }
    }

    /// Records `outcome`, sharing a transaction and its commit with the
    /// outcomes recorded at the same time: a commit of its own each took a
    /// connection from the intake and a turn at PostgreSQL's WAL for a
    /// one-row update. When the shared one fails, each is tried alone, so
    /// that one outcome cannot fail the others.
    fn record(&self, outcome: Outcome) -> Result<(), StoreError> {
        self.outcomes.submit(outcome, |batch| self.record_all(batch))
    }

    /// Records the notifications of `batch` in one transaction and one
    /// commit (group commit, as on SQLite): each one's result.
    fn accept_all(&self, batch: &[Inbound], policy: &dyn Policy) -> Vec<Result<Accepted, StoreError>> {
        let counted = |notifications| {
            if let Some(m) = self.pool.metrics.get() {
                m.commit(notifications);
            }
        };
        self.one_commit_or_each(batch, |tx, some| accept_in(tx, some, policy), counted)
    }

    /// Records `batch` in one transaction: each one's result.
    fn record_all(&self, batch: &[Outcome]) -> Vec<Result<(), StoreError>> {
        let each = |tx: &mut Tx<'_, '_>, some: &[&Outcome]| some.iter().map(|o| outcome_in(tx, o)).collect();
        self.one_commit_or_each(batch, each, |_| ())
    }

    /// Runs `write` on all of `batch` in one transaction and one commit:
    /// each write's result, and `committed` told how many each commit held.
    /// When the shared commit fails, each write is tried alone, so that one
    /// cannot fail the others; but not when the database could not be
    /// reached (or no connection was free), where each would only wait its
    /// own turn to fail: each is told (Alertmanager sends again; delivery
    /// tries again). A connection found closed (the database restarted
    /// since it was lent last) is dropped and the batch tried once more on
    /// another, so that a restart costs no batch its commit.
    fn one_commit_or_each<W: Sync, R: Send>(
        &self,
        batch: &[W],
        write: impl Fn(&mut Tx<'_, '_>, &[&W]) -> Result<Vec<R>, StoreError> + Sync,
        committed: impl Fn(usize),
    ) -> Vec<Result<R, StoreError>> {
        let all: Vec<&W> = batch.iter().collect();
        let mut shared = self.tx(|tx| write(tx, &all));
        if matches!(&shared, Err(e) if connection_lost(e)) {
            shared = self.tx(|tx| write(tx, &all));
        }
        match shared {
            Ok(results) => {
                committed(batch.len());
                results.into_iter().map(Ok).collect()
            }
            Err(e) if batch.len() > 1 && (connection_lost(&e) || matches!(e, StoreError::Busy)) => {
                let message = e.to_string();
                batch.iter().map(|_| Err(StoreError::Commit(message.clone()))).collect()
            }
            Err(_) if batch.len() > 1 => all
                .iter()
                .map(|w| {
                    let result =
                        self.tx(|tx| write(tx, &[w])).and_then(|r| r.into_iter().next().ok_or(StoreError::Poisoned));
                    if result.is_ok() {
                        committed(1);
                    }
                    result
                })
                .collect(),
            Err(e) => vec![Err(e)],
        }
    }
}

/// Records one delivery outcome in `tx`, the claim on it given up.
fn outcome_in(tx: &mut Tx<'_, '_>, outcome: &Outcome) -> Result<(), StoreError> {
    match outcome {
        // One statement: the row delivered (as on SQLite, the incident it
        // carried is not read again) and what the destination answered.
        Outcome::Delivered { id, external, now } => tx.execute(
            "WITH done AS (
               UPDATE outbox SET status = 'delivered', attempts = attempts + 1, done_at = $2, last_error = NULL,
                 sending_since = NULL, claimed_by = NULL, claim_until = NULL, payload = '', change = NULL
               WHERE id = $1 RETURNING incident_id, destination
             )
             INSERT INTO externals (incident_id, destination, external)
             SELECT incident_id, destination, $3 FROM done WHERE $3::TEXT IS NOT NULL
             ON CONFLICT (incident_id, destination) DO UPDATE SET external = EXCLUDED.external",
            &[id, now, external],
        ),
        Outcome::RetryAt { id, next_at, error } => tx.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3,
               sending_since = NULL, claimed_by = NULL, claim_until = NULL WHERE id = $1",
            &[id, next_at, &storable(error)],
        ),
        Outcome::Dead { id, reason, now } => tx.execute(
            "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = $2, done_at = $3,
               sending_since = NULL, claimed_by = NULL, claim_until = NULL WHERE id = $1",
            &[id, &storable(reason), now],
        ),
    }?;
    Ok(())
}

/// `text` as PostgreSQL's `TEXT` can hold it: without NUL characters,
/// which it refuses. A destination's answer quoted in an error may have
/// them, and an outcome that cannot be recorded leaves its action to be
/// tried again and again.
fn storable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') { text.replace('\0', "\u{fffd}").into() } else { text.into() }
}

fn migrate(db: &mut Db<'_, Client>) -> Result<(), StoreError> {
    let client = &mut *db.on;
    client.execute("SELECT pg_advisory_lock($1, $2)", &[&lock::MIGRATE.0, &lock::MIGRATE.1])?;
    let result = (|| {
        // Created only when missing: `CREATE TABLE IF NOT EXISTS` asks for
        // the right to create in the schema even when the table is there,
        // and a role that only reads and writes (docs/receiver.md) has not.
        let exists = client.query_one("SELECT to_regclass('edgewatch_schema') IS NOT NULL", &[])?.get::<_, bool>(0);
        if !exists {
            client.batch_execute("CREATE TABLE edgewatch_schema (version BIGINT NOT NULL)")?;
        }
        let done: Option<i64> = client.query_opt("SELECT version FROM edgewatch_schema", &[])?.map(|r| r.get(0));
        let done = done.unwrap_or(0);
        if done > SCHEMA_VERSION {
            return Err(StoreError::Newer { found: done, known: SCHEMA_VERSION });
        }
        let mut tx = client.transaction()?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(done).unwrap_or(0)) {
            tx.batch_execute(sql)?;
            let version = i64::try_from(i + 1).unwrap_or(i64::MAX);
            tx.execute("DELETE FROM edgewatch_schema", &[])?;
            tx.execute("INSERT INTO edgewatch_schema (version) VALUES ($1)", &[&version])?;
        }
        tx.commit()?;
        Ok(())
    })();
    client.execute("SELECT pg_advisory_unlock($1, $2)", &[&lock::MIGRATE.0, &lock::MIGRATE.1])?;
    result
}

/// Takes the advisory locks of `keys` for the transaction, in one order
/// for every transaction (by hash), so two never wait on each other.
fn lock_keys<'k>(tx: &mut Tx<'_, '_>, keys: impl IntoIterator<Item = &'k str>) -> Result<(), StoreError> {
    let keys: Vec<&str> = keys.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    if keys.is_empty() {
        return Ok(());
    }
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($2::text[]) AS k ORDER BY h) AS s",
        &[&lock::KEY_CLASS, &keys],
    )?;
    Ok(())
}

/// Takes the locks of `keys` as [`lock_keys`] does and reads the firing
/// incidents held under an old key, with their alerts' fingerprints.
///
/// Usually none are held, and the locks' statement says so from the row
/// `held` in `meta`, which [`Store::use_key_labels`] writes when it holds
/// some; the incidents are read only when it is there. A read of the
/// incidents at every notification went through every incident whenever
/// its plan was made on a table too young for statistics (a fresh
/// database in a storm: 450 pages a notification by 20,000 of them), and
/// no plan can go wrong on one row of `meta`. The row is removed by the
/// first notification that finds none held: a held incident is made only
/// under the key labels' exclusive lock, and this runs under its shared
/// one, so none can appear in between.
fn lock_keys_reading_held(tx: &mut Tx<'_, '_>, keys: &[&str]) -> Result<Vec<(String, BTreeSet<String>)>, StoreError> {
    let flagged: bool = tx
        .query_one(
            "WITH l AS MATERIALIZED (SELECT count(pg_advisory_xact_lock($1, h)) AS n
                    FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($2::text[]) AS k ORDER BY h) AS s)
             SELECT EXISTS (SELECT 1 FROM meta WHERE name = 'held') FROM l",
            &[&lock::KEY_CLASS, &keys],
        )?
        .get(0);
    if !flagged {
        return Ok(Vec::new());
    }
    let rows = tx.query(
        "SELECT i.key, i.state, ARRAY(SELECT a.state FROM alerts a WHERE a.incident_id = i.id)
         FROM incidents i WHERE i.held AND i.status = 'firing'",
        &[],
    )?;
    if rows.is_empty() {
        tx.execute("DELETE FROM meta WHERE name = 'held'", &[])?;
    }
    rows.iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, &str>(1), r.get::<_, Vec<String>>(2)))
        .map(|(key, state, alerts)| {
            let incident = assemble(state, &alerts)?.incident;
            Ok((key, incident.alerts.into_iter().map(|a| a.fingerprint).collect()))
        })
        .collect()
}

/// Whether the transaction got `lock` (without waiting).
fn try_lock(tx: &mut Tx<'_, '_>, lock: (i32, i32)) -> Result<bool, StoreError> {
    Ok(tx.query_one("SELECT pg_try_advisory_xact_lock($1, $2)", &[&lock.0, &lock.1])?.get(0))
}

/// Stores `incident` as `decide` left it (its row's `resolved_at`) and
/// queues `steps` for it, each held for approval when the policy says so:
/// how many. A new incident (id 0) is inserted with the id `fresh` (taken
/// from the sequence with the key's latest incident), or another one. One
/// statement writes the row, the alerts that changed since `before` (what
/// the store held of it) and every action, after one read when an update
/// may merge into one waiting. The caller holds the key's lock.
fn store(
    tx: &mut Tx<'_, '_>,
    policy: &dyn Policy,
    (before, incident): (Option<&Loaded>, &mut Incident),
    columns: Columns,
    steps: &[(String, ActionKind)],
    now: i64,
) -> Result<usize, StoreError> {
    let Columns { resolved_at, due_at, fresh } = columns;
    let approvals: Vec<Option<&str>> =
        steps.iter().map(|(d, _)| policy.held(incident, d).then_some("required")).collect();
    if incident.id == 0 {
        incident.id = match fresh {
            Some(id) => id,
            None => tx.query_one("SELECT nextval(pg_get_serial_sequence('incidents', 'id'))", &[])?.get(0),
        };
        insert(tx, incident, columns, (steps, &approvals), now)?;
        return Ok(steps.len());
    }
    let row_status = status_str(incident.status);
    let ((fingerprints, alert_states), removed) = alert_rows(before, incident)?;
    let state = header(incident)?;
    let payload = action_payload(incident, steps)?;
    // As on SQLite: the pair's last action, an update not yet sent that
    // waits behind another of the pair or out its hold, takes this news
    // too. Locked, and its claim checked on the row as locked: one a
    // receiver took meanwhile is left alone (a held update is taken only
    // once due, so any clock will do here).
    let hold_ms = policy.update_hold();
    let merging: Vec<&str> = steps
        .iter()
        .zip(&approvals)
        .filter(|((_, kind), approval)| *kind == ActionKind::Update && approval.is_none())
        .map(|((d, _), _)| d.as_str())
        .collect();
    let mut waiting: HashMap<String, (i64, String)> = HashMap::new();
    if !merging.is_empty() {
        let rows = tx.query(
            "SELECT id, destination, payload, change FROM outbox o
             WHERE id IN (SELECT MAX(id) FROM outbox WHERE incident_id = $1 AND destination = ANY($2)
                          GROUP BY destination)
               AND status = 'pending' AND kind = 'update' AND approval IS NULL
               AND sending_since IS NULL AND (claim_until IS NULL OR claim_until < $3)
               AND (EXISTS (SELECT 1 FROM outbox p WHERE p.incident_id = o.incident_id
                      AND p.destination = o.destination AND p.id < o.id AND p.status IN ('pending', 'dead'))
                    OR ($4::bigint > 0 AND o.attempts = 0 AND o.next_attempt_at > $3))
             FOR UPDATE",
            &[&incident.id, &merging, &now, &hold_ms],
        )?;
        for row in rows {
            let change = merged_change(&change_of(row.get(2), row.get(3))?, &incident.change)?;
            waiting.insert(row.get(1), (row.get(0), change));
        }
    }
    let (mut merged, mut changes) = (Vec::new(), Vec::new());
    let (mut destinations, mut kinds, mut held, mut due) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Destinations where an action other than an update follows: an
    // update on hold before it goes now.
    let mut releasing: Vec<&str> = Vec::new();
    for ((destination, kind), approval) in steps.iter().zip(approvals) {
        if let Some((id, change)) = waiting.remove(destination) {
            merged.push(id);
            changes.push(change);
            continue;
        }
        let update = *kind == ActionKind::Update && approval.is_none();
        if !update && hold_ms > 0 {
            releasing.push(destination);
        }
        destinations.push(destination.as_str());
        kinds.push(kind.as_str());
        held.push(approval);
        due.push(if update { now + hold_ms } else { now });
    }
    // A held one, resolved, is held no more.
    tx.execute(
        "WITH i AS (UPDATE incidents SET status = $2, resolved_at = $3, updated_at = $4, state = $5, due_at = $14,
                    held = CASE WHEN $2 = 'resolved' THEN FALSE ELSE held END WHERE id = $1),
         m AS (UPDATE outbox SET payload = $15, change = c.change
               FROM unnest($6::bigint[], $7::text[]) AS c (id, change) WHERE outbox.id = c.id),
         a AS (INSERT INTO alerts (incident_id, fingerprint, state)
               SELECT $1::bigint, a.fingerprint, a.state FROM unnest($11::text[], $12::text[]) AS a (fingerprint, state)
               ON CONFLICT (incident_id, fingerprint) DO UPDATE SET state = excluded.state),
         r AS (DELETE FROM alerts WHERE incident_id = $1 AND fingerprint = ANY($13::text[])),
         h AS (UPDATE outbox SET next_attempt_at = $4
               WHERE id IN (SELECT MAX(id) FROM outbox WHERE incident_id = $1 AND destination = ANY($17::text[])
                            GROUP BY destination)
                 AND status = 'pending' AND kind = 'update' AND attempts = 0 AND next_attempt_at > $4)
         INSERT INTO outbox (incident_id, destination, kind, payload, next_attempt_at, created_at, approval)
         SELECT $1::bigint, d.destination, d.kind, $15::text, d.due, $4, d.approval
         FROM unnest($8::text[], $9::text[], $10::text[], $16::bigint[]) AS d (destination, kind, approval, due)",
        &[
            &incident.id,
            &row_status,
            &resolved_at,
            &now,
            &state,
            &merged,
            &changes,
            &destinations,
            &kinds,
            &held,
            &fingerprints,
            &alert_states,
            &removed,
            &due_at,
            &payload,
            &due,
            &releasing,
        ],
    )?;
    Ok(steps.len())
}

/// An incident row's columns beside its state, as a write sets them, and
/// for a new incident the id taken for it, if one was.
#[derive(Debug, Clone, Copy, Default)]
struct Columns {
    resolved_at: Option<i64>,
    due_at: Option<i64>,
    fresh: Option<i64>,
}

/// Inserts new incident `incident` (its id taken), its alerts, and an
/// action for each of `steps` (with its approval), in one statement.
fn insert(
    tx: &mut Tx<'_, '_>,
    incident: &mut Incident,
    Columns { resolved_at, due_at, .. }: Columns,
    (steps, approvals): (&[(String, ActionKind)], &[Option<&str>]),
    now: i64,
) -> Result<(), StoreError> {
    let row_status = status_str(incident.status);
    let (fingerprints, alert_states) = alert_rows(None, incident)?.0;
    let state = header(incident)?;
    let payload = action_payload(incident, steps)?;
    let (destinations, kinds): (Vec<&str>, Vec<&str>) = steps.iter().map(|(d, k)| (d.as_str(), k.as_str())).unzip();
    tx.execute(
        "WITH i AS (INSERT INTO incidents (id, key, status, opened_at, resolved_at, updated_at, state, due_at)
                    OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $4, $6, $12)),
         a AS (INSERT INTO alerts (incident_id, fingerprint, state)
               SELECT $1::bigint, a.fingerprint, a.state FROM unnest($10::text[], $11::text[]) AS a (fingerprint, state))
         INSERT INTO outbox (incident_id, destination, kind, payload, next_attempt_at, created_at, approval)
         SELECT $1::bigint, d.destination, d.kind, $13::text, $4::bigint, $4, d.approval
         FROM unnest($7::text[], $8::text[], $9::text[]) AS d (destination, kind, approval)",
        &[
            &incident.id,
            &incident.key,
            &row_status,
            &now,
            &resolved_at,
            &state,
            &destinations,
            &kinds,
            &approvals,
            &fingerprints,
            &alert_states,
            &due_at,
            &payload,
        ],
    )?;
    Ok(())
}

/// What the actions of `steps` keep of `incident` ([`as_decided`]); nothing
/// when there are none.
fn action_payload(incident: &mut Incident, steps: &[(String, ActionKind)]) -> Result<String, StoreError> {
    if steps.is_empty() { Ok(String::new()) } else { as_decided(incident) }
}

/// The alert rows `after` needs beside what the store held, `before` (see
/// [`super::alerts::changed`]): fingerprints and states to write, and
/// fingerprints to delete.
#[allow(clippy::type_complexity)] // the statements' array parameters
fn alert_rows(
    before: Option<&Loaded>,
    after: &Incident,
) -> Result<((Vec<String>, Vec<String>), Vec<String>), StoreError> {
    let changed = super::alerts::changed(before, after)?;
    Ok((changed.upsert.into_iter().unzip(), changed.removed))
}

/// Records `note` on incident `incident_id` in `tx` and queues a `note`
/// action for every destination the incident reached, after its earlier
/// actions there (under the key's lock): the note, and how many were queued.
fn note_in(tx: &mut Tx<'_, '_>, incident_id: i64, note: &NewNote, now: i64) -> Result<(Note, usize), StoreError> {
    let key: String = tx
        .query_opt("SELECT key FROM incidents WHERE id = $1", &[&incident_id])?
        .ok_or(StoreError::NoIncident(incident_id))?
        .get(0);
    lock_keys(tx, [key.as_str()])?;
    let state: String = tx.query_one("SELECT state FROM incidents WHERE id = $1", &[&incident_id])?.get(0);
    let incident: Incident = decode("incident", &state)?;
    let note_id: i64 = tx
        .query_one(
            "INSERT INTO notes (incident_id, kind, author, text, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&incident_id, &note.kind.as_str(), &note.author, &note.text, &now],
        )?
        .get(0);
    let reached = reached(&incident);
    for destination in &reached {
        tx.execute(
            "INSERT INTO outbox (incident_id, destination, kind, payload, next_attempt_at, created_at, note_id)
             VALUES ($1, $2, $3, $4, $5, $5, $6)",
            &[&incident_id, destination, &ActionKind::Note.as_str(), &state, &now, &note_id],
        )?;
    }
    Ok((note.stored(note_id, incident_id, now), reached.len()))
}

/// Records `batch` (notifications in the order they came) in `tx`: each
/// one's result. One statement stores them all in the inbox, one takes
/// every key's lock, one reads every key's latest incident; then each
/// incident's write is a statement of its own, in the batch's order, a
/// key's later notification deciding over what its earlier one left.
/// Every round trip is latency and CPU on every notification
/// (docs/performance.md), and a batch pays these once.
fn accept_in(tx: &mut Tx<'_, '_>, batch: &[&Inbound], policy: &dyn Policy) -> Result<Vec<Accepted>, StoreError> {
    // A copy received twice in the batch is stored once: the first.
    let mut seen = HashSet::new();
    let first: Vec<bool> = batch.iter().map(|n| seen.insert(n.hash.as_str())).collect();
    let unique: Vec<&Inbound> = batch.iter().zip(&first).filter(|(_, first)| **first).map(|(n, _)| *n).collect();
    let hashes: Vec<&str> = unique.iter().map(|n| n.hash.as_str()).collect();
    let received: Vec<i64> = unique.iter().map(|n| n.received_at).collect();
    let bodies: Vec<&str> = unique.iter().map(|n| n.body.as_str()).collect();
    // A copy from another receiver or Alertmanager peer waits here until
    // the first commits, then inserts nothing. Rows go in in the hashes'
    // order, so two receivers' batches never wait on each other in a
    // circle (nor do they at the keys' locks, taken in one order). The
    // rest of the transaction runs on generic plans (`plan_cache_mode`,
    // from PostgreSQL 12): a notification's statements look rows up by key
    // and id, and one plan fits every value, but left to choose,
    // PostgreSQL planned three of them again at every run
    // (`pg_stat_statements`: 0.85 ms planning a notification, more than
    // running them). The delivery's statements keep the choice: a generic
    // plan of the outbox's due rows, made while the table was young, read
    // all of it at every poll.
    let inserted: BTreeSet<String> = tx
        .query(
            "WITH l AS (SELECT pg_advisory_xact_lock_shared($1, $2),
                               set_config('plan_cache_mode', 'force_generic_plan', true))
             INSERT INTO notifications (hash, received_at, body)
             SELECT n.hash, n.received_at, n.body FROM l, unnest($3::text[], $4::bigint[], $5::text[])
               AS n (hash, received_at, body) ORDER BY n.hash
             ON CONFLICT (hash) DO NOTHING RETURNING hash",
            &[&lock::KEY_LABELS.0, &lock::KEY_LABELS.1, &hashes, &received, &bodies],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let new: Vec<bool> = batch.iter().zip(first).map(|(n, first)| first && inserted.contains(&n.hash)).collect();
    if inserted.is_empty() {
        return Ok(batch.iter().map(|_| Accepted::Duplicate).collect());
    }
    let keys = keys_of(batch.iter().zip(&new).filter(|(_, new)| **new).flat_map(|(n, _)| &n.groups));
    // The keys' locks, and the incidents held under an old key (usually
    // none: an index probe) read as before the locks.
    let held = lock_keys_reading_held(tx, &as_strs(&keys))?;
    // While incidents are held under old keys (rare: after the key labels
    // changed), each notification diverts to those still held after the
    // ones before it in the batch, as it would alone: it reads them
    // again, with this transaction's writes. Otherwise every key's latest
    // incident is read once for the batch.
    let one_by_one = !held.is_empty();
    let mut latest = if one_by_one { HashMap::new() } else { latest_of(tx, &keys)? };
    let mut results = Vec::with_capacity(batch.len());
    for (inbound, new) in batch.iter().zip(new) {
        if !new {
            results.push(Accepted::Duplicate);
            continue;
        }
        let groups = if one_by_one {
            let held = lock_keys_reading_held(tx, &as_strs(&keys_of(&inbound.groups)))?;
            let diverted = incident::divert(inbound.groups.clone(), &held);
            let keys = keys_of(&diverted);
            lock_keys(tx, as_strs(&keys))?;
            latest = latest_of(tx, &keys)?;
            Cow::Owned(diverted)
        } else {
            Cow::Borrowed(inbound.groups.as_slice())
        };
        let now = inbound.received_at;
        let mut actions = 0;
        for update in groups.iter() {
            let Latest { incident: current, resolved_at: resolved_before, fresh } =
                latest.remove(&update.key).unwrap_or_default();
            let Decided { mut incident, steps, resolved_at, due_at } =
                decide(policy, current.as_ref().map(|l| &l.incident), resolved_before, update, now);
            let columns = Columns { resolved_at, due_at, fresh };
            actions += store(tx, policy, (current.as_ref(), &mut incident), columns, &steps, now)?;
            // What the key's next notification in the batch decides over:
            // the rows now hold this incident's alerts.
            let incident = Some(Loaded { incident, in_rows: true });
            latest.insert(update.key.clone(), Latest { incident, resolved_at, fresh: None });
        }
        results.push(Accepted::New { actions });
    }
    Ok(results)
}

/// The incident keys of `groups`, each once, in order.
fn keys_of<'g>(groups: impl IntoIterator<Item = &'g GroupUpdate>) -> Vec<String> {
    groups.into_iter().map(|g| g.key.clone()).collect::<BTreeSet<_>>().into_iter().collect()
}

/// `keys` as the statements take them.
fn as_strs(keys: &[String]) -> Vec<&str> {
    keys.iter().map(String::as_str).collect()
}

/// Each of `keys`' latest incident, or for a key never seen the id of the
/// incident it opens.
fn latest_of(tx: &mut Tx<'_, '_>, keys: &[String]) -> Result<HashMap<String, Latest>, StoreError> {
    let mut latest = HashMap::new();
    for row in tx.query(
        "SELECT k, i.resolved_at, i.state,
                CASE WHEN i.state IS NULL THEN nextval(pg_get_serial_sequence('incidents', 'id')) END,
                ARRAY(SELECT a.state FROM alerts a WHERE a.incident_id = i.id)
         FROM unnest($1::text[]) AS k
         LEFT JOIN LATERAL (SELECT id, resolved_at, state FROM incidents WHERE key = k ORDER BY id DESC LIMIT 1)
           AS i ON TRUE",
        &[&keys],
    )? {
        let alerts: Vec<String> = row.get(4);
        let incident = row.get::<_, Option<&str>>(2).map(|s| assemble(s, &alerts)).transpose()?;
        latest.insert(row.get(0), Latest { incident, resolved_at: row.get(1), fresh: row.get(3) });
    }
    Ok(latest)
}

/// A key's latest incident and its row's `resolved_at`, or the id of the
/// first incident of a key never seen.
#[derive(Default)]
struct Latest {
    incident: Option<Loaded>,
    resolved_at: Option<i64>,
    fresh: Option<i64>,
}

impl Store for Postgres {
    fn accept(&self, inbound: &Inbound, policy: &dyn Policy) -> Result<Accepted, StoreError> {
        self.intake.submit(inbound.clone(), |batch| self.accept_all(batch, policy))
    }

    fn count_commits(&self, metrics: Arc<Metrics>) {
        let _ = self.pool.metrics.set(metrics);
    }

    fn use_key_labels(&self, key_labels: &[String]) -> Result<u64, StoreError> {
        let now = encode("key labels", &key_labels)?;
        self.tx(|tx| {
            tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&lock::KEY_LABELS.0, &lock::KEY_LABELS.1])?;
            let recorded: Option<String> =
                tx.query_opt("SELECT value FROM meta WHERE name = 'key_labels'", &[])?.map(|r| r.get(0));
            if recorded.as_deref() == Some(now.as_str()) {
                return Ok(0);
            }
            let held = tx.execute("UPDATE incidents SET held = TRUE WHERE status = 'firing'", &[])?;
            if held > 0 {
                // Read by every notification (`lock_keys_reading_held`).
                tx.execute("INSERT INTO meta (name, value) VALUES ('held', '') ON CONFLICT (name) DO NOTHING", &[])?;
            }
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ('key_labels', $1) ON CONFLICT (name) DO UPDATE SET value = $1",
                &[&now],
            )?;
            Ok(held)
        })
    }

    fn due(&self, now: i64, limit: usize, destination: Option<&str>) -> Result<Vec<Pending>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let until = now.saturating_add(self.target.lease_ms);
        self.tx(|tx| {
            let rows = tx.query(
                "WITH picked AS (
                   SELECT o.id, o.incident_id, o.destination, o.kind, o.payload, o.attempts, e.external,
                          n.id AS note_id, n.kind AS note_kind, n.author, n.text, n.created_at AS note_at,
                          o.approval, o.next_attempt_at, o.change,
                          (o.claimed_by IS NOT NULL AND o.claimed_by <> $3) AS taken_over
                   FROM outbox o
                   LEFT JOIN externals e ON e.incident_id = o.incident_id AND e.destination = o.destination
                   LEFT JOIN notes n ON n.id = o.note_id
                   WHERE o.status = 'pending' AND o.next_attempt_at <= $1
                     AND ($5::TEXT IS NULL OR o.destination = $5)
                     AND (o.approval IS NULL OR o.approval <> 'drafted')
                     AND (o.claim_until IS NULL OR o.claim_until < $1)
                     AND NOT EXISTS (
                       SELECT 1 FROM outbox p
                       WHERE p.incident_id = o.incident_id AND p.destination = o.destination
                         AND p.id < o.id AND p.status IN ('pending', 'dead'))
                   ORDER BY o.next_attempt_at, o.id
                   LIMIT $2
                   FOR UPDATE OF o SKIP LOCKED
                 ), claimed AS (
                   UPDATE outbox SET claimed_by = $3, claim_until = $4 FROM picked WHERE outbox.id = picked.id
                   RETURNING outbox.id
                 )
                 SELECT picked.*, ARRAY(SELECT a.state FROM alerts a WHERE a.incident_id = picked.incident_id)
                 FROM picked JOIN claimed USING (id) ORDER BY next_attempt_at, id",
                &[&now, &limit, &self.target.receiver, &until, &destination],
            )?;
            rows.iter()
                .map(|r| {
                    let incident_id: i64 = r.get(1);
                    let note = match (r.get(7), r.get::<_, Option<&str>>(8), r.get(9), r.get(10), r.get(11)) {
                        (Some(id), Some(kind), Some(author), Some(text), Some(created_at)) => {
                            Some(Note { id, incident_id, kind: note_kind_from(kind)?, author, text, created_at })
                        }
                        _ => None,
                    };
                    Ok(Pending {
                        id: r.get(0),
                        incident_id,
                        destination: r.get(2),
                        kind: kind_from(r.get(3))?,
                        incident: with_change(for_action(r.get(4), &r.get::<_, Vec<String>>(16))?, r.get(14))?,
                        attempts: u32::try_from(r.get::<_, i32>(5)).unwrap_or(0),
                        external: r.get(6),
                        note,
                        to_draft: r.get::<_, Option<&str>>(12) == Some("required"),
                        taken_over: r.get(15),
                    })
                })
                .collect()
        })
    }

    fn release(&self, ids: &[i64]) -> Result<(), StoreError> {
        let receiver = &self.target.receiver;
        self.with(|c| {
            c.execute(
                "UPDATE outbox SET claimed_by = NULL, claim_until = NULL WHERE id = ANY($1) AND claimed_by = $2",
                &[&ids, receiver],
            )?;
            Ok(())
        })
    }

    fn begin(&self, attempts: &[(i64, u32)], now: i64) -> Result<Vec<i64>, StoreError> {
        // Starting an attempt renews the claim: the lease covers it.
        let until = now.saturating_add(self.target.lease_ms);
        let (ids, made): (Vec<i64>, Vec<i32>) =
            attempts.iter().map(|&(id, n)| (id, i32::try_from(n).unwrap_or(i32::MAX))).unzip();
        let receiver = &self.target.receiver;
        self.with(|c| {
            let rows = c.query(
                "UPDATE outbox o SET sending_since = $2, claim_until = $3
                 FROM unnest($1::BIGINT[], $4::INTEGER[]) AS a (id, attempts)
                 WHERE o.id = a.id AND o.attempts = a.attempts AND o.status = 'pending' AND o.claimed_by = $5
                 RETURNING o.id",
                &[&ids, &now, &until, &made, receiver],
            )?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn recover(&self, now: i64, settle_ms: i64) -> Result<u64, StoreError> {
        // Only attempts no receiver holds a live claim on: the others'
        // are theirs to finish.
        self.with(|c| {
            c.execute(
                "UPDATE outbox SET sending_since = NULL, claimed_by = NULL, claim_until = NULL,
                   next_attempt_at = GREATEST(next_attempt_at, $1 + $2)
                 WHERE status = 'pending' AND sending_since IS NOT NULL AND (claim_until IS NULL OR claim_until < $1)",
                &[&now, &settle_ms],
            )
        })
    }

    fn delivered(&self, id: i64, external: Option<&str>, now: i64) -> Result<(), StoreError> {
        self.record(Outcome::Delivered { id, external: external.map(str::to_owned), now })
    }

    fn retry_at(&self, id: i64, next_at: i64, error: &str) -> Result<(), StoreError> {
        self.record(Outcome::RetryAt { id, next_at, error: error.to_owned() })
    }

    fn dead(&self, id: i64, reason: &str, now: i64) -> Result<(), StoreError> {
        self.record(Outcome::Dead { id, reason: reason.to_owned(), now })
    }

    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                "SELECT o.id, i.key, o.destination, o.kind, o.attempts, COALESCE(o.last_error, ''), o.created_at,
                        COALESCE(o.done_at, 0)
                 FROM outbox o JOIN incidents i ON i.id = o.incident_id
                 WHERE o.status = 'dead' ORDER BY o.id",
                &[],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(DeadLetter {
                        id: r.get(0),
                        key: r.get(1),
                        destination: r.get(2),
                        kind: kind_from(r.get(3))?,
                        attempts: u32::try_from(r.get::<_, i32>(4)).unwrap_or(0),
                        reason: r.get(5),
                        created_at: r.get(6),
                        failed_at: r.get(7),
                    })
                })
                .collect()
        })
    }

    fn replay(&self, id: Option<i64>, now: i64) -> Result<u64, StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $2, last_error = NULL, done_at = NULL
                 WHERE status = 'dead' AND ($1::BIGINT IS NULL OR id = $1)",
                &[&id, &now],
            )
        })
    }

    fn prune(&self, before: i64) -> Result<Pruned, StoreError> {
        self.tx(|tx| {
            if !try_lock(tx, lock::PRUNE)? {
                // Another receiver is at it.
                return Ok(Pruned::default());
            }
            let actions = tx.execute("DELETE FROM outbox WHERE status = 'delivered' AND done_at < $1", &[&before])?;
            // Resolved long enough ago, and nothing of theirs left to deliver.
            let gone = "SELECT id FROM incidents i WHERE status = 'resolved' AND resolved_at < $1
                        AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.incident_id = i.id)";
            for table in ["externals", "alerts", "notes", "suggestions", "mitigations"] {
                tx.execute_once(&format!("DELETE FROM {table} WHERE incident_id IN ({gone})"), &[&before])?;
            }
            let incidents = tx.execute_once(&format!("DELETE FROM incidents WHERE id IN ({gone})"), &[&before])?;
            let notifications = tx.execute("DELETE FROM notifications WHERE received_at < $1", &[&before])?;
            Ok(Pruned { notifications, incidents, actions })
        })
    }

    fn depth(&self) -> Result<Depth, StoreError> {
        self.with(|c| {
            let r = c.query_one(
                "SELECT (SELECT COUNT(*) FROM outbox WHERE status = 'pending'),
                        (SELECT MIN(created_at) FROM outbox WHERE status = 'pending'),
                        (SELECT COUNT(*) FROM outbox WHERE status = 'dead'),
                        (SELECT COUNT(*) FROM incidents WHERE status = 'firing')",
                &[],
            )?;
            Ok(Depth {
                pending: r.get::<_, i64>(0).unsigned_abs(),
                oldest_pending_at: r.get(1),
                dead: r.get::<_, i64>(2).unsigned_abs(),
                open_incidents: r.get::<_, i64>(3).unsigned_abs(),
            })
        })
    }

    fn incident(&self, id: i64) -> Result<Incident, StoreError> {
        self.with(|c| {
            let row = c.query_opt(
                "SELECT state, ARRAY(SELECT a.state FROM alerts a WHERE a.incident_id = i.id) FROM incidents i WHERE id = $1",
                &[&id],
            )?;
            let row = row.ok_or(StoreError::NoIncident(id))?;
            Ok(assemble(row.get(0), &row.get::<_, Vec<String>>(1))?.incident)
        })
    }

    fn add_note(&self, incident_id: i64, note: &NewNote, now: i64) -> Result<(Note, usize), StoreError> {
        self.tx(|tx| note_in(tx, incident_id, note, now))
    }

    fn record_applied(
        &self,
        incident_id: i64,
        rule: &NewAppliedRule,
        note: &NewNote,
        now: i64,
    ) -> Result<(AppliedRule, Note), StoreError> {
        self.tx(|tx| {
            let (recorded, _) = note_in(tx, incident_id, note, now)?;
            let id: i64 = tx
                .query_one(
                    "INSERT INTO mitigations (incident_id, rule, zone, ruleset_id, rule_id, body, applied_by, applied_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                    &[
                        &incident_id,
                        &rule.rule.as_str(),
                        &rule.zone,
                        &rule.ruleset_id,
                        &rule.rule_id,
                        &rule.body,
                        &note.author,
                        &now,
                    ],
                )?
                .get(0);
            Ok((rule.stored(id, incident_id, &note.author, now), recorded))
        })
    }

    fn applied(&self, incident_id: i64) -> Result<Vec<AppliedRule>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                "SELECT id, rule, zone, ruleset_id, rule_id, body, applied_by, applied_at, reverted_at
                 FROM mitigations WHERE incident_id = $1 ORDER BY id",
                &[&incident_id],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(AppliedRule {
                        id: r.get(0),
                        incident_id,
                        rule: rule_kind_from(r.get(1))?,
                        zone: r.get(2),
                        ruleset_id: r.get(3),
                        rule_id: r.get(4),
                        body: r.get(5),
                        applied_by: r.get(6),
                        applied_at: r.get(7),
                        reverted_at: r.get(8),
                    })
                })
                .collect()
        })
    }

    fn record_reverted(&self, id: i64, note: &NewNote, now: i64) -> Result<Note, StoreError> {
        self.tx(|tx| {
            let incident_id: i64 = tx
                .query_opt("SELECT incident_id FROM mitigations WHERE id = $1", &[&id])?
                .ok_or(StoreError::Decode { what: "mitigation", message: format!("no applied rule {id}") })?
                .get(0);
            tx.execute("UPDATE mitigations SET reverted_at = $2 WHERE id = $1 AND reverted_at IS NULL", &[&id, &now])?;
            Ok(note_in(tx, incident_id, note, now)?.0)
        })
    }

    fn keep_suggestion(&self, incident_id: i64, body: &str, now: i64) -> Result<String, StoreError> {
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO suggestions (incident_id, created_at, body) VALUES ($1, $2, $3)
                 ON CONFLICT (incident_id) DO NOTHING",
                &[&incident_id, &now, &body],
            )?;
            Ok(tx.query_one("SELECT body FROM suggestions WHERE incident_id = $1", &[&incident_id])?.get(0))
        })
    }

    fn suggestion(&self, incident_id: i64) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            Ok(c.query_opt("SELECT body FROM suggestions WHERE incident_id = $1", &[&incident_id])?.map(|r| r.get(0)))
        })
    }

    fn draft(&self, id: i64, draft: &str, note: &NewNote, now: i64) -> Result<(), StoreError> {
        self.tx(|tx| {
            let incident_id: i64 = tx.query_one("SELECT incident_id FROM outbox WHERE id = $1", &[&id])?.get(0);
            let changed = tx.execute(
                "UPDATE outbox SET approval = 'drafted', draft = $2, sending_since = NULL, claimed_by = NULL,
                   claim_until = NULL WHERE id = $1 AND approval = 'required'",
                &[&id, &draft],
            )?;
            if changed == 1 {
                note_in(tx, incident_id, note, now)?;
            }
            Ok(())
        })
    }

    fn held(&self, incident_id: Option<i64>) -> Result<Vec<Held>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                "SELECT id, incident_id, destination, kind, approval, draft, created_at FROM outbox
                 WHERE status = 'pending' AND approval IN ('required', 'drafted')
                   AND ($1::BIGINT IS NULL OR incident_id = $1)
                 ORDER BY incident_id, id",
                &[&incident_id],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(Held {
                        id: r.get(0),
                        incident_id: r.get(1),
                        destination: r.get(2),
                        kind: kind_from(r.get(3))?,
                        drafted: r.get::<_, &str>(4) == "drafted",
                        draft: r.get(5),
                        created_at: r.get(6),
                    })
                })
                .collect()
        })
    }

    fn decide(&self, incident_id: i64, send: bool, note: &NewNote, now: i64) -> Result<u64, StoreError> {
        self.tx(|tx| {
            if tx.query_opt("SELECT id FROM incidents WHERE id = $1", &[&incident_id])?.is_none() {
                return Err(StoreError::NoIncident(incident_id));
            }
            let changed = if send {
                tx.execute(
                    "UPDATE outbox SET approval = 'sent', next_attempt_at = $2
                     WHERE incident_id = $1 AND status = 'pending' AND approval IN ('required', 'drafted')",
                    &[&incident_id, &now],
                )?
            } else {
                tx.execute(
                    "UPDATE outbox SET approval = 'discarded', status = 'delivered', done_at = $2, last_error = 'discarded'
                     WHERE incident_id = $1 AND status = 'pending' AND approval IN ('required', 'drafted')",
                    &[&incident_id, &now],
                )?
            };
            if changed > 0 {
                note_in(tx, incident_id, note, now)?;
            }
            Ok(changed)
        })
    }

    fn gather_statistics(&self) -> Result<Vec<&'static str>, StoreError> {
        let known = self.have_statistics.lock().map_err(|_| StoreError::Poisoned)?.clone();
        if known.len() == HOT_TABLES.len() {
            return Ok(Vec::new());
        }
        let (found, analysed) = self.with(|db| {
            // `ANALYZE` needs the table's owner; a role that is not leaves
            // it to autovacuum.
            let rows = db.query(
                "SELECT s.relname::TEXT, s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL
                          OR NOT pg_has_role(c.relowner, 'USAGE'),
                        s.n_mod_since_analyze
                 FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
                 WHERE s.schemaname = current_schema() AND s.relname::TEXT = ANY($1)",
                &[&&HOT_TABLES[..]],
            )?;
            let (mut found, mut analysed) = (Vec::new(), Vec::new());
            for row in rows {
                let name: &str = row.get(0);
                let Some(&table) = HOT_TABLES.iter().find(|t| **t == name) else { continue };
                if known.contains(table) {
                    continue;
                }
                if row.get::<_, bool>(1) {
                    found.push(table);
                } else if row.get::<_, i64>(2) >= CHANGES_BEFORE_ANALYSE {
                    // A name of the list above, never the input's.
                    db.on.batch_execute(&format!("ANALYZE {table}"))?;
                    analysed.push(table);
                }
            }
            Ok((found, analysed))
        })?;
        let mut known = self.have_statistics.lock().map_err(|_| StoreError::Poisoned)?;
        known.extend(found.iter().chain(&analysed));
        Ok(analysed)
    }

    fn tick(&self, now: i64, policy: &dyn Policy) -> Result<usize, StoreError> {
        self.tx(|tx| {
            if !try_lock(tx, lock::TICK)? {
                // Another receiver looks at the schedule now.
                return Ok(0);
            }
            // The incidents due (nearly always none: an index probe).
            let firing = tx.query(
                "SELECT id, state, updated_at, ARRAY(SELECT a.state FROM alerts a WHERE a.incident_id = i.id)
                 FROM incidents i WHERE status = 'firing' AND NOT held AND due_at <= $1",
                &[&now],
            )?;
            if firing.is_empty() {
                return Ok(0);
            }
            let mut looked = Vec::new();
            for row in &firing {
                let (id, state, updated_at): (i64, String, i64) = (row.get(0), row.get(1), row.get(2));
                let current = assemble(&state, &row.get::<_, Vec<String>>(3))?;
                let decided = scheduled(policy, &current.incident, now);
                looked.push((id, (state, updated_at), current, decided));
            }
            lock_keys(tx, looked.iter().map(|(_, _, current, _)| current.incident.key.as_str()))?;
            let mut actions = 0;
            for (id, (state, updated_at), current, decided) in looked {
                // A notification or a note may have changed it since the
                // read: then the next look decides again.
                let unchanged = tx.query_opt(
                    "SELECT id FROM incidents WHERE id = $1 AND state = $2 AND updated_at = $3
                       AND status = 'firing' AND NOT held",
                    &[&id, &state, &updated_at],
                )?;
                if unchanged.is_none() {
                    continue;
                }
                let (mut after, steps, due_at) = match decided {
                    Scheduled::Due(after, steps, due_at) => (*after, steps, due_at),
                    Scheduled::Later(due_at) => {
                        tx.execute("UPDATE incidents SET due_at = $2 WHERE id = $1", &[&id, &due_at])?;
                        continue;
                    }
                };
                let columns = Columns { due_at, ..Columns::default() };
                actions += store(tx, policy, (Some(&current), &mut after), columns, &steps, now)?;
            }
            Ok(actions)
        })
    }

    fn reschedule(&self) -> Result<u64, StoreError> {
        self.with(|c| c.execute("UPDATE incidents SET due_at = 0 WHERE status = 'firing'", &[]))
    }

    fn check_commit(&self, now: i64) -> Result<(), StoreError> {
        let now = now.to_string();
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ('ready_probe', $1) ON CONFLICT (name) DO UPDATE SET value = $1",
                &[&now],
            )?;
            Ok(())
        })
    }

    fn take_turn(&self, job: &str, now: i64, ttl_ms: i64) -> Result<bool, StoreError> {
        let (holder, until) = (self.target.receiver.as_str(), now.saturating_add(ttl_ms));
        self.with(|c| {
            // Taken when free, expired, or this receiver's already.
            let taken = c.query_opt(
                "INSERT INTO turns (job, holder, until) VALUES ($1, $2, $3)
                 ON CONFLICT (job) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
                 WHERE turns.holder = EXCLUDED.holder OR turns.until < $4
                 RETURNING holder",
                &[&job, &holder, &until, &now],
            )?;
            Ok(taken.is_some())
        })
    }

    fn done(&self, name: &str) -> Result<Option<(i64, String)>, StoreError> {
        self.with(|c| {
            let row = c.query_opt("SELECT at, what FROM done WHERE name = $1", &[&name])?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })
    }

    fn record_done(&self, name: &str, what: &str, now: i64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO done (name, at, what) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                &[&name, &now, &what],
            )?;
            Ok(())
        })
    }

    fn forget_done(&self, before: i64) -> Result<u64, StoreError> {
        self.with(|c| c.execute("DELETE FROM done WHERE at < $1", &[&before]))
    }
}

impl Postgres {
    /// The history's column of an incident's alert rows (`i`), in a store
    /// old enough to have none an empty array.
    fn alerts_column(&self) -> &'static str {
        if self.schema >= ALERTS_SINCE {
            "ARRAY(SELECT a.state FROM alerts a WHERE a.incident_id = i.id)"
        } else {
            "ARRAY[]::text[]"
        }
    }
}

/// A history row from `id, resolved_at, state, alerts`.
fn incident_row(r: &Row) -> IncidentRow {
    IncidentRow { id: r.get(0), resolved_at: r.get(1), state: r.get(2), alerts: r.get(3) }
}

/// The history's reads: a statement each, on one lent connection.
impl crate::history::Rows for Postgres {
    fn incident(&self, id: i64) -> Result<Option<IncidentRow>, StoreError> {
        self.with(|c| {
            let sql = format!("SELECT id, resolved_at, state, {} FROM incidents i WHERE id = $1", self.alerts_column());
            let rows = c.query_once(&sql, &[&id])?;
            Ok(rows.first().map(incident_row))
        })
    }

    fn incidents(&self, customer: Option<&str>, from_ms: i64) -> Result<Vec<IncidentRow>, StoreError> {
        self.with(|c| {
            // The customer is in the incident's state, as on SQLite; the
            // rows read are those firing or resolved within the period.
            let sql = format!(
                "SELECT id, resolved_at, state, {} FROM incidents i
                 WHERE (resolved_at IS NULL OR resolved_at >= $1)
                   AND ($2::TEXT IS NULL OR (state::jsonb ->> 'customer') = $2)
                 ORDER BY id",
                self.alerts_column()
            );
            let rows = c.query_once(&sql, &[&from_ms, &customer])?;
            Ok(rows.iter().map(incident_row).collect())
        })
    }

    fn related(&self, id: i64) -> Result<Related, StoreError> {
        self.with(|c| {
            let externals = c
                .query(
                    "SELECT destination, external FROM externals WHERE incident_id = $1 ORDER BY destination",
                    &[&id],
                )?
                .iter()
                .map(|r| ExternalRef { destination: r.get(0), reference: r.get(1) })
                .collect();
            let outbox = c.query_one(
                "SELECT
                   (SELECT MIN(done_at) FROM outbox WHERE incident_id = $1 AND kind = 'open' AND status = 'delivered'),
                   (SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM outbox
                      WHERE incident_id = $1 AND kind = 'reopen' GROUP BY destination) AS reopens)",
                &[&id],
            )?;
            let notes = c
                .query(
                    "SELECT id, kind, author, text, created_at FROM notes WHERE incident_id = $1 ORDER BY id",
                    &[&id],
                )?
                .iter()
                .map(|r| {
                    Ok(Note {
                        id: r.get(0),
                        incident_id: id,
                        kind: note_kind_from(r.get(1))?,
                        author: r.get(2),
                        text: r.get(3),
                        created_at: r.get(4),
                    })
                })
                .collect::<Result<_, StoreError>>()?;
            let suggestion =
                c.query_opt("SELECT body FROM suggestions WHERE incident_id = $1", &[&id])?.map(|r| r.get(0));
            Ok(Related { externals, ticketed_at: outbox.get(0), reopened: outbox.get(1), notes, suggestion })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::DEFAULT_KEY_LABELS;
    use crate::store::sqlite::tests::{alert, exposed, inbound, policy, the_schedule_reads_only_the_incidents_due};

    /// The store on `server`, as a receiver named `test`.
    fn target(server: &edgewatch_test_kit::postgres::PostgresServer) -> Target {
        let tls = crate::store::tls::Tls { mode: crate::store::tls::Mode::Disable, root_cert: None, client: None };
        Target {
            config: server.url().parse().unwrap(),
            tls: tls.connector().unwrap(),
            receiver: "test".to_owned(),
            lease_ms: 30_000,
        }
    }

    /// (incident key, destination, action) of every outbox row, in order.
    fn outbox(store: &Postgres) -> Vec<(String, String, String)> {
        let sql =
            "SELECT i.key, o.destination, o.kind FROM outbox o JOIN incidents i ON i.id = o.incident_id ORDER BY o.id";
        let rows = store.with(|c| Ok(c.on.query(sql, &[])?)).unwrap();
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect()
    }

    /// An incident key as an older receiver made it (its key labels
    /// included `alertname` and `probe`).
    const OLD_KEY: &str = "customer=shop,alertname=EdgewatchProbeDown,probe=home";

    /// Writes a firing incident under [`OLD_KEY`], with its alert
    /// `aaaa000000000001` in its state (as before alerts had rows).
    fn written_under_an_old_key(store: &Postgres) {
        let state = format!(
            r#"{{"id":1,"key":"{OLD_KEY}","dedup":"edgewatch-0123456789abcdef01234567","customer":"shop","alertname":"EdgewatchProbeDown","severity":"page","alert_kind":"probe_down","slo":null,"probe":"home","status":"firing","started_at":"2026-11-21T08:00:00Z","resolved_at":null,"alerts":[{}],"alertmanager_url":"http://am"}}"#,
            r#"{"fingerprint":"aaaa000000000001","status":"firing","labels":{"alertname":"EdgewatchProbeDown","customer":"shop","probe":"home","severity":"page","alert_kind":"probe_down"},"annotations":{},"starts_at":"2026-11-21T08:00:00Z","generator_url":""}"#
        );
        store
            .with(|c| {
                c.execute_once(
                    "INSERT INTO incidents (key, status, opened_at, updated_at, state) VALUES ($1, 'firing', 0, 0, $2)",
                    &[&OLD_KEY, &state],
                )
            })
            .unwrap();
    }

    /// As on SQLite (`an_incident_firing_at_the_upgrade_keeps_its_alerts_until_it_resolves`):
    /// an incident firing under the key of an older receiver gets its
    /// alerts' news until it resolves, read with the keys' locks.
    #[test]
    fn an_incident_held_under_an_old_key_keeps_its_alerts_until_it_resolves() {
        let server = edgewatch_test_kit::postgres::PostgresServer::start("store-held");
        let store = Postgres::connect(target(&server)).unwrap();
        let old = OLD_KEY;
        written_under_an_old_key(&store);
        let keys: Vec<String> = DEFAULT_KEY_LABELS.iter().map(|s| (*s).to_owned()).collect();
        // Notifications read the held incidents only while `meta` says
        // some are held.
        let flagged =
            || store.with(|c| Ok(c.on.query_opt("SELECT 1 FROM meta WHERE name = 'held'", &[])?.is_some())).unwrap();
        assert!(!flagged());
        assert_eq!(store.use_key_labels(&keys).unwrap(), 1, "the firing incident is held");
        assert!(flagged());
        let policy = policy();
        let both = format!(
            "{},{}",
            alert("aaaa000000000001", "EdgewatchProbeDown", "firing"),
            alert("bbbb000000000002", "EdgewatchOriginErrors", "firing")
        );
        assert_eq!(store.accept(&inbound("h1", &both), &policy).unwrap(), Accepted::New { actions: 2 });
        let new = |d: &str, k: &str| ("customer=shop".to_owned(), d.to_owned(), k.to_owned());
        assert_eq!(outbox(&store), [new("pd", "open"), new("jira", "open")]);
        let ended = alert("aaaa000000000001", "EdgewatchProbeDown", "resolved");
        assert_eq!(store.accept(&inbound("h2", &ended), &policy).unwrap(), Accepted::New { actions: 2 });
        let resolved = |d: &str| (old.to_owned(), d.to_owned(), "resolve".to_owned());
        assert_eq!(outbox(&store)[2..], [resolved("jira"), resolved("pd")]);
        assert!(flagged(), "read before it resolved, in the same notification");
        let again = alert("aaaa000000000001", "EdgewatchProbeDown", "firing").replace("08:00:00Z", "10:00:00Z");
        store.accept(&inbound("h3", &again), &policy).unwrap();
        assert!(!flagged(), "the next notification finds none held");
        assert_eq!(outbox(&store)[4..], [new("pd", "update"), new("jira", "update")]);
        // A copy of a notification already stored changes nothing.
        assert_eq!(store.accept(&inbound("h3", &again), &policy).unwrap(), Accepted::Duplicate);
        assert_eq!(outbox(&store).len(), 6);
        // The incident opened here holds its own id in its state.
        let opened: Vec<(i64, String)> = store
            .with(|c| Ok(c.on.query("SELECT id, state FROM incidents WHERE key = 'customer=shop'", &[])?))
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(opened.len(), 1);
        assert_eq!(store.incident(opened[0].0).unwrap().id, opened[0].0);
    }

    /// Two stores on `server`, in new databases named after `name`: one
    /// to take notifications in batches, one to take them one at a time.
    fn batched_and_one_by_one(
        server: &edgewatch_test_kit::postgres::PostgresServer,
        name: &str,
    ) -> (Postgres, Postgres) {
        let admin = Postgres::connect(target(server)).unwrap();
        let store = |kind: &str| {
            let db = format!("{name}_{kind}");
            admin.with(|c| c.execute_once(&format!("CREATE DATABASE {db}"), &[])).unwrap();
            let mut t = target(server);
            t.config.dbname(&db);
            Postgres::connect(t).unwrap()
        };
        (store("batched"), store("one_by_one"))
    }

    /// Asserts that `a` and `b` hold the same actions, in the same order,
    /// and the same incidents, whatever ids they got.
    fn assert_same(a: &Postgres, b: &Postgres) {
        assert_eq!(outbox(a), outbox(b));
        let incidents = |store: &Postgres| {
            let ids: Vec<i64> = store
                .with(|c| Ok(c.on.query("SELECT id FROM incidents ORDER BY key, opened_at, id", &[])?))
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            ids.into_iter()
                .map(|id| {
                    let i = store.incident(id).unwrap();
                    let alerts: Vec<(String, crate::action::Status)> =
                        i.alerts.iter().map(|a| (a.fingerprint.clone(), a.status)).collect();
                    (i.key, i.status, i.started_at, i.resolved_at, alerts)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(incidents(a), incidents(b));
    }

    /// `notifications` taken by `batched` in one batch and by `one_by_one`
    /// one at a time: the results (the same from both), after checking
    /// that both stores hold the same ([`assert_same`]).
    fn accept_both(batched: &Postgres, one_by_one: &Postgres, notifications: &[Inbound]) -> Vec<Accepted> {
        let policy = policy();
        let alone: Vec<Accepted> = notifications.iter().map(|n| one_by_one.accept(n, &policy).unwrap()).collect();
        let all: Vec<&Inbound> = notifications.iter().collect();
        let together = batched.tx(|tx| accept_in(tx, &all, &policy)).unwrap();
        assert_eq!(together, alone);
        assert_same(batched, one_by_one);
        together
    }

    /// Notifications that share a commit store what they store one by one,
    /// in the order they came: a key's later notification decides over
    /// what its earlier one left, and a copy in the same batch is a
    /// duplicate.
    #[test]
    fn a_batch_stores_what_its_notifications_store_one_by_one() {
        let server = edgewatch_test_kit::postgres::PostgresServer::start("store-batch");
        let (batched, one_by_one) = batched_and_one_by_one(&server, "store");
        let mall = |a: String| a.replace(r#""customer":"shop""#, r#""customer":"mall""#);
        let (a, b) = ("aaaa000000000001", "bbbb000000000002");
        let notifications = [
            inbound("h1", &alert(a, "EdgewatchProbeDown", "firing")),
            inbound("m1", &mall(alert(a, "EdgewatchProbeDown", "firing"))),
            inbound("h2", &alert(b, "EdgewatchOriginErrors", "firing")),
            inbound("h1", &alert(a, "EdgewatchProbeDown", "firing")),
            inbound(
                "h3",
                &format!(
                    "{},{}",
                    alert(a, "EdgewatchProbeDown", "resolved"),
                    alert(b, "EdgewatchOriginErrors", "resolved")
                ),
            ),
            inbound("h4", &alert(a, "EdgewatchProbeDown", "firing").replace("08:00:00Z", "10:00:00Z")),
        ];
        let results = accept_both(&batched, &one_by_one, &notifications);
        assert_eq!(results[3], Accepted::Duplicate, "the copy in the batch");
        let shop: Vec<String> =
            outbox(&batched).into_iter().filter(|(k, ..)| k == "customer=shop").map(|(.., kind)| kind).collect();
        assert_eq!(shop, ["open", "open", "update", "update", "resolve", "resolve", "reopen", "reopen"]);
        // The batch's copies are copies of what is stored now.
        assert_eq!(accept_both(&batched, &one_by_one, &notifications[..2]), [Accepted::Duplicate; 2]);
    }

    /// Whatever the notifications (alerts of three customers firing and
    /// resolving, copies of earlier ones) and however they fall into
    /// batches, the batches answer and store what one at a time does.
    #[test]
    fn batches_store_what_one_at_a_time_stores_however_they_fall() {
        use proptest::prelude::*;
        let server = edgewatch_test_kit::postgres::PostgresServer::start("store-batch-split");
        let policy = policy();
        let case = std::sync::atomic::AtomicUsize::new(0);
        let notification = (0usize..3, 0usize..3, any::<bool>(), proptest::option::weighted(0.2, 0usize..40));
        let strategy = (proptest::collection::vec(notification, 1..40), proptest::collection::vec(1usize..8, 1..10));
        let mut runner =
            proptest::test_runner::TestRunner::new(ProptestConfig { cases: 12, ..ProptestConfig::default() });
        runner
            .run(&strategy, |(steps, sizes)| {
                let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (batched, one_by_one) = batched_and_one_by_one(&server, &format!("case{n}"));
                let mut notifications: Vec<Inbound> = Vec::new();
                for (i, (customer, a, firing, copy)) in steps.into_iter().enumerate() {
                    if let Some(earlier) = copy.and_then(|j| notifications.get(j)) {
                        notifications.push(earlier.clone());
                        continue;
                    }
                    let name = ["EdgewatchProbeDown", "EdgewatchOriginErrors", "EdgewatchSloBurn"][a];
                    let body = alert(&format!("aaaa{a:012x}"), name, if firing { "firing" } else { "resolved" })
                        .replace(
                            r#""customer":"shop""#,
                            &format!(r#""customer":"{}""#, ["shop", "mall", "park"][customer]),
                        );
                    notifications.push(inbound(&format!("n{i}"), &body));
                }
                let alone: Vec<Accepted> =
                    notifications.iter().map(|n| one_by_one.accept(n, &policy).unwrap()).collect();
                let mut together = Vec::new();
                let mut rest: Vec<&Inbound> = notifications.iter().collect();
                for size in sizes.iter().cycle() {
                    if rest.is_empty() {
                        break;
                    }
                    let batch: Vec<&Inbound> = rest.drain(..(*size).min(rest.len())).collect();
                    together.extend(batched.tx(|tx| accept_in(tx, &batch, &policy)).unwrap());
                }
                prop_assert_eq!(together, alone);
                assert_same(&batched, &one_by_one);
                Ok(())
            })
            .unwrap();
    }

    /// As [`a_batch_stores_what_its_notifications_store_one_by_one`], with
    /// an incident held under an old key: the batch's notifications join
    /// it, and the one that resolves it ends it for those after it.
    #[test]
    fn a_batch_diverts_to_an_incident_held_under_an_old_key_as_one_by_one() {
        let server = edgewatch_test_kit::postgres::PostgresServer::start("store-batch-held");
        let (batched, one_by_one) = batched_and_one_by_one(&server, "held");
        let old = OLD_KEY;
        let keys: Vec<String> = DEFAULT_KEY_LABELS.iter().map(|s| (*s).to_owned()).collect();
        for store in [&batched, &one_by_one] {
            written_under_an_old_key(store);
            assert_eq!(store.use_key_labels(&keys).unwrap(), 1, "the firing incident is held");
        }
        let (a, b) = ("aaaa000000000001", "bbbb000000000002");
        let notifications = [
            inbound(
                "h1",
                &format!(
                    "{},{}",
                    alert(a, "EdgewatchProbeDown", "firing"),
                    alert(b, "EdgewatchOriginErrors", "firing")
                ),
            ),
            inbound("h2", &alert(a, "EdgewatchProbeDown", "resolved")),
            inbound("h3", &alert(a, "EdgewatchProbeDown", "firing").replace("08:00:00Z", "10:00:00Z")),
        ];
        accept_both(&batched, &one_by_one, &notifications);
        let kinds: Vec<(String, String)> = outbox(&batched).into_iter().map(|(key, _, kind)| (key, kind)).collect();
        let shop = |k: &str| ("customer=shop".to_owned(), k.to_owned());
        let held = |k: &str| (old.to_owned(), k.to_owned());
        assert_eq!(
            kinds,
            [shop("open"), shop("open"), held("resolve"), held("resolve"), shop("update"), shop("update")]
        );
    }

    /// Outcomes recorded together share a transaction, each stored with
    /// what its destination answered; an
    /// error quoting a NUL (which PostgreSQL's `TEXT` refuses) is stored
    /// with the NUL replaced, not lost with the others.
    #[test]
    fn outcomes_recorded_together_are_each_stored() {
        let server = edgewatch_test_kit::postgres::PostgresServer::start("store-outcomes");
        let store = Postgres::connect(target(&server)).unwrap();
        let firing = alert("aaaa000000000001", "EdgewatchProbeDown", "firing");
        assert_eq!(store.accept(&inbound("h1", &firing), &policy()).unwrap(), Accepted::New { actions: 2 });
        let joining = alert("aaaa000000000002", "EdgewatchProbeDown", "firing");
        assert_eq!(store.accept(&inbound("h2", &joining), &policy()).unwrap(), Accepted::New { actions: 2 });
        let read = |sql: &'static str| store.with(|c| Ok(c.on.query(sql, &[])?)).unwrap();
        let ids: Vec<i64> = read("SELECT id FROM outbox ORDER BY id").iter().map(|r| r.get(0)).collect();
        let results = store.record_all(&[
            Outcome::Delivered { id: ids[0], external: Some("PD-1".to_owned()), now: 10 },
            Outcome::RetryAt { id: ids[1], next_at: 20, error: "HTTP 500: a\0b".to_owned() },
            Outcome::Delivered { id: ids[2], external: None, now: 11 },
            Outcome::Dead { id: ids[3], reason: "HTTP 400".to_owned(), now: 12 },
        ]);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let rows: Vec<(String, i32, Option<String>, Option<i64>)> =
            read("SELECT status, attempts, last_error, done_at FROM outbox ORDER BY id")
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect();
        let row = |status: &str, error: Option<&str>, done: Option<i64>| {
            (status.to_owned(), 1, error.map(str::to_owned), done)
        };
        assert_eq!(
            rows,
            [
                row("delivered", None, Some(10)),
                row("pending", Some("HTTP 500: a\u{fffd}b"), None),
                row("delivered", None, Some(11)),
                row("dead", Some("HTTP 400"), Some(12)),
            ]
        );
        let externals: Vec<String> = read("SELECT external FROM externals").iter().map(|r| r.get(0)).collect();
        assert_eq!(externals, ["PD-1"]);
        // A later delivery of the pair answers anew.
        let again = alert("aaaa000000000003", "EdgewatchProbeDown", "firing");
        assert_eq!(store.accept(&inbound("h3", &again), &policy()).unwrap(), Accepted::New { actions: 2 });
        let update: i64 = read("SELECT MAX(id) FROM outbox WHERE destination = 'pd'")[0].get(0);
        store.record_all(&[Outcome::Delivered { id: update, external: Some("PD-2".to_owned()), now: 30 }]);
        let externals: Vec<String> = read("SELECT external FROM externals").iter().map(|r| r.get(0)).collect();
        assert_eq!(externals, ["PD-2"]);
    }

    /// After a restart of the database, the pool's connections are closed:
    /// a batch of notifications, and one of outcomes, each lent one of them
    /// first, still commit (the closed one is dropped and another taken).
    #[test]
    fn batches_after_a_database_restart_commit() {
        let mut server = edgewatch_test_kit::postgres::PostgresServer::start("store-restart");
        let store = Postgres::connect(target(&server)).unwrap();
        let policy = policy();
        let firing =
            |i: usize| inbound(&format!("h{i}"), &alert(&format!("aaaa{i:012x}"), "EdgewatchProbeDown", "firing"));
        assert_eq!(store.accept(&firing(0), &policy).unwrap(), Accepted::New { actions: 2 });
        let ids: Vec<i64> = store.due(i64::MAX, 10, None).unwrap().iter().map(|p| p.id).collect();
        server.stop();
        server.resume();
        let accepted = store.accept_all(&[firing(1), firing(2)], &policy);
        assert!(accepted.iter().all(Result::is_ok), "{accepted:?}");
        server.stop();
        server.resume();
        let outcomes: Vec<Outcome> = ids.iter().map(|&id| Outcome::Delivered { id, external: None, now: 1 }).collect();
        let recorded = store.record_all(&outcomes);
        assert!(recorded.iter().all(Result::is_ok), "{recorded:?}");
    }

    /// The client blocks on a runtime of its own, which tokio refuses on a
    /// thread that drives async tasks: the store works from every kind of
    /// thread, and on tokio's blocking threads (the receiver's calls) and
    /// plain ones without a thread of its own.
    #[test]
    fn the_store_answers_from_any_thread_and_spawns_none_where_it_may_block() {
        let server = edgewatch_test_kit::postgres::PostgresServer::start("store-threads");
        let store = Arc::new(Postgres::connect(target(&server)).unwrap());
        let here = |store: &Postgres| store.with(|_| Ok(std::thread::current().id())).unwrap();
        assert_eq!(here(&store), std::thread::current().id(), "a plain thread");
        let multi = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
        let current = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for rt in [&multi, &current] {
            let (s, t) = (Arc::clone(&store), Arc::clone(&store));
            rt.block_on(async move {
                here(&s);
                tokio::spawn(async move { here(&t) }).await.unwrap();
            });
            let s = Arc::clone(&store);
            let (ran_on, caller) =
                rt.block_on(rt.spawn_blocking(move || (here(&s), std::thread::current().id()))).unwrap();
            if rt.handle().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
                assert_eq!(ran_on, caller, "a blocking thread runs it itself");
            }
        }
        let panicked = store.with(|_| -> Result<(), StoreError> { panic!("a bug") });
        assert!(matches!(panicked, Err(StoreError::Poisoned)), "{panicked:?}");
        assert_eq!(store.depth().unwrap().pending, 0, "the connection is lent again");
    }

    /// The pool's connections are in the metrics, and so is an operation
    /// that found them all busy, with how long it waited.
    #[test]
    fn a_full_pool_and_the_wait_for_a_connection_are_in_the_metrics() {
        let server = edgewatch_test_kit::postgres::PostgresServer::start("store-pool");
        let store = Postgres::connect(target(&server)).unwrap();
        let metrics = Arc::new(Metrics::default());
        store.count_commits(Arc::clone(&metrics));
        let held: Vec<Lent<'_>> = (0..POOL_SIZE).map(|_| store.pool.get().unwrap()).collect();
        let busy = || exposed(&metrics, "edgewatch_receiver_store_connections_busy");
        assert_eq!(busy(), Some(16.0));
        std::thread::scope(|scope| {
            let (started, running) = std::sync::mpsc::channel();
            let store = &store;
            let waiting = scope.spawn(move || {
                let _ = started.send(());
                store.depth()
            });
            // Running: it finds every connection busy within microseconds.
            running.recv().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            drop(held);
            waiting.join().unwrap().unwrap();
        });
        assert_eq!(exposed(&metrics, "edgewatch_receiver_store_connection_wait_seconds_count"), Some(1.0));
        let waited = exposed(&metrics, "edgewatch_receiver_store_connection_wait_seconds_sum").unwrap();
        assert!((0.1..POOL_WAIT.as_secs_f64()).contains(&waited), "{waited}");
        assert_eq!(busy(), Some(0.0));
        assert_eq!(exposed(&metrics, "edgewatch_receiver_store_connections_open"), Some(16.0));
    }

    /// Runs `sql`, then stops autovacuum on the [`HOT_TABLES`]: it would
    /// analyse them too, in its own time.
    fn no_autovacuum(store: &Postgres, sql: &str) {
        store
            .with(|db| {
                db.on.batch_execute(sql)?;
                for table in HOT_TABLES {
                    db.on.batch_execute(&format!("ALTER TABLE {table} SET (autovacuum_enabled = false)"))?;
                }
                Ok(())
            })
            .unwrap();
    }

    /// Enough notifications (each a customer's own) that the tables they
    /// write pass [`CHANGES_BEFORE_ANALYSE`].
    fn grow(store: &Postgres) {
        let policy = policy();
        for i in 0..CHANGES_BEFORE_ANALYSE {
            let firing = alert(&format!("{i:016x}"), "EdgewatchProbeDown", "firing").replace("shop", &format!("c{i}"));
            store.accept(&inbound(&format!("h{i}"), &firing), &policy).unwrap();
        }
    }

    /// A table grown without statistics is analysed by the receiver, once,
    /// rather than planned for as if empty until autovacuum's next look.
    #[test]
    fn tables_grown_without_statistics_are_analysed_once() {
        let server = edgewatch_test_kit::postgres::PostgresServer::start("store-statistics");
        let store = Postgres::connect(target(&server)).unwrap();
        no_autovacuum(&store, "");
        assert!(store.gather_statistics().unwrap().is_empty(), "nothing has grown");
        grow(&store);
        let statistics = |table: &str| {
            let sql = "SELECT count(*) FROM pg_stats WHERE tablename = $1";
            store.with(|db| Ok(db.on.query_one(sql, &[&table])?.get::<_, i64>(0))).unwrap()
        };
        assert_eq!(statistics("notifications"), 0);
        // PostgreSQL counts a connection's changes when it flushes them:
        // within a second while busy, ten once idle.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let analysed = loop {
            let analysed = store.gather_statistics().unwrap();
            if !analysed.is_empty() || std::time::Instant::now() > deadline {
                break analysed;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(analysed.contains(&"notifications") && analysed.contains(&"incidents"), "{analysed:?}");
        assert!(!analysed.contains(&"outbox"), "unrouted customers queued no actions: {analysed:?}");
        assert!(statistics("notifications") > 0, "the planner has statistics now");
        assert!(store.gather_statistics().unwrap().is_empty(), "each table once");
    }

    /// After the first start, a role with no more than docs/receiver.md
    /// asks (`SELECT, INSERT, UPDATE, DELETE` on the tables, `USAGE` on
    /// their sequences) runs the receiver; not owning the tables, it
    /// leaves their statistics to autovacuum (PostgreSQL would only warn)
    /// and does not look again.
    #[test]
    fn a_role_that_only_reads_and_writes_runs_and_leaves_statistics_to_autovacuum() {
        let server = edgewatch_test_kit::postgres::PostgresServer::start("store-clerk");
        let owner = Postgres::connect(target(&server)).unwrap();
        no_autovacuum(
            &owner,
            "CREATE ROLE clerk LOGIN;
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO clerk;
             GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO clerk;",
        );
        let mut as_clerk = target(&server);
        as_clerk.config.user("clerk");
        let clerk = Postgres::connect(as_clerk).unwrap();
        grow(&clerk);
        assert!(clerk.gather_statistics().unwrap().is_empty());
        assert_eq!(clerk.have_statistics.lock().unwrap().len(), HOT_TABLES.len(), "nothing left to look at");
        // The changes were there: the owner analyses them.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while owner.gather_statistics().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "the owner found nothing to analyse");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A store of schema 6 with incidents held under an old key says so
    /// in `meta` once upgraded, so that notifications go on reading them.
    #[test]
    fn incidents_held_before_the_upgrade_are_read_after_it() {
        let server = edgewatch_test_kit::postgres::PostgresServer::start("store-held-upgrade");
        let store = Postgres::connect(target(&server)).unwrap();
        store
            .with(|c| {
                c.on.batch_execute(
                    "INSERT INTO incidents (key, status, opened_at, updated_at, state, held)
                     VALUES ('customer=shop,probe=home', 'firing', 0, 0, '{}', TRUE);
                     DELETE FROM meta WHERE name = 'held';
                     UPDATE edgewatch_schema SET version = 6;",
                )?;
                Ok(())
            })
            .unwrap();
        let upgraded = Postgres::connect(target(&server)).unwrap();
        let flagged =
            upgraded.with(|c| Ok(c.on.query_opt("SELECT 1 FROM meta WHERE name = 'held'", &[])?.is_some())).unwrap();
        assert!(flagged, "migration 7 flags the incidents held before it");
    }

    /// Opens the store `url` names as the receiver would: whether its
    /// connection is encrypted, as PostgreSQL says.
    fn encrypted(url: &str) -> Result<bool, StoreError> {
        let config = crate::config::Config::parse(&format!("store: {url}\n")).unwrap();
        let target = crate::store::postgres_target(&config, &|_| None, "edgewatch-tls-test").unwrap().unwrap();
        let store = Postgres::connect(target)?;
        let sql = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
        store.with(|c| Ok(c.on.query_one(sql, &[])?.get::<_, bool>(0)))
    }

    /// A server that logs in by client certificate (`cert` in `pg_hba.conf`):
    /// `sslcert` and `sslkey` log in; no certificate, or one its CA did not
    /// sign, does not.
    #[test]
    fn a_client_certificate_logs_in_where_the_server_asks_for_one() {
        use edgewatch_test_kit::postgres::{PostgresServer, Tls, USER};
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, "edgewatch test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca, ca_key).unwrap();
        let leaf = |names: Vec<String>, cn: &str| {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut params = rcgen::CertificateParams::new(names).unwrap();
            params.distinguished_name.push(rcgen::DnType::CommonName, cn);
            (params.signed_by(&key, &ca).unwrap().pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(vec!["db.example".to_owned()], "db.example");
        let tls = Tls { cert: &server_cert, key: &server_key, client_ca: Some(&ca.pem()) };
        let server = PostgresServer::start_tls("store-client-cert", &tls);
        let dir = edgewatch_test_kit::scratch_dir("store-client-cert-files");
        let file = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        let root = file("ca.pem", &ca.pem());
        let (cert, key) = leaf(Vec::new(), USER);
        let (cert, key) = (file("client.pem", &cert), file("client.key", &key));
        let stranger_key = rcgen::KeyPair::generate().unwrap();
        let mut stranger = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        stranger.distinguished_name.push(rcgen::DnType::CommonName, USER);
        let stranger = file("stranger.pem", &stranger.self_signed(&stranger_key).unwrap().pem());
        let stranger_key = file("stranger.key", &stranger_key.serialize_pem());

        let url = |more: &str| {
            format!(
                "postgres://{USER}@db.example:{}/postgres?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={root}{more}",
                server.port
            )
        };
        assert!(encrypted(&url(&format!("&sslcert={cert}&sslkey={key}"))).unwrap());
        let e = encrypted(&url("")).unwrap_err().to_string();
        assert!(e.contains("connection requires a valid client certificate"), "{e}");
        let e = encrypted(&url(&format!("&sslcert={stranger}&sslkey={stranger_key}"))).unwrap_err().to_string();
        assert!(e.contains("received fatal alert: UnknownCA"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `sslmode` and `sslrootcert` in `store:`, against a real server
    /// offering TLS with a certificate for `db.example`: each mode connects
    /// (encrypted or not, as PostgreSQL itself reports) or refuses, as
    /// libpq would.
    #[test]
    fn the_store_url_says_how_connections_are_encrypted_and_whom_they_trust() {
        use edgewatch_test_kit::postgres::PostgresServer;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["db.example".to_owned()]).unwrap().self_signed(&key).unwrap();
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        let tls = edgewatch_test_kit::postgres::Tls { cert: &cert_pem, key: &key_pem, client_ca: None };
        let server = PostgresServer::start_tls("store-tls", &tls);
        let dir = edgewatch_test_kit::scratch_dir("store-tls-roots");
        let ours = dir.join("ca.pem");
        std::fs::write(&ours, cert.pem()).unwrap();
        let other_key = rcgen::KeyPair::generate().unwrap();
        let mut other = rcgen::CertificateParams::new(vec!["db.example".to_owned()]).unwrap();
        other.distinguished_name.push(rcgen::DnType::CommonName, "another CA");
        let other = other.self_signed(&other_key).unwrap();
        let theirs = dir.join("other-ca.pem");
        std::fs::write(&theirs, other.pem()).unwrap();

        let open = |host: &str, query: &str| {
            encrypted(&format!("postgres://edgewatch@{host}:{}/postgres?{query}", server.port))
        };
        let (ours, theirs) = (ours.display(), theirs.display());
        let by_name = "db.example";
        let by_address = "127.0.0.1";
        let pinned = "hostaddr=127.0.0.1&";
        for (host, query, encrypted) in [
            (by_address, String::new(), true),
            (by_address, "sslmode=disable".to_owned(), false),
            (by_address, "sslmode=require".to_owned(), true),
            (by_address, format!("sslmode=verify-ca&sslrootcert={ours}"), true),
            (by_name, format!("{pinned}sslmode=verify-full&sslrootcert={ours}"), true),
        ] {
            assert_eq!(open(host, &query).unwrap(), encrypted, "{host} {query}");
        }
        for (host, query, says) in [
            // The certificate names db.example, not the address.
            (by_address, format!("sslmode=verify-full&sslrootcert={ours}"), "not valid for name \"127.0.0.1\""),
            (by_name, format!("{pinned}sslmode=verify-ca&sslrootcert={theirs}"), "UnknownIssuer"),
            (by_name, format!("{pinned}sslmode=verify-full&sslrootcert={theirs}"), "UnknownIssuer"),
            // Not among the public roots.
            (by_name, format!("{pinned}sslmode=verify-full"), "UnknownIssuer"),
        ] {
            let e = open(host, &query).unwrap_err().to_string();
            assert!(e.contains("TLS") && e.contains(says), "{host} {query}: {e}");
        }
        // A server without TLS: `require` does not connect in the clear.
        let plain = PostgresServer::start("store-no-tls");
        let e = encrypted(&format!("postgres://edgewatch@127.0.0.1:{}/postgres?sslmode=require", plain.port));
        let e = e.unwrap_err().to_string();
        assert!(e.ends_with("error performing TLS handshake: server does not support TLS"), "{e}");
        // Nobody listening: the cause is said, not only the kind.
        let e = encrypted(&format!("postgres://edgewatch@127.0.0.1:{}/postgres", edgewatch_test_kit::free_port()));
        let e = e.unwrap_err().to_string();
        assert!(e.starts_with("store: PostgreSQL: error connecting to server: Connection refused"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_schedule_reads_only_the_incidents_due_on_postgresql() {
        let server = edgewatch_test_kit::postgres::PostgresServer::start("store-schedule");
        let store = Postgres::connect(target(&server)).unwrap();
        let due_at = || store.with(|c| Ok(c.on.query_one("SELECT due_at FROM incidents", &[])?.get(0))).unwrap();
        the_schedule_reads_only_the_incidents_due(&store, &due_at);
    }

    /// As on SQLite: an incident's alerts are rows; its row stays small;
    /// actions are sent with the alerts as decided, labels from the rows.
    #[test]
    fn alerts_joining_an_incident_are_rows_of_their_own() {
        let server = edgewatch_test_kit::postgres::PostgresServer::start("store-alert-rows");
        let store = Postgres::connect(target(&server)).unwrap();
        let policy = policy();
        for i in 0..40 {
            let firing = alert(&format!("aaaa{i:012x}"), "EdgewatchProbeDown", "firing");
            store.accept(&inbound(&format!("h{i}"), &firing), &policy).unwrap();
        }
        let id: i64 = store.with(|c| Ok(c.on.query_one("SELECT MIN(id) FROM incidents", &[])?.get(0))).unwrap();
        assert_eq!(store.incident(id).unwrap().alerts.len(), 40);
        let sizes: (i64, i32, i32) = store
            .with(|c| {
                let r = c.on.query_one(
                    r#"SELECT (SELECT COUNT(*) FROM alerts), (SELECT MAX(length(state)) FROM incidents),
                            (SELECT COUNT(*)::int FROM outbox WHERE payload LIKE '%"labels":{"%')"#,
                    &[],
                )?;
                Ok((r.get(0), r.get(1), r.get(2)))
            })
            .unwrap();
        assert_eq!(sizes.0, 40);
        // The actions keep each alert's status, not its labels.
        assert!(sizes.1 < 1_000 && sizes.2 == 0, "{sizes:?}");
        let due = store.due(i64::MAX, 10, None).unwrap();
        assert_eq!(due.iter().map(|p| p.incident.alerts.len()).collect::<Vec<_>>(), [1, 1], "the opens, as decided");
        for p in &due {
            store.delivered(p.id, None, 1).unwrap();
        }
        let due = store.due(i64::MAX, 10, None).unwrap();
        assert_eq!(due.iter().map(|p| p.incident.alerts.len()).collect::<Vec<_>>(), [40, 40], "the updates");
        assert!(due[0].incident.alerts.iter().all(|a| a.labels["customer"] == "shop"));
        // A reopen keeps the firing alerts only: the rows of the others go.
        for p in &due {
            store.delivered(p.id, None, 1).unwrap();
        }
        for i in 0..40 {
            let ended = alert(&format!("aaaa{i:012x}"), "EdgewatchProbeDown", "resolved");
            store.accept(&inbound(&format!("e{i}"), &ended), &policy).unwrap();
        }
        let again = alert("aaaa000000000003", "EdgewatchProbeDown", "firing").replace("08:00:00Z", "10:00:00Z");
        store.accept(&inbound("again", &again), &policy).unwrap();
        let reopened = store.incident(id).unwrap();
        assert_eq!(reopened.status, crate::action::Status::Firing);
        assert_eq!(reopened.alerts.iter().map(|a| a.fingerprint.as_str()).collect::<Vec<_>>(), ["aaaa000000000003"]);
    }
}
