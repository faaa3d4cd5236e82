//! Counters read at the edges of the windows, and when the difference of
//! two reads counts what happened between them.
//!
//! A counter's difference is its count only if it kept counting: the
//! exporter instance that exposes it did not start its counters again
//! (its `edgewatch_exporter_start_time_seconds` is the same at both edges)
//! and dropped no idle host, whose counters would start from zero if it
//! came back (its `edgewatch_exporter_expired_hosts_total` is the same).
//! Both are read in the same scrape as the counters, so they speak for the
//! same samples. Anything else makes the instance's counters untrusted in
//! that window, and the caller reads them with `increase()`: no start time
//! at an edge (the instance was not scraped then, or is not an edgewatch
//! exporter of this version, or the history was backfilled without it), a
//! counter that went down, or one that vanished. A counter that appears
//! inside a trusted window (a new host or status) counts from zero.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use edgewatch_catalog::names::{LatencySource, label, metric, recorded};

use super::{Counts, Family, Window, all, and};
use crate::prom::{PromError, Prometheus, Sample};

/// A series' labels, `__name__` included.
type Labels = BTreeMap<String, String>;

/// What one edge holds.
#[derive(Debug, Default)]
struct Edge {
    /// Every counter of the families read, by series: its family and value.
    counters: HashMap<Labels, (Family, f64)>,
    /// Per exporter instance, its start time and expired hosts.
    exporters: HashMap<String, [Option<f64>; 2]>,
    /// Customers whose recorded request rate is there.
    recorded: HashSet<String>,
}

/// The edges of a report's windows.
#[derive(Debug)]
pub(super) struct Edges {
    windows: Vec<Window>,
    /// By unix milliseconds.
    at: HashMap<i64, Edge>,
}

fn instance(labels: &Labels) -> &str {
    labels.get("instance").map_or("", String::as_str)
}

/// Reads the counters of `sources`' families, the recorded request rate,
/// and the exporters' start times at every edge of `windows`.
pub(super) async fn read(
    prom: &Prometheus,
    windows: &[Window],
    sel: &str,
    sources: &[LatencySource],
) -> Result<Edges, PromError> {
    let times: BTreeSet<i64> =
        windows.iter().flat_map(|w| [w.from, w.to]).map(jiff::Timestamp::as_millisecond).collect();
    let families: BTreeMap<String, Family> = Family::counters(sources).into_iter().map(|f| (f.metric(), f)).collect();
    let mut names: Vec<&str> = families.keys().map(String::as_str).collect();
    names.push(recorded::REQUESTS_5M);
    let series = format!("{{{}}}", and(&format!("__name__=~\"{}\"", names.join("|")), sel));
    let exporters =
        format!("{{__name__=~\"{}|{}\"}}", metric::EXPORTER_START_TIME_SECONDS, metric::EXPORTER_EXPIRED_HOSTS_TOTAL);

    let mut jobs = Vec::new();
    for &ms in &times {
        let at = jiff::Timestamp::from_millisecond(ms).unwrap_or_default();
        for (query, own) in [(series.clone(), true), (exporters.clone(), false)] {
            let prom = prom.clone();
            jobs.push(async move { prom.instant(&query, at).await.map(|v| (ms, own, v)) });
        }
    }
    let mut at: HashMap<i64, Edge> = HashMap::new();
    for (ms, own, samples) in all(jobs).await? {
        let edge = at.entry(ms).or_default();
        for Sample { mut labels, value } in samples {
            let name = labels.get("__name__").cloned().unwrap_or_default();
            if !own {
                let slot = edge.exporters.entry(instance(&labels).to_owned()).or_default();
                slot[usize::from(name == metric::EXPORTER_EXPIRED_HOSTS_TOTAL)] = Some(value);
            } else if name == recorded::REQUESTS_5M {
                if let Some(c) = labels.remove(label::CUSTOMER) {
                    edge.recorded.insert(c);
                }
            } else if let Some(family) = families.get(&name) {
                edge.counters.insert(labels, (*family, value));
            }
        }
    }
    Ok(Edges { windows: windows.to_vec(), at })
}

impl Edges {
    fn edges(&self, i: usize) -> (&Edge, &Edge) {
        let w = self.windows[i];
        let empty = || {
            static EMPTY: std::sync::OnceLock<Edge> = std::sync::OnceLock::new();
            EMPTY.get_or_init(Edge::default)
        };
        let get = |t: jiff::Timestamp| self.at.get(&t.as_millisecond()).unwrap_or_else(empty);
        (get(w.from), get(w.to))
    }

    /// Folds window `i`'s trusted counter differences into `table`, by
    /// customer; returns the instances whose counters it left out.
    pub(super) fn fold(&self, i: usize, table: &mut HashMap<String, Counts>) -> BTreeSet<String> {
        let (from, to) = self.edges(i);
        let kept = |inst: &str| match (from.exporters.get(inst), to.exporters.get(inst)) {
            (Some(a @ [Some(_), _]), Some(b)) => a == b,
            _ => false,
        };
        let mut untrusted = BTreeSet::new();
        for (labels, (_, end)) in &to.counters {
            let inst = instance(labels);
            if !kept(inst) || from.counters.get(labels).is_some_and(|(_, start)| end < start) {
                untrusted.insert(inst.to_owned());
            }
        }
        for labels in from.counters.keys().filter(|l| !to.counters.contains_key(*l)) {
            untrusted.insert(instance(labels).to_owned());
        }
        for (labels, (family, end)) in &to.counters {
            let Some(customer) = labels.get(label::CUSTOMER) else { continue };
            if untrusted.contains(instance(labels)) {
                continue;
            }
            let count = end - from.counters.get(labels).map_or(0.0, |(_, start)| *start);
            family.fold(labels, count, table.entry(customer.clone()).or_default());
        }
        untrusted
    }

    /// Whether any edge has the recorded request rate.
    pub(super) fn any_recorded(&self) -> bool {
        self.at.values().any(|e| !e.recorded.is_empty())
    }

    /// Whether customer `c`'s recorded request rate covers window `i`.
    pub(super) fn recorded(&self, i: usize, c: &str) -> bool {
        let (from, to) = self.edges(i);
        from.recorded.contains(c) && to.recorded.contains(c)
    }

    /// Whether window `i` needs its peak from the raw counters: `None`
    /// when the recording covers every customer with requests there (and
    /// no instance is untrusted, whose hosts may have come and gone
    /// between the edges), else the customers it covers.
    pub(super) fn raw_peak(&self, i: usize, untrusted: bool) -> Option<BTreeSet<String>> {
        let (from, to) = self.edges(i);
        let covered: BTreeSet<String> = from.recorded.intersection(&to.recorded).cloned().collect();
        let requests = from
            .counters
            .keys()
            .chain(to.counters.keys())
            .filter(|l| l.get("__name__").is_some_and(|n| n == metric::REQUESTS_TOTAL))
            .filter_map(|l| l.get(label::CUSTOMER));
        let needed = untrusted || requests.into_iter().any(|c| !covered.contains(c));
        needed.then_some(covered)
    }
}
