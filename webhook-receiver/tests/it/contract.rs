//! The delivery contract, which every destination keeps, checked through
//! the whole receiver (webhook, store, deliverer) against a fake of the
//! destination's service. A destination's tests call [`check`] with the
//! fake, which says how to point the destination at it and how to make it
//! fail ([`Service`]).
//!
//! What [`check`] asserts, each on an incident of its own:
//!
//! 1. order and rate limits: an open refused twice with 429 and
//!    `Retry-After: 2` is tried again no sooner than asked, and the resolve
//!    posted right behind it never overtakes it: one incident at the
//!    service, closed;
//! 2. server errors: a 503 with `Retry-After` is retried no sooner than
//!    asked, and the action then goes through;
//! 3. timeouts: an answer slower than `delivery.timeout` is given up on and
//!    retried at once, and the late answer does not make a second incident;
//! 4. permanent failures: a refusal (400) makes a dead letter at once that
//!    names the destination, the action and the answer, and holds back the
//!    incident's later actions; replayed once the service is fixed, both
//!    arrive, in order;
//! 5. redaction: the destination's secret, which the refusal quotes, shows
//!    neither in the dead letter nor in `/metrics`.
//!
//! A service that is not HTTP (SMTP) names its own codes for these
//! answers ([`Dialect`]); one that cannot ask for a wait (SMTP has no
//! `Retry-After`) is retried on the deliverer's backoff, and the check then
//! asserts order and delivery, not the wait.

use std::time::{Duration, Instant};

use edgewatch_webhook_receiver::ActionKind;

use crate::support::{Alert, PROBE, Running, eventually};

/// How a fake fails on demand.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Failure {
    /// 429 with `Retry-After: <seconds>`.
    RateLimited(u64),
    /// 503 with `Retry-After: <seconds>`.
    Unavailable(u64),
    /// Served, but this late.
    Late(Duration),
}

/// How a service answers the contract's failures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect {
    /// The code of a rate limit.
    pub rate_limited: u16,
    /// The code of a service unavailable for a while.
    pub unavailable: u16,
    /// How a dead letter names the refusal.
    pub refused: &'static str,
    /// Whether the service can ask for a wait before the retry.
    pub asks_to_wait: bool,
}

/// HTTP's: 429 and 503 with `Retry-After`, a 400 refusal.
pub(crate) const HTTP: Dialect =
    Dialect { rate_limited: 429, unavailable: 503, refused: "HTTP 400", asks_to_wait: true };

/// A fake of a destination's service, as the contract drives it.
pub(crate) trait Service {
    /// How it answers the contract's failures.
    fn dialect(&self) -> Dialect {
        HTTP
    }
    /// The destination's entry in the catalog (`{pagerduty: {…}}`), sending
    /// to the fake.
    fn destination(&self) -> String;
    /// What the customer needs besides for the destination to reach it
    /// (contacts for e-mail), as lines of its catalog entry.
    fn customer(&self) -> String {
        String::new()
    }
    /// The secrets the entry refers to, by name.
    fn env(&self) -> Vec<(&'static str, &'static str)>;
    /// The secret the destination sends, which must never show.
    fn secret(&self) -> &'static str;
    /// The next `n` requests fail so.
    fn fail_next(&self, n: usize, failure: Failure);
    /// Every request is refused with a 400 quoting `message` until
    /// [`Service::fix`].
    fn refuse_until_fixed(&self, message: &str);
    /// Ends [`Service::refuse_until_fixed`].
    fn fix(&self);
    /// When each request arrived and the status it got, in arrival order.
    fn answers(&self) -> Vec<(Instant, u16)>;
    /// The incidents the service holds (issues, alerts), oldest first:
    /// whether each is open.
    fn incidents(&self) -> Vec<bool>;
}

/// An alert of `shop` making an incident of its own (`incident` label).
const fn alert(fingerprint: &'static str, incident: &'static [(&'static str, &'static str)]) -> Alert {
    Alert { fingerprint, labels: incident, ..PROBE }
}

const ORDERED: Alert = alert("c000000000000a01", &[("incident", "contract-order")]);
const UNAVAILABLE: Alert = alert("c000000000000a02", &[("incident", "contract-unavailable")]);
const LATE: Alert = alert("c000000000000a03", &[("incident", "contract-late")]);
const REFUSED: Alert = alert("c000000000000a04", &[("incident", "contract-refused")]);

const ENDED: &str = "2026-11-21T09:00:00Z";

/// The `Retry-After` the fakes send, less a little for the clocks.
const ASKED: Duration = Duration::from_millis(1900);

/// Asserts the delivery contract for the destination `service` describes,
/// on a receiver of its own in the scratch folder `name`.
pub(crate) async fn check(name: &str, service: &impl Service) {
    let catalog = format!(
        "destinations:\n  under-test: {}\ncustomers:\n  - id: shop\n    hosts: [shop.example]\n{}    alerting: {{routes: [{{to: [under-test]}}]}}\n",
        service.destination(),
        service.customer(),
    );
    // The backoff is short next to the `Retry-After`s below (2 s), and so is
    // the deliverer's polling (1 s), so that a wait as long as those shows
    // they were honoured.
    let config = "delivery: {timeout: 1s, initial_backoff: 100ms, max_backoff: 5s, max_attempts: 5}\n";
    let r = Running::start(name, &catalog, config, &service.env()).await;
    order_and_rate_limits(&r, service).await;
    server_errors(&r, service).await;
    timeouts(&r, service).await;
    permanent_failures_and_redaction(&r, service).await;
}

/// The answers since the first `from`.
fn answers_since(service: &impl Service, from: usize) -> Vec<(Instant, u16)> {
    service.answers().split_off(from)
}

/// Asserts that the request after the `i`th of `answers` came no sooner
/// than `wait` after it.
fn waited(answers: &[(Instant, u16)], i: usize, wait: Duration, what: &str) {
    let (at, status) = answers[i];
    let next = answers.get(i + 1).unwrap_or_else(|| panic!("{what}: no request after the {status}"));
    let gap = next.0 - at;
    assert!(gap >= wait, "{what}: retried {gap:?} after the {status}, sooner than {wait:?}");
}

/// An incident opened at the service since `known` incidents were.
async fn opened(service: &impl Service, known: usize, what: &str) {
    eventually(what, 20, || service.incidents().len() == known + 1 && service.incidents()[known]).await;
}

/// The incident `known` closed, and nothing more opened.
async fn closed(service: &impl Service, known: usize, what: &str) {
    eventually(what, 20, || service.incidents().get(known) == Some(&false)).await;
    assert_eq!(service.incidents().len(), known + 1, "{what}: one incident at the service");
}

async fn order_and_rate_limits(r: &Running, service: &impl Service) {
    let (from, known) = (service.answers().len(), service.incidents().len());
    service.fail_next(2, Failure::RateLimited(2));
    r.post_ok(&ORDERED.firing()).await;
    r.post_ok(&ORDERED.resolved(ENDED)).await;
    closed(service, known, "rate-limited open, then its resolve").await;
    let answers = answers_since(service, from);
    let d = service.dialect();
    assert_eq!((answers[0].1, answers[1].1), (d.rate_limited, d.rate_limited), "{answers:?}");
    if d.asks_to_wait {
        waited(&answers, 0, ASKED, "the first rate limit");
        waited(&answers, 1, ASKED, "the second rate limit");
    }
}

async fn server_errors(r: &Running, service: &impl Service) {
    let (from, known) = (service.answers().len(), service.incidents().len());
    service.fail_next(1, Failure::Unavailable(2));
    r.post_ok(&UNAVAILABLE.firing()).await;
    opened(service, known, "an open after a 503").await;
    let answers = answers_since(service, from);
    let d = service.dialect();
    assert_eq!(answers[0].1, d.unavailable, "{answers:?}");
    if d.asks_to_wait {
        waited(&answers, 0, ASKED, "the unavailable service");
    }
    r.post_ok(&UNAVAILABLE.resolved(ENDED)).await;
    closed(service, known, "its resolve").await;
}

async fn timeouts(r: &Running, service: &impl Service) {
    let (from, known) = (service.answers().len(), service.incidents().len());
    service.fail_next(1, Failure::Late(Duration::from_secs(3)));
    r.post_ok(&LATE.firing()).await;
    opened(service, known, "an open after a late answer").await;
    let answers = answers_since(service, from);
    let gap = answers[1].0 - answers[0].0;
    assert!(
        gap >= Duration::from_millis(900) && gap < Duration::from_millis(2500),
        "retried {gap:?} after a request left 3s unanswered; the timeout is 1s: {answers:?}"
    );
    // Whatever the late answer does, if it comes, it makes no second incident.
    tokio::time::sleep((answers[0].0 + Duration::from_millis(3500)).saturating_duration_since(Instant::now())).await;
    assert_eq!(service.incidents().len(), known + 1, "one incident for a retried open");
    r.post_ok(&LATE.resolved(ENDED)).await;
    closed(service, known, "its resolve").await;
}

async fn permanent_failures_and_redaction(r: &Running, service: &impl Service) {
    let known = service.incidents().len();
    let secret = service.secret();
    service.refuse_until_fixed(&format!("the credential {secret} is not allowed here"));
    r.post_ok(&REFUSED.firing()).await;
    let letters = r.dead_letters();
    eventually("a dead letter", 10, || letters.list().unwrap().len() == 1).await;
    let dead = letters.list().unwrap().remove(0);
    assert_eq!((dead.destination.as_str(), dead.kind, dead.attempts), ("under-test", ActionKind::Open, 1));
    let refused = service.dialect().refused;
    assert!(dead.reason.contains(refused) && dead.reason.contains("is not allowed here"), "{}", dead.reason);
    assert!(!dead.reason.contains(secret) && dead.reason.contains("**REDACTED**"), "{}", dead.reason);

    // The resolve waits behind the dead open: nothing reaches the service.
    let from = service.answers().len();
    r.post_ok(&REFUSED.resolved(ENDED)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(service.answers().len(), from, "a later action went past a dead letter");
    let metrics = r.metrics().await;
    assert!(metrics.contains("edgewatch_receiver_outbox_pending 1\n"), "{metrics}");
    assert!(metrics.contains("edgewatch_receiver_dead_letters 1\n"), "{metrics}");
    // What the pipeline alerts read is there.
    for name in edgewatch_catalog::names::metric::RECEIVER_SELF {
        assert!(metrics.lines().any(|l| l.starts_with(name)), "/metrics lacks {name}: {metrics}");
    }
    assert!(!metrics.contains(secret), "{metrics}");

    // Fixed and replayed: the open, then the resolve.
    service.fix();
    assert_eq!(letters.replay(None).unwrap(), 1);
    closed(service, known, "the replayed open, then the resolve behind it").await;
    assert!(letters.list().unwrap().is_empty());
}
