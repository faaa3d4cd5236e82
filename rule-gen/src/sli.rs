//! SLI recording rules, shared by every customer: they aggregate
//! `by (customer, slo)`, so their number does not grow with the catalog.
//! A window without requests yields no sample, never NaN or Inf.

use edgewatch_catalog::names::{LatencySource, label, metric};

use crate::burn::{TIERS, WINDOWS};
use crate::rules::{Group, Rule};

/// Constant series the per-customer files define and these rules join.
pub(crate) const LATENCY_THRESHOLD: &str = "slo:latency_threshold:info";
pub(crate) const ERROR_BUDGET: &str = "slo:error_budget:ratio";

pub(crate) fn requests(w: &str) -> String {
    format!("slo:sli_requests:rate{w}")
}

pub(crate) fn error_ratio(w: &str) -> String {
    format!("slo:sli_error:ratio_rate{w}")
}

pub(crate) fn burn_rate(w: &str) -> String {
    format!("slo:burn_rate:ratio_rate{w}")
}

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

pub(crate) fn groups(sources: &[LatencySource]) -> Vec<Group> {
    let mut rules = Vec::new();
    for w in WINDOWS {
        rules.extend(availability(w));
        for s in sources {
            rules.extend(latency(*s, w));
        }
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
    ]
}
