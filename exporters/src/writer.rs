//! Writing metric families in the exposition format a scraper asked for:
//! Prometheus text (0.0.4), OpenMetrics (1.0, with `RayID` exemplars) or
//! the Prometheus protobuf format (the only one that carries native
//! histograms), chosen by the scraper's `Accept` header.
//!
//! The text formats differ only in family naming, the `# UNIT`/`# EOF`
//! lines and exemplars; protobuf gets the same families and series through
//! [`crate::proto`], so a scraper that switches format loses none. The
//! writer knows nothing of what it writes: the request families
//! ([`crate::expose`]) and the prober's (`probe::metrics`) both use it.

use std::fmt::Write as _;

use crate::proto::{self, MetricType};
use crate::series::{Exemplar, Histogram};

/// Exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exposition {
    /// `text/plain; version=0.0.4`
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`
    OpenMetrics,
    /// `application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited`
    Protobuf,
}

impl Exposition {
    /// The format a scraper asked for: protobuf when it prefers it (as
    /// Prometheus does with native histograms enabled), else classic text
    /// unless OpenMetrics is accepted.
    pub(crate) fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else { return Self::Prometheus };
        // The highest quality given to delimited protobuf, and to anything
        // else named (wildcards aside).
        let (mut protobuf, mut others) = (0.0_f64, 0.0_f64);
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let (mut q, mut proto, mut delimited) = (1.0, false, false);
            for (k, v) in parts.filter_map(|p| p.split_once('=')) {
                let v = v.trim().trim_matches('"');
                match k.trim() {
                    "q" => q = v.parse().unwrap_or(0.0),
                    "proto" => proto = v == "io.prometheus.client.MetricFamily",
                    "encoding" => delimited = v == "delimited",
                    _ => {}
                }
            }
            if media.eq_ignore_ascii_case("application/vnd.google.protobuf") {
                if proto && delimited {
                    protobuf = protobuf.max(q);
                }
            } else if !media.starts_with('*') && !media.ends_with("/*") {
                others = others.max(q);
            }
        }
        if protobuf > 0.0 && protobuf >= others {
            Self::Protobuf
        } else if accept.contains("application/openmetrics-text") {
            Self::OpenMetrics
        } else {
            Self::Prometheus
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Self::Protobuf => {
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Writes families in one format: text into `out`, protobuf through `proto`.
pub(crate) struct Writer {
    out: String,
    format: Exposition,
    proto: Option<proto::Encoder>,
}

pub(crate) type Labels<'a> = [(&'a str, &'a str)];

impl Writer {
    pub(crate) fn new(format: Exposition) -> Self {
        match format {
            Exposition::Protobuf => Self { out: String::new(), format, proto: Some(proto::Encoder::new()) },
            _ => Self { out: String::with_capacity(64 * 1024), format, proto: None },
        }
    }

    /// The bytes written (OpenMetrics ends in `# EOF`).
    pub(crate) fn finish(mut self) -> Vec<u8> {
        if self.format == Exposition::OpenMetrics {
            self.out.push_str("# EOF\n");
        }
        match self.proto {
            Some(p) => p.finish(),
            None => self.out.into_bytes(),
        }
    }

    /// Starts a family. `name` is the sample name (counters end in `_total`).
    pub(crate) fn family(&mut self, name: &str, help: &str, kind: Kind, unit: Option<&'static str>) {
        if let Some(p) = &mut self.proto {
            let kind = match kind {
                Kind::Counter => MetricType::Counter,
                Kind::Gauge => MetricType::Gauge,
                Kind::Histogram => MetricType::Histogram,
            };
            p.family(name, help, kind, unit);
            return;
        }
        let kind_word = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        // OpenMetrics names a counter family without its `_total` suffix.
        let family = match (self.format, kind) {
            (Exposition::OpenMetrics, Kind::Counter) => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        let _ = writeln!(self.out, "# HELP {family} {help}");
        let _ = writeln!(self.out, "# TYPE {family} {kind_word}");
        if let (Exposition::OpenMetrics, Some(unit)) = (self.format, unit) {
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
        if let (Exposition::OpenMetrics, Some(e)) = (self.format, e) {
            self.out.push_str(" # {ray_id=\"");
            escape_into(&mut self.out, &e.ray_id);
            let _ = write!(self.out, "\"}} {}", Float(e.value));
            if let Some(t) = e.time {
                let _ = write!(self.out, " {}", Float(t));
            }
        }
    }

    pub(crate) fn counter(&mut self, name: &str, labels: &Labels<'_>, value: u64) {
        if let Some(p) = &mut self.proto {
            p.counter(labels, value);
            return;
        }
        self.sample(name, labels, None, value);
        self.out.push('\n');
    }

    /// One gauge sample; printed as [`Float`] does (integers without a
    /// decimal point).
    pub(crate) fn gauge(&mut self, name: &str, labels: &Labels<'_>, value: f64) {
        if let Some(p) = &mut self.proto {
            p.gauge(labels, value);
            return;
        }
        self.sample(name, labels, None, Float(value));
        self.out.push('\n');
    }

    /// A histogram's classic series (its native buckets only reach
    /// protobuf: the text formats have no way to write them).
    pub(crate) fn histogram(&mut self, name: &str, labels: &Labels<'_>, h: &Histogram, bounds: &[f64]) {
        if let Some(p) = &mut self.proto {
            p.histogram(labels, h, bounds);
            return;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_by_accept() {
        assert_eq!(
            Exposition::negotiate(Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")),
            Exposition::OpenMetrics
        );
        assert_eq!(Exposition::negotiate(Some("text/plain")), Exposition::Prometheus);
        assert_eq!(Exposition::negotiate(None), Exposition::Prometheus);
        // What Prometheus 2.42 sends with --enable-feature=native-histograms.
        let prometheus = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Exposition::negotiate(Some(prometheus)), Exposition::Protobuf);
        // ... and without it.
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Exposition::negotiate(Some(prometheus)), Exposition::OpenMetrics);
        // Protobuf only when preferred, delimited, and of MetricFamily.
        let pb = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
        assert_eq!(Exposition::negotiate(Some(pb)), Exposition::Protobuf);
        assert_eq!(
            Exposition::negotiate(Some(&format!("{pb};q=0.5,application/openmetrics-text"))),
            Exposition::OpenMetrics
        );
        assert_eq!(Exposition::negotiate(Some(&format!("text/plain;q=0.9,{pb};q=0.2"))), Exposition::Prometheus);
        assert_eq!(
            Exposition::negotiate(Some(
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text"
            )),
            Exposition::Prometheus
        );
        assert_eq!(
            Exposition::negotiate(Some("application/vnd.google.protobuf;encoding=delimited")),
            Exposition::Prometheus
        );
        assert_eq!(Exposition::negotiate(Some(&format!("{pb};q=0"))), Exposition::Prometheus);
        assert_eq!(
            Exposition::negotiate(Some(&format!("*/*,{pb};q=0.5"))),
            Exposition::Protobuf,
            "wildcards do not count"
        );
    }
}
