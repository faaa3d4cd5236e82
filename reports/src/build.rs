//! From the catalog, Prometheus and an incident source to [`Report`]s.

use std::collections::{BTreeMap, BTreeSet};

use edgewatch_catalog::model::{Customer, Slo, SloSpec};
use edgewatch_catalog::names::{AlertKind, LatencySource, le_label};
use edgewatch_catalog::{Catalog, names};
use jiff::Timestamp;

use crate::incidents::{IncidentError, IncidentSource};
use crate::model::{
    AttackAlert, Budget, BudgetStatus, CustomerInfo, IncidentBudget, IncidentReport, Incidents, LatencyDay,
    LatencyReport, POSTMORTEM_CONSUMED, Percentiles, PeriodInfo, ProbeReport, Report, SCHEMA, Security, SecurityDay,
    SloDay, SloKind, SloReport, Traffic, TrafficDay, WARNING_CONSUMED,
};
use crate::period::Period;
use crate::prom::{PromError, Prometheus};
use crate::query::{self, Counts, Selector, Window};

/// Customers per query: a day of a histogram's buckets at a 15s scrape is
/// about 5,760 samples a series, 14 series a host; 100 customers of a few
/// hosts each stay well under Prometheus' 50 million samples a query.
const BATCH: usize = 100;

/// Which customers to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every customer of the catalog.
    All,
    /// These ids, in this order.
    Ids(Vec<String>),
}

/// Why no report could be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// An id the catalog does not have.
    #[error("unknown customer `{id}`{}", hint(.near))]
    UnknownCustomer {
        /// The id asked for.
        id: String,
        /// Catalog ids that look like it.
        near: Vec<String>,
    },
    /// The selection named nobody.
    #[error("no customer to report on: give --customer ID or --all")]
    NoCustomers,
    /// Prometheus failed.
    #[error(transparent)]
    Prometheus(#[from] PromError),
    /// The incident source failed.
    #[error(transparent)]
    Incidents(#[from] IncidentError),
}

fn hint(near: &[String]) -> String {
    if near.is_empty() {
        " (not in the catalog)".to_owned()
    } else {
        format!(" (did you mean `{}`?)", near.join("`, `"))
    }
}

/// The customers a selection names, in order.
pub fn select<'c>(catalog: &'c Catalog, selection: &Selection) -> Result<Vec<&'c Customer>, ReportError> {
    let chosen: Vec<&Customer> = match selection {
        Selection::All => catalog.customers.iter().collect(),
        Selection::Ids(ids) => {
            let mut out = Vec::new();
            for id in ids {
                let Some(c) = catalog.customer(id) else {
                    let near = catalog
                        .customers
                        .iter()
                        .map(|c| c.id.to_string())
                        .filter(|known| strsim_like(known, id))
                        .collect();
                    return Err(ReportError::UnknownCustomer { id: id.clone(), near });
                };
                if !out.iter().any(|o: &&Customer| o.id == c.id) {
                    out.push(c);
                }
            }
            out
        }
    };
    if chosen.is_empty() {
        return Err(ReportError::NoCustomers);
    }
    Ok(chosen)
}

/// Whether two ids are a typo apart: one is a prefix of the other, or they
/// differ in at most two characters.
fn strsim_like(a: &str, b: &str) -> bool {
    if a.starts_with(b) || b.starts_with(a) {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            row.push((prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(row[j] + 1));
        }
        prev = row;
    }
    prev[b.len()] <= 2
}

/// The latency histograms a customer's report reads: those its latency
/// SLOs read, else edge time to first byte.
fn sources(c: &Customer) -> Vec<LatencySource> {
    let mut set = BTreeSet::from([LatencySource::EdgeTtfb]);
    for slo in &c.slos {
        if let SloSpec::Latency { source, .. } = slo.spec {
            set.insert(source);
        }
    }
    set.into_iter().collect()
}

/// Makes the reports of `customers` over `period`.
pub async fn build(
    catalog: &Catalog,
    prom: &Prometheus,
    incidents: &dyn IncidentSource,
    selection: &Selection,
    period: &Period,
    now: Timestamp,
) -> Result<Vec<Report>, ReportError> {
    let customers = select(catalog, selection)?;
    let days = period.days();
    let windows: Vec<Window> = days.iter().map(|d| Window { from: d.from, to: d.to }).collect();
    let empty = Counts::default();
    let mut reports = Vec::with_capacity(customers.len());
    // Batches of customers bound what one query loads (Prometheus refuses
    // a query over `--query.max-samples`, 50 million by default).
    for batch in customers.chunks(BATCH) {
        let sel = match selection {
            Selection::All if batch.len() == customers.len() => Selector::All,
            _ => Selector::Customers(batch.iter().map(|c| c.id.to_string()).collect()),
        };
        let batch_sources: Vec<LatencySource> =
            batch.iter().flat_map(|c| sources(c)).collect::<BTreeSet<_>>().into_iter().collect();
        let table = query::fetch(prom, &windows, &sel, &batch_sources).await?;
        let certs = query::certificates(prom, Window { from: period.from, to: period.to }, &sel).await?;
        for c in batch {
            let id = c.id.as_str();
            let column: Vec<&Counts> = table.iter().map(|t| t.get(id).unwrap_or(&empty)).collect();
            let mut report = customer_report(c, period, &days, &column, certs.get(id), now);
            report.incidents = incident_section(c, prom, incidents, period, &report.slos).await?;
            report.security.attacks = attacks(&report.incidents);
            reports.push(report);
        }
    }
    Ok(reports)
}

/// All and bad requests of an SLO in one window's counts: the exporter's
/// verdicts; for a latency SLO over a window before the exporter judged
/// them, the histogram bucket at the threshold (nothing without one).
fn slo_counts(slo: &Slo, c: &Counts) -> (f64, f64) {
    let judged = c.slo.get(slo.name.as_str()).map(|[g, b]| (g + b, *b));
    match (&slo.spec, judged) {
        (SloSpec::Availability { .. } | SloSpec::Latency { .. }, Some(counts)) => counts,
        (SloSpec::Availability { .. }, None) => (0.0, 0.0),
        (SloSpec::Latency { source, threshold }, None) => {
            let Some(b) = c.buckets.get(source) else { return (0.0, 0.0) };
            let total = b.get("+Inf").copied().unwrap_or(0.0);
            let Some(good) = b.get(&le_label(threshold.as_secs_f64())) else {
                if total > 0.0 {
                    tracing::warn!(slo = %slo.name, "The histogram has no bucket at the SLO's threshold; the SLO is left without data.");
                }
                return (0.0, 0.0);
            };
            (total, (total - good).max(0.0))
        }
        (SloSpec::Probe, _) => c.probes.values().fold((0.0, 0.0), |(n, b), [s, f]| (n + s + f, b + f)),
    }
}

fn kind(slo: &Slo) -> SloKind {
    match slo.kind() {
        names::SloKind::Availability => SloKind::Availability,
        names::SloKind::Latency => SloKind::Latency,
        names::SloKind::Probe => SloKind::Probe,
    }
}

fn describe(slo: &Slo) -> String {
    match &slo.spec {
        SloSpec::Availability { .. } => "requests that did not fail".to_owned(),
        SloSpec::Latency { source, threshold } => {
            let what = match source {
                LatencySource::EdgeTtfb => "edge time to first byte",
                LatencySource::OriginDuration => "origin response time",
            };
            format!("requests with {what} at or under {} s", le_label(threshold.as_secs_f64()))
        }
        SloSpec::Probe => "synthetic probes that succeeded".to_owned(),
    }
}

/// The share of a budget that `bad` used; `None` when there is no budget.
fn share(bad: f64, allowed: f64) -> Option<f64> {
    (allowed > 0.0).then(|| bad / allowed)
}

fn ratio(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole)
}

fn slo_report(customer: &Customer, slo: &Slo, days: &[crate::period::Day], column: &[&Counts]) -> SloReport {
    let per_day: Vec<(f64, f64)> = column.iter().map(|c| slo_counts(slo, c)).collect();
    let requests: f64 = per_day.iter().map(|d| d.0).sum();
    let bad: f64 = per_day.iter().map(|d| d.1).sum();
    let budget_ratio = slo.objective.complement_ratio().to_f64();
    let allowed = budget_ratio * requests;
    let floor = customer.slo_floor(slo);
    let consumed = if requests > 0.0 { share(bad, allowed) } else { None };
    // Requests are counts: a floor of 1000 is met by 999.99… of extrapolation.
    let under_floor = requests.round() < floor_f64(floor) || requests <= 0.0;
    let status = match consumed {
        _ if under_floor => BudgetStatus::InsufficientData,
        Some(c) if c > 1.0 => BudgetStatus::Breached,
        Some(c) if c >= WARNING_CONSUMED => BudgetStatus::Warning,
        None if bad > 0.0 => BudgetStatus::Breached,
        _ => BudgetStatus::Ok,
    };
    let mut spent = 0.0;
    let daily = days
        .iter()
        .zip(&per_day)
        .map(|(d, (n, b))| {
            spent += b;
            SloDay {
                date: d.date,
                requests: *n,
                bad: *b,
                sli: ratio(n - b, *n),
                budget_remaining: share(spent, allowed).map(|s| 1.0 - s),
            }
        })
        .collect();
    SloReport {
        name: slo.name.to_string(),
        kind: kind(slo),
        description: describe(slo),
        objective: slo.objective.value().to_f64(),
        slo_period: slo.period.to_string(),
        requests,
        bad,
        sli: ratio(requests - bad, requests),
        met: (status != BudgetStatus::InsufficientData).then_some(status != BudgetStatus::Breached),
        budget: Budget { allowed, consumed, remaining: consumed.map(|c| 1.0 - c), status },
        floor,
        daily,
    }
}

// Floors are small integers: exact as floats.
#[allow(clippy::cast_precision_loss)]
const fn floor_f64(n: u64) -> f64 {
    n as f64
}

fn customer_report(
    c: &Customer,
    period: &Period,
    days: &[crate::period::Day],
    column: &[&Counts],
    certs: Option<&BTreeMap<String, f64>>,
    now: Timestamp,
) -> Report {
    let slos = c.measured_slos().map(|s| slo_report(c, s, days, column)).collect();

    let mut status_classes: BTreeMap<String, f64> = BTreeMap::new();
    let traffic_days: Vec<TrafficDay> = days
        .iter()
        .zip(column)
        .map(|(d, counts)| {
            for (k, v) in &counts.status {
                *status_classes.entry(k.clone()).or_default() += v;
            }
            TrafficDay {
                date: d.date,
                requests: counts.status.values().sum(),
                peak_rate: counts.peak_rate,
                status_classes: counts.status.clone(),
            }
        })
        .collect();
    let requests: f64 = traffic_days.iter().map(|d| d.requests).sum();
    let traffic = Traffic {
        requests,
        peak_rate: traffic_days.iter().filter_map(|d| d.peak_rate).reduce(f64::max),
        status_classes,
        daily: traffic_days,
    };

    let latency = sources(c)
        .into_iter()
        .map(|source| {
            let mut whole: BTreeMap<String, f64> = BTreeMap::new();
            let daily = days
                .iter()
                .zip(column)
                .map(|(d, counts)| {
                    let buckets = counts.buckets.get(&source).cloned().unwrap_or_default();
                    for (le, v) in &buckets {
                        *whole.entry(le.clone()).or_default() += v;
                    }
                    LatencyDay { date: d.date, percentiles: percentiles(&buckets) }
                })
                .collect();
            LatencyReport { source: source.as_str().to_owned(), period: percentiles(&whole), daily }
        })
        .collect();

    let probes = c
        .probes
        .iter()
        .map(|p| {
            let [ok, failed] = column
                .iter()
                .filter_map(|counts| counts.probes.get(p.name.as_str()))
                .fold([0.0, 0.0], |[a, b], [s, f]| [a + s, b + f]);
            let not_after = certs.and_then(|m| m.get(p.name.as_str())).copied().filter(|t| t.is_finite());
            // Unix seconds of a certificate fit an i64.
            #[allow(clippy::cast_possible_truncation)]
            let expires = not_after.and_then(|t| Timestamp::from_second(t as i64).ok());
            #[allow(clippy::cast_precision_loss)]
            let days_left = not_after.map(|t| (t - period.to.as_second() as f64) / 86_400.0);
            ProbeReport {
                name: p.name.to_string(),
                url: p.url.to_string(),
                checks: ok + failed,
                failures: failed,
                uptime: ratio(ok, ok + failed),
                certificate_expires: expires,
                certificate_days_left: days_left,
            }
        })
        .collect();

    let security = security(days, column, requests);
    Report {
        schema: SCHEMA.to_owned(),
        generated_at: now,
        period: PeriodInfo {
            from: period.from,
            to: period.to,
            timezone: period.tz_name(),
            label: period.label.clone(),
            days: period.length_days(),
        },
        customer: CustomerInfo {
            id: c.id.to_string(),
            name: c.name.clone(),
            tier: c.tier.as_ref().map(ToString::to_string),
        },
        slos,
        traffic,
        latency,
        probes,
        security,
        incidents: Incidents { source: String::new(), available: false, items: Vec::new() },
    }
}

/// Mitigated requests per day and action, of `requests` in all; the
/// attacks come with the incidents.
fn security(days: &[crate::period::Day], column: &[&Counts], requests: f64) -> Security {
    let mut by_action: BTreeMap<String, f64> = BTreeMap::new();
    let daily: Vec<SecurityDay> = days
        .iter()
        .zip(column)
        .map(|(d, counts)| {
            for (k, v) in &counts.mitigated {
                *by_action.entry(k.clone()).or_default() += v;
            }
            SecurityDay { date: d.date, mitigated: counts.mitigated.values().sum() }
        })
        .collect();
    let mitigated = daily.iter().map(|d| d.mitigated).sum();
    Security { mitigated, share: ratio(mitigated, requests), by_action, daily, attacks: Vec::new() }
}

/// The customer's incidents in the period, each with the budget it
/// consumed, read from Prometheus over its own window (clipped to the
/// period).
async fn incident_section(
    c: &Customer,
    prom: &Prometheus,
    source: &dyn IncidentSource,
    period: &Period,
    slos: &[SloReport],
) -> Result<Incidents, ReportError> {
    let mut listed = source.incidents(c.id.as_str(), period.from, period.to).await?;
    listed.retain(|i| i.start < period.to && i.end.is_none_or(|e| e > period.from));
    listed.sort_by_key(|i| (i.start, i.id.clone()));
    let sel = Selector::Customers(vec![c.id.to_string()]);
    let mut items = Vec::with_capacity(listed.len());
    for i in listed {
        let window = Window { from: i.start.max(period.from), to: i.end.unwrap_or(period.to).min(period.to) };
        let counts = if window.to > window.from {
            query::fetch(prom, &[window], &sel, &sources(c)).await?.pop().and_then(|mut m| m.remove(c.id.as_str()))
        } else {
            None
        }
        .unwrap_or_default();
        let budget: Vec<IncidentBudget> = c
            .measured_slos()
            .zip(slos)
            .map(|(slo, r)| {
                let bad = slo_counts(slo, &counts).1;
                IncidentBudget { slo: r.name.clone(), bad, consumed: share(bad, r.budget.allowed) }
            })
            .collect();
        let postmortem = budget.iter().any(|b| b.consumed.is_some_and(|s| s > POSTMORTEM_CONSUMED));
        let end = i.end.unwrap_or(period.to);
        #[allow(clippy::cast_precision_loss)]
        let duration_seconds = (end.as_millisecond() - i.start.as_millisecond()) as f64 / 1000.0;
        items.push(IncidentReport {
            id: i.id,
            title: i.title,
            start: i.start,
            end: i.end,
            duration_seconds,
            severity: i.severity,
            alerts: i.alerts,
            links: i.links,
            remediation: i.remediation,
            ticketed: i.ticketed,
            reopened: i.reopened,
            budget,
            postmortem,
            offenders: i.offenders,
        });
    }
    Ok(Incidents { source: source.name().to_owned(), available: source.available(), items })
}

/// The attack alerts (`alert_kind` `attack`) of the incidents, by start.
fn attacks(incidents: &Incidents) -> Vec<AttackAlert> {
    let mut out: Vec<AttackAlert> = incidents
        .items
        .iter()
        .flat_map(|i| {
            i.alerts.iter().filter(|a| a.kind.as_deref() == Some(AlertKind::Attack.as_str())).map(|a| AttackAlert {
                alert: a.name.clone(),
                start: a.start,
                end: a.end,
                incident: i.id.clone(),
                offenders: i.offenders.clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| (a.start, &a.alert).cmp(&(b.start, &b.alert)));
    out
}

/// p50, p90 and p99 of a histogram's bucket increases (by `le`).
pub(crate) fn percentiles(buckets: &BTreeMap<String, f64>) -> Percentiles {
    let mut bounds: Vec<(f64, f64)> = buckets
        .iter()
        .filter_map(|(le, v)| {
            let bound = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((bound, *v))
        })
        .collect();
    bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Increases of cumulative buckets can come out a hair out of order
    // under extrapolation: keep them monotonic, as Prometheus does.
    let mut max = 0.0_f64;
    for b in &mut bounds {
        max = max.max(b.1);
        b.1 = max;
    }
    let requests = bounds.last().filter(|b| b.0.is_infinite()).map_or(0.0, |b| b.1);
    Percentiles { requests, p50: quantile(0.5, &bounds), p90: quantile(0.9, &bounds), p99: quantile(0.99, &bounds) }
}

/// Prometheus' `histogram_quantile` over cumulative `(bound, count)`
/// buckets: linear interpolation within the bucket holding the rank; the
/// `+Inf` bucket answers with the highest finite bound.
fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let last = buckets.last()?;
    if buckets.len() < 2 || !last.0.is_infinite() || last.1 <= 0.0 {
        return None;
    }
    let rank = q * last.1;
    let b = buckets.iter().position(|(_, n)| *n >= rank)?;
    if b == buckets.len() - 1 {
        return Some(buckets[b - 1].0);
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return Some(buckets[0].0);
    }
    let (start, below) = if b == 0 { (0.0, 0.0) } else { buckets[b - 1] };
    let (end, count) = buckets[b];
    let within = count - below;
    if within <= 0.0 {
        return Some(end);
    }
    Some(start + (end - start) * ((rank - below) / within))
}

#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    fn hist(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn quantiles_interpolate_as_histogram_quantile() {
        let h = hist(&[("0.1", 50.0), ("0.2", 90.0), ("0.5", 99.0), ("1.0", 100.0), ("+Inf", 100.0)]);
        let p = percentiles(&h);
        assert_eq!(p.requests, 100.0);
        assert!((p.p50.unwrap() - 0.1).abs() < 1e-12);
        assert!((p.p90.unwrap() - 0.2).abs() < 1e-12);
        assert!((p.p99.unwrap() - 0.5).abs() < 1e-12);
        let p = percentiles(&hist(&[("0.1", 40.0), ("0.2", 80.0), ("+Inf", 100.0)]));
        assert!((p.p50.unwrap() - 0.125).abs() < 1e-12);
        assert_eq!(p.p90, Some(0.2), "the +Inf bucket answers with the highest finite bound");
        assert_eq!(percentiles(&hist(&[("0.1", 0.0), ("+Inf", 0.0)])).p50, None);
    }

    #[test]
    fn latency_slos_read_the_judged_events_and_the_histogram_before_them() {
        let yaml = "customers:\n  - id: a\n    hosts: [a.example]\n    slos:\n      latency:\n        ttfb: {threshold: 300ms, objective: 99}\n";
        let catalog = edgewatch_catalog::load_str("c.yaml", yaml).unwrap().catalog;
        let slo = &catalog.customers[0].slos[0];
        let buckets = hist(&[("0.3", 90.0), ("+Inf", 100.0)]);
        let mut counts = Counts::default();
        counts.buckets.insert(LatencySource::EdgeTtfb, buckets);
        assert_eq!(slo_counts(slo, &counts), (100.0, 10.0), "no verdicts: the bucket at the threshold");
        counts.slo.insert("ttfb".to_owned(), [97.0, 3.0]);
        assert_eq!(slo_counts(slo, &counts), (100.0, 3.0), "the exporter's verdicts first");
        counts.slo.clear();
        counts.buckets.insert(LatencySource::EdgeTtfb, hist(&[("0.25", 90.0), ("+Inf", 100.0)]));
        assert_eq!(slo_counts(slo, &counts), (0.0, 0.0), "neither: nothing to judge by");
    }

    #[test]
    fn near_ids_are_suggested() {
        assert!(strsim_like("shop", "shpo"));
        assert!(strsim_like("bank-eu", "bank"));
        assert!(!strsim_like("shop", "news"));
    }
}
