//! SLI recording rules, shared by every customer: they aggregate
//! `by (customer, slo)`, so their number does not grow with the catalog.
//! A window without requests yields no sample, never NaN or Inf.
//!
//! Three cadences: the acute windows (a few scrapes) every scrape interval,
//! beside the fast alert that reads them (`lib.rs` puts them in one group);
//! the hour, 6h and the chronic SLI every minute; windows of days every five
//! minutes.

use edgewatch_catalog::names::{SloKind, label, metric};

use crate::burn::{CHRONIC_LONG_WINDOWS, CHRONIC_WINDOWS, FAST_FACTOR, LONG_WINDOWS, MINUTE_WINDOWS, Windows};
use crate::rules::{Group, Rule};

use edgewatch_catalog::names::recorded::PERIOD_ERROR_RATIO as PERIOD_RATIO;
pub(crate) use edgewatch_catalog::names::recorded::{
    ACUTE_BURN, BUDGET_REMAINING, ERROR_BUDGET, ERRORS_CHRONIC_INCREASE, ERRORS_INCREASE, PERIOD_DAYS, PROBE_SLO,
    REQUESTS_CHRONIC_INCREASE, REQUESTS_INCREASE, burn_rate, chronic_error_ratio, chronic_requests,
    sli_error_ratio as error_ratio, sli_requests as requests,
};

/// `on (customer, slo)`.
pub(crate) fn on_slo() -> String {
    format!("on ({}, {})", label::CUSTOMER, label::SLO)
}

/// Whole seconds of a window such as `5m`.
pub(crate) fn seconds(w: &str) -> u64 {
    w.parse::<edgewatch_catalog::Duration>().map_or(0, |d| d.as_millis() / 1000)
}

/// Requests counted over window `w` (a count: the recorded rate × seconds).
pub(crate) fn count(w: &str) -> String {
    format!("{} * {}", requests(w), seconds(w))
}

/// Keeps the SLOs whose bad requests over a window are more than chance
/// could give at 1×: `√bad > 2 + √(budget × requests)` (a four-sigma bound
/// on the square root of a Poisson count; below a handful of bad requests,
/// never). `ratio` and `count` are the window's error ratio and request
/// count, with the same labels.
pub(crate) fn significant(ratio: &str, count: &str) -> String {
    let [bad, chance] = bound(&format!("{ratio} * {count}"), count);
    format!("{bad} > {chance}")
}

/// The two sides of the bound, for `bad` requests out of `count`: `√bad`,
/// and what it must be above.
fn bound(bad: &str, count: &str) -> [String; 2] {
    [format!("sqrt({bad})"), format!("2 + sqrt({count} * {} group_left () {ERROR_BUDGET})", on_slo())]
}

/// Availability and latency: the exporter's per-SLO verdicts, two counter
/// series per customer and SLO whatever its hosts and buckets. The kind is
/// a static label of each rule; a series without `slo_kind` (an exporter
/// from before latency SLOs were counted) is availability. The ratio reads
/// the requests just recorded (a group evaluates its rules in order), so
/// each window reads the raw counters twice, not three times.
fn events(kind: SloKind, w: &str) -> [Rule; 2] {
    let by = format!("{}, {}", label::CUSTOMER, label::SLO);
    let op = if kind == SloKind::Latency { "=" } else { "!=" };
    let sel = format!("{}{op}\"{}\"", label::SLO_KIND, SloKind::Latency.as_str());
    let total = format!("sum by ({by}) (rate({}{{{sel}}}[{w}]))", metric::SLO_REQUESTS_TOTAL);
    let bad = format!("sum by ({by}) (rate({}{{{sel},{}=\"bad\"}}[{w}]))", metric::SLO_REQUESTS_TOTAL, label::RESULT);
    let recorded = format!("{}{{{}=\"{}\"}}", requests(w), label::SLO_KIND, kind.as_str());
    [
        Rule::record(requests(w), total).label(label::SLO_KIND, kind.as_str()),
        Rule::record(error_ratio(w), format!("{bad}\n/ on ({by})\n({recorded} > 0)"))
            .label(label::SLO_KIND, kind.as_str()),
    ]
}

/// Probes: the prober's counters, per customer, carrying the name of the
/// customer's probe SLO (every probe of the customer counts towards it).
fn probe(w: &str) -> [Rule; 2] {
    let c = label::CUSTOMER;
    let total = format!("sum by ({c}) (rate({}[{w}]))", metric::PROBES_TOTAL);
    let bad = format!("sum by ({c}) (rate({}{{{}=\"failure\"}}[{w}]))", metric::PROBES_TOTAL, label::RESULT);
    let named = format!("* on ({c}) group_left ({}) {PROBE_SLO}", label::SLO);
    [
        Rule::record(requests(w), format!("{total}\n{named}")).label(label::SLO_KIND, "probe"),
        Rule::record(error_ratio(w), format!("(\n  {bad}\n  /\n  ({total} > 0)\n)\n{named}"))
            .label(label::SLO_KIND, "probe"),
    ]
}

/// The group of the recordings made every minute.
pub(crate) const MINUTE_GROUP: &str = "edgewatch-sli";

/// Which SLIs the catalog measures.
#[derive(Debug, Clone)]
pub(crate) struct Slis {
    /// Whether some customer has a latency SLO.
    pub(crate) latency: bool,
    /// Whether some customer has a probe SLO.
    pub(crate) probes: bool,
    /// The SLO periods, in days.
    pub(crate) periods: Vec<u64>,
}

impl Slis {
    /// Requests and error ratio over `w`, for every kind of SLI measured.
    fn over(&self, w: &str) -> Vec<Rule> {
        let mut rules = events(SloKind::Availability, w).to_vec();
        if self.latency {
            rules.extend(events(SloKind::Latency, w));
        }
        if self.probes {
            rules.extend(probe(w));
        }
        rules
    }
}

/// The SLI over each SLO's own period (7d, 28d, 30d…): sums of recorded 5m
/// increases, so no rule reads a month of raw counters. Both sums count each
/// 5m stretch as often, so their ratio is the period's ratio of sums.
fn period_rules(periods: &[u64]) -> Vec<Rule> {
    let on = on_slo();
    let mut rules = Vec::new();
    for days in periods {
        let w = format!("{days}d");
        let ratio = format!(
            "(\n  sum_over_time({ERRORS_INCREASE}[{w}])\n  /\n  (sum_over_time({REQUESTS_INCREASE}[{w}]) > 0)\n)\nand {on} ({PERIOD_DAYS} == {days})"
        );
        rules.push(Rule::record(PERIOD_RATIO, ratio).label("period", w.clone()));
        rules.push(
            Rule::record(
                BUDGET_REMAINING,
                format!("1 - {PERIOD_RATIO}{{period=\"{w}\"}} / {on} group_left () {ERROR_BUDGET}"),
            )
            .label("period", w),
        );
    }
    rules
}

/// 1 while the SLO burns acutely: over the fast tier's outage window
/// (twenty scrapes), above the fast factor with more bad requests than
/// chance, as the fast tier's first pair reads it. Recorded every scrape
/// interval; absent otherwise.
///
/// The bound is computed on the few SLOs above the factor, not on every
/// SLO: each operand is narrowed to them before any arithmetic, which for
/// 20,000 SLOs is most of the rule's cost (the query language evaluates
/// every operand in full, so a filter only saves what comes after it).
fn acute_flag(window: &str) -> Rule {
    let on = on_slo();
    let above = format!("({} > {on} group_left () ({} * {ERROR_BUDGET}))", error_ratio(window), FAST_FACTOR.decimal());
    let secs = seconds(window);
    let requests = requests(window);
    let [bad, chance] = bound(
        &format!("{above} * {on} group_left () {requests} * {secs}"),
        &format!("({requests} and {on} {above}) * {secs}"),
    );
    Rule::record(ACUTE_BURN, format!("(\n  {bad}\n  >\n  {chance}\n) * 0 + 1"))
}

/// The chronic SLI over `w`: the ratio of the sums of the 5m increases left
/// in, and the requests they counted. The increases are recorded every
/// minute and each request is in the five that follow it, so the sum counts
/// it five times. The sum only holds what happened (a fresh start has
/// minutes of data, and counts minutes of requests), so the floor and the
/// significance bound see the data the ratio comes from. (promtool
/// evaluates every group at the test's `evaluation_interval`: faster than a
/// minute, it counts more requests, which only makes a test of quiet
/// stricter.)
fn chronic(w: &str) -> [Rule; 2] {
    [
        Rule::record(
            chronic_error_ratio(w),
            format!(
                "sum_over_time({ERRORS_CHRONIC_INCREASE}[{w}])\n/\n(sum_over_time({REQUESTS_CHRONIC_INCREASE}[{w}]) > 0)"
            ),
        ),
        Rule::record(chronic_requests(w), format!("sum_over_time({REQUESTS_CHRONIC_INCREASE}[{w}]) / 5")),
    ]
}

/// The acute recordings (every scrape interval): the windows of a few
/// scrapes the fast tier reads.
pub(crate) fn acute(slis: &Slis, w: Windows) -> Vec<Rule> {
    let mut rules: Vec<Rule> = w.acute().iter().flat_map(|w| slis.over(w)).collect();
    rules.push(acute_flag(&w.outage.to_string()));
    rules
}

/// The recording groups besides the acute one: every minute (the hour, 6h,
/// the 5m increases and the chronic SLI) and every five minutes (days).
pub(crate) fn groups(slis: &Slis, w: Windows) -> Vec<Group> {
    let mut rules = Vec::new();
    // The 5m window feeds the increases; it is acute at a 15s scrape.
    if !w.acute().iter().any(|a| a == "5m") {
        rules.extend(slis.over("5m"));
    }
    for w in MINUTE_WINDOWS {
        rules.extend(slis.over(w));
    }
    rules.push(Rule::record(REQUESTS_INCREASE, format!("{} * 300", requests("5m"))));
    rules.push(Rule::record(ERRORS_INCREASE, format!("{} * {} * 300", error_ratio("5m"), requests("5m"))));
    // The chronic SLI takes each 5m increase five minutes late, and leaves
    // it out when the SLO burned acutely in those five minutes or the five
    // after: from an outage's first seconds (whose 5m ratio is not above the
    // factor yet) to its last, nothing of it reaches the slower tiers.
    let acute = format!("max_over_time({ACUTE_BURN}[10m])");
    for (name, increase) in [(REQUESTS_CHRONIC_INCREASE, REQUESTS_INCREASE), (ERRORS_CHRONIC_INCREASE, ERRORS_INCREASE)]
    {
        rules.push(Rule::record(name, format!("{increase} offset 5m\nunless {} {acute}", on_slo())));
    }
    for w in CHRONIC_WINDOWS {
        rules.extend(chronic(w));
    }
    // Burn rates for alert texts and dashboards.
    for w in MINUTE_WINDOWS {
        rules.push(Rule::record(burn_rate(w), format!("{} / {} {ERROR_BUDGET}", error_ratio(w), on_slo())));
    }

    // Days, from the recorded 5m series: a sum over one recorded sample a
    // minute per SLO, where `rate()` over the raw counters would read every
    // scrape of every host and status series for days.
    let mut long = Vec::new();
    for w in LONG_WINDOWS {
        long.push(Rule::record(
            error_ratio(w),
            format!("sum_over_time({ERRORS_INCREASE}[{w}])\n/\n(sum_over_time({REQUESTS_INCREASE}[{w}]) > 0)"),
        ));
        long.push(Rule::record(burn_rate(w), format!("{} / {} {ERROR_BUDGET}", error_ratio(w), on_slo())));
    }
    for w in CHRONIC_LONG_WINDOWS {
        long.extend(chronic(w));
    }
    long.extend(period_rules(&slis.periods));
    vec![
        Group {
            name: MINUTE_GROUP.to_owned(),
            interval: Some("1m".to_owned()),
            partial_response_strategy: None,
            rules,
        },
        // Every 5m is enough for windows of days, and inside the lookback.
        Group {
            name: "edgewatch-sli-long".to_owned(),
            interval: Some("5m".to_owned()),
            partial_response_strategy: None,
            rules: long,
        },
    ]
}
