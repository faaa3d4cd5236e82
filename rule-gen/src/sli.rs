//! SLI recording rules, shared by every customer: they aggregate
//! `by (customer, slo)`, so their number does not grow with the catalog.
//! A window without requests yields no sample, never NaN or Inf.

use edgewatch_catalog::names::{LatencySource, label, metric};

use crate::burn::{LONG_WINDOWS, TIERS, WINDOWS};
use crate::rules::{Group, Rule};

use edgewatch_catalog::names::recorded::PERIOD_ERROR_RATIO as PERIOD_RATIO;
pub(crate) use edgewatch_catalog::names::recorded::{
    BUDGET_REMAINING, ERROR_BUDGET, ERRORS_INCREASE, LATENCY_THRESHOLD, PERIOD_DAYS, PROBE_SLO, REQUESTS_INCREASE,
    burn_rate, sli_error_ratio as error_ratio, sli_requests as requests,
};

/// Availability: the exporter's per-SLO verdicts.
fn availability(w: &str) -> [Rule; 2] {
    let by = format!("{}, {}", label::CUSTOMER, label::SLO);
    let total = format!("sum by ({by}) (rate({}[{w}]))", metric::SLO_REQUESTS_TOTAL);
    let bad = format!("sum by ({by}) (rate({}{{{}=\"bad\"}}[{w}]))", metric::SLO_REQUESTS_TOTAL, label::RESULT);
    [
        Rule::record(requests(w), total.clone()).label("slo_kind", "availability"),
        Rule::record(error_ratio(w), format!("{bad}\n/\n({total} > 0)")).label("slo_kind", "availability"),
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
        Rule::record(requests(w), format!("{total}\n{named}")).label("slo_kind", "probe"),
        Rule::record(error_ratio(w), format!("(\n  {bad}\n  /\n  ({total} > 0)\n)\n{named}"))
            .label("slo_kind", "probe"),
    ]
}

/// Latency: requests above the customer's threshold, read from the
/// histogram bucket at the threshold (a bound the exporter always has). The
/// joins go right-to-left (`group_right`) because a customer may have
/// several latency SLOs on the same histogram.
fn latency(source: LatencySource, w: &str) -> [Rule; 2] {
    let m = source.metric();
    let info = format!("{LATENCY_THRESHOLD}{{source=\"{}\"}}", source.as_str());
    let total = format!("(sum by (customer) (rate({m}_count[{w}])) * on (customer) group_right () {info})");
    let good = format!("(sum by (customer, le) (rate({m}_bucket[{w}])) * on (customer, le) group_right () {info})");
    // Static labels keep each source's series (and rules) apart.
    [
        Rule::record(requests(w), format!("sum without (le) (\n  {total}\n)"))
            .label("slo_kind", "latency")
            .label("source", source.as_str()),
        Rule::record(error_ratio(w), format!("sum without (le) (\n  ({total} - {good})\n  /\n  ({total} > 0)\n)"))
            .label("slo_kind", "latency")
            .label("source", source.as_str()),
    ]
}

/// The SLI over each SLO's own period (7d, 28d, 30d…): sums of recorded 5m
/// increases, so no rule reads a month of raw counters. Both sums count each
/// 5m stretch as often, so their ratio is the period's ratio of sums.
fn period_rules(periods: &[u64]) -> Vec<Rule> {
    let on = format!("on ({}, {})", label::CUSTOMER, label::SLO);
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

/// The SLI rules for the latency `sources` and, with `probes`, probe SLOs
/// that the catalog uses.
pub(crate) fn groups(sources: &[LatencySource], probes: bool, periods: &[u64]) -> Vec<Group> {
    let mut rules = Vec::new();
    for w in WINDOWS {
        rules.extend(availability(w));
        for s in sources {
            rules.extend(latency(*s, w));
        }
        if probes {
            rules.extend(probe(w));
        }
    }
    rules.push(Rule::record(REQUESTS_INCREASE, format!("{} * 300", requests("5m"))));
    rules.push(Rule::record(ERRORS_INCREASE, format!("{} * {} * 300", error_ratio("5m"), requests("5m"))));
    // 1d and 3d from the recorded 5m series: a sum over one recorded sample
    // a minute per SLO, where `rate()` over the raw counters would read every
    // scrape of every host and status series for days. The ratio is a ratio
    // of sums (each 5m stretch counted as often above and below); the rate
    // sums one minute's worth of each 5m rate, since this group runs every
    // minute (a skipped evaluation makes it lower, so the floor stricter).
    for (w, secs) in LONG_WINDOWS {
        rules.push(Rule::record(requests(w), format!("sum_over_time({}[{w}]) * 60 / {secs}", requests("5m"))));
        rules.push(Rule::record(
            error_ratio(w),
            format!("sum_over_time({ERRORS_INCREASE}[{w}])\n/\n(sum_over_time({REQUESTS_INCREASE}[{w}]) > 0)"),
        ));
    }
    // Burn rates over the tiers' long windows, for alert texts and dashboards.
    let mut burn = Vec::new();
    for tier in TIERS {
        burn.push(Rule::record(
            burn_rate(tier.long),
            format!("{} / on ({}, {}) {ERROR_BUDGET}", error_ratio(tier.long), label::CUSTOMER, label::SLO),
        ));
    }
    vec![
        Group {
            name: "edgewatch-sli".to_owned(),
            interval: Some("1m".to_owned()),
            partial_response_strategy: None,
            rules,
        },
        Group {
            name: "edgewatch-burn-rate".to_owned(),
            interval: Some("1m".to_owned()),
            partial_response_strategy: None,
            rules: burn,
        },
        // Every 5m is enough for a month-long window, and inside the lookback.
        Group {
            name: "edgewatch-sli-period".to_owned(),
            interval: Some("5m".to_owned()),
            partial_response_strategy: None,
            rules: period_rules(periods),
        },
    ]
}
