//! One batch of log lines, aggregated without touching shared state: a push
//! body or a chunk of a tailed file becomes a [`Batch`], which is then merged
//! into the shared [`crate::state::State`] in one short critical section.

use crate::batch_hosts::BatchHosts;
use crate::classify;
use crate::common::{CustomerIdx, FastMap, summary};
use crate::context::Context;
use crate::format::{Format, Memo};
use crate::record::Record;
use crate::series::Histogram;
use crate::tally::Tally;

/// Keys are owned (one copy per distinct host per batch), so a batch can
/// outlive the buffer its lines were read from.
#[derive(Debug)]
pub(crate) struct Batch {
    /// Counts per customer and host.
    pub(crate) series: BatchHosts,
    /// Top keys among all requests and among mitigated and failed ones.
    pub(crate) offenders: Tally,
    /// SLO events by customer and SLO (its index in the customer's
    /// [`crate::slo::Slos`]): good, bad.
    pub(crate) slo: FastMap<(CustomerIdx, usize), [u64; 2]>,
    pub(crate) lines: u64,
    pub(crate) malformed: u64,
    /// Ingest lag: now minus the record's end time.
    pub(crate) lag: Histogram,
    /// What the batch's earlier lines taught its parser.
    memo: Memo,
}

/// The offender sets, as indexes into [`crate::common::SETS`].
const OFFENDING: usize = 0;
const REQUESTS: usize = 1;

impl Batch {
    pub(crate) fn new(cx: &Context) -> Self {
        Self {
            series: BatchHosts::default(),
            offenders: cx.tally(),
            slo: FastMap::default(),
            lines: 0,
            malformed: 0,
            lag: Histogram::new(&cx.lag_bounds),
            memo: Memo::default(),
        }
    }

    /// Hands the batch's allocations back for the next batch, once merged.
    pub(crate) fn recycle(self, cx: &Context) {
        cx.recycle(self.offenders);
    }

    /// Adds every line of `data` (newline-separated; blank lines skipped).
    pub(crate) fn add_lines(&mut self, data: &[u8], format: &Format, cx: &Context, now: f64) {
        let parser = format.parser();
        for line in crate::lines::split(data) {
            self.lines += 1;
            let mut r = Record::default();
            match parser.parse_into(line, &mut self.memo, &mut r) {
                Ok(()) => self.add(&r, cx, now),
                Err(_) => self.malformed += 1,
            }
        }
    }

    fn add(&mut self, r: &Record<'_>, cx: &Context, now: f64) {
        let at = self.series.locate(r.host.as_deref(), r.zone.as_deref(), cx);
        let customer = at.customer;
        if let Some(c) = customer
            && let Some(slos) = cx.slos.get(c as usize)
        {
            let counts = &mut self.slo;
            slos.judge(r, at.slo_excluded, |i, bad| counts.entry((c, i)).or_default()[usize::from(bad)] += 1);
        }
        let Some(s) = self.series.series_mut(at.series) else { return };

        let class = r.edge_status.map_or(classify::STATUS_CLASSES.len() - 1, classify::status_class);
        let cache = classify::cache_status(r.cache_status.as_deref());
        s.requests[class][cache] += 1;
        let time = r.end.map(crate::timestamp::Timestamp::as_secs_f64);
        let exemplar = r.ray_id.as_deref().map(|id| (id, time));
        if let Some(v) = r.ttfb {
            s.ttfb.observe(&cx.bounds, v, exemplar);
        }
        // An origin that never answered has no duration to count.
        if let (Some(v), Some(status)) = (r.origin_duration, r.origin_status)
            && status != 0
        {
            s.origin.observe(&cx.bounds, v, exemplar);
        }
        if let Some(kind) = classify::origin_error(r.edge_status, r.origin_status) {
            s.origin_errors[kind] += 1;
        }
        let action = classify::security_action(r.security_action.as_deref());
        if let Some(a) = action {
            s.security[a] += 1;
        }
        // Client-reported sizes can be anything up to `u64::MAX`: saturate.
        s.bytes = s.bytes.saturating_add(r.bytes.unwrap_or(0));
        if let Some(t) = time {
            self.lag.observe(&cx.lag_bounds, (now - t).max(0.0), None);
        }

        // Top keys among mitigated and failed requests (4xx: a client's
        // errors, the signal of scanning and credential stuffing; 5xx),
        // all counted, and
        // among all requests, one line in `request_sample` with that
        // weight: counting every line's five keys cost the exporter 30% of
        // its throughput (docs/performance.md), and a heavy hitter of all
        // requests (a few percent of a customer's traffic, thousands of
        // lines in a window) is estimated within a few percent from one
        // line in eight.
        let failed = r.edge_status.is_some_and(|c| c >= 400);
        let offending = action.is_some_and(classify::is_mitigation) || failed;
        let sampled = self.lines.is_multiple_of(cx.request_sample);
        if !offending && !sampled {
            return;
        }
        let mut asn = itoa::Buffer::new();
        let keys = [
            r.client_ip.as_deref(),
            r.client_asn.map(|a| asn.format(a).as_bytes()),
            r.client_country.as_deref(),
            r.path.as_deref(),
            r.user_agent.as_deref(),
        ];
        for (dimension, key) in keys.into_iter().enumerate() {
            if let Some(k) = key.filter(|k| !k.is_empty()).and_then(|k| std::str::from_utf8(k).ok()) {
                if sampled {
                    self.offenders.add_weighted(customer, summary(REQUESTS, dimension), k, cx.request_sample);
                }
                if offending {
                    self.offenders.add_weighted(customer, summary(OFFENDING, dimension), k, 1);
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::context::SPARE_TALLY_BYTES;
    use crate::hosts::HostIndex;
    use crate::series::Bounds;

    pub(crate) fn context() -> Context {
        context_of("customers:\n  - {id: acme, hosts: [www.acme.example]}\n")
    }

    /// A context of this catalog, with the default host caps.
    pub(crate) fn context_of(catalog_yaml: &str) -> Context {
        let catalog = edgewatch_catalog::load_str("c.yaml", catalog_yaml).unwrap().catalog;
        let limits = crate::config::LimitsConfig::default();
        Context {
            hosts: HostIndex::new(&catalog),
            bounds: Bounds::new(vec![0.1, 0.3, 1.0]),
            lag_bounds: Bounds::new(vec![10.0, 60.0]),
            top_keys: 16,
            request_sample: 1,
            slos: crate::slo::Slos::of(&catalog),
            batch_hosts: limits.batch_hosts,
            hosts_per_customer: limits.hosts_per_customer,
            known: std::sync::Arc::default(),
            spare_tallies: std::sync::Mutex::default(),
        }
    }

    #[test]
    fn a_client_field_that_is_not_utf8_costs_the_key_not_the_line() {
        let cx = context();
        let mut data = br#"{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":503,"ClientIP":"192.0.2.9","ClientRequestPath":"/"#.to_vec();
        data.extend_from_slice(b"\xff\xfe");
        data.extend_from_slice(br#""}"#);
        let mut b = Batch::new(&cx);
        b.add_lines(&data, &LOGPUSH, &cx, 0.0);
        assert_eq!((b.lines, b.malformed), (1, 0));
        let offered: Vec<_> = b.offenders.counts().map(|(_, d, k, _)| (d, k.to_owned())).collect();
        assert_eq!(
            offered,
            [(summary(REQUESTS, 0), "192.0.2.9".to_owned()), (summary(OFFENDING, 0), "192.0.2.9".to_owned())],
            "the address counts among requests (the test counts every line) and failed ones; the path is skipped"
        );
    }

    pub(crate) const LOGPUSH: Format = Format::Logpush;

    /// Found by the `nginx_line` fuzz target: two byte counts near `u64::MAX`
    /// overflowed the host's sum (a panic with overflow checks on, a wrap
    /// without). The sum saturates.
    #[test]
    fn byte_counts_near_the_limit_saturate_instead_of_overflowing() {
        let cx = context();
        // 2^63: exact as the JSON reader's f64, and two of them overflow.
        let line = format!(
            r#"{{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200,"EdgeResponseBytes":{}}}"#,
            1u64 << 63
        );
        let mut b = Batch::new(&cx);
        b.add_lines(format!("{line}\n{line}\n").as_bytes(), &LOGPUSH, &cx, 0.0);
        assert_eq!(b.lines, 2);
        assert_eq!(b.series.get(Some(0), "www.acme.example").unwrap().bytes, u64::MAX);
        let mut other = Batch::new(&cx);
        other.add_lines(format!("{line}\n").as_bytes(), &LOGPUSH, &cx, 0.0);
        let mut merged = b.series.get(Some(0), "www.acme.example").unwrap().clone();
        merged.merge(other.series.get(Some(0), "www.acme.example").unwrap());
        assert_eq!(merged.bytes, u64::MAX, "merging saturates too");
    }

    #[test]
    fn counts_lines_by_customer_and_host() {
        let cx = context();
        let data = br#"{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200,"CacheCacheStatus":"hit","EdgeTimeToFirstByteMs":50,"RayID":"r1","EdgeEndTimestamp":1000}
{"ClientRequestHost":"WWW.ACME.EXAMPLE","EdgeResponseStatus":503,"OriginResponseStatus":0,"CacheCacheStatus":"dynamic","SecurityAction":"block","ClientIP":"192.0.2.1"}

not json
{"ClientRequestHost":"stranger.example","EdgeResponseStatus":404}
"#;
        let mut b = Batch::new(&cx);
        b.add_lines(data, &LOGPUSH, &cx, 1030.0);
        assert_eq!((b.lines, b.malformed), (4, 1));
        let acme = b.series.get(Some(0), "www.acme.example").unwrap();
        assert_eq!(acme.total(), 2);
        assert_eq!(acme.requests[1][0], 1, "2xx hit");
        assert_eq!(acme.requests[4][8], 1, "5xx dynamic");
        assert_eq!(acme.ttfb.count(), 1);
        assert_eq!(acme.ttfb.exemplars[0].as_ref().map(|e| &*e.ray_id), Some("r1"));
        assert_eq!(acme.origin.count(), 0, "no origin answer, no origin duration");
        assert_eq!(acme.origin_errors.iter().sum::<u64>(), 1);
        assert_eq!(b.series.get(None, "stranger.example").unwrap().total(), 1, "unknown customer, still counted");
        assert_eq!(b.lag.count(), 1);
        let ips: Vec<_> = b.offenders.counts().filter(|(_, d, _, _)| *d == 0).collect();
        assert_eq!(ips, [(Some(0), 0, "192.0.2.1", 1)], "only the blocked request's address");
        let requests: Vec<_> = b.offenders.counts().filter(|(_, d, _, _)| *d == summary(REQUESTS, 4)).collect();
        assert!(requests.is_empty(), "no request had a user agent");
    }

    #[test]
    fn a_batch_of_endless_hosts_stays_within_its_caps_and_counts_every_line() {
        let mut cx = context();
        (cx.hosts_per_customer, cx.batch_hosts) = (10, 50);
        let mut data = String::new();
        for i in 0..20_000 {
            let line = format!(
                r#"{{"ClientRequestHost":"h{i}.stranger.example","EdgeResponseStatus":200,"EdgeTimeToFirstByteMs":5,"RayID":"{i}"}}"#
            );
            data.push_str(&line);
            data.push('\n');
            if i % 100 == 0 {
                data.push_str(r#"{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200}"#);
                data.push('\n');
            }
        }
        let mut b = Batch::new(&cx);
        b.add_lines(data.as_bytes(), &LOGPUSH, &cx, 0.0);
        assert_eq!(b.lines, 20_200);

        // Ten strangers and acme's host apart, the other strangers folded.
        let sizes = b.series.sizes();
        assert_eq!((sizes.own, sizes.series), (11, 12));
        assert!(sizes.index_capacity < 2 * cx.batch_hosts, "{sizes:?}");
        assert!(sizes.seen <= cx.batch_hosts && sizes.seen_capacity < 2 * cx.batch_hosts, "{sizes:?}");
        assert_eq!(b.series.folded(None).map(crate::series::HostSeries::total), Some(19_990));
        assert_eq!(b.series.get(Some(0), "www.acme.example").map(crate::series::HostSeries::total), Some(200));
        let total: u64 = b.series.iter().map(|(_, _, s)| s.total()).sum();
        assert_eq!(total, 20_200, "every line counted once");

        // The state adds the folded hosts to `other` and to the overflow.
        let limits = crate::state::Limits {
            hosts_per_customer: 100,
            max_series: 10_000,
            idle_timeout: std::time::Duration::from_secs(60),
            top_slot: std::time::Duration::from_secs(60),
            top_slots: 5,
            top_capacity: 16,
        };
        let mut state =
            crate::state::State::new(vec!["acme".into()], &[], limits, cx.bounds.clone(), cx.lag_bounds.clone());
        state.merge("push", &b, std::time::Instant::now(), 0);
        let unknown = &state.customers[1];
        assert_eq!(unknown.hosts.len(), 11, "ten strangers and other");
        assert_eq!(unknown.overflow, 19_990);
        assert_eq!(unknown.hosts.get(crate::state::OVERFLOW_HOST).map(|h| h.series.total()), Some(19_990));
    }

    #[test]
    fn only_tallies_of_ordinary_size_are_kept_for_reuse() {
        let cx = context();
        let mut big = Batch::new(&cx);
        for i in 0..100_000 {
            big.offenders.add(None, 3, &format!("/path/number/{i}"));
        }
        assert!(big.offenders.allocated() > SPARE_TALLY_BYTES);
        big.recycle(&cx);
        assert_eq!(cx.spare_tallies.lock().unwrap().len(), 0, "freed, not kept");
        let mut small = Batch::new(&cx);
        small.offenders.add(None, 3, "/");
        small.recycle(&cx);
        assert_eq!(cx.spare_tallies.lock().unwrap().len(), 1);
    }
}
