//! The exporter's counters, shared by every input and read by `/metrics`.
//!
//! Batches are merged in one step under a lock. Cardinality is bounded here:
//! each customer has at most `hosts_per_customer` hosts (more fold into
//! `host="other"`, counted by an overflow counter); no merge takes the
//! request series past `max_series`: what would is counted in one set for
//! the whole exporter, `customer="other",host="other"`, and by customer in
//! an overflow counter; hosts idle for `idle_timeout` expire.
//! Batches past their own host caps fold hosts before the merge (see
//! [`crate::batch_hosts`]); [`KnownHosts`] tells them which hosts the state
//! counts apart, without its lock.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edgewatch_catalog::names::SloKind;

use crate::batch::Batch;
use crate::common::{CustomerIdx, CustomerKey, DIMENSIONS, SETS, SUMMARIES, summary};
use crate::known_hosts::KnownHosts;
use crate::series::{Bounds, Histogram, HostSeries};
use crate::slo::Slos;
use crate::topk::{Report, WindowedTopK};

/// Label value for traffic of no customer in the catalog.
pub(crate) const UNKNOWN_CUSTOMER: &str = "unknown";
/// Label value that absorbs hosts past a cap.
pub(crate) const OVERFLOW_HOST: &str = "other";
/// Customer label of the exporter-wide overflow set, past `max_series` (a
/// reserved customer id).
pub(crate) const OVERFLOW_CUSTOMER: &str = "other";

/// Cardinality limits.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) hosts_per_customer: usize,
    pub(crate) max_series: usize,
    pub(crate) idle_timeout: Duration,
    /// Top-offender window: slots of this length ...
    pub(crate) top_slot: Duration,
    /// ... this many of them.
    pub(crate) top_slots: usize,
    /// Keys kept per customer and dimension.
    pub(crate) top_capacity: usize,
}

#[derive(Debug)]
pub(crate) struct HostEntry {
    pub(crate) series: HostSeries,
    last_seen: Instant,
}

impl HostEntry {
    fn new(bounds: &Bounds, now: Instant) -> Self {
        Self { series: HostSeries::new(bounds), last_seen: now }
    }

    /// Adds a batch's counts, merged at `now`.
    fn add(&mut self, series: &HostSeries, now: Instant) {
        self.series.merge(series);
        self.last_seen = now;
    }
}

#[derive(Debug, Default)]
pub(crate) struct CustomerState {
    pub(crate) hosts: HashMap<Box<str>, HostEntry>,
    /// Requests folded into the customer's `host="other"` because of a cap.
    pub(crate) overflow: u64,
    /// Requests counted in the exporter-wide set, past `max_series`.
    pub(crate) overflow_exporter: u64,
    /// SLO events, in the order of the customer's [`crate::slo::Slos`];
    /// there from the start, at zero.
    pub(crate) slo: Vec<SloEvents>,
    offenders: Vec<WindowedTopK>,
}

/// One SLO's events.
#[derive(Debug)]
pub(crate) struct SloEvents {
    pub(crate) name: Box<str>,
    pub(crate) kind: SloKind,
    /// Good, bad.
    pub(crate) counts: [u64; 2],
}

/// Counters about the exporter itself, per input.
#[derive(Debug)]
pub(crate) struct InputStats {
    pub(crate) lines_ok: u64,
    pub(crate) lines_malformed: u64,
    pub(crate) batches: HashMap<&'static str, u64>,
    pub(crate) lag: Histogram,
}

#[derive(Debug)]
pub(crate) struct State {
    /// Customer ids, by catalog index; `unknown` last.
    pub(crate) ids: Vec<String>,
    pub(crate) customers: Vec<CustomerState>,
    pub(crate) inputs: HashMap<String, InputStats>,
    pub(crate) limits: Limits,
    pub(crate) bounds: Bounds,
    pub(crate) lag_bounds: Bounds,
    /// Request series of `customers`; with `overflow`'s, what `/metrics`
    /// exposes; never more than `limits.max_series`.
    pub(crate) series_total: usize,
    /// The exporter-wide overflow set (`customer="other",host="other"`):
    /// requests whose series would have gone past `max_series`. One host's
    /// series at most.
    pub(crate) overflow: Option<HostEntry>,
    /// Hosts expired since start.
    pub(crate) expired: u64,
    /// When these counters started (unix seconds): a report that reads
    /// counters at two times trusts their difference only if this did not
    /// change between them.
    pub(crate) started: f64,
    /// The hosts of `customers`, for batches to ask without the lock.
    pub(crate) known: Arc<KnownHosts>,
}

impl State {
    /// `slos[i]`: the SLOs of customer `i` the exporter judges, whose
    /// counters then exist from the start, at zero.
    pub(crate) fn new(ids: Vec<String>, slos: &[Slos], limits: Limits, bounds: Bounds, lag_bounds: Bounds) -> Self {
        let mut ids = ids;
        ids.push(UNKNOWN_CUSTOMER.to_owned());
        let customers = ids
            .iter()
            .enumerate()
            .map(|(i, _)| CustomerState {
                slo: slos.get(i).map_or_else(Vec::new, |s| {
                    s.names().map(|(name, kind)| SloEvents { name: name.into(), kind, counts: [0; 2] }).collect()
                }),
                ..CustomerState::default()
            })
            .collect();
        Self {
            ids,
            customers,
            inputs: HashMap::new(),
            limits,
            bounds,
            lag_bounds,
            series_total: 0,
            overflow: None,
            expired: 0,
            started: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64().floor()),
            known: Arc::default(),
        }
    }

    fn slot(&self, key: CustomerKey) -> usize {
        key.map_or(self.ids.len() - 1, |i| usize::try_from(i).unwrap_or(usize::MAX).min(self.ids.len() - 1))
    }

    /// The customer of a slot, as batches name it.
    fn customer_key(&self, slot: usize) -> CustomerKey {
        if slot + 1 >= self.ids.len() { None } else { CustomerIdx::try_from(slot).ok() }
    }

    /// Counts a batch that added no line to the counters (refused, a
    /// validation upload, a read error), by result.
    pub(crate) fn count_batch(&mut self, input: &str, reason: &'static str) {
        let stats = self.input(input);
        *stats.batches.entry(reason).or_default() += 1;
    }

    fn input(&mut self, input: &str) -> &mut InputStats {
        let lag_bounds = &self.lag_bounds;
        self.inputs.entry(input.to_owned()).or_insert_with(|| InputStats {
            lines_ok: 0,
            lines_malformed: 0,
            batches: HashMap::new(),
            lag: Histogram::new(lag_bounds),
        })
    }

    /// Merges a batch; `now` for expiry bookkeeping, `unix_now` for the
    /// offender windows.
    pub(crate) fn merge(&mut self, input: &str, batch: &Batch, now: Instant, unix_now: u64) {
        for (key, host, series) in batch.series.iter() {
            let c = self.slot(key);
            self.merge_host(c, host, series, now);
        }
        for (&(c, i), &[good, bad]) in &batch.slo {
            let slot = self.slot(Some(c));
            if let Some(e) = self.customers[slot].slo.get_mut(i) {
                e.counts[0] += good;
                e.counts[1] += bad;
            }
        }
        for (key, summaries) in batch.offenders.spilled() {
            for (w, s) in self.offender_windows(key).iter_mut().zip(summaries) {
                w.merge(unix_now, s);
            }
        }
        for (key, dimension, counts) in batch.offenders.groups() {
            if let Some(w) = self.offender_windows(key).get_mut(dimension) {
                w.merge_counts(unix_now, counts);
            }
        }
        let stats = self.input(input);
        stats.lines_ok += batch.lines - batch.malformed;
        stats.lines_malformed += batch.malformed;
        *stats.batches.entry("ok").or_default() += 1;
        stats.lag.merge_from(&batch.lag);
    }

    /// A customer's offender windows, one per set and dimension, made on
    /// first use.
    fn offender_windows(&mut self, key: CustomerKey) -> &mut [WindowedTopK] {
        let c = self.slot(key);
        let limits = &self.limits;
        let windows = &mut self.customers[c].offenders;
        if windows.is_empty() {
            *windows = (0..SUMMARIES)
                .map(|_| WindowedTopK::new(limits.top_capacity, limits.top_slot.as_secs().max(1), limits.top_slots))
                .collect();
        }
        windows
    }

    /// `host`: `None` for hosts the batch folded already (past its caps).
    /// The counts go to the host's own series, else to the customer's
    /// `other` (past `hosts_per_customer`), else, when either would take the
    /// series past `max_series`, to the exporter-wide overflow set.
    fn merge_host(&mut self, c: usize, host: Option<&str>, series: &HostSeries, now: Instant) {
        let key = self.customer_key(c);
        let customer = &self.customers[c];
        let own =
            host.filter(|h| customer.hosts.contains_key(*h) || customer.hosts.len() < self.limits.hosts_per_customer);
        let room = |target: &str| {
            let added = customer.hosts.get(target).map_or_else(|| series.series(), |e| e.series.added_by(series));
            self.series_total + added <= self.limits.max_series
        };
        let target = [own, Some(OVERFLOW_HOST)].into_iter().flatten().find(|t| room(t));
        let customer = &mut self.customers[c];
        let Some(target) = target else {
            customer.overflow_exporter += series.total();
            let bounds = &self.bounds;
            self.overflow.get_or_insert_with(|| HostEntry::new(bounds, now)).add(series, now);
            return;
        };
        if host != Some(target) {
            customer.overflow += series.total();
        }
        let bounds = &self.bounds;
        let hosts_before = customer.hosts.len();
        let entry = customer.hosts.entry(target.into()).or_insert_with(|| HostEntry::new(bounds, now));
        let before = entry.series.series();
        entry.add(series, now);
        self.series_total = self.series_total + entry.series.series() - before;
        if customer.hosts.len() > hosts_before {
            self.known.insert(key, target);
        }
    }

    /// Drops hosts not seen for the idle timeout.
    pub(crate) fn expire(&mut self, now: Instant) {
        let idle = self.limits.idle_timeout;
        for c in 0..self.customers.len() {
            let key = self.customer_key(c);
            let (known, series_total, expired) = (&self.known, &mut self.series_total, &mut self.expired);
            self.customers[c].hosts.retain(|name, h| {
                let keep = now.saturating_duration_since(h.last_seen) < idle;
                if !keep {
                    *series_total -= h.series.series();
                    *expired += 1;
                    known.remove(key, name);
                }
                keep
            });
        }
        if self.overflow.as_ref().is_some_and(|o| now.saturating_duration_since(o.last_seen) >= idle) {
            self.overflow = None;
        }
    }

    /// Top keys of a customer along one dimension, among one set of its
    /// requests (`offending` or `requests`).
    pub(crate) fn top(&self, customer: &str, set: &str, dimension: &str, n: usize, unix_now: u64) -> Option<Report> {
        let c = self.ids.iter().position(|id| id == customer)?;
        let s = SETS.iter().position(|x| *x == set)?;
        let d = DIMENSIONS.iter().position(|x| *x == dimension)?;
        let window = self.customers[c].offenders.get(summary(s, d));
        Some(window.map_or_else(
            || Report {
                window_seconds: self.limits.top_slot.as_secs() * self.limits.top_slots as u64,
                total: 0,
                entries: Vec::new(),
                unlisted: 0,
            },
            |w| w.top(unix_now, n),
        ))
    }
}

impl Histogram {
    /// Adds another histogram with the same bounds (exemplars aside).
    pub(crate) fn merge_from(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.sum += other.sum;
        if let (Some(a), Some(b)) = (&mut self.native, &other.native) {
            a.merge(b);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::batch::tests::context;
    use crate::classify::{CACHE_STATUSES, ORIGIN_ERRORS, SECURITY_ACTIONS, STATUS_CLASSES};

    /// A set of known hosts, as a state holding these would have.
    pub(crate) fn known(hosts: &[(CustomerKey, &str)]) -> KnownHosts {
        let known = KnownHosts::default();
        for (c, h) in hosts {
            known.insert(*c, h);
        }
        known
    }

    fn limits(hosts: usize, series: usize) -> Limits {
        Limits {
            hosts_per_customer: hosts,
            max_series: series,
            idle_timeout: Duration::from_secs(60),
            top_slot: Duration::from_secs(60),
            top_slots: 5,
            top_capacity: 32,
        }
    }

    fn batch_of(cx: &crate::context::Context, lines: &str) -> Batch {
        let mut b = Batch::new(cx);
        b.add_lines(lines.as_bytes(), &crate::batch::tests::LOGPUSH, cx, 0.0);
        b
    }

    const THREE_HOSTS: &str = r#"{"ClientRequestHost":"a.stranger.example","EdgeResponseStatus":200}
{"ClientRequestHost":"b.stranger.example","EdgeResponseStatus":200}
{"ClientRequestHost":"c.stranger.example","EdgeResponseStatus":200}
"#;

    #[test]
    fn hosts_past_the_cap_fold_into_other() {
        let cx = context();
        let mut s =
            State::new(vec!["acme".into()], &cx.slos, limits(2, 10_000), cx.bounds.clone(), cx.lag_bounds.clone());
        s.merge("push", &batch_of(&cx, THREE_HOSTS), Instant::now(), 0);
        let unknown = &s.customers[1];
        assert_eq!(unknown.hosts.len(), 3, "two hosts and other");
        assert!(unknown.hosts.contains_key(OVERFLOW_HOST));
        assert_eq!(unknown.overflow, 1);
        let total: u64 = unknown.hosts.values().map(|h| h.series.total()).sum();
        assert_eq!(total, 3, "nothing dropped");
    }

    #[test]
    fn the_series_cap_sends_what_does_not_fit_to_the_exporter_wide_set() {
        let cx = context();
        let mut s = State::new(vec!["acme".into()], &cx.slos, limits(100, 1), cx.bounds.clone(), cx.lag_bounds.clone());
        s.merge("push", &batch_of(&cx, THREE_HOSTS), Instant::now(), 0);
        assert_eq!(s.customers[1].hosts.len(), 1, "the first host; no room for other");
        assert_eq!((s.customers[1].overflow, s.customers[1].overflow_exporter), (0, 2));
        assert_eq!(s.overflow.as_ref().map(|o| o.series.total()), Some(2));
        assert_eq!(s.series_total, 1);
    }

    /// Many customers' worth of hosts, statuses and latencies against a
    /// small cap: the request series never pass it, the exporter-wide set
    /// stays one host's worth, and every request is counted somewhere, the
    /// folded ones by the overflow counters too.
    #[test]
    fn the_series_cap_bounds_the_total_and_loses_no_request() {
        let cx = context();
        let mut s = State::new(vec!["acme".into()], &cx.slos, limits(10, 60), cx.bounds.clone(), cx.lag_bounds.clone());
        let mut lines = 0u64;
        for round in 0..20u64 {
            let mut batch = String::new();
            for i in 0..50u64 {
                let status = [200, 404, 503, 301][usize::try_from((i + round) % 4).unwrap()];
                let _ = writeln!(
                    batch,
                    r#"{{"ClientRequestHost":"h{}.stranger.example","EdgeResponseStatus":{status},"EdgeTimeToFirstByteMs":{}}}"#,
                    (i * 7 + round) % 40,
                    i * 13 % 900
                );
                lines += 1;
            }
            s.merge("push", &batch_of(&cx, &batch), Instant::now(), 0);
            assert!(s.series_total <= 60, "round {round}: {} series", s.series_total);
        }
        let unknown = &s.customers[1];
        let own: u64 =
            unknown.hosts.iter().filter(|(h, _)| &***h != OVERFLOW_HOST).map(|(_, e)| e.series.total()).sum();
        let other = unknown.hosts.get(OVERFLOW_HOST).map_or(0, |e| e.series.total());
        let exporter = s.overflow.as_ref().map_or(0, |o| o.series.total());
        assert_eq!(own + other + exporter, lines, "every request counted");
        assert_eq!(
            unknown.overflow + unknown.overflow_exporter,
            other + exporter,
            "and the folded ones by the counters"
        );
        assert!(exporter > 0, "the cap was reached");
        let histogram = cx.bounds.le.len() + 3;
        let one_host = STATUS_CLASSES.len() * CACHE_STATUSES.len()
            + 2 * histogram
            + ORIGIN_ERRORS.len()
            + SECURITY_ACTIONS.len()
            + 1;
        assert!(s.overflow.as_ref().is_some_and(|o| o.series.series() <= one_host));
    }

    #[test]
    fn idle_hosts_expire() {
        let cx = context();
        let mut s =
            State::new(vec!["acme".into()], &cx.slos, limits(10, 10_000), cx.bounds.clone(), cx.lag_bounds.clone());
        let t0 = Instant::now();
        s.merge("push", &batch_of(&cx, THREE_HOSTS), t0, 0);
        assert!(s.series_total > 0);
        s.expire(t0 + Duration::from_secs(30));
        assert_eq!(s.customers[1].hosts.len(), 3);
        s.expire(t0 + Duration::from_secs(61));
        assert_eq!(s.customers[1].hosts.len(), 0);
        assert_eq!((s.series_total, s.expired), (0, 3));
    }

    #[test]
    fn batches_learn_which_hosts_the_state_counts_apart() {
        let cx = context();
        let mut s =
            State::new(vec!["acme".into()], &cx.slos, limits(2, 10_000), cx.bounds.clone(), cx.lag_bounds.clone());
        let t0 = Instant::now();
        s.merge("push", &batch_of(&cx, THREE_HOSTS), t0, 0);
        let known = |h: &str| s.known.contains(None, h);
        assert_eq!(
            (known("a.stranger.example"), known("b.stranger.example"), known("c.stranger.example"), known("other")),
            (true, true, false, true)
        );
        assert!(!s.known.contains(Some(0), "a.stranger.example"), "per customer");
        s.expire(t0 + Duration::from_secs(61));
        assert!(!s.known.contains(None, "a.stranger.example"), "expired hosts are forgotten");
        assert!(s.known.is_empty());
    }

    #[test]
    fn hosts_a_batch_folded_count_as_overflow_and_known_hosts_keep_their_series() {
        let mut cx = context();
        cx.hosts_per_customer = 1;
        let mut s =
            State::new(vec!["acme".into()], &cx.slos, limits(10, 10_000), cx.bounds.clone(), cx.lag_bounds.clone());
        cx.known = Arc::clone(&s.known);
        let one = "{\"ClientRequestHost\":\"c.stranger.example\",\"EdgeResponseStatus\":200}\n";
        s.merge("push", &batch_of(&cx, one), Instant::now(), 0);
        // a takes the batch's one slot for new hosts, b is folded; c has
        // its series in the state, so it keeps it in the batch too.
        let b = batch_of(&cx, THREE_HOSTS);
        assert!(b.series.folded(None).is_some_and(|f| f.total() == 1));
        s.merge("push", &b, Instant::now(), 0);
        let unknown = &s.customers[1];
        let totals: HashMap<&str, u64> = unknown.hosts.iter().map(|(h, e)| (&**h, e.series.total())).collect();
        assert_eq!(totals, HashMap::from([("a.stranger.example", 1), ("c.stranger.example", 2), (OVERFLOW_HOST, 1)]));
        assert_eq!(unknown.overflow, 1, "b, folded by the batch");
    }
}
