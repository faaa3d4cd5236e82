//! Alerts shared by every customer: thresholds and severities come from the
//! customers' constants, so one rule serves the whole catalog.

use edgewatch_catalog::Duration;
use edgewatch_catalog::names::{AlertKind, label};

use crate::burn::{TIERS, Tier};
use crate::constants::{ALERT_SEVERITY, BURN_THRESHOLD, MIN_REQUESTS, OBJECTIVE, RUNBOOK};
use crate::rules::{Group, Rule};
use crate::sli::{burn_rate, error_ratio, requests};

/// What alert texts need beyond the catalog.
#[derive(Debug, Clone)]
pub(crate) struct Links {
    /// Grafana's base URL, for dashboard links.
    pub(crate) grafana: String,
}

/// An annotation template that reads one value of a constant or SLI series.
fn lookup(metric: &str, pipe: &str) -> String {
    format!(
        "{{{{ with printf \"{metric}{{customer=%q,slo=%q}}\" $labels.customer $labels.slo | query }}}}{{{{ . | first | value | {pipe} }}}}{{{{ end }}}}"
    )
}

pub(crate) fn runbook(kind: AlertKind) -> String {
    format!(
        "{{{{ with printf \"{RUNBOOK}{{customer=%q,alert_kind=%q,slo=~%q}}\" $labels.customer \"{}\" (printf \"%s|\" $labels.slo) | query }}}}{{{{ (. | first).Labels.runbook_url }}}}{{{{ end }}}}",
        kind.as_str()
    )
}

/// What an SLO counts, in alert texts: probes for a probe SLO, else requests.
pub(crate) const EVENTS: &str = "{{ if eq $labels.slo_kind \"probe\" }}probes{{ else }}requests{{ end }}";

pub(crate) fn dashboard(links: &Links) -> String {
    format!(
        "{}/d/{{{{ printf \"{}%s\" $labels.customer }}}}?{{{{ with $labels.slo }}}}var-slo={{{{ . }}}}&{{{{ end }}}}{{{{ with $labels.host }}}}var-host={{{{ . }}}}&{{{{ end }}}}from=now-6h&to=now",
        links.grafana.trim_end_matches('/'),
        edgewatch_catalog::names::dashboard_uid("")
    )
}

/// `expr`, carrying the severity the customer's policy gives `kind`; no
/// severity constant (the kind is `off`), no alert.
pub(crate) fn with_severity(expr: &str, kind: AlertKind) -> String {
    let c = label::CUSTOMER;
    format!(
        "(\n{expr}\n)\n* on ({c}) group_left ({}) {ALERT_SEVERITY}{{{}=\"{}\"}}",
        label::SEVERITY,
        label::ALERT_KIND,
        kind.as_str()
    )
}

/// An alert of `kind` with the standard labels and annotations.
pub(crate) fn kind_alert(name: &str, kind: AlertKind, expr: &str, for_: &str, text: [&str; 2], links: &Links) -> Rule {
    let [summary, description] = text;
    Rule::alert(name, with_severity(expr, kind))
        .for_(for_)
        .label(label::ALERT_KIND, kind.as_str())
        .annotation("summary", summary)
        .annotation("description", description)
        .annotation("runbook_url", runbook(kind))
        .annotation("dashboard_url", dashboard(links))
}

fn seconds(w: &str) -> u64 {
    w.parse::<Duration>().map_or(0, |d| d.as_millis() / 1000)
}

fn burn(tier: Tier, links: &Links) -> Rule {
    let on = format!("on ({}, {})", label::CUSTOMER, label::SLO);
    let threshold = format!("{BURN_THRESHOLD}{{tier=\"{}\"}}", tier.name);
    let expr = format!(
        "(\n  {long} > {on} group_left ({sev}) {threshold}\n)\nand {on}\n(\n  {short} > {on} group_left () {threshold}\n)\nand {on}\n(\n  {reqs} * {secs} >= {on} {MIN_REQUESTS}\n)",
        long = error_ratio(tier.long),
        short = error_ratio(tier.short),
        reqs = requests(tier.long),
        secs = seconds(tier.long),
        sev = label::SEVERITY,
    );
    let name = match tier.kind {
        AlertKind::BurnRateFast => "EdgewatchErrorBudgetBurnFast",
        AlertKind::BurnRateMedium => "EdgewatchErrorBudgetBurnMedium",
        _ => "EdgewatchErrorBudgetBurnSlow",
    };
    Rule::alert(name, expr)
        .label(label::ALERT_KIND, tier.kind.as_str())
        .annotation(
            "summary",
            format!("{{{{ $labels.customer }}}}: {{{{ $labels.slo }}}} SLO error budget burning fast over the last {}", tier.long),
        )
        .annotation(
            "description",
            format!(
                "{{{{ $labels.customer }}}}: {{{{ $value | humanizePercentage }}}} of {EVENTS} failed the {{{{ $labels.slo }}}} SLO over the last {}; objective {} (budget burning {}x).",
                tier.long,
                lookup(OBJECTIVE, "humanizePercentage"),
                lookup(&burn_rate(tier.long), "printf \"%.1f\""),
            ),
        )
        .annotation("runbook_url", runbook(tier.kind))
        .annotation("dashboard_url", dashboard(links))
}

/// A customer's SLO with no requests for `for`, or no series at all: silence
/// is not health.
fn no_data(links: &Links, for_: &str) -> Rule {
    let on = format!("on ({}, {})", label::CUSTOMER, label::SLO);
    let req30 = requests("30m");
    kind_alert(
        "EdgewatchNoData",
        AlertKind::NoData,
        &format!("  ({req30} == 0)\n  or\n  ({OBJECTIVE} unless {on} {req30})"),
        for_,
        [
            &format!("{{{{ $labels.customer }}}}: no {EVENTS} seen for the {{{{ $labels.slo }}}} SLO"),
            &format!(
                "{{{{ $labels.customer }}}}: the {{{{ $labels.slo }}}} SLO has seen no {EVENTS} in the last 30 minutes, or its series are gone. Check the exporter, the log push, tail or prober, and the customer's traffic."
            ),
        ],
        links,
    )
}

pub(crate) fn groups(links: &Links, no_data_for: &str) -> Vec<Group> {
    let mut rules: Vec<Rule> = TIERS.iter().map(|t| burn(*t, links)).collect();
    rules.push(no_data(links, no_data_for));
    vec![Group {
        name: "edgewatch-slo-alerts".to_owned(),
        interval: Some("1m".to_owned()),
        partial_response_strategy: None,
        rules,
    }]
}
