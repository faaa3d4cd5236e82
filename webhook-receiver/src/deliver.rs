//! The deliverer: takes due actions from the outbox, renders their text
//! with the live values of the moment, hands them to their destination, and
//! records the outcome: delivered, retried later (exponential backoff with
//! jitter, or the service's `Retry-After`), or a dead letter. Only one action
//! per incident and destination is in flight, so they arrive in order.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Inner;
use crate::action::Delivery;
use crate::dest::{DeliveryError, Outcome};
use crate::store::Pending;
use crate::time::now_ms;

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
/// at most `permits`' worth at once, until `stop` turns true (or the task is
/// dropped). Deliveries in progress then go on in their own tasks: the
/// caller waits for them by taking every permit.
pub(crate) async fn run(
    inner: Arc<Inner>,
    permits: Arc<tokio::sync::Semaphore>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let store = Arc::clone(&inner.store);
    let settle = inner.delivery.settle_ms;
    match tokio::task::spawn_blocking(move || store.recover(now_ms(), settle)).await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::warn!(
            actions = n,
            settle_ms = settle,
            "attempts interrupted by a stop; they run again after the settle time"
        ),
        Ok(Err(e)) => tracing::error!(error = %e, "cannot recover interrupted attempts"),
        Err(e) => tracing::error!(error = %e, "recovery task failed"),
    }
    loop {
        if *stop.borrow() {
            return;
        }
        let store = Arc::clone(&inner.store);
        let limit = inner.delivery.concurrency * 4;
        let due = tokio::task::spawn_blocking(move || store.due(now_ms(), limit)).await;
        match due {
            Ok(Ok(rows)) => {
                for p in rows {
                    if *stop.borrow() {
                        return;
                    }
                    if !inner.in_flight.claim(&p) {
                        continue;
                    }
                    let Ok(permit) = Arc::clone(&permits).acquire_owned().await else { return };
                    if *stop.borrow() {
                        inner.in_flight.release(&p);
                        return;
                    }
                    let inner = Arc::clone(&inner);
                    tokio::spawn(async move {
                        deliver_one(&inner, &p).await;
                        inner.in_flight.release(&p);
                        drop(permit);
                        // The next action of the pair may be due now.
                        inner.wake.notify_one();
                    });
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "cannot read the outbox; retrying"),
            Err(e) => tracing::error!(error = %e, "outbox reader failed"),
        }
        tokio::select! {
            _ = tokio::time::timeout(Duration::from_secs(1), inner.wake.notified()) => {}
            _ = stop.changed() => {}
        }
    }
}

/// One action, its logs carrying the incident, customer, destination and action.
async fn deliver_one(inner: &Inner, p: &Pending) {
    let span = tracing::info_span!("deliver", incident = %p.incident.key, customer = p.incident.customer.as_deref().unwrap_or(""), destination = %p.destination, action = p.kind.as_str());
    // Instrumented, not entered: a guard held across awaits would leak the
    // span into whatever else the thread runs meanwhile.
    tracing::Instrument::instrument(deliver_in_span(inner, p), span).await;
}

async fn deliver_in_span(inner: &Inner, p: &Pending) {
    let result = attempt(inner, p).await;
    let now = now_ms();
    let store = Arc::clone(&inner.store);
    let (id, attempts) = (p.id, p.attempts + 1);
    let outcome = match result {
        Ok(Outcome::Delivered { external }) => {
            inner.metrics.action(&p.destination, "delivered");
            tracing::info!(attempts, "delivered");
            tokio::task::spawn_blocking(move || store.delivered(id, external.as_deref(), now)).await
        }
        Err(DeliveryError::Transient { reason, retry_after }) if attempts < inner.delivery.max_attempts => {
            let wait = backoff(
                p.attempts,
                inner.delivery.initial_backoff,
                inner.delivery.max_backoff,
                retry_after,
                id.unsigned_abs() ^ u64::from(attempts),
            );
            inner.metrics.action(&p.destination, "retried");
            tracing::warn!(attempts, retry_in_ms = wait.as_millis(), %reason, "delivery failed; retrying");
            let next = now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
            tokio::task::spawn_blocking(move || store.retry_at(id, next, &reason)).await
        }
        Err(e) => {
            let reason = match &e {
                DeliveryError::Transient { reason, .. } => format!("gave up after {attempts} attempts: {reason}"),
                DeliveryError::Permanent { reason } => reason.clone(),
            };
            inner.metrics.action(&p.destination, "dead");
            tracing::error!(attempts, %reason, "delivery failed for good; kept as a dead letter");
            tokio::task::spawn_blocking(move || store.dead(id, &reason, now)).await
        }
    };
    // Unrecorded, the action stays pending and is tried again: at worst
    // delivered twice, never lost.
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "cannot record a delivery outcome"),
        Err(e) => tracing::error!(error = %e, "cannot record a delivery outcome"),
    }
}

async fn attempt(inner: &Inner, p: &Pending) -> Result<Outcome, DeliveryError> {
    // Marked before anything leaves: a crash from here on is known at start.
    let store = Arc::clone(&inner.store);
    let id = p.id;
    match tokio::task::spawn_blocking(move || store.begin(id, now_ms())).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(DeliveryError::Transient { reason: e.to_string(), retry_after: None }),
        Err(e) => return Err(DeliveryError::Transient { reason: e.to_string(), retry_after: None }),
    }
    let Some(dest) = inner.destinations.get(&p.destination) else {
        return Err(DeliveryError::Permanent {
            reason: format!("destination `{}` is not in the catalog any more", p.destination),
        });
    };
    let live = match &inner.prometheus {
        Some(prom) => {
            let started = std::time::Instant::now();
            let v = prom.values(&p.incident).await;
            inner.metrics.enrichment(started.elapsed().as_secs_f64());
            v
        }
        None => BTreeMap::new(),
    };
    let message = crate::text::message(&inner.templates, &inner.catalog, &p.incident, p.kind, &inner.bases, &live)
        .map_err(|e| DeliveryError::Permanent { reason: e.to_string() })?;
    let customer = p.incident.customer.as_deref().and_then(|id| inner.catalog.customer(id));
    let jira_project = customer.and_then(|c| c.jira_project.as_ref()).map(edgewatch_catalog::JiraKey::as_str);
    let d = Delivery {
        kind: p.kind,
        incident: &p.incident,
        message: &message,
        external: p.external.as_deref(),
        jira_project,
        alertmanager_url: inner.bases.alertmanager.as_deref(),
    };
    dest.deliver(&d).await
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
