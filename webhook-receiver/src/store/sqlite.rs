//! The SQLite store: one file under the data directory, WAL journal, and
//! `synchronous = FULL`, so a commit has reached the disk before the webhook
//! answers 200. One connection behind a lock: SQLite takes one writer at a
//! time anyway, and every operation is a short transaction. The WAL is
//! checkpointed beside it ([`super::checkpoint`]).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::alerts::{Loaded, as_decided, assemble, for_action, header};
use super::checkpoint::{self, Checkpointer};
use super::group::GroupCommit;
use super::latest::{Entry, Latest, View};
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};

use super::codec::{
    change_of, decode, encode, kind_from, merged_change, note_kind_from, rule_kind_from, status_str, with_change,
};
use super::{
    Accepted, AppliedRule, DeadLetter, Decided, Depth, Held, Inbound, NewAppliedRule, NewNote, Note, Outcome, Pending,
    Policy, Pruned, Scheduled, Store, StoreError, decide, reached, scheduled,
};
use crate::action::{ActionKind, Incident};
use crate::incident;
use crate::metrics::Metrics;

/// Schema changes, applied in order; `PRAGMA user_version` counts those done.
const MIGRATIONS: &[&str] = &[
    // 1: the inbox, incidents, the outbox (dead letters are its `dead` rows),
    // and what destinations answered (Jira issue keys).
    "CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        received_at INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX notifications_received ON notifications (received_at);
    CREATE TABLE incidents (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
        opened_at INTEGER NOT NULL,
        resolved_at INTEGER,
        updated_at INTEGER NOT NULL,
        state TEXT NOT NULL
    );
    CREATE INDEX incidents_key ON incidents (key, id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        destination TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        done_at INTEGER
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    CREATE INDEX outbox_pair ON outbox (incident_id, destination, id);
    CREATE TABLE externals (
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        destination TEXT NOT NULL,
        external TEXT NOT NULL,
        PRIMARY KEY (incident_id, destination)
    );",
    // 2: when an attempt started, so one a crash interrupted is known.
    "ALTER TABLE outbox ADD COLUMN sending_since INTEGER;",
    // 3: incidents firing when the key labels change (as when the key became
    // one per customer problem) are held: their alerts' news go to them
    // under their old key until they resolve (`incident::divert`). `meta`
    // records the key labels in use.
    "ALTER TABLE incidents ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX incidents_held ON incidents (id) WHERE held = 1;
    CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 4: notes analysts record on incidents (remediation), each delivered
    // as a `note` action (a Jira comment) that points at it.
    "CREATE TABLE notes (
        id INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        kind TEXT NOT NULL CHECK (kind IN ('remediation', 'comment')),
        author TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX notes_incident ON notes (incident_id, id);
    ALTER TABLE outbox ADD COLUMN note_id INTEGER REFERENCES notes (id);",
    // 5: the mitigation suggested for an incident when it was first
    // delivered (one per incident: every destination and `edgewatch
    // mitigate` see the same), and the rules applied from it (for revert).
    "CREATE TABLE suggestions (
        incident_id INTEGER PRIMARY KEY REFERENCES incidents (id),
        created_at INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE mitigations (
        id INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        rule TEXT NOT NULL CHECK (rule IN ('custom', 'rate_limit')),
        zone TEXT NOT NULL,
        ruleset_id TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        body TEXT NOT NULL,
        applied_by TEXT NOT NULL,
        applied_at INTEGER NOT NULL,
        reverted_at INTEGER
    );
    CREATE INDEX mitigations_incident ON mitigations (incident_id, id);",
    // 6: actions of routes with `approval: required` wait for a person:
    // `required` until the deliverer writes their draft (kept in `draft`
    // and noted on the ticket), then `drafted` until sent (`sent`) or
    // dropped (`discarded`). NULL: sent as decided.
    "ALTER TABLE outbox ADD COLUMN approval TEXT
        CHECK (approval IN ('required', 'drafted', 'sent', 'discarded'));
    ALTER TABLE outbox ADD COLUMN draft TEXT;",
    // 7: an update that waited and took later news keeps what changed in
    // all of them here (its payload is the newest incident).
    "ALTER TABLE outbox ADD COLUMN change TEXT;",
    // 8: work recorded done once for all receivers sharing the store: each
    // scheduled report run, each report mailed.
    "CREATE TABLE done (name TEXT PRIMARY KEY, at INTEGER NOT NULL, what TEXT NOT NULL);",
    // 9: an incident's alerts in rows of their own (`store::alerts`): its
    // state keeps the rest. States written before keep their alerts until
    // the incident is next written.
    "CREATE TABLE alerts (
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (incident_id, fingerprint)
    ) WITHOUT ROWID;",
    // 10: when the schedule next has something for a firing incident
    // (`Policy::next_due`), so that it reads the incidents due, not every
    // firing one every 2 s. Those firing now are due at once: the first
    // look computes theirs.
    "ALTER TABLE incidents ADD COLUMN due_at INTEGER;
    UPDATE incidents SET due_at = 0 WHERE status = 'firing';
    CREATE INDEX incidents_due ON incidents (due_at) WHERE status = 'firing' AND held = 0;",
];

/// The schema version this receiver writes (`PRAGMA user_version`).
#[allow(clippy::cast_possible_wrap)] // a handful of migrations
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The SQLite store.
#[derive(Debug)]
pub(crate) struct Sqlite {
    conn: Mutex<Conn>,
    /// Notifications waiting for a commit (group commit).
    intake: GroupCommit<Inbound, Accepted>,
    /// Delivery outcomes waiting for a commit (group commit): with many
    /// deliveries at once, one commit records many.
    outcomes: GroupCommit<Outcome, ()>,
    /// Where commit sizes (and checkpoints) are counted, once the receiver
    /// says.
    metrics: Arc<OnceLock<Arc<Metrics>>>,
    /// Checkpoints a file's WAL (none in memory).
    _checkpointer: Option<Checkpointer>,
}

/// The connection, and the incidents the intake keeps decoded beside it
/// (changed only with the connection held).
#[derive(Debug)]
struct Conn {
    db: Connection,
    latest: Latest,
}

impl std::ops::Deref for Conn {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.db
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.db
    }
}

/// A notification's result.
type Ticketed = Result<Accepted, StoreError>;
/// Each write's result, of writes that share a commit.
type Results<R> = Vec<Result<R, StoreError>>;

/// Statements through the connection's cache: each is parsed once, not
/// at every call (the parse cost as much as the work in a busy outbox).
trait Cached {
    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn row<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// The notes of incident `id`, oldest first.
pub(crate) fn notes_of(conn: &Connection, id: i64) -> Result<Vec<Note>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, kind, author, text, created_at FROM notes WHERE incident_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map(params![id], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (note_id, kind, author, text, created_at) = row?;
        out.push(Note { id: note_id, incident_id: id, kind: note_kind_from(&kind)?, author, text, created_at });
    }
    Ok(out)
}

/// The states of incident `id`'s alert rows.
pub(crate) fn alert_rows(tx: &Connection, id: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt = tx.prepare_cached("SELECT state FROM alerts WHERE incident_id = ?1")?;
    let rows = stmt.query_map(params![id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Incident `id`, from its row's `state` and its alert rows.
fn load(tx: &Connection, id: i64, state: &str) -> Result<Loaded, StoreError> {
    assemble(state, &alert_rows(tx, id)?)
}

/// Writes the alert rows of `after` that differ from what the store held,
/// `before` (see [`super::alerts::changed`]): its header, for its row.
fn save_alerts(tx: &Connection, before: Option<&Loaded>, after: &mut Incident) -> Result<String, StoreError> {
    let changed = super::alerts::changed(before, after)?;
    for (fingerprint, state) in &changed.upsert {
        tx.run(
            "INSERT OR REPLACE INTO alerts (incident_id, fingerprint, state) VALUES (?1, ?2, ?3)",
            params![after.id, fingerprint, state],
        )?;
    }
    for fingerprint in &changed.removed {
        tx.run("DELETE FROM alerts WHERE incident_id = ?1 AND fingerprint = ?2", params![after.id, fingerprint])?;
    }
    header(after)
}

/// Queues `steps` for `incident` (as `payload`), each held for approval
/// when the policy says so: how many.
fn queue(
    tx: &Connection,
    policy: &dyn Policy,
    incident: &Incident,
    steps: &[(String, ActionKind)],
    payload: &str,
    now: i64,
) -> Result<usize, StoreError> {
    let hold = policy.update_hold();
    // Read here, not the notification's arrival: the poll of due actions
    // runs on this connection too, so any poll before this transaction
    // read the clock before this, and an update it read as due is not
    // taken for one still held (see `HOLD_MARGIN_MS`).
    let clock = crate::time::now_ms();
    for (destination, kind) in steps {
        let approval = policy.held(incident, destination).then_some("required");
        let update = *kind == ActionKind::Update && approval.is_none();
        if update {
            // The pair's last action, an update not yet sent that waits
            // behind another of the pair or out its hold: it takes this
            // news too, so a storm of alerts joining one incident is one
            // update per delivery (or hold), not a row and a comment per
            // notification.
            let waiting: Option<(i64, String, Option<String>)> = tx
                .row(
                    "SELECT id, payload, change FROM outbox o
                     WHERE id = (SELECT MAX(id) FROM outbox WHERE incident_id = ?1 AND destination = ?2)
                       AND status = 'pending' AND kind = 'update' AND approval IS NULL
                       AND (EXISTS (SELECT 1 FROM outbox p WHERE p.incident_id = o.incident_id
                              AND p.destination = o.destination AND p.id < o.id AND p.status IN ('pending', 'dead'))
                            OR (?3 > 0 AND o.attempts = 0 AND o.sending_since IS NULL AND o.next_attempt_at > ?4))",
                    params![incident.id, destination, hold, clock + HOLD_MARGIN_MS],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            if let Some((id, earlier, merged)) = waiting {
                // The newest incident, with what changed since the waiting
                // update's beside it: no incident decoded or encoded again.
                let change = merged_change(&change_of(&earlier, merged.as_deref())?, &incident.change)?;
                tx.run("UPDATE outbox SET payload = ?2, change = ?3 WHERE id = ?1", params![id, payload, change])?;
                continue;
            }
        } else if hold > 0 {
            // What follows an update on hold must not wait out the hold:
            // the update goes now, then this.
            tx.run(
                "UPDATE outbox SET next_attempt_at = ?3
                 WHERE id = (SELECT MAX(id) FROM outbox WHERE incident_id = ?1 AND destination = ?2)
                   AND status = 'pending' AND kind = 'update' AND attempts = 0 AND next_attempt_at > ?3",
                params![incident.id, destination, now],
            )?;
        }
        let due = if update { now + hold } else { now };
        tx.run(
            "INSERT INTO outbox (incident_id, destination, kind, payload, next_attempt_at, created_at, approval)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![incident.id, destination, kind.as_str(), payload, due, now, approval],
        )?;
    }
    Ok(steps.len())
}

/// How much of its hold an update must have left to take more news on
/// SQLite: a margin for the wall clock, so that an update a poll read as
/// due is never changed after (its news would be lost with the old text
/// sent).
const HOLD_MARGIN_MS: i64 = 500;

/// Records `note` on incident `incident_id` in `tx` and queues a `note`
/// action for every destination the incident reached, after its earlier
/// actions there: the note, and how many were queued.
fn note_in(tx: &Connection, incident_id: i64, note: &NewNote, now: i64) -> Result<(Note, usize), StoreError> {
    let state: String = tx
        .query_row("SELECT state FROM incidents WHERE id = ?1", params![incident_id], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::NoIncident(incident_id))?;
    let incident: Incident = decode("incident", &state)?;
    tx.run(
        "INSERT INTO notes (incident_id, kind, author, text, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![incident_id, note.kind.as_str(), note.author, note.text, now],
    )?;
    let note_id = tx.last_insert_rowid();
    let reached = reached(&incident);
    for destination in &reached {
        tx.run(
            "INSERT INTO outbox (incident_id, destination, kind, payload, next_attempt_at, created_at, note_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            params![incident_id, destination, ActionKind::Note.as_str(), state, now, note_id],
        )?;
    }
    Ok((note.stored(note_id, incident_id, now), reached.len()))
}

impl Sqlite {
    /// Opens (creating) `receiver.db` in `dir` and brings its schema up to date.
    pub(crate) fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.display().to_string(), source })?;
        let path = dir.join("receiver.db");
        let store = Self::with(Connection::open(&path)?)?;
        store.conn()?.pragma_update(None, "wal_autocheckpoint", checkpoint::BACKSTOP_PAGES)?;
        Ok(Self { _checkpointer: Some(Checkpointer::start(&path, Arc::clone(&store.metrics))?), ..store })
    }

    fn with(mut conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Every statement the store runs stays prepared, and stays compiled:
        // without the planner's stability guarantee, SQLite (built with
        // STAT4) compiles a statement with `ORDER BY` again whenever its
        // parameters change, which was a tenth of a busy intake's time.
        conn.set_prepared_statement_cache_capacity(128);
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        let done: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if done > SCHEMA_VERSION {
            return Err(StoreError::Newer { found: done, known: SCHEMA_VERSION });
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(done).unwrap_or(0)) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i64::try_from(i + 1).unwrap_or(i64::MAX))?;
        }
        tx.commit()?;
        Ok(Self {
            conn: Mutex::new(Conn { db: conn, latest: Latest::default() }),
            intake: GroupCommit::default(),
            outcomes: GroupCommit::default(),
            metrics: Arc::default(),
            _checkpointer: None,
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Conn>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Actions due at `now` (see [`Store::due`]), as stored: decoded by
    /// [`Raw::decode`] once the connection is free again, so that
    /// notifications do not wait while a large incident's alerts decode.
    fn due_rows(conn: &Connection, now: i64, limit: usize, destination: Option<&str>) -> Result<Vec<Raw>, StoreError> {
        let mut stmt = conn.prepare_cached(
            "SELECT o.id, o.incident_id, o.destination, o.kind, o.payload, o.attempts, e.external,
                    n.id, n.kind, n.author, n.text, n.created_at, o.approval, o.change
             FROM outbox o
             LEFT JOIN externals e ON e.incident_id = o.incident_id AND e.destination = o.destination
             LEFT JOIN notes n ON n.id = o.note_id
             WHERE o.status = 'pending' AND o.next_attempt_at <= ?1
               AND (?3 IS NULL OR o.destination = ?3)
               AND (o.approval IS NULL OR o.approval <> 'drafted')
               AND NOT EXISTS (
                 SELECT 1 FROM outbox p
                 WHERE p.incident_id = o.incident_id AND p.destination = o.destination
                   AND p.id < o.id AND p.status IN ('pending', 'dead'))
             ORDER BY o.next_attempt_at, o.id
             LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now, i64::try_from(limit).unwrap_or(i64::MAX), destination], |r| {
            let note = match r.get::<_, Option<i64>>(7)? {
                Some(id) => Some((id, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?)),
                None => None,
            };
            Ok(Raw {
                id: r.get(0)?,
                incident_id: r.get(1)?,
                destination: r.get(2)?,
                kind: r.get(3)?,
                payload: r.get(4)?,
                attempts: r.get(5)?,
                external: r.get(6)?,
                note,
                approval: r.get(12)?,
                change: r.get(13)?,
                alerts: Arc::new(Vec::new()),
            })
        })?;
        let mut out = rows.collect::<Result<Vec<Raw>, _>>()?;
        // Each incident's alert rows read once, however many of its
        // actions are due.
        let mut read: HashMap<i64, Arc<Vec<String>>> = HashMap::new();
        for raw in &mut out {
            if let Some(rows) = read.get(&raw.incident_id) {
                raw.alerts = Arc::clone(rows);
            } else {
                raw.alerts = Arc::new(alert_rows(conn, raw.incident_id)?);
                read.insert(raw.incident_id, Arc::clone(&raw.alerts));
            }
        }
        Ok(out)
    }

    /// Records `batch` in one commit (see [`in_one_commit`]): each
    /// notification's result.
    fn accept_batch(&self, batch: &[Inbound], policy: &dyn Policy) -> Vec<Ticketed> {
        let mut conn = match self.conn() {
            Ok(conn) => conn,
            Err(e) => return each_told(batch, Err(e)),
        };
        let Conn { db, latest } = &mut *conn;
        // The latest incidents this commit writes, kept once it is durable.
        let mut committed = HashMap::new();
        let mut looked = false;
        let results = in_one_commit(db, batch, |tx, inbound| {
            if !looked {
                latest.check(tx.pragma_query_value(None, "data_version", |r| r.get(0))?);
                looked = true;
            }
            let mut view = View { cache: latest, batch: &committed, mine: HashMap::new() };
            let result = accept_in(tx, inbound, policy, &mut view);
            if result.is_ok() {
                committed.extend(view.mine);
            }
            result
        });
        if results.is_ok() {
            latest.keep(committed);
            if let Some(m) = self.metrics.get() {
                m.commit(batch.len());
            }
        }
        each_told(batch, results)
    }

    /// Records `outcome`, sharing a commit with the outcomes recorded at the
    /// same time.
    fn record(&self, outcome: Outcome) -> Result<(), StoreError> {
        self.outcomes.submit(outcome, |batch| {
            let committed = self.conn().and_then(|mut conn| in_one_commit(&mut conn, batch, outcome_in));
            each_told(batch, committed)
        })
    }
}

/// Runs `each` on every write of `batch` in one transaction and one
/// commit, each in a savepoint of its own (one that fails is rolled
/// back, and leaves the others): each one's result, once committed.
fn in_one_commit<W, R>(
    db: &mut Connection,
    batch: &[W],
    mut each: impl FnMut(&Connection, &W) -> Result<R, StoreError>,
) -> Result<Results<R>, StoreError> {
    let mut tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    for write in batch {
        let savepoint = tx.savepoint()?;
        let result = each(&savepoint, write);
        if result.is_ok() {
            savepoint.commit()?;
        }
        results.push(result);
    }
    tx.commit()?;
    Ok(results)
}

/// Each write's result, or, when their shared commit failed, that failure
/// told to each.
fn each_told<W, R>(batch: &[W], committed: Result<Results<R>, StoreError>) -> Results<R> {
    committed.unwrap_or_else(|e| {
        let message = e.to_string();
        batch.iter().map(|_| Err(StoreError::Commit(message.clone()))).collect()
    })
}

/// An outbox row due, as stored (see [`Sqlite::due_rows`]).
struct Raw {
    id: i64,
    incident_id: i64,
    destination: String,
    kind: String,
    payload: String,
    attempts: u32,
    external: Option<String>,
    /// Its note's id, kind, author, text and time.
    note: Option<(i64, String, String, String, i64)>,
    approval: Option<String>,
    change: Option<String>,
    /// Its incident's alert rows.
    alerts: Arc<Vec<String>>,
}

impl Raw {
    fn decode(self) -> Result<Pending, StoreError> {
        let note = match self.note {
            Some((id, kind, author, text, created_at)) => {
                Some(Note { id, incident_id: self.incident_id, kind: note_kind_from(&kind)?, author, text, created_at })
            }
            None => None,
        };
        Ok(Pending {
            id: self.id,
            incident_id: self.incident_id,
            destination: self.destination,
            kind: kind_from(&self.kind)?,
            incident: with_change(for_action(&self.payload, &self.alerts)?, self.change.as_deref())?,
            attempts: self.attempts,
            external: self.external,
            note,
            to_draft: self.approval.as_deref() == Some("required"),
            // One receiver per SQLite file: nobody to take over from.
            taken_over: false,
        })
    }
}

/// Records one delivery outcome in `tx`.
fn outcome_in(tx: &Connection, outcome: &Outcome) -> Result<(), StoreError> {
    match outcome {
        Outcome::Delivered { id, external, now } => {
            tx.run(
                // The incident it carried is not read again once delivered
                // (history reads the incident's own row): dropped, so that
                // delivered rows stay small however large incidents grow.
                "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, done_at = ?2, last_error = NULL,
                   sending_since = NULL, payload = '', change = NULL WHERE id = ?1",
                params![id, now],
            )?;
            if let Some(ext) = external {
                tx.run(
                    "INSERT OR REPLACE INTO externals (incident_id, destination, external)
                     SELECT incident_id, destination, ?2 FROM outbox WHERE id = ?1",
                    params![id, ext],
                )?;
            }
        }
        Outcome::RetryAt { id, next_at, error } => tx.run(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3, sending_since = NULL WHERE id = ?1",
            params![id, next_at, error],
        )
        .map(|_| ())?,
        Outcome::Dead { id, reason, now } => tx.run(
            "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ?2, done_at = ?3, sending_since = NULL WHERE id = ?1",
            params![id, reason, now],
        )
        .map(|_| ())?,
    }
    Ok(())
}

/// The firing incidents held under an old key, with their alerts'
/// fingerprints. Usually none: an index probe.
fn held(tx: &Connection) -> Result<Vec<(String, BTreeSet<String>)>, StoreError> {
    let mut stmt = tx.prepare_cached("SELECT id, key, state FROM incidents WHERE held = 1 AND status = 'firing'")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, key, state) = row?;
        let incident = load(tx, id, &state)?.incident;
        out.push((key, incident.alerts.into_iter().map(|a| a.fingerprint).collect()));
    }
    Ok(out)
}

/// The latest incident of `key`, as `view` knows it or as stored.
fn latest_of<'v>(tx: &Connection, view: &'v View<'_>, key: &str) -> Result<Option<Cow<'v, Entry>>, StoreError> {
    if let Some(entry) = view.get(key) {
        return Ok(Some(Cow::Borrowed(entry)));
    }
    let row: Option<(i64, Option<i64>, String)> = tx
        .row(
            "SELECT id, resolved_at, state FROM incidents WHERE key = ?1 ORDER BY id DESC LIMIT 1",
            params![key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    row.map(|(id, resolved_at, state)| Ok(Cow::Owned(Entry { resolved_at, loaded: load(tx, id, &state)? }))).transpose()
}

/// Records one notification in `tx` (see [`Store::accept`]), the latest
/// incidents it writes staged in `view`.
fn accept_in(
    tx: &Connection,
    inbound: &Inbound,
    policy: &dyn Policy,
    view: &mut View<'_>,
) -> Result<Accepted, StoreError> {
    let now = inbound.received_at;
    let inserted = tx.run(
        "INSERT OR IGNORE INTO notifications (hash, received_at, body) VALUES (?1, ?2, ?3)",
        params![inbound.hash, now, inbound.body],
    )?;
    if inserted == 0 {
        return Ok(Accepted::Duplicate);
    }
    let mut actions = 0;
    let held = held(tx)?;
    let diverted;
    let groups = if held.is_empty() {
        &inbound.groups
    } else {
        diverted = incident::divert(inbound.groups.clone(), &held);
        &diverted
    };
    for update in groups {
        let latest = latest_of(tx, view, &update.key)?;
        let current = latest.as_ref().map(|e| &e.loaded);
        let resolved_before = latest.as_ref().and_then(|e| e.resolved_at);
        let Decided { mut incident, steps, resolved_at, due_at } =
            decide(policy, current.map(|l| &l.incident), resolved_before, update, now);
        // The row holds the incident without its alerts (its header), and
        // the alerts this notification changed are written beside it; its
        // actions keep it as decided (`store::alerts`). A new one first
        // gets its id.
        if incident.id == 0 {
            tx.run(
                "INSERT INTO incidents (key, status, opened_at, resolved_at, updated_at, state) VALUES (?1, ?2, ?3, ?4, ?3, '{}')",
                params![incident.key, status_str(incident.status), now, resolved_at],
            )?;
            incident.id = tx.last_insert_rowid();
        }
        let state = save_alerts(tx, current, &mut incident)?;
        // A held one, resolved, is held no more.
        tx.run(
            "UPDATE incidents SET status = ?2, resolved_at = ?3, updated_at = ?4, state = ?5, due_at = ?6,
             held = CASE WHEN ?2 = 'resolved' THEN 0 ELSE held END WHERE id = ?1",
            params![incident.id, status_str(incident.status), resolved_at, now, state, due_at],
        )?;
        if !steps.is_empty() {
            let payload = as_decided(&mut incident)?;
            actions += queue(tx, policy, &incident, &steps, &payload, now)?;
        }
        // Its rows now hold its alerts, whatever its state held before.
        view.mine.insert(update.key.clone(), Entry { resolved_at, loaded: Loaded { incident, in_rows: true } });
    }
    Ok(Accepted::New { actions })
}

impl Store for Sqlite {
    fn accept(&self, inbound: &Inbound, policy: &dyn Policy) -> Result<Accepted, StoreError> {
        self.intake.submit(inbound.clone(), |batch| self.accept_batch(batch, policy))
    }

    fn use_key_labels(&self, key_labels: &[String]) -> Result<u64, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = encode("key labels", &key_labels)?;
        let recorded: Option<String> =
            tx.row("SELECT value FROM meta WHERE name = 'key_labels'", [], |r| r.get(0)).optional()?;
        if recorded.as_deref() == Some(now.as_str()) {
            return Ok(0);
        }
        let held = tx.run("UPDATE incidents SET held = 1 WHERE status = 'firing'", [])?;
        tx.run("INSERT OR REPLACE INTO meta (name, value) VALUES ('key_labels', ?1)", params![now])?;
        tx.commit()?;
        Ok(held as u64)
    }

    fn due(&self, now: i64, limit: usize, destination: Option<&str>) -> Result<Vec<Pending>, StoreError> {
        let raw = Self::due_rows(&*self.conn()?, now, limit, destination)?;
        raw.into_iter().map(Raw::decode).collect()
    }

    fn release(&self, _ids: &[i64]) -> Result<(), StoreError> {
        // One receiver per file: nothing is claimed; a row is due until done.
        Ok(())
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

    fn begin(&self, attempts: &[(i64, u32)], now: i64) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut begun = Vec::with_capacity(attempts.len());
        for &(id, made) in attempts {
            let changed = tx.run(
                "UPDATE outbox SET sending_since = ?2 WHERE id = ?1 AND status = 'pending' AND attempts = ?3",
                params![id, now, made],
            )?;
            if changed == 1 {
                begun.push(id);
            }
        }
        tx.commit()?;
        Ok(begun)
    }

    fn recover(&self, now: i64, settle_ms: i64) -> Result<u64, StoreError> {
        let n = self.conn()?.run(
            "UPDATE outbox SET sending_since = NULL, next_attempt_at = MAX(next_attempt_at, ?1 + ?2)
             WHERE status = 'pending' AND sending_since IS NOT NULL",
            params![now, settle_ms],
        )?;
        Ok(n as u64)
    }

    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT o.id, i.key, o.destination, o.kind, o.attempts, COALESCE(o.last_error, ''), o.created_at, COALESCE(o.done_at, 0)
             FROM outbox o JOIN incidents i ON i.id = o.incident_id
             WHERE o.status = 'dead' ORDER BY o.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, key, destination, kind, attempts, reason, created_at, failed_at) = row?;
            out.push(DeadLetter {
                id,
                key,
                destination,
                kind: kind_from(&kind)?,
                attempts,
                reason,
                created_at,
                failed_at,
            });
        }
        Ok(out)
    }

    fn replay(&self, id: Option<i64>, now: i64) -> Result<u64, StoreError> {
        let n = self.conn()?.run(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?2, last_error = NULL, done_at = NULL
             WHERE status = 'dead' AND (?1 IS NULL OR id = ?1)",
            params![id, now],
        )?;
        Ok(n as u64)
    }

    fn prune(&self, before: i64) -> Result<Pruned, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let actions = tx.run("DELETE FROM outbox WHERE status = 'delivered' AND done_at < ?1", params![before])?;
        // Resolved long enough ago, and nothing of theirs left to deliver.
        let gone = "SELECT id FROM incidents i WHERE status = 'resolved' AND resolved_at < ?1
                    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.incident_id = i.id)";
        tx.run(&format!("DELETE FROM externals WHERE incident_id IN ({gone})"), params![before])?;
        tx.run(&format!("DELETE FROM alerts WHERE incident_id IN ({gone})"), params![before])?;
        tx.run(&format!("DELETE FROM notes WHERE incident_id IN ({gone})"), params![before])?;
        tx.run(&format!("DELETE FROM suggestions WHERE incident_id IN ({gone})"), params![before])?;
        tx.run(&format!("DELETE FROM mitigations WHERE incident_id IN ({gone})"), params![before])?;
        let incidents = tx.run(&format!("DELETE FROM incidents WHERE id IN ({gone})"), params![before])?;
        let notifications = tx.run("DELETE FROM notifications WHERE received_at < ?1", params![before])?;
        tx.commit()?;
        if incidents > 0 {
            conn.latest.clear();
        }
        Ok(Pruned { notifications: notifications as u64, incidents: incidents as u64, actions: actions as u64 })
    }

    fn depth(&self) -> Result<Depth, StoreError> {
        let conn = self.conn()?;
        let (pending, oldest): (i64, Option<i64>) =
            conn.row("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let dead: i64 = conn.row("SELECT COUNT(*) FROM outbox WHERE status = 'dead'", [], |r| r.get(0))?;
        let open: i64 = conn.row("SELECT COUNT(*) FROM incidents WHERE status = 'firing'", [], |r| r.get(0))?;
        Ok(Depth {
            pending: pending.unsigned_abs(),
            oldest_pending_at: oldest,
            dead: dead.unsigned_abs(),
            open_incidents: open.unsigned_abs(),
        })
    }

    fn incident(&self, id: i64) -> Result<Incident, StoreError> {
        let conn = self.conn()?;
        let state: String = conn
            .query_row("SELECT state FROM incidents WHERE id = ?1", params![id], |r| r.get(0))
            .optional()?
            .ok_or(StoreError::NoIncident(id))?;
        Ok(load(&conn, id, &state)?.incident)
    }

    fn add_note(&self, incident_id: i64, note: &NewNote, now: i64) -> Result<(Note, usize), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let recorded = note_in(&tx, incident_id, note, now)?;
        tx.commit()?;
        Ok(recorded)
    }

    fn record_applied(
        &self,
        incident_id: i64,
        rule: &NewAppliedRule,
        note: &NewNote,
        now: i64,
    ) -> Result<(AppliedRule, Note), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (recorded, _) = note_in(&tx, incident_id, note, now)?;
        tx.run(
            "INSERT INTO mitigations (incident_id, rule, zone, ruleset_id, rule_id, body, applied_by, applied_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                incident_id,
                rule.rule.as_str(),
                rule.zone,
                rule.ruleset_id,
                rule.rule_id,
                rule.body,
                note.author,
                now
            ],
        )?;
        let applied = rule.stored(tx.last_insert_rowid(), incident_id, &note.author, now);
        tx.commit()?;
        Ok((applied, recorded))
    }

    fn applied(&self, incident_id: i64) -> Result<Vec<AppliedRule>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, rule, zone, ruleset_id, rule_id, body, applied_by, applied_at, reverted_at
             FROM mitigations WHERE incident_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![incident_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                [r.get::<_, String>(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?],
                r.get::<_, i64>(7)?,
                r.get::<_, Option<i64>>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, rule, [zone, ruleset_id, rule_id, body, applied_by], applied_at, reverted_at) = row?;
            let rule = rule_kind_from(&rule)?;
            out.push(AppliedRule {
                id,
                incident_id,
                rule,
                zone,
                ruleset_id,
                rule_id,
                body,
                applied_by,
                applied_at,
                reverted_at,
            });
        }
        Ok(out)
    }

    fn record_reverted(&self, id: i64, note: &NewNote, now: i64) -> Result<Note, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let incident_id: i64 = tx
            .query_row("SELECT incident_id FROM mitigations WHERE id = ?1", params![id], |r| r.get(0))
            .optional()?
            .ok_or(StoreError::Decode { what: "mitigation", message: format!("no applied rule {id}") })?;
        tx.run("UPDATE mitigations SET reverted_at = ?2 WHERE id = ?1 AND reverted_at IS NULL", params![id, now])?;
        let (recorded, _) = note_in(&tx, incident_id, note, now)?;
        tx.commit()?;
        Ok(recorded)
    }

    fn keep_suggestion(&self, incident_id: i64, body: &str, now: i64) -> Result<String, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.run(
            "INSERT OR IGNORE INTO suggestions (incident_id, created_at, body) VALUES (?1, ?2, ?3)",
            params![incident_id, now, body],
        )?;
        let kept: String =
            tx.row("SELECT body FROM suggestions WHERE incident_id = ?1", params![incident_id], |r| r.get(0))?;
        tx.commit()?;
        Ok(kept)
    }

    fn suggestion(&self, incident_id: i64) -> Result<Option<String>, StoreError> {
        let conn = self.conn()?;
        Ok(conn
            .query_row("SELECT body FROM suggestions WHERE incident_id = ?1", params![incident_id], |r| r.get(0))
            .optional()?)
    }

    fn draft(&self, id: i64, draft: &str, note: &NewNote, now: i64) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let incident_id: i64 = tx.row("SELECT incident_id FROM outbox WHERE id = ?1", params![id], |r| r.get(0))?;
        let changed = tx.run(
            "UPDATE outbox SET approval = 'drafted', draft = ?2, sending_since = NULL WHERE id = ?1 AND approval = 'required'",
            params![id, draft],
        )?;
        if changed == 1 {
            note_in(&tx, incident_id, note, now)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn held(&self, incident_id: Option<i64>) -> Result<Vec<Held>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, incident_id, destination, kind, approval, draft, created_at FROM outbox
             WHERE status = 'pending' AND approval IN ('required', 'drafted') AND (?1 IS NULL OR incident_id = ?1)
             ORDER BY incident_id, id",
        )?;
        let rows = stmt.query_map(params![incident_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, incident_id, destination, kind, approval, draft, created_at) = row?;
            out.push(Held {
                id,
                incident_id,
                destination,
                kind: kind_from(&kind)?,
                drafted: approval == "drafted",
                draft,
                created_at,
            });
        }
        Ok(out)
    }

    fn decide(&self, incident_id: i64, send: bool, note: &NewNote, now: i64) -> Result<u64, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: Option<i64> =
            tx.row("SELECT id FROM incidents WHERE id = ?1", params![incident_id], |r| r.get(0)).optional()?;
        if exists.is_none() {
            return Err(StoreError::NoIncident(incident_id));
        }
        let changed = if send {
            tx.run(
                "UPDATE outbox SET approval = 'sent', next_attempt_at = ?2
                 WHERE incident_id = ?1 AND status = 'pending' AND approval IN ('required', 'drafted')",
                params![incident_id, now],
            )?
        } else {
            tx.run(
                "UPDATE outbox SET approval = 'discarded', status = 'delivered', done_at = ?2, last_error = 'discarded'
                 WHERE incident_id = ?1 AND status = 'pending' AND approval IN ('required', 'drafted')",
                params![incident_id, now],
            )?
        };
        if changed > 0 {
            note_in(&tx, incident_id, note, now)?;
        }
        tx.commit()?;
        Ok(changed as u64)
    }

    fn tick(&self, now: i64, policy: &dyn Policy) -> Result<usize, StoreError> {
        let mut conn = self.conn()?;
        // Read without the write lock: the receiver looks every 2 s, and
        // nearly always nothing is due (an index probe).
        let firing: Vec<(i64, String, i64)> = {
            let mut stmt = conn.prepare_cached(
                "SELECT id, state, updated_at FROM incidents WHERE status = 'firing' AND held = 0 AND due_at <= ?1",
            )?;
            let rows = stmt.query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        if firing.is_empty() {
            return Ok(0);
        }
        let mut looked = Vec::new();
        for (id, state, updated_at) in firing {
            let current = load(&conn, id, &state)?;
            let decided = scheduled(policy, &current.incident, now);
            looked.push((id, (state, updated_at), current, decided));
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut actions = 0;
        let mut written = false;
        for (id, (state, updated_at), current, decided) in looked {
            // Another process (`edgewatch incidents note`) may have changed
            // it since the read: then the next look decides again.
            let unchanged: Option<i64> = tx
                .row(
                    "SELECT id FROM incidents WHERE id = ?1 AND state = ?2 AND updated_at = ?3
                       AND status = 'firing' AND held = 0",
                    params![id, state, updated_at],
                    |r| r.get(0),
                )
                .optional()?;
            if unchanged.is_none() {
                continue;
            }
            let (mut after, steps, due_at) = match decided {
                Scheduled::Due(after, steps, due_at) => (*after, steps, due_at),
                Scheduled::Later(due_at) => {
                    tx.run("UPDATE incidents SET due_at = ?2 WHERE id = ?1", params![id, due_at])?;
                    continue;
                }
            };
            let state = save_alerts(&tx, Some(&current), &mut after)?;
            tx.run(
                "UPDATE incidents SET state = ?2, updated_at = ?3, due_at = ?4 WHERE id = ?1",
                params![id, state, now, due_at],
            )?;
            let payload = as_decided(&mut after)?;
            actions += queue(&tx, policy, &after, &steps, &payload, now)?;
            written = true;
        }
        tx.commit()?;
        if written {
            // The intake's decoded incidents are read again (rarely: an
            // escalation or a status update).
            conn.latest.clear();
        }
        Ok(actions)
    }

    fn reschedule(&self) -> Result<u64, StoreError> {
        let conn = self.conn()?;
        Ok(conn.run("UPDATE incidents SET due_at = 0 WHERE status = 'firing'", [])? as u64)
    }

    fn count_commits(&self, metrics: Arc<Metrics>) {
        let _ = self.metrics.set(metrics);
    }

    fn check_commit(&self, now: i64) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.run("INSERT OR REPLACE INTO meta (name, value) VALUES ('ready_probe', ?1)", params![now.to_string()])?;
        tx.commit()?;
        Ok(())
    }

    fn take_turn(&self, _job: &str, _now: i64, _ttl_ms: i64) -> Result<bool, StoreError> {
        Ok(true)
    }

    fn done(&self, name: &str) -> Result<Option<(i64, String)>, StoreError> {
        let conn = self.conn()?;
        Ok(conn
            .query_row("SELECT at, what FROM done WHERE name = ?1", params![name], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn record_done(&self, name: &str, what: &str, now: i64) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.run("INSERT OR IGNORE INTO done (name, at, what) VALUES (?1, ?2, ?3)", params![name, now, what])?;
        Ok(())
    }

    fn forget_done(&self, before: i64) -> Result<u64, StoreError> {
        let conn = self.conn()?;
        Ok(conn.run("DELETE FROM done WHERE at < ?1", params![before])? as u64)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::incident::{DEFAULT_KEY_LABELS, groups};
    use crate::store::NoteKind;

    /// A store as a receiver before migration 3 left it, holding one firing
    /// incident under the old key `[customer, alertname, slo, probe]`,
    /// opened by a receiver with the key `[customer, incident]`.
    fn upgraded() -> Sqlite {
        let conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        let state = r#"{"id":1,"key":"customer=shop,alertname=EdgewatchProbeDown,probe=home","dedup":"edgewatch-0123456789abcdef01234567","customer":"shop","alertname":"EdgewatchProbeDown","severity":"page","alert_kind":"probe_down","slo":null,"probe":"home","status":"firing","started_at":"2026-11-21T08:00:00Z","resolved_at":null,"alerts":[{"fingerprint":"aaaa000000000001","status":"firing","labels":{"alertname":"EdgewatchProbeDown","customer":"shop","probe":"home","severity":"page","alert_kind":"probe_down"},"annotations":{},"starts_at":"2026-11-21T08:00:00Z","generator_url":""}],"alertmanager_url":"http://am"}"#;
        conn.run(
            "INSERT INTO incidents (id, key, status, opened_at, updated_at, state) VALUES (1, ?1, 'firing', 0, 0, ?2)",
            params!["customer=shop,alertname=EdgewatchProbeDown,probe=home", state],
        )
        .unwrap();
        let store = Sqlite::with(conn).unwrap();
        let keys: Vec<String> = DEFAULT_KEY_LABELS.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(store.use_key_labels(&keys).unwrap(), 1, "the firing incident is held");
        assert_eq!(store.use_key_labels(&keys).unwrap(), 0, "once");
        store
    }

    pub(crate) fn policy() -> crate::policy::CatalogPolicy {
        let yaml = "destinations:\n  pd: {log: {path: '-'}}\n  jira: {log: {path: '-'}}\ncustomers:\n  - id: shop\n    hosts: [shop.example]\n    alerting:\n      routes: [{to: [pd], severities: [page]}, {to: [jira]}]\n";
        let catalog = edgewatch_catalog::load_str("catalog.yaml", yaml).unwrap().catalog;
        // The default reopen window, an hour; nothing unrouted.
        crate::policy::CatalogPolicy::new(std::sync::Arc::new(catalog), &crate::Config::default())
    }

    pub(crate) fn inbound(hash: &str, alerts: &str) -> Inbound {
        let body = format!(
            r#"{{"receiver":"r","status":"firing","alerts":[{alerts}],"externalURL":"http://am","version":"4","groupKey":"g"}}"#
        );
        let n = crate::payload::parse(body.as_bytes()).unwrap();
        let keys: Vec<String> = DEFAULT_KEY_LABELS.iter().map(|s| (*s).to_owned()).collect();
        Inbound { hash: hash.to_owned(), received_at: 1_795_300_000_000, body, groups: groups(&n, &keys) }
    }

    pub(crate) fn alert(fp: &str, name: &str, status: &str) -> String {
        let ends = if status == "firing" { "0001-01-01T00:00:00Z" } else { "2026-11-21T09:00:00Z" };
        format!(
            r#"{{"status":"{status}","labels":{{"alertname":"{name}","customer":"shop","probe":"home","severity":"page","alert_kind":"probe_down"}},"startsAt":"2026-11-21T08:00:00Z","endsAt":"{ends}","fingerprint":"{fp}"}}"#
        )
    }

    /// (incident key, destination, action) of every outbox row, in order.
    fn outbox(s: &Sqlite) -> Vec<(String, String, String)> {
        let conn = s.conn().unwrap();
        let mut stmt = conn
            .prepare("SELECT i.key, o.destination, o.kind FROM outbox o JOIN incidents i ON i.id = o.incident_id ORDER BY o.id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
    }

    /// An incident's id, status and alerts (fingerprint and status).
    type Seen = (i64, crate::action::Status, Vec<(String, crate::action::Status)>);

    /// Each incident as [`Seen`], and the outbox: what a user of the store
    /// sees.
    fn seen(s: &Sqlite) -> (Vec<Seen>, Vec<(String, String, String)>) {
        let ids: Vec<i64> = {
            let conn = s.conn().unwrap();
            let mut stmt = conn.prepare("SELECT id FROM incidents ORDER BY id").unwrap();
            stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        };
        let incidents = ids
            .into_iter()
            .map(|id| {
                let i = s.incident(id).unwrap();
                (id, i.status, i.alerts.into_iter().map(|a| (a.fingerprint, a.status)).collect())
            })
            .collect();
        (incidents, outbox(s))
    }

    #[test]
    fn the_intake_sees_what_another_process_wrote_to_its_store() {
        // One receiver per file; yet `edgewatch` commands, or a receiver
        // started while the old one still runs, write the same file. The
        // intake keeps the incidents it wrote decoded: another's commit
        // must make it read them again.
        let dir = edgewatch_test_kit::scratch_dir("sqlite-two-writers");
        let (ours, theirs) = (Sqlite::open(&dir).unwrap(), Sqlite::open(&dir).unwrap());
        let alone = Sqlite::with(Connection::open_in_memory().unwrap()).unwrap();
        let policy = policy();
        let steps = [
            ("1", alert("aaaa000000000001", "EdgewatchProbeDown", "firing")),
            ("2", alert("aaaa000000000001", "EdgewatchProbeDown", "resolved")),
            ("3", alert("aaaa000000000002", "EdgewatchProbeDown", "firing")),
            ("4", alert("aaaa000000000003", "EdgewatchProbeDown", "firing")),
        ];
        for (i, (hash, alerts)) in steps.iter().enumerate() {
            // The second notification goes through the other writer.
            let store = if i == 1 { &theirs } else { &ours };
            store.accept(&inbound(hash, alerts), &policy).unwrap();
            alone.accept(&inbound(hash, alerts), &policy).unwrap();
        }
        let (incidents, actions) = seen(&ours);
        assert_eq!(incidents[0].1, crate::action::Status::Firing, "{incidents:?}");
        assert_eq!((incidents, actions), seen(&alone), "as if one store had taken them all");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A store in a scratch folder `name`, counting into its metrics.
    fn on_disk(name: &str) -> (std::path::PathBuf, Sqlite, Arc<Metrics>) {
        let dir = edgewatch_test_kit::scratch_dir(name);
        let store = Sqlite::open(&dir).unwrap();
        let metrics = Arc::new(Metrics::default());
        store.count_commits(Arc::clone(&metrics));
        (dir, store, metrics)
    }

    /// The value `/metrics` gives the series `name` (without labels).
    pub(crate) fn exposed(metrics: &Metrics, name: &str) -> Option<f64> {
        let text = metrics.render(crate::store::Depth::default(), 0);
        text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    }

    #[test]
    fn what_the_intake_commits_reaches_the_database_file_without_waiting_for_the_wal_to_fill() {
        // SQLite copies the WAL into the file in a commit past 1,000 pages
        // by default; a thread of the store's own does it within a tenth of
        // a second. The file alone, copied (as a backup that forgets the
        // WAL would be), holds the notification.
        let (dir, store, metrics) = on_disk("sqlite-checkpoint");
        store.accept(&inbound("1", &alert("aaaa000000000001", "EdgewatchProbeDown", "firing")), &policy()).unwrap();
        let copy = dir.join("copy.db");
        let in_file = || {
            std::fs::copy(dir.join("receiver.db"), &copy).unwrap();
            let conn = Connection::open(&copy).unwrap();
            let n: i64 = conn.query_row("SELECT count(*) FROM notifications", [], |r| r.get(0)).unwrap_or(0);
            drop(conn);
            let _ = std::fs::remove_file(&copy);
            n
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while in_file() == 0 {
            assert!(std::time::Instant::now() < deadline, "the notification is still only in the WAL");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        // And each copy is timed for /metrics, once it returns (the file
        // can show the copy a moment before its time is recorded).
        let timed = || exposed(&metrics, "edgewatch_receiver_store_checkpoint_seconds_count");
        while !timed().is_some_and(|n| n >= 1.0) {
            assert!(std::time::Instant::now() < deadline, "{:?}", timed());
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_reader_holding_the_wal_back_shows_in_the_metrics_until_it_lets_go() {
        // A long read transaction (a report reading the store, say) pins
        // the WAL: nothing written after it began is copied back, and the
        // WAL file grows. /metrics says how far behind the copy is.
        let (dir, store, metrics) = on_disk("sqlite-wal-behind");
        let behind = || exposed(&metrics, "edgewatch_receiver_store_wal_pages_behind").unwrap();
        let wait_for = |what: &str, ok: &dyn Fn(f64) -> bool| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while !ok(behind()) {
                assert!(std::time::Instant::now() < deadline, "{what}: {} pages behind", behind());
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        };
        let policy = policy();
        store.accept(&inbound("1", &alert("aaaa000000000001", "EdgewatchProbeDown", "firing")), &policy).unwrap();
        wait_for("caught up before the reader", &|n| n < 1.0);
        let reader = Connection::open(dir.join("receiver.db")).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader.query_row("SELECT count(*) FROM notifications", [], |r| r.get(0)).unwrap();
        for i in 2..40 {
            let firing = alert(&format!("aaaa{i:012x}"), "EdgewatchProbeDown", "firing");
            store.accept(&inbound(&i.to_string(), &firing), &policy).unwrap();
        }
        wait_for("held back by the reader", &|n| n >= 1.0);
        reader.execute_batch("COMMIT").unwrap();
        wait_for("caught up once the reader let go", &|n| n < 1.0);
        drop(reader);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_incident_pruned_is_not_the_latest_of_its_key_any_more() {
        let store = Sqlite::with(Connection::open_in_memory().unwrap()).unwrap();
        let policy = policy();
        store.accept(&inbound("1", &alert("aaaa000000000001", "EdgewatchProbeDown", "firing")), &policy).unwrap();
        store.accept(&inbound("2", &alert("aaaa000000000001", "EdgewatchProbeDown", "resolved")), &policy).unwrap();
        for p in store.due(i64::MAX, 10, None).unwrap() {
            store.delivered(p.id, None, 1).unwrap();
        }
        for p in store.due(i64::MAX, 10, None).unwrap() {
            store.delivered(p.id, None, 1).unwrap();
        }
        assert_eq!(store.prune(i64::MAX).unwrap().incidents, 1);
        // The key's next problem is a new incident, not news of the one
        // retention deleted.
        store.accept(&inbound("3", &alert("aaaa000000000002", "EdgewatchProbeDown", "firing")), &policy).unwrap();
        let (incidents, _) = seen(&store);
        assert_eq!(incidents.len(), 1, "{incidents:?}");
        assert_eq!(incidents[0].1, crate::action::Status::Firing);
        assert_eq!(incidents[0].2, [("aaaa000000000002".to_owned(), crate::action::Status::Firing)]);
    }

    #[test]
    fn the_intakes_statements_are_compiled_once() {
        let store = Sqlite::with(Connection::open_in_memory().unwrap()).unwrap();
        let policy = policy();
        for i in 0..5 {
            let firing = alert(&format!("aaaa{i:012x}"), "EdgewatchProbeDown", "firing");
            store.accept(&inbound(&format!("h{i}"), &firing.replace("shop", &format!("shop{i}"))), &policy).unwrap();
        }
        let conn = store.conn().unwrap();
        let stmt = conn
            .prepare_cached("SELECT id, resolved_at, state FROM incidents WHERE key = ?1 ORDER BY id DESC LIMIT 1")
            .unwrap();
        // Five keys looked up: compiled once, not again at each.
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }

    #[test]
    fn an_incident_firing_at_the_upgrade_keeps_its_alerts_until_it_resolves() {
        let store = upgraded();
        let policy = policy();
        let old = "customer=shop,alertname=EdgewatchProbeDown,probe=home";
        // Its alert fires on (a repeat), and another problem of the customer
        // starts: the first stays with the old incident, saying nothing new;
        // the second opens one under the new key.
        let both = format!(
            "{},{}",
            alert("aaaa000000000001", "EdgewatchProbeDown", "firing"),
            alert("bbbb000000000002", "EdgewatchOriginErrors", "firing")
        );
        assert_eq!(store.accept(&inbound("h1", &both), &policy).unwrap(), Accepted::New { actions: 2 });
        let row = |n: usize| outbox(&store)[n].clone();
        assert_eq!(row(0), ("customer=shop".to_owned(), "pd".to_owned(), "open".to_owned()));
        assert_eq!(row(1), ("customer=shop".to_owned(), "jira".to_owned(), "open".to_owned()));
        // Its alert ends: the old incident resolves where its severity sent
        // it, and is held no more.
        let ended = alert("aaaa000000000001", "EdgewatchProbeDown", "resolved");
        assert_eq!(store.accept(&inbound("h2", &ended), &policy).unwrap(), Accepted::New { actions: 2 });
        assert_eq!(row(2), (old.to_owned(), "jira".to_owned(), "resolve".to_owned()));
        assert_eq!(row(3), (old.to_owned(), "pd".to_owned(), "resolve".to_owned()));
        let conn = store.conn().unwrap();
        let held: i64 = conn.row("SELECT COUNT(*) FROM incidents WHERE held = 1", [], |r| r.get(0)).unwrap();
        assert_eq!(held, 0);
        drop(conn);
        // The same alert firing again is news for the new key's incident.
        let again = alert("aaaa000000000001", "EdgewatchProbeDown", "firing").replace("08:00:00Z", "10:00:00Z");
        store.accept(&inbound("h3", &again), &policy).unwrap();
        assert_eq!(
            outbox(&store)[4..],
            [
                ("customer=shop".to_owned(), "pd".to_owned(), "update".to_owned()),
                ("customer=shop".to_owned(), "jira".to_owned(), "update".to_owned())
            ]
        );
    }

    /// The schedule of a customer whose Jira route gives a status update
    /// every 30 minutes, on `store`: `due_at` reads the incident's
    /// `due_at`. Shared with the PostgreSQL store's tests.
    pub(crate) fn the_schedule_reads_only_the_incidents_due(store: &dyn Store, due_at: &dyn Fn() -> Option<i64>) {
        let yaml = "destinations:\n  pd: {log: {path: '-'}}\n  jira: {log: {path: '-'}}\ncustomers:\n  - id: shop\n    hosts: [shop.example]\n    alerting:\n      routes: [{to: [pd], severities: [page]}, {to: [jira], update_every: 30m}]\n";
        let catalog = edgewatch_catalog::load_str("catalog.yaml", yaml).unwrap().catalog;
        let policy = crate::policy::CatalogPolicy::new(std::sync::Arc::new(catalog), &crate::Config::default());
        let firing = alert("aaaa000000000001", "EdgewatchProbeDown", "firing");
        let opened = inbound("h1", &firing);
        let at = opened.received_at;
        store.accept(&opened, &policy).unwrap();
        let half_hour = 30 * 60 * 1000;
        assert_eq!(due_at(), Some(at + half_hour), "Jira's status update, from its open");
        // Before then, the look finds nothing; after, one update for Jira,
        // and the next one half an hour on.
        assert_eq!(store.tick(at + half_hour - 1, &policy).unwrap(), 0);
        assert_eq!(store.tick(at + half_hour, &policy).unwrap(), 1);
        assert_eq!(due_at(), Some(at + 2 * half_hour));
        assert_eq!(store.tick(at + half_hour + 1, &policy).unwrap(), 0);
        // At start every firing incident is due once; a look with nothing
        // to send computes its time again.
        assert_eq!(store.reschedule().unwrap(), 1);
        assert_eq!(due_at(), Some(0));
        assert_eq!(store.tick(at + half_hour + 2, &policy).unwrap(), 0);
        assert_eq!(due_at(), Some(at + 2 * half_hour));
        // Resolved, it is due no more.
        let ended = alert("aaaa000000000001", "EdgewatchProbeDown", "resolved");
        store.accept(&inbound("h2", &ended), &policy).unwrap();
        assert_eq!(due_at(), None);
        assert_eq!(store.tick(i64::MAX / 2, &policy).unwrap(), 0);
    }

    #[test]
    fn the_schedule_reads_only_the_incidents_due_on_sqlite() {
        let store = Sqlite::with(Connection::open_in_memory().unwrap()).unwrap();
        let due_at =
            || store.conn().unwrap().row("SELECT due_at FROM incidents WHERE id = 1", [], |r| r.get(0)).unwrap();
        the_schedule_reads_only_the_incidents_due(&store, &due_at);
    }

    #[test]
    fn a_notification_after_the_schedule_wrote_an_incident_builds_on_what_it_wrote() {
        // The schedule sends Jira's status update and records it in the
        // incident; the same alert sent again then changes nothing, and
        // the next update stays half an hour after the last.
        let store = Sqlite::with(Connection::open_in_memory().unwrap()).unwrap();
        let yaml = "destinations:\n  jira: {log: {path: '-'}}\ncustomers:\n  - id: shop\n    hosts: [shop.example]\n    alerting:\n      routes: [{to: [jira], update_every: 30m}]\n";
        let catalog = edgewatch_catalog::load_str("catalog.yaml", yaml).unwrap().catalog;
        let policy = crate::policy::CatalogPolicy::new(std::sync::Arc::new(catalog), &crate::Config::default());
        let firing = alert("aaaa000000000001", "EdgewatchProbeDown", "firing");
        let opened = inbound("h1", &firing);
        let (at, half_hour) = (opened.received_at, 30 * 60 * 1000);
        store.accept(&opened, &policy).unwrap();
        assert_eq!(store.tick(at + half_hour, &policy).unwrap(), 1);
        let again = Inbound { received_at: at + half_hour + 1, ..inbound("h2", &firing) };
        assert_eq!(store.accept(&again, &policy).unwrap(), Accepted::New { actions: 0 });
        let due_at: i64 =
            store.conn().unwrap().row("SELECT due_at FROM incidents WHERE id = 1", [], |r| r.get(0)).unwrap();
        assert_eq!(due_at, at + 2 * half_hour);
        assert_eq!(store.tick(at + half_hour + 2, &policy).unwrap(), 0, "no second update");
    }

    #[test]
    fn alerts_joining_an_incident_are_rows_of_their_own_and_its_actions_keep_them_as_decided() {
        let store = Sqlite::with(Connection::open_in_memory().unwrap()).unwrap();
        let policy = policy();
        for i in 0..40 {
            let firing = alert(&format!("aaaa{i:012x}"), "EdgewatchProbeDown", "firing");
            store.accept(&inbound(&format!("h{i}"), &firing), &policy).unwrap();
        }
        assert_eq!(store.incident(1).unwrap().alerts.len(), 40);
        let conn = store.conn().unwrap();
        let count = |sql: &str| -> i64 { conn.row(sql, [], |r| r.get(0)).unwrap() };
        // The incident's row stays the size of its header however many
        // alerts joined, and its actions keep each alert's status, not its
        // labels and annotations: the alerts are rows.
        assert_eq!(count("SELECT COUNT(*) FROM alerts WHERE incident_id = 1"), 40);
        assert!(count("SELECT MAX(length(state)) FROM incidents") < 1_000);
        assert_eq!(count(r#"SELECT COUNT(*) FROM outbox WHERE payload LIKE '%"labels":{"%'"#), 0);
        // (The first alert's news is long past: only its row names it.)
        assert_eq!(count("SELECT COUNT(*) FROM incidents WHERE state LIKE '%aaaa000000000000%'"), 0);
        drop(conn);
        // Each action is sent with the alerts as decided, their labels
        // from their rows: the opens with the first alert, then the one
        // update per destination that took the others' news with all 40.
        let due = store.due(i64::MAX, 10, None).unwrap();
        assert_eq!(
            due.iter().map(|p| (p.kind, p.incident.alerts.len())).collect::<Vec<_>>(),
            [(ActionKind::Open, 1), (ActionKind::Open, 1)]
        );
        for p in &due {
            store.delivered(p.id, None, 1).unwrap();
        }
        let due = store.due(i64::MAX, 10, None).unwrap();
        assert_eq!(
            due.iter().map(|p| (p.kind, p.incident.alerts.len())).collect::<Vec<_>>(),
            [(ActionKind::Update, 40), (ActionKind::Update, 40)]
        );
        assert!(due[0].incident.alerts.iter().all(|a| a.labels["customer"] == "shop"));
        // One alert ends: the incident holds it resolved, ordered last.
        let ended = alert("aaaa000000000007", "EdgewatchProbeDown", "resolved");
        store.accept(&inbound("ended", &ended), &policy).unwrap();
        let incident = store.incident(1).unwrap();
        let resolved: Vec<&str> = incident
            .alerts
            .iter()
            .filter(|a| a.status == crate::action::Status::Resolved)
            .map(|a| a.fingerprint.as_str())
            .collect();
        assert_eq!(resolved, ["aaaa000000000007"]);
        assert_eq!(incident.alerts.last().map(|a| a.fingerprint.as_str()), Some("aaaa000000000007"), "ended last");
    }

    #[test]
    fn a_note_is_queued_after_each_destinations_actions_and_pruned_with_its_incident() {
        let store = Sqlite::with(Connection::open_in_memory().unwrap()).unwrap();
        let policy = policy();
        let firing = alert("aaaa000000000001", "EdgewatchProbeDown", "firing");
        assert_eq!(store.accept(&inbound("h1", &firing), &policy).unwrap(), Accepted::New { actions: 2 });
        let note = NewNote::new(NoteKind::Remediation, "alice", "Failed over to the second origin.").unwrap();
        let (recorded, queued) = store.add_note(1, &note, 1_795_300_001_000).unwrap();
        assert_eq!((recorded.id, queued), (1, 2));
        assert!(matches!(store.add_note(2, &note, 0), Err(StoreError::NoIncident(2))));
        let kinds: Vec<_> = outbox(&store).into_iter().map(|(_, d, k)| format!("{d}:{k}")).collect();
        assert_eq!(kinds, ["pd:open", "jira:open", "jira:note", "pd:note"]);
        // Per destination, the note waits for the open before it.
        let due = store.due(i64::MAX, 10, None).unwrap();
        assert_eq!(due.iter().map(|p| p.kind).collect::<Vec<_>>(), [ActionKind::Open, ActionKind::Open]);
        for p in &due {
            store.delivered(p.id, Some("NOC-1"), 1).unwrap();
        }
        let due = store.due(i64::MAX, 10, None).unwrap();
        assert_eq!(due.len(), 2);
        let carried = due[0].note.as_ref().unwrap();
        assert_eq!((carried.author.as_str(), carried.text.as_str()), ("alice", "Failed over to the second origin."));
        for p in &due {
            store.delivered(p.id, None, 2).unwrap();
        }
        // The note's delivery kept what Jira answered to the open.
        let conn = store.conn().unwrap();
        let kept: i64 = conn.row("SELECT COUNT(*) FROM externals WHERE external = 'NOC-1'", [], |r| r.get(0)).unwrap();
        assert_eq!(kept, 2);
        assert_eq!(notes_of(&conn, 1).unwrap(), vec![recorded]);
        drop(conn);
        // Resolved and delivered long ago: pruning takes the notes along
        // (no foreign key is left dangling).
        let ended = alert("aaaa000000000001", "EdgewatchProbeDown", "resolved");
        store.accept(&inbound("h2", &ended), &policy).unwrap();
        for p in store.due(i64::MAX, 10, None).unwrap() {
            store.delivered(p.id, None, 3).unwrap();
        }
        let pruned = store.prune(i64::MAX).unwrap();
        assert_eq!(pruned.incidents, 1);
        assert!(notes_of(&store.conn().unwrap(), 1).unwrap().is_empty());
    }
}
