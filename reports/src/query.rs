//! What a report reads from Prometheus: the exporters' counters over exact
//! windows (each day of the period, and each incident), summed by customer.
//!
//! **Counters read at the edges.** A window's count is, for each counter,
//! its value at the window's end minus its value at the window's start,
//! each read by an instant query (the last sample at or before the edge,
//! within Prometheus' lookback): Prometheus reads a few samples of each
//! series, not the whole day's, so a report costs about the same at a
//! 15-second scrape as at a 5-minute one. [`edges`] says when that
//! difference can be trusted; the counters of an exporter instance that
//! restarted or dropped idle hosts in a window are read as below instead.
//!
//! **Windows read with `increase()`.** A window `[from, to)` is read as
//! `increase(x[L + 1ms])` at `to`, where `L` is its length. The extra
//! millisecond makes Prometheus 2 (whose range selectors include a sample
//! exactly at the window's start) and Prometheus 3 (which leaves it out)
//! read the same samples: with samples on the window's edges (scrapes
//! aligned to them, as in the tests), Prometheus returns the difference of
//! the two edge samples extrapolated over the extra millisecond,
//! `(L + 1ms) / L` of it, which the report scales back: the count is exact,
//! and consecutive days add up to the period sample for sample. With
//! scrapes off the edges, both versions extrapolate the first and last
//! scrape interval to the range's edges the same way, and the scaling
//! brings that back to `L`; the numerator and the denominator of a ratio
//! are extrapolated alike. (A counter at zero at the window's start is not
//! extrapolated before it, so it comes out `1ms / L` short: 1.2e-8 of a
//! day's count, 8e-7 of a 20-minute incident's.)
//!
//! **Peak.** The highest five-minute request rate of a window comes from
//! rule-gen's recorded `edgewatch:requests:rate5m` where that recording
//! covers the window (present at both edges: the rules were loaded before
//! it), else from the raw counters, five-minute increases at each multiple
//! of five minutes (which reads every sample of the request counters).
//!
//! **Batches.** Windows of equal length one after the other (the days of a
//! period without a DST change) are one `query_range` with the window as
//! its step; any other window is an instant query. Every query covers all
//! the customers of the report at once.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use edgewatch_catalog::names::{LatencySource, MITIGATING_ACTIONS, label, metric, recorded};
use jiff::Timestamp;
use tokio::task::JoinSet;

use crate::prom::{PromError, Prometheus, Sample};

mod edges;

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

/// `sel` and `more`, comma-separated when both are there.
fn and(sel: &str, more: &str) -> String {
    match (sel.is_empty(), more.is_empty()) {
        (true, _) => more.to_owned(),
        (_, true) => sel.to_owned(),
        _ => format!("{sel},{more}"),
    }
}

/// A regex matching exactly these label values (Prometheus anchors its
/// regexes), as the body of a query string: regex metacharacters and
/// the string's own escapes escaped.
fn any_of<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push('|');
        }
        for ch in v.chars() {
            match ch {
                '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$' | '\\' => {
                    out.push_str("\\\\");
                    out.push(ch);
                }
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                _ => out.push(ch),
            }
        }
    }
    out
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Slo,
    Status,
    Buckets(LatencySource),
    Probes,
    Mitigated,
    Peak,
    /// The recorded five-minute request rate (the peak where it exists).
    RecordedPeak,
}

impl Family {
    /// The counter families, for the latency `sources`.
    fn counters(sources: &[LatencySource]) -> Vec<Self> {
        let mut all = vec![Self::Slo, Self::Status, Self::Probes, Self::Mitigated];
        all.extend(sources.iter().map(|s| Self::Buckets(*s)));
        all
    }

    /// The series a counter family reads.
    fn metric(self) -> String {
        match self {
            Self::Slo => metric::SLO_REQUESTS_TOTAL.to_owned(),
            Self::Status | Self::Peak => metric::REQUESTS_TOTAL.to_owned(),
            Self::Buckets(source) => format!("{}_bucket", source.metric()),
            Self::Probes => metric::PROBES_TOTAL.to_owned(),
            Self::Mitigated => metric::SECURITY_ACTIONS_TOTAL.to_owned(),
            Self::RecordedPeak => recorded::REQUESTS_5M.to_owned(),
        }
    }

    /// The query over a window of `ms` milliseconds.
    fn query(self, sel: &str, ms: i64) -> String {
        let w = format!("{}ms", ms + 1);
        let (c, m) = (label::CUSTOMER, self.metric());
        match self {
            Self::Slo => format!("sum by ({c}, {}, {}) (increase({m}{{{sel}}}[{w}]))", label::SLO, label::RESULT),
            Self::Status => format!("sum by ({c}, {}) (increase({m}{{{sel}}}[{w}]))", label::STATUS_CLASS),
            Self::Buckets(_) => format!("sum by ({c}, le) (increase({m}{{{sel}}}[{w}]))"),
            Self::Probes => format!("sum by ({c}, {}, {}) (increase({m}{{{sel}}}[{w}]))", label::PROBE, label::RESULT),
            Self::Mitigated => format!(
                "sum by ({c}, {a}) (increase({m}{{{}}}[{w}]))",
                and(sel, &format!("{}=~\"{MITIGATING_ACTIONS}\"", label::ACTION)),
                a = label::ACTION,
            ),
            // Five-minute increases at each multiple of five minutes in
            // the window (its start left out: that one ends the window
            // before), the highest of them, as a rate.
            Self::Peak => format!(
                "max_over_time((sum by ({c}) (increase({m}{{{sel}}}[{p}s])))[{}ms:{p}s]) / {p}",
                ms - 1,
                p = PEAK_WINDOW_SECONDS,
            ),
            // Its samples in the window, its start left out likewise.
            Self::RecordedPeak => format!("max by ({c}) (max_over_time({m}{{{sel}}}[{}ms]))", ms - 1),
        }
    }

    /// Adds `value`, counted by the series `labels`, to `counts`.
    fn fold(self, labels: &BTreeMap<String, String>, value: f64, counts: &mut Counts) {
        let get = |name: &str| labels.get(name).cloned().unwrap_or_default();
        let v = if value.is_finite() { value } else { 0.0 };
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
            Self::Mitigated => {
                let action = get(label::ACTION);
                if MITIGATING_ACTIONS.split('|').any(|a| a == action) {
                    *counts.mitigated.entry(action).or_default() += v;
                }
            }
            Self::Peak | Self::RecordedPeak => counts.peak_rate = Some(v),
        }
    }
}

/// Per window (in the order given), per customer id, the counts.
pub(crate) type Table = Vec<HashMap<String, Counts>>;

/// Runs `jobs`, [`CONCURRENCY`] at a time; the first failure ends it (the
/// rest are not waited for).
async fn all<T, F>(jobs: Vec<F>) -> Result<Vec<T>, PromError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, PromError>> + Send + 'static,
{
    let mut out = Vec::with_capacity(jobs.len());
    let mut pending = jobs;
    pending.reverse();
    let mut tasks = JoinSet::new();
    loop {
        while tasks.len() < CONCURRENCY
            && let Some(job) = pending.pop()
        {
            tasks.spawn(job);
        }
        let Some(done) = tasks.join_next().await else { return Ok(out) };
        match done {
            Ok(Ok(v)) => out.push(v),
            Ok(Err(e)) => {
                tasks.abort_all();
                return Err(e);
            }
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {} // aborted
        }
    }
}

/// Consecutive windows of one length, one after the other: one
/// `query_range` each (or an instant query for a run of one).
fn runs(windows: &[Window], same: impl Fn(usize, usize) -> bool) -> Vec<std::ops::Range<usize>> {
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, w) in windows.iter().enumerate() {
        match runs.last_mut() {
            Some(r)
                if r.end == i
                    && windows[r.start].millis() == w.millis()
                    && windows[i - 1].to == w.from
                    && same(r.start, i) =>
            {
                r.end = i + 1;
            }
            _ => runs.push(i..i + 1),
        }
    }
    runs
}

/// Samples by the unix milliseconds of the window end they were read at.
type ByEnd = Vec<(i64, Vec<Sample>)>;

/// `family`'s query over the windows `first` to `last`, all of one length
/// and one after the other (a single window when `first == last`).
async fn over(
    prom: Prometheus,
    family: Family,
    sel: String,
    first: Window,
    last: Window,
) -> Result<(Family, ByEnd), PromError> {
    let query = family.query(&sel, first.millis());
    if first == last {
        let v = prom.instant(&query, last.to).await?;
        return Ok((family, vec![(last.to.as_millisecond(), v)]));
    }
    let series = prom.range(&query, first.to, last.to, first.millis()).await?;
    let mut at: BTreeMap<i64, Vec<Sample>> = BTreeMap::new();
    for s in series {
        for (t, v) in s.values {
            at.entry(t).or_default().push(Sample { labels: s.labels.clone(), value: v });
        }
    }
    Ok((family, at.into_iter().collect()))
}

/// Reads every family over every window, for the selected customers.
pub(crate) async fn fetch(
    prom: &Prometheus,
    windows: &[Window],
    sel: &Selector,
    sources: &[LatencySource],
) -> Result<Table, PromError> {
    let sel = sel.matchers();
    let edges = edges::read(prom, windows, &sel, sources).await?;
    let mut table: Table = vec![HashMap::new(); windows.len()];
    let ends: HashMap<i64, usize> = windows.iter().enumerate().map(|(i, w)| (w.to.as_millisecond(), i)).collect();

    // The counters that can be trusted, from their edges; the rest (per
    // window, the instances they come from) with increase().
    let mut jobs = Vec::new();
    let mut raw = Vec::with_capacity(windows.len());
    for (i, w) in windows.iter().enumerate() {
        let untrusted = edges.fold(i, &mut table[i]);
        raw.push(edges.raw_peak(i, !untrusted.is_empty()));
        if untrusted.is_empty() {
            continue;
        }
        let sel = and(&sel, &format!("instance=~\"{}\"", any_of(untrusted.iter().map(String::as_str))));
        for family in Family::counters(sources) {
            jobs.push(over(prom.clone(), family, sel.clone(), *w, *w));
        }
    }

    // The peak: recorded where the recording covers the window, from the
    // raw counters for the customers it does not.
    if edges.any_recorded() {
        for r in runs(windows, |_, _| true) {
            jobs.push(over(prom.clone(), Family::RecordedPeak, sel.clone(), windows[r.start], windows[r.end - 1]));
        }
    }
    for r in runs(windows, |a, b| raw[a] == raw[b]) {
        let Some(covered) = &raw[r.start] else { continue };
        let sel = if covered.is_empty() {
            sel.clone()
        } else {
            and(&sel, &format!("{}!~\"{}\"", label::CUSTOMER, any_of(covered.iter().map(String::as_str))))
        };
        jobs.push(over(prom.clone(), Family::Peak, sel, windows[r.start], windows[r.end - 1]));
    }

    for (family, at) in all(jobs).await? {
        for (t, samples) in at {
            let Some(&i) = ends.get(&t) else { continue };
            // Back from the selector's `L + 1ms` to the window's `L`.
            #[allow(clippy::cast_precision_loss)]
            let scale = match family {
                Family::Peak | Family::RecordedPeak => 1.0,
                _ => {
                    let ms = windows[i].millis();
                    ms as f64 / (ms + 1) as f64
                }
            };
            for s in samples {
                let Some(c) = s.labels.get(label::CUSTOMER) else { continue };
                if family == Family::RecordedPeak && !edges.recorded(i, c) {
                    continue;
                }
                family.fold(&s.labels, s.value * scale, table[i].entry(c.clone()).or_default());
            }
        }
    }
    Ok(table)
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
            [
                Family::Slo,
                Family::Status,
                Family::Buckets(LatencySource::EdgeTtfb),
                Family::Probes,
                Family::Mitigated,
                Family::Peak,
                Family::RecordedPeak
            ]
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
        max by (customer) (max_over_time(edgewatch:requests:rate5m{customer=~"shop|bank"}[86399999ms]))
        "#
        );
        assert_eq!(
            Family::Mitigated.query("", 1000),
            "sum by (customer, action) (increase(edgewatch_security_actions_total{action=~\"block|challenge|jschallenge|managed_challenge\"}[1001ms]))"
        );
    }

    #[test]
    fn instance_regexes_match_the_values_exactly() {
        assert_eq!(any_of(["10.0.0.1:9101", ""]), r"10\\.0\\.0\\.1:9101|");
        assert_eq!(any_of(["a\"b|c"]), r#"a\"b\\|c"#);
    }

    #[test]
    fn runs_join_windows_of_one_length_that_follow_each_other() {
        let w = |from: i64, to: i64| Window {
            from: Timestamp::from_second(from).unwrap(),
            to: Timestamp::from_second(to).unwrap(),
        };
        // Two days, a 23-hour day, a day, then a day after a gap.
        let windows = [w(0, 10), w(10, 20), w(20, 29), w(29, 39), w(50, 60)];
        assert_eq!(runs(&windows, |_, _| true), vec![0..2, 2..3, 3..4, 4..5]);
        assert_eq!(runs(&windows[..2], |a, b| a == b), vec![0..1, 1..2]);
    }
}
