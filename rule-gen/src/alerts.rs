//! Alerts shared by every customer: thresholds and severities come from the
//! customers' constants, so one rule serves the whole catalog. Here: the
//! burn-rate tiers, no-data (the exporter, a customer's traffic), and an
//! SLO no exporter measures.

use edgewatch_catalog::names::recorded::{ACUTE_BURN, CUSTOMER_INFO, HOUR_BURN, REQUESTS_1H, REQUESTS_5M};
use edgewatch_catalog::names::{AlertKind, label};

use crate::burn::{FAST_FACTOR, Pair, tier_name};
use crate::constants::{ALERT_SEVERITY, BURN_THRESHOLD, MIN_REQUESTS, OBJECTIVE, RUNBOOK};
use crate::rules::{Group, Rule};
use crate::sli::{
    burn_rate, chronic_error_ratio, chronic_requests, count, error_ratio, on_slo, requests, seconds, significant,
};

/// What alert texts need beyond the catalog.
#[derive(Debug, Clone)]
pub(crate) struct Links {
    /// Grafana's base URL, for dashboard links.
    pub(crate) grafana: String,
    /// Which customer dashboard the links open.
    pub(crate) customer_dashboards: edgewatch_catalog::model::CustomerDashboards,
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
        "{}/{}{{{{ with $labels.slo }}}}var-slo={{{{ . }}}}&{{{{ end }}}}{{{{ with $labels.host }}}}var-host={{{{ . }}}}&{{{{ end }}}}from=now-6h&to=now",
        links.grafana.trim_end_matches('/'),
        links.customer_dashboards.link("{{ $labels.customer }}")
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

/// Whether the exporters' scrapes worked: `up` of their scrape job.
fn up(job: &str) -> String {
    format!("up{{job=\"{job}\"}}")
}

/// `p`'s threshold series.
fn threshold(p: &Pair) -> String {
    format!("{BURN_THRESHOLD}{{tier=\"{}\",long=\"{}\"}}", tier_name(p.kind), p.long)
}

/// The long window of the fast tier's hour pair, recorded as [`HOUR_BURN`]
/// each minute with the hour it reads (`edgewatch-sli`): above the pair's
/// threshold, more bad requests than chance, the floor met. The fast alert
/// runs every scrape interval and would otherwise compute the same minute's
/// values four times over, for every SLO.
pub(crate) fn hour_burn(p: &Pair) -> Rule {
    Rule::record(HOUR_BURN, long_part(p).trim_start().replace("\n  ", "\n"))
}

/// A pair's long window above its threshold (carrying the tier's
/// severity), more bad requests than chance, and the floor met.
fn long_part(p: &Pair) -> String {
    let on = on_slo();
    let threshold = threshold(p);
    let (long, n) = if p.chronic {
        (chronic_error_ratio(&p.long), chronic_requests(&p.long))
    } else {
        (error_ratio(&p.long), count(&p.long))
    };
    format!(
        "  (\n    {long} > {on} group_left ({sev}) {threshold}\n  )\n  and {on}\n  (\n    {sig}\n  )\n  and {on}\n  (\n    {n} >= {on} {MIN_REQUESTS}\n  )",
        sev = label::SEVERITY,
        sig = significant(&long, &n),
    )
}

/// A window pair of the fast tier, narrowed to the SLOs whose long window
/// already holds: the outage pair through [`ACUTE_BURN`] (the same window,
/// factor and bound, recorded just before in the same group), the hour pair
/// through [`HOUR_BURN`]. Only the short window is read for every SLO.
fn fast_pair_expr(p: &Pair, outage: &str) -> String {
    let on = on_slo();
    let threshold = threshold(p);
    let short = format!("{} > {on} group_left () {threshold}", error_ratio(&p.short));
    if reads_acute(p, outage) {
        let requests = requests(&p.long);
        format!(
            "  (\n    ({} and {on} {ACUTE_BURN}) > {on} group_left ({sev}) {threshold}\n  )\n  and {on}\n  (\n    {short}\n  )\n  and {on}\n  (\n    ({requests} and {on} {ACUTE_BURN}) * {} >= {on} {MIN_REQUESTS}\n  )",
            error_ratio(&p.long),
            seconds(&p.long),
            sev = label::SEVERITY,
        )
    } else {
        format!("  {HOUR_BURN}\n  and {on}\n  (\n    {short}\n  )")
    }
}

/// Whether fast pair `p` is the one [`ACUTE_BURN`] holds the long window
/// of; the fast tier's other pair (one: `burn::pairs`) is [`hour_burn`]'s.
pub(crate) fn reads_acute(p: &Pair, outage: &str) -> bool {
    p.long == outage && p.factor == FAST_FACTOR
}

/// One window pair: the long and short windows above the pair's threshold,
/// more bad requests than chance over the long window, and the traffic
/// floor met over it.
fn pair_expr(p: &Pair) -> String {
    let on = on_slo();
    let short = if p.chronic { chronic_error_ratio(&p.short) } else { error_ratio(&p.short) };
    format!("{}\n  and {on}\n  (\n    {short} > {on} group_left () {}\n  )", long_part(p), threshold(p))
}

/// The burn-rate alert of a slower tier: any of its window pairs.
pub(crate) fn burn(kind: AlertKind, pairs: &[Pair], links: &Links) -> Rule {
    burn_alert(kind, &any_pair(pairs, kind, pair_expr), links)
}

/// The fast tier's alert, its pairs narrowed as [`fast_pair_expr`] says;
/// `outage` is the window [`ACUTE_BURN`] reads.
pub(crate) fn fast_burn(pairs: &[Pair], outage: &str, links: &Links) -> Rule {
    let kind = AlertKind::BurnRateFast;
    burn_alert(kind, &any_pair(pairs, kind, |p| fast_pair_expr(p, outage)), links)
}

/// `kind`'s pairs, each as `expr` gives it, any of them.
fn any_pair(pairs: &[Pair], kind: AlertKind, expr: impl Fn(&Pair) -> String) -> String {
    pairs.iter().filter(|p| p.kind == kind).map(|p| format!("(\n{}\n)", expr(p))).collect::<Vec<_>>().join("\nor\n")
}

/// The burn-rate alert of a tier: `expr`, any of its window pairs. Its
/// labels do not say which pair fired, so they stay the same while the
/// alert lasts.
fn burn_alert(kind: AlertKind, expr: &str, links: &Links) -> Rule {
    let objective = lookup(OBJECTIVE, "humanizePercentage");
    let (name, summary, description) = match kind {
        AlertKind::BurnRateFast => (
            "EdgewatchErrorBudgetBurnFast",
            format!(
                "{{{{ $labels.customer }}}}: the {{{{ $labels.slo }}}} SLO is failing {{{{ $value | humanizePercentage }}}} of {EVENTS}"
            ),
            format!(
                "{{{{ $labels.customer }}}}: {{{{ $value | humanizePercentage }}}} of {EVENTS} failed the {{{{ $labels.slo }}}} SLO over the last minutes or hour, and still fail now: more than 14.4 times what the objective ({objective}) allows. Over the last hour the budget burned {}x.",
                lookup(&burn_rate("1h"), "printf \"%.1f\""),
            ),
        ),
        AlertKind::BurnRateMedium => (
            "EdgewatchErrorBudgetBurnMedium",
            "{{ $labels.customer }}: the {{ $labels.slo }} SLO has burned its error budget for hours".to_owned(),
            format!(
                "{{{{ $labels.customer }}}}: {{{{ $value | humanizePercentage }}}} of {EVENTS} failed the {{{{ $labels.slo }}}} SLO over the last 6 hours, outages left out, and over the last 30 minutes: more than 6 times what the objective ({objective}) allows. At this rate the period's budget lasts a sixth of the period."
            ),
        ),
        _ => (
            "EdgewatchErrorBudgetBurnSlow",
            "{{ $labels.customer }}: the {{ $labels.slo }} SLO's error budget will not last its period".to_owned(),
            format!(
                "{{{{ $labels.customer }}}}: {{{{ $value | humanizePercentage }}}} of {EVENTS} failed the {{{{ $labels.slo }}}} SLO, outages left out: more than 3 times what the objective ({objective}) allows over the last 2 hours, or 1.5 times over the last 3 days, and still now. Find the steady source of errors: the budget runs out before the period ends."
            ),
        ),
    };
    Rule::alert(name, expr)
        .label(label::ALERT_KIND, kind.as_str())
        .annotation("summary", summary)
        .annotation("description", description)
        .annotation("runbook_url", runbook(kind))
        .annotation("dashboard_url", dashboard(links))
}

/// A customer whose requests stop while the exporter is scraped: one alert
/// per customer (not per SLO), with the same labels from pending to
/// resolved. Only for customers whose last hour would put ten requests in
/// five minutes, so a quiet customer's empty minutes are not news.
fn no_data(links: &Links, job: &str) -> Rule {
    let c = label::CUSTOMER;
    let expr = format!(
        "  max by ({c}) (\n      ({REQUESTS_5M} == 0)\n    or\n      ({CUSTOMER_INFO} unless on ({c}) {REQUESTS_5M})\n  )\n  and on ({c}) ({REQUESTS_1H} * 300 >= 10)\n  and on () (count({up} == 1) > 0)",
        up = up(job),
    );
    kind_alert(
        "EdgewatchNoData",
        AlertKind::NoData,
        &expr,
        "3m",
        [
            "{{ $labels.customer }}: no requests for 5 minutes",
            "{{ $labels.customer }}: no request of this customer reached edgewatch in the last 5 minutes, while the exporter is up and the hour before had traffic. Check the customer's DNS and edge configuration, and whether its logs still arrive (the Logpush job and its secret, the tailed files).",
        ],
        links,
    )
}

/// The exporter not scraped: one alert per exporter (or one when the job
/// is gone), not one per customer; it also holds back the customers'
/// no-data alerts (their guard, and an inhibit rule).
fn exporter_down(links: &Links, job: &str) -> Rule {
    Rule::alert("EdgewatchExporterDown", format!("  ({} == 0)\nor\n  absent({})", up(job), up(job)))
        .for_("2m")
        .label(label::SEVERITY, edgewatch_catalog::names::Severity::Page.as_str())
        .label(label::ALERT_KIND, AlertKind::NoData.as_str())
        .annotation("summary", "edgewatch: the exporter {{ with $labels.instance }}{{ . }} {{ end }}is not scraped")
        .annotation(
            "description",
            format!(
                "Prometheus has not scraped the edgewatch exporter{{{{ with $labels.instance }}}} {{{{ . }}}}{{{{ end }}}} for 2 minutes, or no target of job {job} exists: every customer's request metrics are stale, so their burn-rate, no-data and traffic alerts cannot fire. Check the exporter process and port, and Prometheus' targets page."
            ),
        )
        .annotation(
            "dashboard_url",
            format!(
                "{}/d/{}",
                links.grafana.trim_end_matches('/'),
                edgewatch_catalog::names::NOC_DASHBOARD_UID
            ),
        )
}

/// An availability or latency SLO no exporter counts events for while the
/// customer's requests flow: its error ratio is absent, so neither its
/// burn-rate nor a no-data alert could fire. The exporters keep every SLO's
/// counters from the start, at zero, so this only happens when they run
/// with another catalog, or a release from before latency SLOs were
/// counted, than the rules.
fn unmeasured(links: &Links) -> Rule {
    let (c, on) = (label::CUSTOMER, on_slo());
    // The SLI over 5m, not the raw counters: when the exporter stops, both
    // it and the request rate go as their windows empty, not one before the
    // other.
    let expr = format!(
        "(\n  {OBJECTIVE}{{{kind}=~\"availability|latency\"}}\n  unless {on}\n  {events}\n)\nand on ({c})\n({REQUESTS_5M} > 0)",
        kind = label::SLO_KIND,
        events = requests("5m"),
    );
    let rule = kind_alert(
        "EdgewatchSloUnmeasured",
        AlertKind::NoData,
        &expr,
        "5m",
        [
            "{{ $labels.customer }}: the {{ $labels.slo }} SLO is measured by no exporter",
            "{{ $labels.customer }}: requests flow, but no exporter counts the {{ $labels.slo }} SLO's events (edgewatch_slo_requests_total), so the SLO measures nothing and its burn-rate alerts cannot fire. The exporters run with another catalog than the rules, or an older edgewatch: deploy the same catalog and release to both.",
        ],
        links,
    );
    rule.label(label::INCIDENT, "config")
}

/// The alerts besides the fast tier (which `lib.rs` puts with the acute
/// recordings it reads), every `interval`: a minute, as the recordings of
/// hours they read; at the scrape interval they would compute the same
/// answer four times a minute at 15s (and the exporter-down alert, which
/// waits two minutes, loses nothing either).
pub(crate) fn groups(links: &Links, pairs: &[Pair], interval: &str, job: &str) -> Vec<Group> {
    let rules = vec![
        burn(AlertKind::BurnRateMedium, pairs, links),
        burn(AlertKind::BurnRateSlow, pairs, links),
        no_data(links, job),
        exporter_down(links, job),
        unmeasured(links),
    ];
    vec![Group {
        name: "edgewatch-slo-alerts".to_owned(),
        interval: Some(interval.to_owned()),
        partial_response_strategy: None,
        rules,
    }]
}
