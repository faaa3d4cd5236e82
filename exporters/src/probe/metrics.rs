//! What the prober knows after each run, and its families on `/metrics`.
//!
//! Series exist per address of the latest run: an address that left DNS
//! stops being shown at once, so that `edgewatch_probe_success` says what
//! the probe sees now. Its counters are kept an hour, so an address that
//! comes back (DNS rotation) continues its counts rather than restarting.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use edgewatch_catalog::names::{label, metric};

use super::run::{Outcome, Phase};
use crate::writer::{Kind, Writer};

/// How long the counters of an address that is no longer probed are kept.
const RETAIN: Duration = Duration::from_secs(3600);

/// Every probe's latest results.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// In exposition order (customer, then probe).
    probes: Vec<Series>,
}

#[derive(Debug)]
struct Series {
    customer: String,
    probe: String,
    /// Runs recorded; an address is current when its `run` equals this.
    runs: u64,
    addresses: BTreeMap<IpAddr, Address>,
}

#[derive(Debug)]
struct Address {
    run: u64,
    seen: Instant,
    success: bool,
    status: u16,
    phases: [f64; 5],
    not_after: Option<i64>,
    successes: u64,
    failures: u64,
}

impl Metrics {
    /// Room for each `(customer, probe)`, indexed in the given order.
    pub(crate) fn new(probes: impl IntoIterator<Item = (String, String)>) -> Self {
        let probes = probes
            .into_iter()
            .map(|(customer, probe)| Series { customer, probe, runs: 0, addresses: BTreeMap::new() })
            .collect();
        Self { probes }
    }

    /// Records the run of probe `index`. Returns, per outcome, whether its
    /// address succeeded the run before (`None`: first seen), so that
    /// changes can be logged louder than repeats.
    pub(crate) fn record(&mut self, index: usize, outcomes: &[Outcome], now: Instant) -> Vec<Option<bool>> {
        let Some(series) = self.probes.get_mut(index) else {
            return Vec::new();
        };
        series.runs += 1;
        let run = series.runs;
        let mut before = Vec::with_capacity(outcomes.len());
        for o in outcomes {
            let success = o.failure.is_none();
            // Only the run just before counts: an address back after a gap
            // is news again.
            let previous = series.addresses.get(&o.ip).filter(|a| a.run + 1 == run).map(|a| a.success);
            before.push(previous);
            let entry = series.addresses.entry(o.ip).or_insert(Address {
                run: 0,
                seen: now,
                success,
                status: 0,
                phases: [0.0; 5],
                not_after: None,
                successes: 0,
                failures: 0,
            });
            entry.run = run;
            entry.seen = now;
            entry.success = success;
            entry.status = o.status;
            entry.phases = o.phases;
            entry.not_after = o.not_after;
            if success {
                entry.successes += 1;
            } else {
                entry.failures += 1;
            }
        }
        series.addresses.retain(|_, a| a.run == run || now.duration_since(a.seen) < RETAIN);
        before
    }

    /// The addresses of each probe's latest run.
    fn current(&self) -> impl Iterator<Item = (&Series, String, &Address)> {
        self.probes.iter().flat_map(|s| {
            s.addresses.iter().filter(|(_, a)| a.run == s.runs).map(move |(ip, a)| (s, ip.to_string(), a))
        })
    }

    /// Writes the prober's families; nothing when there are no probes.
    pub(crate) fn write(&self, w: &mut Writer) {
        if self.probes.is_empty() {
            return;
        }
        let rows: Vec<_> = self.current().collect();

        w.family(
            metric::PROBE_SUCCESS,
            "Whether the last probe of an address succeeded (1) or not (0).",
            Kind::Gauge,
            None,
        );
        for (s, ip, a) in &rows {
            let labels = [(label::CUSTOMER, s.customer.as_str()), (label::PROBE, s.probe.as_str()), (label::IP, ip)];
            w.gauge(metric::PROBE_SUCCESS, &labels, f64::from(u8::from(a.success)));
        }
        w.family(metric::PROBES_TOTAL, "Probes run, by address and result.", Kind::Counter, None);
        for (s, ip, a) in &rows {
            for (result, n) in [("success", a.successes), ("failure", a.failures)] {
                let labels = [
                    (label::CUSTOMER, s.customer.as_str()),
                    (label::PROBE, s.probe.as_str()),
                    (label::IP, ip),
                    (label::RESULT, result),
                ];
                w.counter(metric::PROBES_TOTAL, &labels, n);
            }
        }
        w.family(
            metric::PROBE_DURATION_SECONDS,
            "Time each phase of the last probe of an address took.",
            Kind::Gauge,
            Some("seconds"),
        );
        for (s, ip, a) in &rows {
            for (phase, secs) in Phase::ALL.iter().zip(a.phases) {
                let labels = [
                    (label::CUSTOMER, s.customer.as_str()),
                    (label::PROBE, s.probe.as_str()),
                    (label::IP, ip),
                    (label::PHASE, phase.as_str()),
                ];
                w.gauge(metric::PROBE_DURATION_SECONDS, &labels, secs);
            }
        }
        w.family(
            metric::PROBE_HTTP_STATUS_CODE,
            "HTTP status of the last probe of an address; 0 when no response came.",
            Kind::Gauge,
            None,
        );
        for (s, ip, a) in &rows {
            let labels = [(label::CUSTOMER, s.customer.as_str()), (label::PROBE, s.probe.as_str()), (label::IP, ip)];
            w.gauge(metric::PROBE_HTTP_STATUS_CODE, &labels, f64::from(a.status));
        }
        w.family(
            metric::PROBE_TLS_NOT_AFTER,
            "When the earliest-expiring leaf certificate a probe was served expires.",
            Kind::Gauge,
            Some("seconds"),
        );
        for s in &self.probes {
            let earliest = s.addresses.values().filter(|a| a.run == s.runs).filter_map(|a| a.not_after).min();
            if let Some(t) = earliest {
                let labels = [(label::CUSTOMER, s.customer.as_str()), (label::PROBE, s.probe.as_str())];
                // Unix seconds: exact as a float until the year 285 million.
                #[allow(clippy::cast_precision_loss)]
                w.gauge(metric::PROBE_TLS_NOT_AFTER, &labels, t as f64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::probe::run::Failure;
    use crate::writer::Exposition;

    fn outcome(ip: [u8; 4], ok: bool) -> Outcome {
        Outcome {
            ip: IpAddr::V4(Ipv4Addr::from(ip)),
            phases: [0.001, 0.002, 0.0, 0.25, 0.5],
            status: if ok { 200 } else { 503 },
            not_after: Some(2_000_000_000 + i64::from(ip[3])),
            failure: (!ok).then(|| Failure::Status { status: 503, expected: "2xx".to_owned() }),
        }
    }

    fn text(m: &Metrics) -> String {
        let mut w = Writer::new(Exposition::Prometheus);
        m.write(&mut w);
        String::from_utf8(w.finish()).unwrap()
    }

    #[test]
    fn latest_addresses_are_shown_and_counted() {
        let mut m = Metrics::new([("acme".to_owned(), "home".to_owned())]);
        let now = Instant::now();
        assert_eq!(m.record(0, &[outcome([192, 0, 2, 1], true), outcome([192, 0, 2, 2], false)], now), [None, None]);
        assert_eq!(
            m.record(0, &[outcome([192, 0, 2, 1], false), outcome([192, 0, 2, 2], false)], now),
            [Some(true), Some(false)]
        );
        let t = text(&m);
        assert!(t.contains("edgewatch_probe_success{customer=\"acme\",probe=\"home\",ip=\"192.0.2.1\"} 0\n"), "{t}");
        assert!(t.contains(
            "edgewatch_probes_total{customer=\"acme\",probe=\"home\",ip=\"192.0.2.1\",result=\"success\"} 1\n"
        ));
        assert!(
            t.contains(
                "edgewatch_probes_total{customer=\"acme\",probe=\"home\",ip=\"192.0.2.2\",result=\"success\"} 0\n"
            ),
            "both results from the first probe"
        );
        assert!(t.contains("edgewatch_probe_duration_seconds{customer=\"acme\",probe=\"home\",ip=\"192.0.2.1\",phase=\"processing\"} 0.25\n"));
        assert!(
            t.contains("edgewatch_probe_http_status_code{customer=\"acme\",probe=\"home\",ip=\"192.0.2.2\"} 503\n")
        );
        assert!(
            t.contains(
                "edgewatch_probe_tls_not_after_timestamp_seconds{customer=\"acme\",probe=\"home\"} 2000000001\n"
            ),
            "the earliest"
        );

        // DNS now gives another address: the old one is no longer shown,
        // but its counts continue when it comes back.
        m.record(0, &[outcome([192, 0, 2, 3], true)], now);
        let t = text(&m);
        assert!(!t.contains("192.0.2.1") && t.contains("192.0.2.3"), "{t}");
        assert_eq!(m.record(0, &[outcome([192, 0, 2, 1], true)], now), [None], "back after a gap is news");
        assert!(text(&m).contains("ip=\"192.0.2.1\",result=\"failure\"} 1\n"));
        // Past the retention, it is forgotten.
        m.record(0, &[outcome([192, 0, 2, 3], true)], now + RETAIN);
        m.record(0, &[outcome([192, 0, 2, 1], true)], now + RETAIN);
        assert!(text(&m).contains("ip=\"192.0.2.1\",result=\"failure\"} 0\n"));
    }

    #[test]
    fn no_probes_no_families() {
        assert_eq!(text(&Metrics::default()), "");
        let m = Metrics::new([("acme".to_owned(), "home".to_owned())]);
        let t = text(&m);
        assert!(t.contains("# TYPE edgewatch_probe_success gauge") && !t.contains("acme"), "{t}");
    }
}
