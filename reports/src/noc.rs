//! The NOC review (`edgewatch report --noc`): every customer over the
//! period in one table, sorted by the error budget consumed, with their
//! incidents (how many, how fast ticketed and resolved, how noisy) and the
//! customers under the traffic floor. It is made from the customers'
//! reports, so its figures are theirs.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::{BudgetStatus, PeriodInfo, Report};

/// The value of [`NocReview::schema`] this version writes.
pub const NOC_SCHEMA: &str = "edgewatch.noc-review/v1";

/// The review of all customers over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NocReview {
    /// [`NOC_SCHEMA`].
    pub schema: String,
    /// When it was made.
    pub generated_at: Timestamp,
    /// What it covers.
    pub period: PeriodInfo,
    /// Which incident source listed the incidents (`none`: not connected).
    pub incident_source: String,
    /// Whether incidents are known; false: the incident columns say nothing.
    pub incidents_available: bool,
    /// Totals over every customer.
    pub summary: Summary,
    /// Every customer, the most budget consumed first; customers with no
    /// judged SLO last.
    pub customers: Vec<Row>,
    /// Ids of customers with an SLO under its traffic floor.
    pub under_floor: Vec<String>,
}

/// Totals of a review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Customers.
    pub customers: u32,
    /// Customers by their worst status.
    pub breached: u32,
    /// Customers whose worst status is a warning.
    pub warning: u32,
    /// Customers with every judged SLO ok.
    pub ok: u32,
    /// Customers with no judged SLO.
    pub insufficient_data: u32,
    /// Incidents in the period.
    pub incidents: u32,
    /// Of which needed a postmortem.
    pub postmortems: u32,
    /// Times incidents reopened.
    pub reopened: u32,
    /// Alerts per incident, on average; null without incidents.
    pub alerts_per_incident: Option<f64>,
    /// Seconds from an incident's start to its first ticket or page.
    pub time_to_ticket: Spread,
    /// Seconds from an incident's start to its end.
    pub time_to_resolve: Spread,
}

/// The median and the worst of some durations, in seconds; null without any.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spread {
    /// Median.
    pub median: Option<f64>,
    /// Longest.
    pub worst: Option<f64>,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = match n {
            0 => None,
            _ if n % 2 == 1 => Some(values[n / 2]),
            _ => Some(f64::midpoint(values[n / 2 - 1], values[n / 2])),
        };
        Self { median, worst: values.last().copied() }
    }
}

/// One customer in the review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// Catalog id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Tier, if any.
    pub tier: Option<String>,
    /// The worst status of its SLOs (insufficient data only when none is judged).
    pub status: BudgetStatus,
    /// The most budget any judged SLO consumed; null when none is judged.
    pub budget_consumed: Option<f64>,
    /// The SLO that consumed it.
    pub worst_slo: Option<String>,
    /// Each SLO's SLI, budget and status.
    pub slos: Vec<RowSlo>,
    /// All requests.
    pub requests: f64,
    /// Incidents in the period.
    pub incidents: u32,
    /// Of which needed a postmortem.
    pub postmortems: u32,
    /// Alerts over its incidents.
    pub alerts: u32,
    /// Times its incidents reopened.
    pub reopened: u32,
    /// Seconds from start to ticket.
    pub time_to_ticket: Spread,
    /// Seconds from start to end.
    pub time_to_resolve: Spread,
}

/// One SLO of a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowSlo {
    /// The SLO's name in the catalog (`availability`, `latency`).
    pub name: String,
    /// Objective, percent.
    pub objective: f64,
    /// SLI; null without requests.
    pub sli: Option<f64>,
    /// Budget consumed; null without requests.
    pub consumed: Option<f64>,
    /// Status.
    pub status: BudgetStatus,
}

const fn severity(s: BudgetStatus) -> u8 {
    match s {
        BudgetStatus::InsufficientData => 0,
        BudgetStatus::Ok => 1,
        BudgetStatus::Warning => 2,
        BudgetStatus::Breached => 3,
    }
}

fn seconds(from: Timestamp, to: Timestamp) -> f64 {
    // Milliseconds between two times of a period fit a float exactly.
    #[allow(clippy::cast_precision_loss)]
    let ms = (to.as_millisecond() - from.as_millisecond()) as f64;
    ms / 1000.0
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn row(r: &Report) -> Row {
    let judged = r.slos.iter().filter(|s| s.budget.status != BudgetStatus::InsufficientData);
    let worst = judged
        .clone()
        .filter(|s| s.budget.consumed.is_some())
        .max_by(|a, b| a.budget.consumed.unwrap_or(0.0).total_cmp(&b.budget.consumed.unwrap_or(0.0)));
    let status = judged.map(|s| s.budget.status).max_by_key(|s| severity(*s)).unwrap_or(BudgetStatus::InsufficientData);
    let items = &r.incidents.items;
    Row {
        id: r.customer.id.clone(),
        name: r.customer.name.clone(),
        tier: r.customer.tier.clone(),
        status,
        budget_consumed: worst.and_then(|s| s.budget.consumed),
        worst_slo: worst.map(|s| s.name.clone()),
        slos: r
            .slos
            .iter()
            .map(|s| RowSlo {
                name: s.name.clone(),
                objective: s.objective,
                sli: s.sli,
                consumed: s.budget.consumed,
                status: s.budget.status,
            })
            .collect(),
        requests: r.traffic.requests,
        incidents: count(items.len()),
        postmortems: count(items.iter().filter(|i| i.postmortem).count()),
        alerts: count(items.iter().map(|i| i.alerts.len()).sum()),
        reopened: items.iter().map(|i| i.reopened).sum(),
        time_to_ticket: Spread::of(items.iter().filter_map(|i| i.ticketed.map(|t| seconds(i.start, t))).collect()),
        time_to_resolve: Spread::of(items.iter().filter_map(|i| i.end.map(|e| seconds(i.start, e))).collect()),
    }
}

/// The review of `reports` (one per customer, over the same period).
pub fn review(reports: &[Report], generated_at: Timestamp) -> Option<NocReview> {
    let first = reports.first()?;
    let mut rows: Vec<Row> = reports.iter().map(row).collect();
    rows.sort_by(|a, b| {
        b.budget_consumed
            .is_some()
            .cmp(&a.budget_consumed.is_some())
            .then(b.budget_consumed.unwrap_or(0.0).total_cmp(&a.budget_consumed.unwrap_or(0.0)))
            .then_with(|| a.id.cmp(&b.id))
    });
    let all = reports.iter().flat_map(|r| &r.incidents.items);
    let incidents = count(all.clone().count());
    let alerts: usize = all.clone().map(|i| i.alerts.len()).sum();
    let with = |s: BudgetStatus| count(rows.iter().filter(|r| r.status == s).count());
    #[allow(clippy::cast_precision_loss)]
    let summary = Summary {
        customers: count(rows.len()),
        breached: with(BudgetStatus::Breached),
        warning: with(BudgetStatus::Warning),
        ok: with(BudgetStatus::Ok),
        insufficient_data: with(BudgetStatus::InsufficientData),
        incidents,
        postmortems: count(all.clone().filter(|i| i.postmortem).count()),
        reopened: all.clone().map(|i| i.reopened).sum(),
        alerts_per_incident: (incidents > 0).then(|| alerts as f64 / f64::from(incidents)),
        time_to_ticket: Spread::of(all.clone().filter_map(|i| i.ticketed.map(|t| seconds(i.start, t))).collect()),
        time_to_resolve: Spread::of(all.filter_map(|i| i.end.map(|e| seconds(i.start, e))).collect()),
    };
    let under_floor = rows
        .iter()
        .filter(|r| r.slos.iter().any(|s| s.status == BudgetStatus::InsufficientData))
        .map(|r| r.id.clone())
        .collect();
    Some(NocReview {
        schema: NOC_SCHEMA.to_owned(),
        generated_at,
        period: first.period.clone(),
        incident_source: first.incidents.source.clone(),
        incidents_available: first.incidents.available,
        summary,
        customers: rows,
        under_floor,
    })
}

#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn spreads_take_the_median_and_the_worst() {
        assert_eq!(Spread::of(vec![]), Spread { median: None, worst: None });
        assert_eq!(Spread::of(vec![300.0, 60.0, 120.0]), Spread { median: Some(120.0), worst: Some(300.0) });
        assert_eq!(Spread::of(vec![60.0, 120.0]).median, Some(90.0));
    }
}
