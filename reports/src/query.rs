//! What a report reads from Prometheus: the exporters' raw counters,
//! increased over exact windows (each day of the period, and each
//! incident), summed by customer.
//!
//! **Windows.** A window `[from, to)` is read as `increase(x[L + 1ms])` at
//! `to`, where `L` is its length. The extra millisecond makes Prometheus 2
//! (whose range selectors include a sample exactly at the window's start)
//! and Prometheus 3 (which leaves it out) read the same samples: with
//! samples on the window's edges (scrapes aligned to them, as in the
//! tests), Prometheus returns the difference of the two edge samples
//! extrapolated over the extra millisecond, `(L + 1ms) / L` of it, which
//! the report scales back: the count is exact, and consecutive days add up
//! to the period sample for sample. With scrapes off the edges, both
//! versions extrapolate the first and last scrape interval to the range's
//! edges the same way, and the scaling brings that back to `L`; the
//! numerator and the denominator of a ratio are extrapolated alike. (A
//! counter at zero at the window's start is not extrapolated before it, so
//! it comes out `1ms / L` short: 1.2e-8 of a day's count, 8e-7 of a
//! 20-minute incident's.)
//!
//! **Batches.** Windows of equal length in a row (the days of a period
//! without a DST change) are one `query_range` with the window as its step;
//! a window of another length (a DST day, a partial day) is an instant
//! query. Every query covers all the customers of the report at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use edgewatch_catalog::names::{LatencySource, MITIGATING_ACTIONS, label, metric};
use jiff::Timestamp;
use tokio::task::JoinSet;

use crate::prom::{PromError, Prometheus, Sample};

/// The window the peak request rate is averaged over, in seconds.
pub const PEAK_WINDOW_SECONDS: u32 = 300;

/// How many queries run at once.
const CONCURRENCY: usize = 4;

/// Which customers the queries select.
#[derive(Debug, Clone)]
pub(crate) enum Selector {
    /// Every series (the report covers the whole catalog).
    All,
    /// These customers.
    Customers(Vec<String>),
}

impl Selector {
    /// The label matchers, without braces (`customer=~"a|b"`).
    fn matchers(&self) -> String {
        match self {
            Self::All => String::new(),
            // Catalog ids are slugs ([a-z0-9-]): nothing to escape.
            Self::Customers(ids) => format!("{}=~\"{}\"", label::CUSTOMER, ids.join("|")),
        }
    }
}

/// A window of time: `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) from: Timestamp,
    pub(crate) to: Timestamp,
}

impl Window {
    fn millis(self) -> i64 {
        self.to.as_millisecond() - self.from.as_millisecond()
    }
}

/// One customer's counts over one window.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Counts {
    /// Availability SLO verdicts by SLO: `[good, bad]`.
    pub(crate) slo: BTreeMap<String, [f64; 2]>,
    /// Requests by status class.
    pub(crate) status: BTreeMap<String, f64>,
    /// Histogram bucket increases by source, then `le`.
    pub(crate) buckets: BTreeMap<LatencySource, BTreeMap<String, f64>>,
    /// Probes by probe: `[success, failure]`.
    pub(crate) probes: BTreeMap<String, [f64; 2]>,
    /// Mitigated requests by action.
    pub(crate) mitigated: BTreeMap<String, f64>,
    /// The highest five-minute request rate, per second.
    pub(crate) peak_rate: Option<f64>,
}

/// What a query's samples feed.
#[derive(Debug, Clone, Copy)]
enum Family {
    Slo,
    Status,
    Buckets(LatencySource),
    Probes,
    Mitigated,
    Peak,
}

impl Family {
    /// The query over a window of `ms` milliseconds.
    fn query(self, sel: &str, ms: i64) -> String {
        let w = format!("{}ms", ms + 1);
        let (c, comma) = (label::CUSTOMER, if sel.is_empty() { "" } else { "," });
        match self {
            Self::Slo => format!(
                "sum by ({c}, {}, {}) (increase({}{{{sel}}}[{w}]))",
                label::SLO,
                label::RESULT,
                metric::SLO_REQUESTS_TOTAL
            ),
            Self::Status => {
                format!("sum by ({c}, {}) (increase({}{{{sel}}}[{w}]))", label::STATUS_CLASS, metric::REQUESTS_TOTAL)
            }
            Self::Buckets(source) => {
                format!("sum by ({c}, le) (increase({}_bucket{{{sel}}}[{w}]))", source.metric())
            }
            Self::Probes => format!(
                "sum by ({c}, {}, {}) (increase({}{{{sel}}}[{w}]))",
                label::PROBE,
                label::RESULT,
                metric::PROBES_TOTAL
            ),
            Self::Mitigated => format!(
                "sum by ({c}, {a}) (increase({}{{{sel}{comma}{a}=~\"{MITIGATING_ACTIONS}\"}}[{w}]))",
                metric::SECURITY_ACTIONS_TOTAL,
                a = label::ACTION,
            ),
            // Five-minute increases at each multiple of five minutes in
            // the window (its start left out: that one ends the window
            // before), the highest of them, as a rate.
            Self::Peak => format!(
                "max_over_time((sum by ({c}) (increase({}{{{sel}}}[{p}s])))[{}ms:{p}s]) / {p}",
                metric::REQUESTS_TOTAL,
                ms - 1,
                p = PEAK_WINDOW_SECONDS,
            ),
        }
    }

    fn fold(self, s: &Sample, counts: &mut Counts) {
        let get = |name: &str| s.labels.get(name).cloned().unwrap_or_default();
        let v = if s.value.is_finite() { s.value } else { 0.0 };
        match self {
            Self::Slo => {
                let slot = counts.slo.entry(get(label::SLO)).or_default();
                match get(label::RESULT).as_str() {
                    "good" => slot[0] += v,
                    "bad" => slot[1] += v,
                    _ => {}
                }
            }
            Self::Status => *counts.status.entry(get(label::STATUS_CLASS)).or_default() += v,
            Self::Buckets(source) => *counts.buckets.entry(source).or_default().entry(get("le")).or_default() += v,
            Self::Probes => {
                let slot = counts.probes.entry(get(label::PROBE)).or_default();
                match get(label::RESULT).as_str() {
                    "success" => slot[0] += v,
                    "failure" => slot[1] += v,
                    _ => {}
                }
            }
            Self::Mitigated => *counts.mitigated.entry(get(label::ACTION)).or_default() += v,
            Self::Peak => counts.peak_rate = Some(v),
        }
    }
}

/// Per window (in the order given), per customer id, the counts.
pub(crate) type Table = Vec<HashMap<String, Counts>>;

/// Reads every family over every window, for the selected customers.
pub(crate) async fn fetch(
    prom: &Prometheus,
    windows: &[Window],
    sel: &Selector,
    sources: &[LatencySource],
) -> Result<Table, PromError> {
    let mut families = vec![Family::Slo, Family::Status, Family::Probes, Family::Mitigated, Family::Peak];
    families.extend(sources.iter().map(|s| Family::Buckets(*s)));
    let sel = Arc::new(sel.matchers());

    // Runs of windows of one length, each a query_range (or one instant query).
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, w) in windows.iter().enumerate() {
        match runs.last_mut() {
            Some(r) if windows[r.start].millis() == w.millis() && r.end == i => r.end = i + 1,
            _ => runs.push(i..i + 1),
        }
    }
    let ends: HashMap<i64, usize> = windows.iter().enumerate().map(|(i, w)| (w.to.as_millisecond(), i)).collect();

    let mut table: Table = vec![HashMap::new(); windows.len()];
    let mut tasks = JoinSet::new();
    let mut pending = families.iter().flat_map(|f| runs.iter().map(move |r| (*f, r.clone()))).collect::<Vec<_>>();
    pending.reverse();
    let mut fail = None;
    loop {
        while tasks.len() < CONCURRENCY
            && let Some((family, run)) = pending.pop()
        {
            let (prom, sel) = (prom.clone(), Arc::clone(&sel));
            let (first, last) = (windows[run.start], windows[run.end - 1]);
            tasks.spawn(async move {
                let q = family.query(&sel, first.millis());
                let got = if run.len() == 1 {
                    prom.instant(&q, last.to).await.map(|v| vec![(last.to.as_millisecond(), v)])
                } else {
                    prom.range(&q, first.to, last.to, first.millis()).await.map(|series| {
                        let mut at: BTreeMap<i64, Vec<Sample>> = BTreeMap::new();
                        for s in series {
                            for (t, v) in s.values {
                                at.entry(t).or_default().push(Sample { labels: s.labels.clone(), value: v });
                            }
                        }
                        at.into_iter().collect()
                    })
                };
                (family, got.map(|at| (first.millis(), at)))
            });
        }
        let Some(done) = tasks.join_next().await else { break };
        let (family, got) = match done {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => continue, // aborted after a failure
        };
        match got {
            Ok((ms, at)) => {
                // Back from the selector's `L + 1ms` to the window's `L`.
                #[allow(clippy::cast_precision_loss)]
                let scale = if matches!(family, Family::Peak) { 1.0 } else { ms as f64 / (ms + 1) as f64 };
                for (t, samples) in at {
                    let Some(&i) = ends.get(&t) else { continue };
                    for mut s in samples {
                        s.value *= scale;
                        let Some(c) = s.labels.get(label::CUSTOMER) else { continue };
                        family.fold(&s, table[i].entry(c.clone()).or_default());
                    }
                }
            }
            Err(e) => {
                // The first failure ends the report; the rest are not waited for.
                fail.get_or_insert(e);
                tasks.abort_all();
                pending.clear();
            }
        }
    }
    match fail {
        Some(e) => Err(e),
        None => Ok(table),
    }
}

/// When each probe's certificate expires, as last seen in `window`, by
/// customer and probe (unix seconds).
pub(crate) async fn certificates(
    prom: &Prometheus,
    window: Window,
    sel: &Selector,
) -> Result<HashMap<String, BTreeMap<String, f64>>, PromError> {
    let q = format!(
        "max by ({c}, {p}) (last_over_time({}{{{}}}[{}ms]))",
        metric::PROBE_TLS_NOT_AFTER,
        sel.matchers(),
        window.millis() + 1,
        c = label::CUSTOMER,
        p = label::PROBE,
    );
    let mut out: HashMap<String, BTreeMap<String, f64>> = HashMap::new();
    for s in prom.instant(&q, window.to).await? {
        if let (Some(c), Some(p)) = (s.labels.get(label::CUSTOMER), s.labels.get(label::PROBE)) {
            out.entry(c.clone()).or_default().insert(p.clone(), s.value);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_name_the_catalog_metrics_and_exact_windows() {
        let sel = Selector::Customers(vec!["shop".into(), "bank".into()]).matchers();
        insta::assert_snapshot!(
            [Family::Slo, Family::Status, Family::Buckets(LatencySource::EdgeTtfb), Family::Probes, Family::Mitigated, Family::Peak]
                .iter()
                .map(|f| f.query(&sel, 86_400_000))
                .collect::<Vec<_>>()
                .join("\n"),
            @r#"
        sum by (customer, slo, result) (increase(edgewatch_slo_requests_total{customer=~"shop|bank"}[86400001ms]))
        sum by (customer, status_class) (increase(edgewatch_requests_total{customer=~"shop|bank"}[86400001ms]))
        sum by (customer, le) (increase(edgewatch_edge_ttfb_seconds_bucket{customer=~"shop|bank"}[86400001ms]))
        sum by (customer, probe, result) (increase(edgewatch_probes_total{customer=~"shop|bank"}[86400001ms]))
        sum by (customer, action) (increase(edgewatch_security_actions_total{customer=~"shop|bank",action=~"block|challenge|jschallenge|managed_challenge"}[86400001ms]))
        max_over_time((sum by (customer) (increase(edgewatch_requests_total{customer=~"shop|bank"}[300s])))[86399999ms:300s]) / 300
        "#
        );
        assert_eq!(
            Family::Mitigated.query("", 1000),
            "sum by (customer, action) (increase(edgewatch_security_actions_total{action=~\"block|challenge|jschallenge|managed_challenge\"}[1001ms]))"
        );
    }
}
