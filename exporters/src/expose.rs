//! `/metrics`: the state written as Prometheus text (0.0.4) or OpenMetrics
//! (1.0, with `RayID` exemplars), chosen by the scraper's `Accept` header.
//!
//! One walk over the state feeds one writer; the two formats differ only in
//! family naming, the `# UNIT`/`# EOF` lines and exemplars. The prober's
//! families are written by `probe::metrics` through the same writer.

use std::fmt::Write as _;

use edgewatch_catalog::names::{label, metric};

use crate::classify::{CACHE_STATUSES, ORIGIN_ERRORS, SECURITY_ACTIONS, STATUS_CLASSES};
use crate::probe;
use crate::series::{Exemplar, Histogram};
use crate::state::State;

/// Exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `text/plain; version=0.0.4`
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`
    OpenMetrics,
}

impl Format {
    /// The format a scraper asked for; classic text unless OpenMetrics is
    /// accepted.
    pub(crate) fn negotiate(accept: Option<&str>) -> Self {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Self::OpenMetrics,
            _ => Self::Prometheus,
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

pub(crate) struct Writer {
    out: String,
    format: Format,
}

pub(crate) type Labels<'a> = [(&'a str, &'a str)];

impl Writer {
    pub(crate) fn new(format: Format) -> Self {
        Self { out: String::with_capacity(64 * 1024), format }
    }

    /// The text written.
    pub(crate) fn finish(self) -> String {
        self.out
    }

    /// Starts a family. `name` is the sample name (counters end in `_total`).
    pub(crate) fn family(&mut self, name: &str, help: &str, kind: Kind, unit: Option<&str>) {
        let kind_word = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        // OpenMetrics names a counter family without its `_total` suffix.
        let family = match (self.format, kind) {
            (Format::OpenMetrics, Kind::Counter) => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        let _ = writeln!(self.out, "# HELP {family} {help}");
        let _ = writeln!(self.out, "# TYPE {family} {kind_word}");
        if let (Format::OpenMetrics, Some(unit)) = (self.format, unit) {
            let _ = writeln!(self.out, "# UNIT {family} {unit}");
        }
    }

    fn labels(&mut self, labels: &Labels<'_>, extra: Option<(&str, &str)>) {
        if labels.is_empty() && extra.is_none() {
            return;
        }
        self.out.push('{');
        for (i, (k, v)) in labels.iter().copied().chain(extra).enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_into(&mut self.out, v);
            self.out.push('"');
        }
        self.out.push('}');
    }

    fn sample(&mut self, name: &str, labels: &Labels<'_>, extra: Option<(&str, &str)>, value: impl std::fmt::Display) {
        self.out.push_str(name);
        self.labels(labels, extra);
        let _ = write!(self.out, " {value}");
    }

    fn exemplar(&mut self, e: Option<&Exemplar>) {
        if let (Format::OpenMetrics, Some(e)) = (self.format, e) {
            self.out.push_str(" # {ray_id=\"");
            escape_into(&mut self.out, &e.ray_id);
            let _ = write!(self.out, "\"}} {}", Float(e.value));
            if let Some(t) = e.time {
                let _ = write!(self.out, " {}", Float(t));
            }
        }
    }

    pub(crate) fn counter(&mut self, name: &str, labels: &Labels<'_>, value: u64) {
        self.sample(name, labels, None, value);
        self.out.push('\n');
    }

    /// One gauge sample; floats print as [`Float`] does.
    pub(crate) fn gauge(&mut self, name: &str, labels: &Labels<'_>, value: impl std::fmt::Display) {
        self.sample(name, labels, None, value);
        self.out.push('\n');
    }

    fn histogram(&mut self, name: &str, labels: &Labels<'_>, h: &Histogram, bounds: &[f64]) {
        let mut cumulative = 0;
        let mut le = String::new();
        for (i, count) in h.counts.iter().enumerate() {
            cumulative += count;
            le.clear();
            match bounds.get(i) {
                Some(b) => le.push_str(&edgewatch_catalog::names::le_label(*b)),
                None => le.push_str("+Inf"),
            }
            self.sample(&format!("{name}_bucket"), labels, Some(("le", &le)), cumulative);
            self.exemplar(h.exemplars.get(i).and_then(Option::as_ref));
            self.out.push('\n');
        }
        self.sample(&format!("{name}_sum"), labels, None, Float(h.sum));
        self.out.push('\n');
        self.sample(&format!("{name}_count"), labels, None, cumulative);
        self.out.push('\n');
    }
}

/// A float as both formats want it: shortest round-trip text, `+Inf`, `NaN`.
pub(crate) struct Float(pub(crate) f64);

impl std::fmt::Display for Float {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            v if v.is_nan() => f.write_str("NaN"),
            v if v == f64::INFINITY => f.write_str("+Inf"),
            v if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            v => write!(f, "{v}"),
        }
    }
}

fn escape_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Writes every series of `state`, sorted by customer and host, then the
/// prober's.
pub(crate) fn encode(state: &State, probes: &probe::Metrics, format: Format) -> String {
    let mut w = Writer::new(format);
    let bounds = state.bounds.0.clone();
    // (customer id, host, series), sorted for stable output.
    let mut rows: Vec<(&str, &str, &crate::series::HostSeries)> = Vec::new();
    for (id, c) in state.ids.iter().zip(&state.customers) {
        for (host, entry) in &c.hosts {
            rows.push((id, host, &entry.series));
        }
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
        "Requests that met a terminating security action, by action.",
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
        "Requests judged by each customer's availability SLO, by result.",
        Kind::Counter,
        None,
    );
    for (id, c) in state.ids.iter().zip(&state.customers) {
        if let Some([good, bad]) = c.slo {
            for (result, n) in [("good", good), ("bad", bad)] {
                let labels = [(label::CUSTOMER, id.as_str()), (label::SLO, "availability"), (label::RESULT, result)];
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
    if format == Format::OpenMetrics {
        w.out.push_str("# EOF\n");
    }
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
        w.histogram("edgewatch_exporter_ingest_lag_seconds", &[("input", input)], &s.lag, &state.lag_bounds.0);
    }
    w.family(
        "edgewatch_exporter_overflow_total",
        "Requests counted under host=\"other\" because a cap was reached.",
        Kind::Counter,
        None,
    );
    for (id, c) in state.ids.iter().zip(&state.customers).filter(|(_, c)| c.overflow > 0) {
        w.counter("edgewatch_exporter_overflow_total", &[(label::CUSTOMER, id), ("label", label::HOST)], c.overflow);
    }
    w.family("edgewatch_exporter_expired_hosts_total", "Hosts dropped after being idle.", Kind::Counter, None);
    w.counter("edgewatch_exporter_expired_hosts_total", &[], state.expired);
    w.family("edgewatch_exporter_series", "Request series currently exposed.", Kind::Gauge, None);
    w.sample("edgewatch_exporter_series", &[], None, state.series_total);
    w.out.push('\n');
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::batch::{Batch, tests::context};
    use crate::state::Limits;

    fn state() -> State {
        let cx = context();
        let limits = Limits {
            hosts_per_customer: 10,
            max_series: 1000,
            idle_timeout: Duration::from_secs(60),
            top_slot: Duration::from_secs(60),
            top_slots: 5,
            top_capacity: 8,
        };
        let mut s = State::new(vec!["acme".into()], &[true], limits, cx.bounds.clone(), cx.lag_bounds.clone());
        let lines = r#"{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200,"CacheCacheStatus":"hit","EdgeTimeToFirstByteMs":50,"RayID":"r\"1","EdgeEndTimestamp":1000,"EdgeResponseBytes":10}
{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":522,"OriginResponseStatus":0,"SecurityAction":"block"}
"#;
        let mut b = Batch::new(&cx);
        b.add_lines(lines.as_bytes(), &crate::batch::tests::LOGPUSH, &cx, 1001.0);
        s.merge("logpush", &b, Instant::now(), 1001);
        s
    }

    #[test]
    fn prometheus_text() {
        let text = encode(&state(), &probe::Metrics::default(), Format::Prometheus);
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
        let text = encode(&state(), &probe::Metrics::default(), Format::OpenMetrics);
        assert!(text.contains("# TYPE edgewatch_requests counter\n"));
        assert!(text.contains("# UNIT edgewatch_edge_ttfb_seconds seconds\n"));
        assert!(text.contains(r#"le="0.1"} 1 # {ray_id="r\"1"} 0.05 1000"#), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn negotiates_by_accept() {
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")),
            Format::OpenMetrics
        );
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Prometheus);
        assert_eq!(Format::negotiate(None), Format::Prometheus);
    }
}
