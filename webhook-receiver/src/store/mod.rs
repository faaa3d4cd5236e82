//! The durable store: the inbox of notifications, incidents, the delivery
//! outbox and dead letters. SQLite by default ([`sqlite::Sqlite`], one
//! receiver), or PostgreSQL ([`postgres::Postgres`]) for receivers sharing
//! one database; both implement [`Store`], and the same tests run on both.

pub(crate) mod alerts;
mod checkpoint;
mod codec;
mod group;
mod latest;
pub(crate) mod postgres;
pub(crate) mod sqlite;
pub(crate) mod tls;

use std::sync::Arc;

use crate::action::{ActionKind, Incident};
use crate::config::{Config, StoreKind};
use crate::incident::{GroupUpdate, Transition};

/// Opens the store `config` names: SQLite in its `data_dir`, or
/// PostgreSQL with the password read through `env`. Either is brought up
/// to date first.
pub(crate) fn open(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Arc<dyn Store>, StoreError> {
    match postgres_target(config, env, "edgewatch-receiver")? {
        Some(target) => Ok(Arc::new(postgres::Postgres::connect(target)?)),
        None => Ok(Arc::new(sqlite::Sqlite::open(&config.data_dir)?)),
    }
}

/// Where the PostgreSQL store `config` names is, the password read
/// through `env`; `None` when the store is SQLite. `application` names
/// the connections in `pg_stat_activity`.
pub(crate) fn postgres_target(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    application: &str,
) -> Result<Option<postgres::Target>, StoreError> {
    let StoreKind::Postgres(mut target, tls) = config.store_kind().map_err(StoreError::Config)? else {
        return Ok(None);
    };
    if let Some(password) = &config.store_password {
        let secret = password.resolve(env).map_err(|e| StoreError::Config(format!("store_password: {e}")))?;
        target.password(secret.expose());
    }
    target.application_name(application).connect_timeout(std::time::Duration::from_secs(5));
    // Validated: a claim outlives the attempt it covers, and an attempt a
    // dead receiver began is settled when it is taken over.
    let lease_ms = crate::time::millis(config.delivery.lease);
    let tls = tls.connector().map_err(|e| StoreError::Config(format!("store: {e}")))?;
    Ok(Some(postgres::Target { config: *target, tls, receiver: receiver_name(), lease_ms }))
}

/// This receiver among those sharing a store: host, process and a random
/// part (a restarted process is another receiver).
fn receiver_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "receiver".to_owned(), |h| h.trim().to_owned());
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{host}:{}:{nanos:08x}", std::process::id())
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        Self::Postgres(e)
    }
}

/// `e` and each error that caused it, as `e: cause: cause`.
fn with_causes(e: &::postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let said = c.to_string();
        // An I/O error wrapping another says the same words.
        if !text.ends_with(&said) {
            text = format!("{text}: {said}");
        }
        cause = c.source();
    }
    text
}

/// Why the store failed. Callers answer 503: Alertmanager retries.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database said no.
    #[error("store: {0}")]
    Database(#[from] rusqlite::Error),
    /// PostgreSQL said no, or cannot be reached. Said with its causes:
    /// the client's own words are only the kind ("db error", "error
    /// performing TLS handshake"), the server's message and the certificate
    /// problem are its causes. (Not a `source`, so they are said once.)
    #[error("store: PostgreSQL: {}", with_causes(.0))]
    Postgres(::postgres::Error),
    /// A commit that several notifications shared failed: each is told.
    #[error("store: the commit failed: {0}")]
    Commit(String),
    /// `store` or `store_password` cannot be used.
    #[error("{0}")]
    Config(String),
    /// Every connection to PostgreSQL stayed busy.
    #[error("store: every PostgreSQL connection is busy; try again")]
    Busy,
    /// A stored row does not decode (a bug, or a newer receiver's row).
    #[error("store: cannot decode a stored {what}: {message}")]
    Decode {
        /// The kind of row (`incident`).
        what: &'static str,
        message: String,
    },
    /// The data directory cannot be used.
    #[error("store: {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The connection's lock was poisoned by a panic.
    #[error("store: a previous operation panicked")]
    Poisoned,
    /// No incident has this id (never, or pruned).
    #[error("store: no incident {0}")]
    NoIncident(i64),
    /// The store was written by a newer receiver: its schema is one this
    /// receiver does not know, so it neither reads nor changes it.
    #[error(
        "store: written by a newer edgewatch (schema version {found}, this one knows up to {known}); use that version or newer"
    )]
    Newer {
        /// The store's `PRAGMA user_version`.
        found: i64,
        /// The newest this receiver knows.
        known: i64,
    },
}

/// A notification to record.
#[derive(Debug, Clone)]
pub(crate) struct Inbound {
    /// [`crate::payload::Notification::dedup_hash`].
    pub hash: String,
    /// Unix milliseconds.
    pub received_at: i64,
    /// The body as received.
    pub body: String,
    /// Its alerts by incident key.
    pub groups: Vec<GroupUpdate>,
}

/// What recording did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accepted {
    /// Stored; `actions` outbox rows queued.
    New {
        /// Rows queued.
        actions: usize,
    },
    /// Already stored (a retry or an HA peer): nothing done.
    Duplicate,
}

/// How the store decides, supplied by the receiver (the catalog's policy):
/// the lifecycle, and the destinations of each action.
pub(crate) trait Policy: Sync {
    /// What `update`, received at `now` (unix milliseconds), does to the
    /// key's latest incident; `resolved_ms_ago` is how long ago that incident
    /// resolved, if it did.
    fn transition(
        &self,
        current: Option<&Incident>,
        update: &GroupUpdate,
        now: i64,
        resolved_ms_ago: Option<i64>,
    ) -> Transition;
    /// The action each destination (catalog name) gets, from the key's
    /// latest incident `before` the notification, the incident `after` it
    /// and the transition's `action`; records in `after` where the incident
    /// is open now and where it has been (see [`crate::incident::plan`]).
    /// Each action's text is rendered when it is delivered, with the live
    /// values of that moment.
    fn plan(
        &self,
        before: Option<&Incident>,
        after: &mut Incident,
        action: Option<ActionKind>,
        now: i64,
    ) -> Vec<(String, ActionKind)>;
    /// What time alone does to a firing incident at `now`: destinations
    /// whose route escalates after it has fired long enough get it, and
    /// those due a status update (`update_every`) get one. The incident
    /// after, and the actions; `None` when nothing is due.
    fn scheduled(&self, current: &Incident, now: i64) -> Option<(Incident, Vec<(String, ActionKind)>)>;
    /// When [`Policy::scheduled`] may next have something for `incident`,
    /// written at `now`: the first escalation still ahead or status update
    /// due (`None`: nothing, until a notification changes it). The store
    /// keeps it with the incident, so the schedule reads only the
    /// incidents due, not every firing one.
    fn next_due(&self, incident: &Incident, now: i64) -> Option<i64>;
    /// Whether actions of `incident` for `destination` wait for a
    /// person's approval (the customer's route says so).
    fn held(&self, incident: &Incident, destination: &str) -> bool;
    /// How long a new update waits before it is due, in milliseconds
    /// (`delivery.update_hold`; 0: due at once). Updates after it merge
    /// into it meanwhile; an action of another kind after it makes it due.
    fn update_hold(&self) -> i64;
}

/// What one group of a notification does to its key's latest incident, as
/// both stores record it.
pub(crate) struct Decided {
    /// The incident after (id 0: a new one, to insert).
    pub incident: Incident,
    /// The actions that follow, by destination.
    pub steps: Vec<(String, ActionKind)>,
    /// The incident row's `resolved_at`: when it resolved (kept from before
    /// for one resolved already; none for one firing).
    pub resolved_at: Option<i64>,
    /// The incident row's `due_at` ([`Policy::next_due`]).
    pub due_at: Option<i64>,
}

/// Applies `policy` to `update` at `now`, against the key's latest
/// incident `current` and its row's `resolved_at`.
pub(crate) fn decide(
    policy: &dyn Policy,
    current: Option<&Incident>,
    resolved_before: Option<i64>,
    update: &GroupUpdate,
    now: i64,
) -> Decided {
    let t = policy.transition(current, update, now, resolved_before.map(|at| now - at));
    let mut incident = t.incident;
    let steps = policy.plan(current, &mut incident, t.action, now);
    for (destination, _) in &steps {
        incident.last_sent.insert(destination.clone(), now);
    }
    let resolved = incident.status == crate::action::Status::Resolved;
    // A resolved incident keeps when it resolved; a reopened one drops it.
    let kept = resolved_before.filter(|_| resolved && incident.id != 0);
    let due_at = policy.next_due(&incident, now);
    Decided { resolved_at: kept.or_else(|| resolved.then_some(now)), due_at, incident, steps }
}

/// What time alone does to the firing incident `current` at `now` (see
/// [`Policy::scheduled`]).
pub(crate) enum Scheduled {
    /// Actions are due: the incident after them (the destinations' last
    /// action set to `now`), the actions, and when it is due next.
    Due(Box<Incident>, Vec<(String, ActionKind)>, Option<i64>),
    /// Nothing yet: when it is due next.
    Later(Option<i64>),
}

/// What time alone makes due for the firing incident `current`.
pub(crate) fn scheduled(policy: &dyn Policy, current: &Incident, now: i64) -> Scheduled {
    let Some((mut after, steps)) = policy.scheduled(current, now) else {
        return Scheduled::Later(policy.next_due(current, now));
    };
    for (destination, _) in &steps {
        after.last_sent.insert(destination.clone(), now);
    }
    let due = policy.next_due(&after, now);
    Scheduled::Due(Box::new(after), steps, due)
}

/// Every destination that ever received `incident` (where it is open now,
/// for an incident from before receivers kept that): those a note goes to.
pub(crate) fn reached(incident: &Incident) -> Vec<String> {
    incident.notified.as_ref().or(incident.engaged.as_ref()).cloned().unwrap_or_default().into_iter().collect()
}

/// How a delivery attempt ended, as the stores record it: outcomes
/// recorded at the same time share a commit.
#[derive(Debug)]
enum Outcome {
    /// [`Store::delivered`].
    Delivered { id: i64, external: Option<String>, now: i64 },
    /// [`Store::retry_at`].
    RetryAt { id: i64, next_at: i64, error: String },
    /// [`Store::dead`].
    Dead { id: i64, reason: String, now: i64 },
}

/// An outbox row due for delivery.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub id: i64,
    pub incident_id: i64,
    /// The destination's name in the catalog.
    pub destination: String,
    pub kind: ActionKind,
    /// The incident when the action was decided.
    pub incident: Incident,
    /// Attempts so far.
    pub attempts: u32,
    /// What the destination answered to an earlier action of the incident.
    pub external: Option<String>,
    /// For a `note` action, the note.
    pub note: Option<Note>,
    /// Its route needs approval and it has no draft yet: the deliverer
    /// writes the draft instead of delivering it.
    pub to_draft: bool,
    /// Another receiver had claimed it and its lease ran out (it died or
    /// stalled): this one takes it over.
    pub taken_over: bool,
}

/// An action waiting for a person's approval.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Held {
    /// The outbox row.
    pub id: i64,
    pub incident_id: i64,
    /// The destination's name in the catalog.
    pub destination: String,
    pub kind: ActionKind,
    /// Whether its draft is written (and noted on the ticket).
    pub drafted: bool,
    /// What would be sent: the customer's title and text.
    pub draft: Option<String>,
    /// When it was decided, unix milliseconds.
    pub created_at: i64,
}

/// What an analyst records on an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// What was done about it: shown in reports.
    Remediation,
    /// Anything else worth keeping with it.
    Comment,
}

impl NoteKind {
    /// The name the store, the API and the CLI use.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Remediation => "remediation",
            Self::Comment => "comment",
        }
    }
}

/// A note recorded on an incident: who, when, what.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    /// The store's id.
    pub id: i64,
    /// The incident's id.
    pub incident_id: i64,
    pub kind: NoteKind,
    /// Who recorded it (as they gave their name).
    pub author: String,
    pub text: String,
    /// When it was recorded, unix milliseconds.
    pub created_at: i64,
}

/// A note to record, checked ([`NewNote::new`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNote {
    kind: NoteKind,
    author: String,
    text: String,
}

/// Why a note cannot be recorded as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// No author, or one too long or with control characters.
    #[error("the author must be a name of 1 to {MAX_AUTHOR} characters without control characters")]
    Author,
    /// No text, or too long.
    #[error("the text must hold 1 to {MAX_NOTE} characters")]
    Text,
    /// A control character other than a line break or a tab.
    #[error("the text holds a control character (only line breaks and tabs are taken)")]
    Control,
}

/// The longest author name.
pub const MAX_AUTHOR: usize = 200;
/// The longest note: well under Jira's 32,767-character comment.
pub const MAX_NOTE: usize = 10_000;

impl NewNote {
    /// The note as stored under `id` on incident `incident_id` at `now`.
    pub(crate) fn stored(&self, id: i64, incident_id: i64, now: i64) -> Note {
        Note { id, incident_id, kind: self.kind, author: self.author.clone(), text: self.text.clone(), created_at: now }
    }

    /// A note by `author` (trimmed), `text` kept as written (trailing
    /// blanks dropped).
    pub fn new(kind: NoteKind, author: &str, text: &str) -> Result<Self, NoteError> {
        let author = author.trim();
        if author.is_empty() || author.chars().count() > MAX_AUTHOR || author.chars().any(char::is_control) {
            return Err(NoteError::Author);
        }
        let text = text.trim_end();
        if text.trim().is_empty() || text.chars().count() > MAX_NOTE {
            return Err(NoteError::Text);
        }
        // Lines and tabs, but no terminal escapes or other controls: a
        // note is shown in terminals, tickets and logs.
        if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')) {
            return Err(NoteError::Control);
        }
        Ok(Self { kind, author: author.to_owned(), text: text.to_owned() })
    }
}

/// Which kind of rule was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A custom rule (`http_request_firewall_custom`).
    Custom,
    /// A rate-limiting rule (`http_ratelimit`).
    RateLimit,
}

impl RuleKind {
    /// The name the store and the CLI use.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Custom => "custom",
            Self::RateLimit => "rate_limit",
        }
    }

    /// How people call it.
    pub const fn title(self) -> &'static str {
        match self {
            Self::Custom => "custom rule",
            Self::RateLimit => "rate-limiting rule",
        }
    }
}

/// A rule applied from an incident's suggestion.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedRule {
    /// The store's id.
    pub id: i64,
    pub incident_id: i64,
    pub rule: RuleKind,
    /// The Cloudflare zone.
    pub zone: String,
    pub ruleset_id: String,
    pub rule_id: String,
    /// The rule as sent (JSON).
    pub body: String,
    /// Who applied it.
    pub applied_by: String,
    /// Unix milliseconds.
    pub applied_at: i64,
    /// When it was removed, unix milliseconds.
    pub reverted_at: Option<i64>,
}

/// A rule to record as applied.
#[derive(Debug, Clone)]
pub struct NewAppliedRule {
    pub rule: RuleKind,
    pub zone: String,
    pub ruleset_id: String,
    pub rule_id: String,
    pub body: String,
}

impl NewAppliedRule {
    /// The rule as stored under `id` on incident `incident_id`, applied by
    /// `by` at `now`.
    pub(crate) fn stored(&self, id: i64, incident_id: i64, by: &str, now: i64) -> AppliedRule {
        AppliedRule {
            id,
            incident_id,
            rule: self.rule,
            zone: self.zone.clone(),
            ruleset_id: self.ruleset_id.clone(),
            rule_id: self.rule_id.clone(),
            body: self.body.clone(),
            applied_by: by.to_owned(),
            applied_at: now,
            reverted_at: None,
        }
    }
}

/// A dead letter: an action that failed for good or ran out of retries.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadLetter {
    /// The outbox row.
    pub id: i64,
    /// The incident key.
    pub key: String,
    /// The destination's name in the catalog.
    pub destination: String,
    pub kind: ActionKind,
    /// Attempts made.
    pub attempts: u32,
    /// Why it stopped.
    pub reason: String,
    /// When it was queued, unix milliseconds.
    pub created_at: i64,
    /// When it died, unix milliseconds.
    pub failed_at: i64,
}

impl DeadLetter {
    /// When it died, as RFC 3339.
    pub fn failed_at_rfc3339(&self) -> String {
        crate::time::rfc3339(self.failed_at)
    }
}

/// Counts for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Depth {
    /// Actions waiting.
    pub pending: u64,
    /// When the oldest waiting action was queued, unix milliseconds.
    pub oldest_pending_at: Option<i64>,
    /// Dead letters.
    pub dead: u64,
    /// Incidents firing now.
    pub open_incidents: u64,
}

/// What pruning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pruned {
    /// Notifications.
    pub notifications: u64,
    /// Resolved incidents (with their delivered actions).
    pub incidents: u64,
    /// Delivered actions.
    pub actions: u64,
}

/// The store's operations. Every method is one transaction.
pub(crate) trait Store: Send + Sync + std::fmt::Debug {
    /// Records a notification and, in the same transaction, what it does to
    /// each incident and the actions that follow; a notification already
    /// recorded (same hash) changes nothing. Returns once it is durable
    /// (committed with those that arrived meanwhile, on SQLite).
    fn accept(&self, inbound: &Inbound, policy: &dyn Policy) -> Result<Accepted, StoreError>;
    /// The receiver groups alerts by `key_labels` from now on. When they are
    /// not the ones recorded (or none are: a store from before they were
    /// kept), every firing incident is held under its key: the news of its
    /// alerts goes to it until it resolves (see
    /// [`crate::incident::divert`]), so that it is not left open while a
    /// second incident opens for them. Returns how many were held.
    fn use_key_labels(&self, key_labels: &[String]) -> Result<u64, StoreError>;
    /// Actions due at `now`, of `destination` or of every one: per incident
    /// and destination, only the oldest not yet delivered, and none behind
    /// a dead letter (order is kept).
    fn due(&self, now: i64, limit: usize, destination: Option<&str>) -> Result<Vec<Pending>, StoreError>;
    /// Actions [`Store::due`] returned that will not be attempted now (the
    /// receiver is stopping, or the one before is still finishing) are
    /// given back to whichever receiver polls next.
    fn release(&self, ids: &[i64]) -> Result<(), StoreError>;
    /// Attempts at actions start, each given as `(id, attempts)`, in one
    /// commit: if the process dies before an outcome is recorded,
    /// [`Store::recover`] knows the attempt was interrupted. The ids of
    /// those that started; not those no longer as [`Store::due`] returned
    /// them (`attempts` made, still pending): an outcome was recorded since
    /// (a poll that read it just before), and it must not be sent again now.
    fn begin(&self, attempts: &[(i64, u32)], now: i64) -> Result<Vec<i64>, StoreError>;
    /// At start: attempts a crash interrupted (the destination may or may
    /// not have acted) wait `settle_ms`, so that what they did becomes
    /// visible (Jira's search lags its writes) before they run again.
    /// Returns how many.
    fn recover(&self, now: i64, settle_ms: i64) -> Result<u64, StoreError>;
    /// An action was delivered; `external` is kept for the incident's later
    /// actions at that destination.
    fn delivered(&self, id: i64, external: Option<&str>, now: i64) -> Result<(), StoreError>;
    /// An action failed and is tried again at `next_at`.
    fn retry_at(&self, id: i64, next_at: i64, error: &str) -> Result<(), StoreError>;
    /// An action failed for good.
    fn dead(&self, id: i64, reason: &str, now: i64) -> Result<(), StoreError>;
    /// Every dead letter, oldest first.
    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError>;
    /// Queues dead letters again (one, or all): returns how many.
    fn replay(&self, id: Option<i64>, now: i64) -> Result<u64, StoreError>;
    /// Deletes resolved incidents, delivered actions and notifications older
    /// than `before` (unix milliseconds). Never a pending or dead action.
    fn prune(&self, before: i64) -> Result<Pruned, StoreError>;
    /// Outbox depth and dead letters.
    fn depth(&self) -> Result<Depth, StoreError>;
    /// Incident `id` as last stored ([`StoreError::NoIncident`] when there
    /// is none).
    fn incident(&self, id: i64) -> Result<Incident, StoreError>;
    /// Records a note on incident `incident_id` and, in the same
    /// transaction, queues a `note` action for every destination the
    /// incident reached (a Jira comment), after its earlier actions there.
    /// Returns the note and how many actions were queued.
    fn add_note(&self, incident_id: i64, note: &NewNote, now: i64) -> Result<(Note, usize), StoreError>;
    /// Keeps `body` as the incident's mitigation suggestion unless it has
    /// one already; returns the one kept (the first wins, so every
    /// destination shows the same).
    fn keep_suggestion(&self, incident_id: i64, body: &str, now: i64) -> Result<String, StoreError>;
    /// The incident's mitigation suggestion, if one was made.
    fn suggestion(&self, incident_id: i64) -> Result<Option<String>, StoreError>;
    /// Records a rule applied on incident `incident_id` and, in the same
    /// transaction, `note` about it (a remediation, delivered as a comment).
    fn record_applied(
        &self,
        incident_id: i64,
        rule: &NewAppliedRule,
        note: &NewNote,
        now: i64,
    ) -> Result<(AppliedRule, Note), StoreError>;
    /// The rules applied on an incident, oldest first.
    fn applied(&self, incident_id: i64) -> Result<Vec<AppliedRule>, StoreError>;
    /// Records that applied rule `id` was removed, with `note` about it.
    fn record_reverted(&self, id: i64, note: &NewNote, now: i64) -> Result<Note, StoreError>;
    /// The draft of held action `id` is written: kept with it, and `note`
    /// (the draft, for the ticket) recorded on its incident.
    fn draft(&self, id: i64, draft: &str, note: &NewNote, now: i64) -> Result<(), StoreError>;
    /// Actions waiting for approval, of one incident or all.
    fn held(&self, incident_id: Option<i64>) -> Result<Vec<Held>, StoreError>;
    /// Sends (`send`) or drops every held action of an incident, with
    /// `note` saying so: how many.
    fn decide(&self, incident_id: i64, send: bool, note: &NewNote, now: i64) -> Result<u64, StoreError>;
    /// Applies [`Policy::scheduled`] to every firing incident due by `now`
    /// ([`Policy::next_due`], kept with each), queueing what is due in one
    /// transaction: how many actions. The schedule is the incidents' own
    /// state (their start, each destination's last action), so it
    /// survives restarts.
    fn tick(&self, now: i64, policy: &dyn Policy) -> Result<usize, StoreError>;
    /// Analyses the tables the database's planner has no statistics for
    /// yet, once they have grown: the tables analysed. On PostgreSQL
    /// autovacuum looks only every `autovacuum_naptime` (a minute), and a
    /// plan made without statistics can read a whole table (a fresh
    /// database drained a backlog at a third of the speed). SQLite needs
    /// none.
    fn gather_statistics(&self) -> Result<Vec<&'static str>, StoreError> {
        Ok(Vec::new())
    }
    /// Makes every firing incident due at the next [`Store::tick`], which
    /// computes its schedule again: at start, since the catalog's routes
    /// may have changed since it was computed. How many.
    fn reschedule(&self) -> Result<u64, StoreError>;
    /// From now on, counts in `metrics` how many notifications each
    /// commit of [`Store::accept`] holds.
    fn count_commits(&self, metrics: Arc<crate::metrics::Metrics>);
    /// Whether the store can commit: writes and commits a heartbeat, so a
    /// full disk or a lost lock shows here, not only on the next webhook.
    fn check_commit(&self, now: i64) -> Result<(), StoreError>;
    /// Takes or renews this receiver's turn at `job` (work one receiver of
    /// those sharing the store does at a time) until `now + ttl_ms`:
    /// whether it has it. Always, on SQLite (one receiver per store).
    fn take_turn(&self, job: &str, now: i64, ttl_ms: i64) -> Result<bool, StoreError>;
    /// What was recorded done under `name`, and when.
    fn done(&self, name: &str) -> Result<Option<(i64, String)>, StoreError>;
    /// Records `name` done at `now`, `what` saying how; the first record
    /// stays.
    fn record_done(&self, name: &str, what: &str, now: i64) -> Result<(), StoreError>;
    /// Forgets what was recorded done before `before`: how many.
    fn forget_done(&self, before: i64) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_needs_an_author_and_printable_text() {
        let ok = NewNote::new(NoteKind::Remediation, "  alice ", "Rolled back.\n\tThen drained fra2.  \n").unwrap();
        assert_eq!((ok.author.as_str(), ok.text.as_str()), ("alice", "Rolled back.\n\tThen drained fra2."));
        for (author, text, why) in [
            ("", "x", NoteError::Author),
            ("a\u{1b}[31m", "x", NoteError::Author),
            (&"a".repeat(MAX_AUTHOR + 1), "x", NoteError::Author),
            ("alice", " \n ", NoteError::Text),
            ("alice", &"x".repeat(MAX_NOTE + 1), NoteError::Text),
            ("alice", "done \u{1b}]8;;http://evil\u{7}", NoteError::Control),
        ] {
            assert_eq!(NewNote::new(NoteKind::Comment, author, text), Err(why.clone()), "{author:?} {text:?}");
        }
    }
}
