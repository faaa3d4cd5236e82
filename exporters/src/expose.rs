//! `/metrics`: the request and self-monitoring families, from one walk over
//! the state, then the prober's, all through one [`Writer`] in the
//! exposition format the scraper asked for ([`crate::writer`]).

use edgewatch_catalog::names::{label, metric};

use crate::classify::{CACHE_STATUSES, ORIGIN_ERRORS, SECURITY_ACTIONS, STATUS_CLASSES};
use crate::probe;
use crate::proto;
use crate::series::Histogram;
use crate::state::{OVERFLOW_CUSTOMER, OVERFLOW_HOST, State};
use crate::writer::{Exposition, Kind, Writer};

/// Writes every series of `state`, sorted by customer and host, then the
/// prober's.
pub(crate) fn encode(state: &State, probes: &probe::Metrics, format: Exposition) -> Vec<u8> {
    let mut w = Writer::new(format);
    let bounds = state.bounds.le.clone();
    // (customer id, host, series), sorted for stable output.
    let mut rows: Vec<(&str, &str, &crate::series::HostSeries)> = Vec::new();
    for (id, c) in state.ids.iter().zip(&state.customers) {
        for (host, entry) in &c.hosts {
            rows.push((id, host, &entry.series));
        }
    }
    if let Some(set) = &state.overflow {
        rows.push((OVERFLOW_CUSTOMER, OVERFLOW_HOST, &set.series));
    }
    rows.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

    w.family(
        metric::REQUESTS_TOTAL,
        "HTTP requests by customer, host, status class and cache status.",
        Kind::Counter,
        None,
    );
    for (customer, host, s) in &rows {
        for (class, row) in s.requests.iter().enumerate() {
            for (cache, &n) in row.iter().enumerate().filter(|(_, n)| **n > 0) {
                let labels = [
                    (label::CUSTOMER, *customer),
                    (label::HOST, *host),
                    (label::STATUS_CLASS, STATUS_CLASSES[class]),
                    (label::CACHE_STATUS, CACHE_STATUSES[cache]),
                ];
                w.counter(metric::REQUESTS_TOTAL, &labels, n);
            }
        }
    }
    for (name, help, pick) in [
        (
            metric::EDGE_TTFB_SECONDS,
            "Edge time to first byte (EdgeTimeToFirstByteMs), in seconds.",
            (|s: &crate::series::HostSeries| &s.ttfb) as fn(&crate::series::HostSeries) -> &Histogram,
        ),
        (metric::ORIGIN_DURATION_SECONDS, "Origin response duration (OriginResponseDurationMs), in seconds.", |s| {
            &s.origin
        }),
    ] {
        w.family(name, help, Kind::Histogram, Some("seconds"));
        for (customer, host, s) in &rows {
            let h = pick(s);
            if h.count() > 0 {
                w.histogram(name, &[(label::CUSTOMER, customer), (label::HOST, host)], h, &bounds);
            }
        }
    }
    w.family(metric::ORIGIN_ERRORS_TOTAL, "Requests the origin failed, by kind of failure.", Kind::Counter, None);
    for (customer, host, s) in &rows {
        for (kind, &n) in s.origin_errors.iter().enumerate().filter(|(_, n)| **n > 0) {
            let labels = [(label::CUSTOMER, *customer), (label::HOST, *host), (label::KIND, ORIGIN_ERRORS[kind])];
            w.counter(metric::ORIGIN_ERRORS_TOTAL, &labels, n);
        }
    }
    w.family(
        metric::SECURITY_ACTIONS_TOTAL,
        "Requests by the security action they met, whether it stopped them or not: block, challenge, jschallenge and managed_challenge (the mitigating actions) stop the request; log, skip and allow let it through; the *_solved and *_failed outcomes record how an earlier challenge ended; other is any action not listed.",
        Kind::Counter,
        None,
    );
    for (customer, host, s) in &rows {
        for (action, &n) in s.security.iter().enumerate().filter(|(_, n)| **n > 0) {
            let labels =
                [(label::CUSTOMER, *customer), (label::HOST, *host), (label::ACTION, SECURITY_ACTIONS[action])];
            w.counter(metric::SECURITY_ACTIONS_TOTAL, &labels, n);
        }
    }
    w.family(
        metric::SLO_REQUESTS_TOTAL,
        "Requests judged by each of a customer's availability and latency SLOs, by result: a failure by the availability SLO's statuses, or a latency above the SLO's threshold, is bad; requests an SLO leaves out (or without that latency) are not counted.",
        Kind::Counter,
        None,
    );
    for (id, c) in state.ids.iter().zip(&state.customers) {
        for e in &c.slo {
            for (result, n) in [("good", e.counts[0]), ("bad", e.counts[1])] {
                let labels = [
                    (label::CUSTOMER, id.as_str()),
                    (label::SLO, &*e.name),
                    (label::SLO_KIND, e.kind.as_str()),
                    (label::RESULT, result),
                ];
                w.counter(metric::SLO_REQUESTS_TOTAL, &labels, n);
            }
        }
    }
    w.family(metric::RESPONSE_BYTES_TOTAL, "Bytes sent to clients (EdgeResponseBytes).", Kind::Counter, Some("bytes"));
    for (customer, host, s) in rows.iter().filter(|r| r.2.bytes > 0) {
        w.counter(metric::RESPONSE_BYTES_TOTAL, &[(label::CUSTOMER, customer), (label::HOST, host)], s.bytes);
    }
    probes.write(&mut w);
    self_metrics(&mut w, state);
    w.finish()
}

fn self_metrics(w: &mut Writer, state: &State) {
    let mut inputs: Vec<_> = state.inputs.iter().collect();
    inputs.sort_unstable_by_key(|(name, _)| name.as_str());
    w.family("edgewatch_exporter_lines_total", "Log lines read, by input and result.", Kind::Counter, None);
    for (input, s) in &inputs {
        w.counter("edgewatch_exporter_lines_total", &[("input", input), ("result", "ok")], s.lines_ok);
        w.counter("edgewatch_exporter_lines_total", &[("input", input), ("result", "malformed")], s.lines_malformed);
    }
    w.family("edgewatch_exporter_batches_total", "Batches received, by input and result.", Kind::Counter, None);
    for (input, s) in &inputs {
        let mut results: Vec<_> = s.batches.iter().collect();
        results.sort_unstable();
        for (result, n) in results {
            w.counter("edgewatch_exporter_batches_total", &[("input", input), ("result", result)], *n);
        }
    }
    w.family(
        "edgewatch_exporter_ingest_lag_seconds",
        "Time from a request's end to its counting.",
        Kind::Histogram,
        Some("seconds"),
    );
    for (input, s) in &inputs {
        w.histogram("edgewatch_exporter_ingest_lag_seconds", &[("input", input)], &s.lag, &state.lag_bounds.le);
    }
    w.family(
        "edgewatch_exporter_overflow_total",
        "Requests counted apart from their host because a cap was reached: label=\"host\" under the customer's host=\"other\" (hosts_per_customer, batch_hosts), label=\"customer\" under the exporter-wide customer=\"other\",host=\"other\" (max_series).",
        Kind::Counter,
        None,
    );
    for (id, c) in state.ids.iter().zip(&state.customers) {
        for (folded, n) in [(label::HOST, c.overflow), (label::CUSTOMER, c.overflow_exporter)] {
            if n > 0 {
                w.counter("edgewatch_exporter_overflow_total", &[(label::CUSTOMER, id), ("label", folded)], n);
            }
        }
    }
    w.family(metric::EXPORTER_EXPIRED_HOSTS_TOTAL, "Hosts dropped after being idle.", Kind::Counter, None);
    w.counter(metric::EXPORTER_EXPIRED_HOSTS_TOTAL, &[], state.expired);
    w.family(metric::EXPORTER_SERIES, "Request series currently exposed.", Kind::Gauge, None);
    let overflow = state.overflow.as_ref().map_or(0, |o| o.series.series());
    w.gauge(metric::EXPORTER_SERIES, &[], proto::as_f64((state.series_total + overflow) as u64));
    w.family(
        metric::EXPORTER_START_TIME_SECONDS,
        "When the counters started, in unix seconds.",
        Kind::Gauge,
        Some("seconds"),
    );
    w.gauge(metric::EXPORTER_START_TIME_SECONDS, &[], state.started);
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::batch::Batch;
    use crate::native::NativeSpec;
    use crate::proto::tests::{Message, delimited};
    use crate::state::Limits;

    const LINES: &str = r#"{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200,"CacheCacheStatus":"hit","EdgeTimeToFirstByteMs":50,"RayID":"r\"1","EdgeEndTimestamp":1000,"EdgeResponseBytes":10}
{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":522,"OriginResponseStatus":0,"SecurityAction":"block"}
"#;

    fn state_with(native: Option<NativeSpec>, lines: &str) -> State {
        let mut cx = crate::batch::tests::context_of(
            "customers:\n  - {id: acme, hosts: [www.acme.example], slos: {availability: {objective: 99}}}\n",
        );
        cx.bounds = cx.bounds.with_native(native);
        let limits = Limits {
            hosts_per_customer: 10,
            max_series: 1000,
            idle_timeout: Duration::from_secs(60),
            top_slot: Duration::from_secs(60),
            top_slots: 5,
            top_capacity: 8,
        };
        let mut s = State::new(vec!["acme".into()], &cx.slos, limits, cx.bounds.clone(), cx.lag_bounds.clone());
        let mut b = Batch::new(&cx);
        b.add_lines(lines.as_bytes(), &crate::batch::tests::LOGPUSH, &cx, 1001.0);
        s.merge("logpush", &b, Instant::now(), 1001);
        s.started = 1_700_000_000.0;
        s
    }

    fn state() -> State {
        state_with(None, LINES)
    }

    const NATIVE: NativeSpec = NativeSpec { schema: 3, zero_threshold: 2.938_735_877_055_719e-39, max_buckets: 160 };

    fn text(state: &State, format: Exposition) -> String {
        String::from_utf8(encode(state, &probe::Metrics::default(), format)).unwrap()
    }

    #[test]
    fn prometheus_text() {
        let text = text(&state(), Exposition::Prometheus);
        assert!(text.contains("# TYPE edgewatch_requests_total counter\n"));
        assert!(text.contains(r#"edgewatch_requests_total{customer="acme",host="www.acme.example",status_class="2xx",cache_status="hit"} 1"#));
        assert!(
            text.contains(r#"edgewatch_edge_ttfb_seconds_bucket{customer="acme",host="www.acme.example",le="0.1"} 1"#)
        );
        assert!(
            text.contains(r#"edgewatch_edge_ttfb_seconds_bucket{customer="acme",host="www.acme.example",le="+Inf"} 1"#)
        );
        assert!(text.contains(
            r#"edgewatch_origin_errors_total{customer="acme",host="www.acme.example",kind="connection_timeout"} 1"#
        ));
        assert!(
            text.contains(
                r#"edgewatch_security_actions_total{customer="acme",host="www.acme.example",action="block"} 1"#
            )
        );
        assert!(!text.contains("# EOF") && !text.contains("ray_id"), "no OpenMetrics in classic text");
    }

    #[test]
    fn openmetrics_with_exemplars() {
        let text = text(&state(), Exposition::OpenMetrics);
        assert!(text.contains("# TYPE edgewatch_requests counter\n"));
        assert!(text.contains("# UNIT edgewatch_edge_ttfb_seconds seconds\n"));
        assert!(text.contains(r#"le="0.1"} 1 # {ray_id="r\"1"} 0.05 1000"#), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn text_formats_are_unchanged_byte_for_byte() {
        // The fixtures were written by the exporter before native histograms
        // and the protobuf format existed (the start time gauge came later,
        // at the end).
        let prom = include_str!("../tests/fixtures/metrics.prom");
        let om = include_str!("../tests/fixtures/metrics.om");
        assert_eq!(text(&state(), Exposition::Prometheus), prom);
        assert_eq!(text(&state(), Exposition::OpenMetrics), om);
        // With native buckets on, the text formats show the same classic
        // series; only the series gauge counts the native series too.
        let native = state_with(Some(NATIVE), LINES);
        let one_more = |t: &str| t.replace("edgewatch_exporter_series 11\n", "edgewatch_exporter_series 12\n");
        assert_eq!(text(&native, Exposition::Prometheus), one_more(prom));
        assert_eq!(text(&native, Exposition::OpenMetrics), one_more(om));
    }

    /// Family name, type and samples, in order, from a protobuf exposition.
    fn families(state: &State) -> Vec<Message> {
        delimited(&encode(state, &probe::Metrics::default(), Exposition::Protobuf))
    }

    fn family<'a>(fams: &'a [Message], name: &str) -> &'a Message {
        fams.iter().find(|f| f.string(1).as_deref() == Some(name)).unwrap_or_else(|| panic!("no family {name}"))
    }

    #[test]
    fn protobuf_carries_every_family_with_samples() {
        let state = state();
        let fams = families(&state);
        // The same families as the text format, less those without samples.
        let text = text(&state, Exposition::Prometheus);
        let lines: Vec<&str> = text.lines().collect();
        let with_samples: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .filter(|name| lines.iter().any(|l| !l.starts_with('#') && l.starts_with(name)))
            .collect();
        let names: Vec<String> = fams.iter().map(|f| f.string(1).unwrap()).collect();
        assert_eq!(names, with_samples);
        // Every sample of the text has its protobuf counterpart: counters and
        // gauges by value, histograms by their count.
        let samples = |f: &Message| f.messages(4).len();
        assert_eq!(samples(family(&fams, "edgewatch_requests_total")), 2);
        let requests = family(&fams, "edgewatch_requests_total");
        assert_eq!(requests.uint(3), Some(0), "COUNTER");
        assert_eq!(
            requests.string(2).as_deref(),
            Some("HTTP requests by customer, host, status class and cache status.")
        );
        let first = &requests.messages(4)[0];
        let labels: Vec<(String, String)> = first.labels();
        assert_eq!(
            labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            ["customer=acme", "host=www.acme.example", "status_class=2xx", "cache_status=hit"]
        );
        assert_eq!(first.message(3).unwrap().double(1), Some(1.0));
        let slo = family(&fams, "edgewatch_slo_requests_total");
        assert_eq!(slo.messages(4).len(), 2, "zero counters are there too");
        let bytes = family(&fams, "edgewatch_response_bytes_total");
        assert_eq!(bytes.string(5).as_deref(), Some("bytes"), "unit");
        let series = family(&fams, "edgewatch_exporter_series");
        assert_eq!(series.uint(3), Some(1), "GAUGE");
        assert_eq!(series.messages(4)[0].message(2).unwrap().double(1), Some(11.0));
        assert!(series.messages(4)[0].labels().is_empty());

        // The classic histogram: finite buckets (+Inf is implicit), sum,
        // count and the exemplar; no native fields while native is off.
        let ttfb = family(&fams, "edgewatch_edge_ttfb_seconds");
        assert_eq!(ttfb.uint(3), Some(4), "HISTOGRAM");
        let h = ttfb.messages(4)[0].message(7).unwrap();
        assert_eq!((h.uint(1), h.double(2)), (Some(1), Some(0.05)));
        let buckets = h.messages(3);
        let bounds: Vec<(u64, f64)> = buckets.iter().map(|b| (b.uint(1).unwrap(), b.double(2).unwrap())).collect();
        assert_eq!(bounds, [(1, 0.1), (1, 0.3), (1, 1.0)]);
        let exemplar = buckets[0].message(3).unwrap();
        assert_eq!(exemplar.messages(1)[0].string(2).as_deref(), Some("r\"1"));
        assert_eq!(exemplar.double(2), Some(0.05));
        assert_eq!(exemplar.message(3).unwrap().uint(1), Some(1000));
        assert!(h.uint(5).is_none() && h.messages(12).is_empty(), "no native buckets");
        let lag = family(&fams, "edgewatch_exporter_ingest_lag_seconds");
        assert_eq!(lag.messages(4)[0].message(7).unwrap().uint(1), Some(1));
    }

    #[test]
    fn protobuf_native_buckets() {
        // 2 ms, 50 ms twice, 120 ms, 3 s; one 0 ms in the zero bucket.
        let lines: String = [2, 50, 50, 120, 3000, 0]
            .iter()
            .map(|ms| format!("{{\"ClientRequestHost\":\"www.acme.example\",\"EdgeResponseStatus\":200,\"EdgeTimeToFirstByteMs\":{ms}}}\n"))
            .collect::<Vec<_>>()
            .concat();
        let state = state_with(Some(NATIVE), &lines);
        let fams = families(&state);
        let h = family(&fams, "edgewatch_edge_ttfb_seconds").messages(4)[0].message(7).unwrap();
        assert_eq!(h.uint(1), Some(6));
        assert_eq!(h.messages(3).len(), 3, "classic buckets stay");
        assert_eq!(crate::proto::tests::unzigzag(h.uint(5).unwrap()), 3, "schema");
        assert_eq!(h.double(6), Some(NATIVE.zero_threshold));
        assert_eq!(h.uint(7), Some(1), "zero count");
        // Expand spans and deltas back into (index, count).
        let mut expanded = Vec::new();
        let deltas = h.packed_sint(13);
        let (mut i, mut count, mut d) = (0_i64, 0_i64, deltas.iter());
        for span in h.messages(12) {
            i += crate::proto::tests::unzigzag(span.uint(1).unwrap_or(0));
            for _ in 0..span.uint(2).unwrap_or(0) {
                count += d.next().unwrap();
                if count > 0 {
                    expanded.push((i, count));
                }
                i += 1;
            }
        }
        let idx = |v: f64| i64::from(crate::native::index(v, 3));
        assert_eq!(expanded, [(idx(0.002), 1), (idx(0.05), 2), (idx(0.12), 1), (idx(3.0), 1)]);
        // Without observations beyond zero, a no-op span still marks it native.
        let zeros =
            state_with(Some(NATIVE), "{\"ClientRequestHost\":\"www.acme.example\",\"EdgeTimeToFirstByteMs\":0}\n");
        let fams = families(&zeros);
        let h = family(&fams, "edgewatch_edge_ttfb_seconds").messages(4)[0].message(7).unwrap();
        let spans = h.messages(12);
        assert_eq!((spans.len(), spans[0].uint(1), spans[0].uint(2)), (1, Some(0), Some(0)));
        assert!(h.packed_sint(13).is_empty());
        // The origin histogram has native buckets too; the lag histogram not.
        let lag = family(&fams, "edgewatch_exporter_ingest_lag_seconds");
        assert!(lag.messages(4).iter().all(|m| m.message(7).unwrap().uint(5).is_none()));
    }
}
