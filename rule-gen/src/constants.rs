//! Each customer's constants: objectives, budgets, burn thresholds with the
//! severity the catalog gives each tier, traffic floors, latency thresholds,
//! and runbook links. The shared rules join them by `customer` and `slo`; a
//! tier or alert kind that is `off` has no constant, so nothing to join.

use edgewatch_catalog::Customer;
use edgewatch_catalog::model::{Slo, SloSpec};
use edgewatch_catalog::names::{AlertKind, SloKind, label, le_label};

use crate::burn::{Pair, Ratio, tier_name};
use crate::rules::{Group, Rule};
use crate::sli::{ERROR_BUDGET, LATENCY_THRESHOLD, PERIOD_DAYS};

pub(crate) use edgewatch_catalog::names::recorded::{
    ALERT_SEVERITY, BURN_THRESHOLD, CUSTOMER_INFO, CUSTOMER_MIN_REQUESTS, MIN_REQUESTS, OBJECTIVE, PROBE_SLO, RUNBOOK,
};

fn constant(name: &str, value: &str, customer: &Customer) -> Rule {
    Rule::record(name, format!("vector({value})")).label(label::CUSTOMER, customer.id.as_str())
}

/// Which SLOs the rules measure.
pub(crate) fn measured(c: &Customer) -> impl Iterator<Item = &Slo> {
    c.measured_slos()
}

/// The name of `c`'s group of constants.
pub(crate) fn group_name(c: &Customer) -> String {
    format!("edgewatch-customer-{}", c.id)
}

pub(crate) fn group(c: &Customer, pairs: &[Pair]) -> Group {
    let mut rules = vec![
        constant(CUSTOMER_INFO, "1", c)
            .label("name", c.name.clone())
            .label(label::TIER, c.tier.as_ref().map_or("none", |t| t.as_str())),
    ];
    rules.push(constant(CUSTOMER_MIN_REQUESTS, &c.alerting.min_requests.to_string(), c));
    for slo in measured(c) {
        let name = slo.name.as_str();
        let budget = Ratio::from_decimal(&slo.objective.complement_ratio());
        let days = slo.period.as_millis() / 86_400_000;
        rules.push(
            constant(OBJECTIVE, &slo.objective.ratio().to_string(), c)
                .label(label::SLO, name)
                .label("slo_kind", slo.kind().as_str()),
        );
        rules.push(constant(ERROR_BUDGET, &budget.decimal(), c).label(label::SLO, name));
        rules.push(constant(PERIOD_DAYS, &days.to_string(), c).label(label::SLO, name));
        rules.push(constant(MIN_REQUESTS, &c.slo_floor(slo).to_string(), c).label(label::SLO, name));
        if slo.kind() == SloKind::Probe {
            rules.push(constant(PROBE_SLO, "1", c).label(label::SLO, name));
        }
        for pair in pairs {
            if let Some(severity) = c.alerting.severity_of(pair.kind) {
                rules.push(
                    constant(BURN_THRESHOLD, &pair.factor.mul(budget).decimal(), c)
                        .label(label::SLO, name)
                        .label("tier", tier_name(pair.kind))
                        .label("long", pair.long.clone())
                        .label(label::SEVERITY, severity.as_str()),
                );
            }
        }
        if let SloSpec::Latency { source, threshold } = &slo.spec {
            rules.push(
                constant(LATENCY_THRESHOLD, "1", c)
                    .label(label::SLO, name)
                    .label("source", source.as_str())
                    .label("le", le_label(threshold.as_secs_f64())),
            );
        }
    }
    for kind in AlertKind::ALL {
        if let Some(severity) = c.alerting.severity_of(*kind) {
            rules.push(
                constant(ALERT_SEVERITY, "1", c)
                    .label(label::ALERT_KIND, kind.as_str())
                    .label(label::SEVERITY, severity.as_str()),
            );
        }
        // A template that names the SLO gives each SLO its own link; the
        // alerts look theirs up by `slo` (`runbook`, in alerts.rs).
        if c.runbook_names_slo(*kind) {
            for slo in measured(c) {
                if let Some(url) = c.runbook_url(*kind, Some(slo.name.as_str())) {
                    rules.push(
                        constant(RUNBOOK, "1", c)
                            .label(label::ALERT_KIND, kind.as_str())
                            .label(label::SLO, slo.name.as_str())
                            .label("runbook_url", url),
                    );
                }
            }
        } else if let Some(url) = c.runbook_url(*kind, None) {
            rules.push(constant(RUNBOOK, "1", c).label(label::ALERT_KIND, kind.as_str()).label("runbook_url", url));
        }
    }
    Group { name: group_name(c), interval: Some("1m".to_owned()), partial_response_strategy: None, rules }
}
