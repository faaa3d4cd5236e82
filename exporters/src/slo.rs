//! SLOs judged where the requests are seen, one verdict per request and
//! SLO: availability needs the path and exact status that metrics do not
//! carry, latency the exact duration against the threshold (a histogram
//! bucket would make every threshold a bucket of every host, and the rules
//! read every bucket series to find it). Which statuses count as errors,
//! which requests are left out and the thresholds are the catalog's, per
//! customer.

use edgewatch_catalog::Catalog;
use edgewatch_catalog::StatusMatcher;
use edgewatch_catalog::model::{Exclude, SloSpec};
use edgewatch_catalog::names::{LatencySource, SloKind};

use crate::record::Record;

/// One customer's availability SLO.
#[derive(Debug, Clone)]
pub(crate) struct Availability {
    errors: Vec<StatusMatcher>,
    exclude: Exclude,
}

/// One latency SLO: requests at or under the threshold are good, as in a
/// histogram bucket `le` the threshold.
#[derive(Debug, Clone, Copy)]
struct Latency {
    source: LatencySource,
    /// Seconds.
    threshold: f64,
}

#[derive(Debug, Clone)]
enum Judge {
    Availability(Availability),
    Latency(Latency),
}

/// One SLO the exporter counts events for: its name, the `slo` label.
#[derive(Debug, Clone)]
struct Judged {
    name: Box<str>,
    judge: Judge,
}

/// The SLOs of one customer the exporter counts events for (availability
/// and latency; probes count themselves), in catalog order: an SLO's
/// position is its index in the batch's and the state's counters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Slos {
    judged: Vec<Judged>,
}

impl Slos {
    /// The judged SLOs of every customer, by catalog index.
    pub(crate) fn of(catalog: &Catalog) -> Vec<Self> {
        catalog
            .customers
            .iter()
            .map(|c| Self {
                judged: c
                    .slos
                    .iter()
                    .filter_map(|s| {
                        let judge = match &s.spec {
                            SloSpec::Availability { errors, exclude } => {
                                Judge::Availability(Availability { errors: errors.clone(), exclude: exclude.clone() })
                            }
                            SloSpec::Latency { source, threshold } => {
                                Judge::Latency(Latency { source: *source, threshold: threshold.as_secs_f64() })
                            }
                            SloSpec::Probe => return None,
                        };
                        Some(Judged { name: s.name.as_str().into(), judge })
                    })
                    .collect(),
            })
            .collect()
    }

    /// The availability SLO, if the customer has one.
    pub(crate) fn availability(&self) -> Option<&Availability> {
        self.judged.iter().find_map(|j| match &j.judge {
            Judge::Availability(a) => Some(a),
            Judge::Latency(_) => None,
        })
    }

    /// Each SLO's name and kind, in counter order.
    pub(crate) fn names(&self) -> impl Iterator<Item = (&str, SloKind)> {
        self.judged.iter().map(|j| {
            let kind = match j.judge {
                Judge::Availability(_) => SloKind::Availability,
                Judge::Latency(_) => SloKind::Latency,
            };
            (&*j.name, kind)
        })
    }

    /// Calls `verdict(index, bad)` for each SLO that judges `r`;
    /// `host_excluded`: what [`Availability::excludes_host`] said of its host.
    pub(crate) fn judge(&self, r: &Record<'_>, host_excluded: bool, mut verdict: impl FnMut(usize, bool)) {
        for (i, j) in self.judged.iter().enumerate() {
            let bad = match &j.judge {
                Judge::Availability(a) => a.judge(r, host_excluded),
                Judge::Latency(l) => l.judge(r),
            };
            if let Some(bad) = bad {
                verdict(i, bad);
            }
        }
    }
}

impl Latency {
    /// `Some(true)` above the threshold; `None` without the duration, as the
    /// histograms count it (an origin that never answered has none).
    fn judge(self, r: &Record<'_>) -> Option<bool> {
        let v = match self.source {
            LatencySource::EdgeTtfb => r.ttfb?,
            LatencySource::OriginDuration => match r.origin_status? {
                0 => return None,
                _ => r.origin_duration?,
            },
        };
        (!v.is_nan()).then_some(v > self.threshold)
    }
}

impl Availability {
    /// Whether the SLO leaves out every request for `host` (a host label:
    /// normalized, or `none`, or `invalid`). Asked once per host and batch.
    pub(crate) fn excludes_host(&self, host: &str) -> bool {
        self.exclude.hosts.iter().any(|h| h.matches(host))
    }

    /// `Some(true)` for a bad request, `Some(false)` for a good one, `None`
    /// when the SLO leaves it out (or it has no status to judge by);
    /// `host_excluded`: what [`Self::excludes_host`] said of its host.
    pub(crate) fn judge(&self, r: &Record<'_>, host_excluded: bool) -> Option<bool> {
        let status = r.edge_status?;
        let e = &self.exclude;
        if host_excluded
            || e.statuses.iter().any(|m| m.matches(status))
            || r.path.as_deref().is_some_and(|p| e.paths.iter().any(|prefix| p.starts_with(prefix.as_bytes())))
        {
            return None;
        }
        Some(self.errors.iter().any(|m| m.matches(status)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_by_the_catalog() {
        let yaml = "customers:
  - id: a
    hosts: [a.example, '*.a.example']
    slos:
      availability:
        objective: 99
        errors: [5xx, 429]
        exclude: {hosts: [status.a.example], paths: [/healthz], statuses: [404]}
";
        let catalog = edgewatch_catalog::load_str("c.yaml", yaml).unwrap().catalog;
        let slos = Slos::of(&catalog).remove(0);
        let slo = slos.availability().unwrap();
        let rec = |status: u16, path: &'static str| Record {
            edge_status: Some(status),
            path: Some(path.as_bytes().into()),
            ..Record::default()
        };
        assert_eq!(slo.judge(&rec(200, "/"), slo.excludes_host("a.example")), Some(false));
        assert_eq!(slo.judge(&rec(503, "/"), slo.excludes_host("a.example")), Some(true));
        assert_eq!(slo.judge(&rec(429, "/"), slo.excludes_host("a.example")), Some(true), "a code, not a class");
        assert_eq!(slo.judge(&rec(503, "/healthz/deep"), slo.excludes_host("a.example")), None, "excluded path prefix");
        assert_eq!(slo.judge(&rec(503, "/"), slo.excludes_host("status.a.example")), None, "excluded host");
        assert_eq!(slo.judge(&rec(404, "/"), slo.excludes_host("a.example")), None, "excluded status");
        assert_eq!(slo.judge(&Record::default(), slo.excludes_host("a.example")), None, "no status");
    }

    #[test]
    fn latency_is_judged_against_the_threshold_inclusive() {
        let yaml = "customers:
  - id: a
    hosts: [a.example]
    slos:
      latency:
        ttfb: {threshold: 300ms, objective: 99}
        origin: {source: origin_duration, threshold: 1s, objective: 95}
      availability: {objective: 99}
";
        let catalog = edgewatch_catalog::load_str("c.yaml", yaml).unwrap().catalog;
        let slos = Slos::of(&catalog).remove(0);
        let names: Vec<_> = slos.names().collect();
        assert_eq!(
            names,
            [("availability", SloKind::Availability), ("origin", SloKind::Latency), ("ttfb", SloKind::Latency)],
            "the catalog's order"
        );
        let verdicts = |r: &Record<'_>| {
            let mut v = vec![None; slos.names().count()];
            slos.judge(r, false, |i, bad| v[i] = Some(bad));
            v
        };
        let rec = |ttfb: Option<f64>, origin: Option<(u16, f64)>| Record {
            edge_status: Some(200),
            ttfb,
            origin_status: origin.map(|o| o.0),
            origin_duration: origin.map(|o| o.1),
            ..Record::default()
        };
        assert_eq!(
            verdicts(&rec(Some(0.3), Some((200, 1.0)))),
            [Some(false), Some(false), Some(false)],
            "at the threshold"
        );
        assert_eq!(verdicts(&rec(Some(0.301), Some((200, 1.5)))), [Some(false), Some(true), Some(true)]);
        assert_eq!(verdicts(&rec(None, Some((0, 9.0)))), [Some(false), None, None], "no TTFB; origin never answered");
        assert_eq!(verdicts(&rec(Some(f64::NAN), None)), [Some(false), None, None], "NaN is no duration");
    }
}
