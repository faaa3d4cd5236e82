//! The deliverer: takes due actions from the outbox, renders their text
//! with the live values of the moment, hands them to their destination, and
//! records the outcome: delivered, retried later (exponential backoff with
//! jitter, or the service's `Retry-After`), or a dead letter. Only one action
//! per incident and destination is in flight, so they arrive in order. It
//! also prunes old history, hourly.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use edgewatch_catalog::Catalog;
use tokio::sync::{Notify, Semaphore, watch};

use crate::action::{ActionKind, Delivery};
use crate::config::Config;
use crate::dest::{DeliveryError, Destination, Outcome};
use crate::live::Prometheus;
use crate::metrics::Metrics;
use crate::store::{Pending, Store, StoreError};
use crate::text::{LinkBases, Templates};
use crate::time::{self, now_ms};

/// What the deliverer works with: the outbox, the destinations, what the
/// text is made of, and how it retries.
#[derive(Debug)]
pub(crate) struct Deliverer {
    pub(crate) store: Arc<dyn Store>,
    /// By catalog name.
    pub(crate) destinations: BTreeMap<String, Destination>,
    /// For the customer of each action.
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) templates: Templates,
    /// Live values, when configured.
    pub(crate) prometheus: Option<Prometheus>,
    /// Top offenders for mitigation suggestions, when configured.
    pub(crate) exporters: Option<crate::offenders::Exporters>,
    /// What time alone does to incidents: escalations, status updates.
    pub(crate) policy: Arc<crate::policy::CatalogPolicy>,
    pub(crate) bases: LinkBases,
    pub(crate) settings: Settings,
    pub(crate) metrics: Arc<Metrics>,
    /// Notified by the webhook when it queued actions.
    pub(crate) wake: Arc<Notify>,
    pub(crate) in_flight: InFlight,
}

/// Retries, concurrency and history, from the receiver's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    pub(crate) concurrency: usize,
    settle_ms: i64,
    retention_ms: i64,
}

impl Settings {
    pub(crate) fn new(config: &Config) -> Self {
        let d = &config.delivery;
        Self {
            max_attempts: d.max_attempts,
            initial_backoff: d.initial_backoff.to_std(),
            max_backoff: d.max_backoff.to_std(),
            concurrency: d.concurrency,
            settle_ms: time::millis(d.settle),
            retention_ms: time::millis(config.retention),
        }
    }
}

/// The deliverer and the pruner at work, in a task of their own.
#[derive(Debug)]
pub(crate) struct Workers {
    task: tokio::task::JoinHandle<()>,
    permits: Arc<Permits>,
    stop: watch::Sender<bool>,
}

/// At most `concurrency` actions in flight per destination: a slow
/// destination fills its own, never another's.
#[derive(Debug)]
pub(crate) struct Permits {
    /// By catalog name.
    by_destination: BTreeMap<String, Arc<Semaphore>>,
    /// For actions of destinations no longer in the catalog (they fail).
    other: Arc<Semaphore>,
    concurrency: usize,
}

impl Permits {
    fn new<'a>(destinations: impl IntoIterator<Item = &'a String>, concurrency: usize) -> Self {
        let semaphore = || Arc::new(Semaphore::new(concurrency));
        Self {
            by_destination: destinations.into_iter().map(|name| (name.clone(), semaphore())).collect(),
            other: semaphore(),
            concurrency,
        }
    }

    fn of(&self, destination: &str) -> &Arc<Semaphore> {
        self.by_destination.get(destination).unwrap_or(&self.other)
    }

    fn all(&self) -> impl Iterator<Item = &Arc<Semaphore>> {
        self.by_destination.values().chain(std::iter::once(&self.other))
    }

    /// Deliveries in progress.
    fn in_use(&self) -> usize {
        self.all().map(|s| self.concurrency.saturating_sub(s.available_permits())).sum()
    }
}

impl Workers {
    /// Starts delivering and pruning.
    pub(crate) fn start(deliverer: Arc<Deliverer>) -> Self {
        let permits = Arc::new(Permits::new(deliverer.destinations.keys(), deliverer.settings.concurrency));
        let (stop, until) = watch::channel(false);
        let task = {
            let permits = Arc::clone(&permits);
            tokio::spawn(async move {
                // The pruner has nothing to finish: it ends with the deliverer.
                tokio::select! {
                    () = run(Arc::clone(&deliverer), permits, until) => {}
                    () = prune_hourly(&deliverer) => {}
                    () = schedule(&deliverer) => {}
                }
            })
        };
        Self { task, permits, stop }
    }

    /// Runs until this future is dropped (then no new delivery starts).
    pub(crate) async fn run(self) {
        let Self { task, stop, .. } = self;
        let _stop = stop;
        let _ = task.await;
    }

    /// Something to call when no new delivery may start (those in progress
    /// go on): for a shutdown future.
    pub(crate) fn stopper(&self) -> impl FnOnce() + Send + 'static {
        let stop = self.stop.clone();
        move || {
            let _ = stop.send(true);
        }
    }

    /// Waits until the deliveries in progress have finished, or `deadline`;
    /// those still running then are stopped, to run again at the next start.
    pub(crate) async fn finish(self, deadline: tokio::time::Instant) {
        let _ = self.stop.send(true);
        let all = u32::try_from(self.permits.concurrency).unwrap_or(u32::MAX);
        let finished = async {
            for semaphore in self.permits.all() {
                // Taken for good: nothing starts after this.
                if let Ok(taken) = semaphore.acquire_many(all).await {
                    taken.forget();
                }
            }
        };
        if tokio::time::timeout_at(deadline, finished).await.is_err() {
            let cut = self.permits.in_use();
            tracing::warn!(
                deliveries = cut,
                "Deliveries still in progress at the end of the grace period were stopped; they run again at the next start."
            );
        }
        self.task.abort();
    }
}

/// Deletes, every hour, history older than the retention.
async fn prune_hourly(d: &Deliverer) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let store = Arc::clone(&d.store);
        let before = now_ms() - d.settings.retention_ms;
        match off(move || store.prune(before)).await {
            Ok(p) => tracing::info!(
                notifications = p.notifications,
                incidents = p.incidents,
                actions = p.actions,
                "pruned history"
            ),
            Err(e) => tracing::warn!(error = %e, "pruning failed"),
        }
    }
}

/// How often the schedule (escalations, status updates) is looked at.
const SCHEDULE_EVERY: Duration = Duration::from_secs(2);

/// Queues, every [`SCHEDULE_EVERY`], what time alone makes due:
/// escalations and status updates. The schedule is the incidents' state in
/// the store, so a restart loses nothing; an escalation due while the
/// receiver was down goes at the first look after it starts. Then gives
/// the database statistics for tables grown without
/// ([`Store::gather_statistics`]).
async fn schedule(d: &Deliverer) {
    let mut tick = tokio::time::interval(SCHEDULE_EVERY);
    loop {
        tick.tick().await;
        let (store, policy) = (Arc::clone(&d.store), Arc::clone(&d.policy));
        match off(move || store.tick(now_ms(), policy.as_ref())).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(actions = n, "escalations and status updates queued");
                d.wake.notify_one();
            }
            Err(e) => tracing::warn!(error = %e, "cannot look at the schedule"),
        }
        let store = Arc::clone(&d.store);
        match off(move || store.gather_statistics()).await {
            Ok(tables) => {
                for table in tables {
                    tracing::info!(table, "analysed a table the database had no statistics for yet");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot look at the database's statistics"),
        }
    }
}

/// How long to wait before attempt `attempts + 1`.
pub(crate) fn backoff(
    attempts: u32,
    initial: Duration,
    max: Duration,
    retry_after: Option<Duration>,
    seed: u64,
) -> Duration {
    if let Some(after) = retry_after {
        // The service said when; never sooner, and within reason.
        return after.min(max).max(Duration::from_millis(100));
    }
    let exp = initial.saturating_mul(2u32.saturating_pow(attempts.min(20)));
    let base = exp.min(max);
    // ±20 % jitter, so retries from many incidents do not arrive together.
    let x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    #[allow(clippy::cast_precision_loss)] // a fraction
    let jitter = 0.8 + 0.4 * ((x % 10_000) as f64 / 10_000.0);
    base.mul_f64(jitter).min(max)
}

/// Pairs of (incident, destination) with an action in flight.
#[derive(Debug, Default)]
pub(crate) struct InFlight(Mutex<HashSet<(i64, String)>>);

impl InFlight {
    fn claim(&self, p: &Pending) -> bool {
        self.0.lock().is_ok_and(|mut s| s.insert((p.incident_id, p.destination.clone())))
    }

    fn release(&self, p: &Pending) {
        if let Ok(mut s) = self.0.lock() {
            s.remove(&(p.incident_id, p.destination.clone()));
        }
    }
}

/// Polls the outbox when woken or every second, and delivers what is due,
/// at most `permits`' worth at once per destination, until `stop` turns
/// true or its sender is gone (or the task is dropped). Each destination
/// with room is polled for its own actions, so a destination that is slow
/// or behind never keeps another's waiting. Deliveries in progress then go
/// on in their own tasks: the caller waits for them by taking every permit.
async fn run(d: Arc<Deliverer>, permits: Arc<Permits>, mut stop: watch::Receiver<bool>) {
    let store = Arc::clone(&d.store);
    let settle = d.settings.settle_ms;
    match off(move || store.recover(now_ms(), settle)).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            actions = n,
            settle_ms = settle,
            "attempts interrupted by a stop; they run again after the settle time"
        ),
        Err(e) => tracing::error!(error = %e, "cannot recover interrupted attempts"),
    }
    loop {
        let mut found = false;
        for (destination, semaphore) in &permits.by_destination {
            let room = semaphore.available_permits();
            if room == 0 {
                continue;
            }
            // A few more than there is room for: some may wait behind the
            // action before them, still finishing here.
            let Some(rows) = poll(&d, room * 2, Some(destination.clone())).await else { continue };
            found |= !rows.is_empty();
            if !start(&d, &permits, rows, &stop).await {
                return;
            }
        }
        // Actions of destinations no longer in the catalog (each fails for
        // good), when the others have nothing due.
        if !found
            && let Some(rows) = poll(&d, 4, None).await
            && !start(&d, &permits, rows, &stop).await
        {
            return;
        }
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = tokio::time::timeout(Duration::from_secs(1), d.wake.notified()) => {}
            changed = stop.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        // Deliveries end one at a time: while others are in flight, a few
        // more end before the next poll, so that a busy outbox is polled
        // (and its attempts marked) for several actions at once, not one.
        if permits.in_use() > 0 {
            tokio::time::sleep(BATCH_WAIT).await;
        }
    }
}

/// How long the deliverer lets deliveries end before polling again while
/// others are in flight.
const BATCH_WAIT: Duration = Duration::from_millis(2);

/// Up to `limit` actions due now, of `destination` or of any.
async fn poll(d: &Deliverer, limit: usize, destination: Option<String>) -> Option<Vec<Pending>> {
    let store = Arc::clone(&d.store);
    off(move || store.due(now_ms(), limit, destination.as_deref()))
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot read the outbox; retrying"))
        .ok()
}

/// Starts delivering `rows`, each in a task of its own while its
/// destination has room; gives back those not started (no room, the action
/// before still finishing, no longer as read, stopping). False once
/// stopping.
async fn start(d: &Arc<Deliverer>, permits: &Permits, rows: Vec<Pending>, stop: &watch::Receiver<bool>) -> bool {
    // Rows taken but not started are given back, so that they need not
    // wait out a lease (a store shared by receivers).
    let mut rows = rows.into_iter();
    let mut skipped = Vec::new();
    let mut ready = Vec::new();
    while let Some(p) = rows.next() {
        if *stop.borrow() {
            skipped.extend(std::iter::once(p.id).chain(rows.map(|p| p.id)));
            for (p, _) in ready {
                d.in_flight.release(&p);
                skipped.push(p.id);
            }
            release(d, skipped).await;
            return false;
        }
        let Ok(permit) = Arc::clone(permits.of(&p.destination)).try_acquire_owned() else {
            // Its destination is full: the next poll after a delivery ends.
            skipped.push(p.id);
            continue;
        };
        if !d.in_flight.claim(&p) {
            // The action before it, just recorded, is still finishing
            // here: the next poll takes it.
            skipped.push(p.id);
            continue;
        }
        d.metrics.claim(p.taken_over);
        if p.taken_over {
            tracing::warn!(
                incident = %p.incident.key,
                destination = %p.destination,
                action = p.kind.as_str(),
                "took over an action whose receiver's claim ran out; it may have been sent already (at least once)"
            );
        }
        ready.push((p, permit));
    }
    // Marked before anything leaves, together: a crash from here on is
    // known at start. A poll can read an action just before the outcome of
    // its last attempt is recorded, and take it once that attempt is done:
    // then it is no longer as read, and is not sent again now. Drafts send
    // nothing.
    let attempts: Vec<(i64, u32)> =
        ready.iter().filter(|(p, _)| !p.to_draft).map(|(p, _)| (p.id, p.attempts)).collect();
    let begun: HashSet<i64> = if attempts.is_empty() {
        HashSet::new()
    } else {
        let store = Arc::clone(&d.store);
        match off(move || store.begin(&attempts, now_ms())).await {
            Ok(begun) => begun.into_iter().collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot mark attempts; the next poll tries again");
                HashSet::new()
            }
        }
    };
    for (p, permit) in ready {
        if !p.to_draft && !begun.contains(&p.id) {
            tracing::debug!(action = p.id, "not started: attempted since it was read, or not marked");
            d.in_flight.release(&p);
            skipped.push(p.id);
            continue;
        }
        let d = Arc::clone(d);
        tokio::spawn(async move {
            deliver_one(&d, &p).await;
            d.in_flight.release(&p);
            drop(permit);
            // The next action of the pair may be due now.
            d.wake.notify_one();
        });
    }
    release(d, skipped).await;
    true
}

/// Runs a store call off the async threads (the store blocks): its
/// result, with a task that panicked as an error too.
async fn off<T: Send + 'static>(call: impl FnOnce() -> Result<T, StoreError> + Send + 'static) -> Result<T, String> {
    match tokio::task::spawn_blocking(call).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(format!("the store's task failed: {e}")),
    }
}

/// Gives back actions taken from the outbox and not started.
async fn release(d: &Deliverer, ids: Vec<i64>) {
    if ids.is_empty() {
        return;
    }
    let store = Arc::clone(&d.store);
    if let Err(e) = off(move || store.release(&ids)).await {
        tracing::warn!(error = %e, "cannot give back actions not started; they wait for their lease");
    }
}

/// One action, its logs carrying the incident, customer, destination and action.
async fn deliver_one(d: &Deliverer, p: &Pending) {
    let span = tracing::info_span!("deliver", incident = %p.incident.key, customer = p.incident.customer.as_deref().unwrap_or(""), destination = %p.destination, action = p.kind.as_str());
    // Instrumented, not entered: a guard held across awaits would leak the
    // span into whatever else the thread runs meanwhile.
    tracing::Instrument::instrument(deliver_in_span(d, p), span).await;
}

async fn deliver_in_span(d: &Deliverer, p: &Pending) {
    if p.to_draft {
        draft(d, p).await;
        return;
    }
    // Its start was marked when it was taken (see `start`).
    let result = attempt(d, p).await;
    let now = now_ms();
    let store = Arc::clone(&d.store);
    let (id, attempts) = (p.id, p.attempts + 1);
    let outcome = match result {
        Ok(Outcome::Delivered { external }) => {
            d.metrics.action(&p.destination, "delivered");
            tracing::info!(attempts, "delivered");
            let sent = sent_note(d, p);
            let incident = p.incident_id;
            off(move || {
                store.delivered(id, external.as_deref(), now)?;
                // What customers were told is recorded on the incident.
                if let Some(note) = sent {
                    store.add_note(incident, &note, now)?;
                }
                Ok(())
            })
            .await
        }
        Err(DeliveryError::Transient { reason, retry_after }) if attempts < d.settings.max_attempts => {
            let wait = backoff(
                p.attempts,
                d.settings.initial_backoff,
                d.settings.max_backoff,
                retry_after,
                id.unsigned_abs() ^ u64::from(attempts),
            );
            d.metrics.action(&p.destination, "retried");
            tracing::warn!(attempts, retry_in_ms = wait.as_millis(), %reason, "delivery failed; retrying");
            let next = now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
            off(move || store.retry_at(id, next, &reason)).await
        }
        Err(e) => {
            let reason = match &e {
                DeliveryError::Transient { reason, .. } => format!("gave up after {attempts} attempts: {reason}"),
                DeliveryError::Permanent { reason } => reason.clone(),
            };
            d.metrics.action(&p.destination, "dead");
            tracing::error!(attempts, %reason, "delivery failed for good; kept as a dead letter");
            off(move || store.dead(id, &reason, now)).await
        }
    };
    // Unrecorded, the action stays pending and is tried again: at worst
    // delivered twice, never lost.
    if let Err(e) = outcome {
        tracing::error!(error = %e, "cannot record a delivery outcome");
    }
}

impl Deliverer {
    /// The incident's customer, when the catalog has it.
    fn customer_of(&self, incident: &crate::action::Incident) -> Option<&edgewatch_catalog::Customer> {
        incident.customer.as_deref().and_then(|id| self.catalog.customer(id))
    }
}

/// The author of what the receiver itself records on incidents.
const RECEIVER: &str = "edgewatch";

/// The record of a message sent to customers, if `p` went to them.
fn sent_note(d: &Deliverer, p: &Pending) -> Option<crate::store::NewNote> {
    if p.kind == ActionKind::Note {
        return None;
    }
    let customer = d.customer_of(&p.incident);
    let recipients = d.destinations.get(&p.destination)?.recipients(customer)?;
    let text =
        format!("Sent to customers ({} of the incident) through {}: {recipients}.", p.kind.as_str(), p.destination);
    crate::store::NewNote::new(crate::store::NoteKind::Comment, RECEIVER, &text).ok()
}

/// Writes the draft of an action that waits for approval, and records it
/// on the incident (a comment on the ticket) instead of delivering it.
async fn draft(d: &Deliverer, p: &Pending) {
    let message = match crate::text::message(&d.templates, &d.catalog, &p.incident, p.kind, &d.bases, &BTreeMap::new())
    {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "cannot write the draft of a held action");
            return;
        }
    };
    let customer = d.customer_of(&p.incident);
    let for_customers = d.destinations.get(&p.destination).and_then(|dest| dest.recipients(customer));
    let draft = match &for_customers {
        Some(_) => format!("{}\n\n{}", message.customer_title, message.customer_body),
        None => format!("{}\n\n{}", message.title, message.description),
    };
    let to = for_customers.map_or_else(|| p.destination.clone(), |r| format!("{} ({r})", p.destination));
    let id = p.incident_id;
    let text = format!(
        "Held for approval: the {} message to {to}:\n\n{draft}\n\nSend it with `edgewatch outreach send {id}`, or drop it with `edgewatch outreach discard {id}`.",
        p.kind.as_str()
    );
    let note = match crate::store::NewNote::new(crate::store::NoteKind::Comment, RECEIVER, &text) {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "the draft cannot be noted");
            return;
        }
    };
    let (store, row) = (Arc::clone(&d.store), p.id);
    match off(move || store.draft(row, &draft, &note, now_ms())).await {
        Ok(()) => {
            d.metrics.action(&p.destination, "held");
            tracing::info!("held for approval; its draft is noted on the incident");
        }
        Err(e) => tracing::error!(error = %e, "cannot record the draft"),
    }
}

async fn attempt(d: &Deliverer, p: &Pending) -> Result<Outcome, DeliveryError> {
    let Some(dest) = d.destinations.get(&p.destination) else {
        return Err(DeliveryError::Permanent {
            reason: format!("destination `{}` is not in the catalog any more", p.destination),
        });
    };
    // Both wait on other services (Prometheus, the exporters), at once.
    let live = async {
        match &d.prometheus {
            Some(prom) => {
                let started = std::time::Instant::now();
                let v = prom.values(&p.incident).await;
                d.metrics.enrichment(started.elapsed().as_secs_f64());
                v
            }
            None => BTreeMap::new(),
        }
    };
    let mitigation = crate::mitigation::attach::find(&d.store, d.exporters.as_ref(), &d.catalog, p);
    let (live, mitigation) = tokio::join!(live, mitigation);
    let mut message = crate::text::message(&d.templates, &d.catalog, &p.incident, p.kind, &d.bases, &live)
        .map_err(|e| DeliveryError::Permanent { reason: e.to_string() })?;
    if let Some(found) = mitigation {
        found.add_to(&mut message, p.kind);
    }
    if p.kind == ActionKind::Note {
        let note = p.note.as_ref().ok_or_else(|| DeliveryError::Permanent {
            reason: "a note action without its note (a store written by hand?)".to_owned(),
        })?;
        message.comment = crate::text::note_comment(note);
    }
    let customer = d.customer_of(&p.incident);
    let delivery = Delivery {
        kind: p.kind,
        action: p.id,
        incident: &p.incident,
        message: &message,
        external: p.external.as_deref(),
        customer,
        alertmanager_url: d.bases.alertmanager.as_deref(),
    };
    dest.deliver(&delivery).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let (i, m) = (Duration::from_secs(2), Duration::from_secs(600));
        for attempt in 0..6 {
            let expected = 2.0 * 2f64.powi(i32::try_from(attempt).unwrap());
            for seed in 0..50 {
                let b = backoff(attempt, i, m, None, seed).as_secs_f64();
                assert!(b >= expected * 0.8 - 1e-9 && b <= expected * 1.2 + 1e-9, "{attempt}: {b}");
            }
        }
        assert_eq!(backoff(30, i, m, None, 1), m.min(backoff(30, i, m, None, 1)));
        assert!(backoff(30, i, m, None, 7) <= m);
        assert_eq!(backoff(0, i, m, Some(Duration::from_secs(42)), 3), Duration::from_secs(42));
        assert_eq!(backoff(0, i, m, Some(Duration::from_secs(7200)), 3), m);
    }
}
