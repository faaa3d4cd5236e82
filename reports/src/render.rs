//! A [`Report`] as JSON, Markdown and one self-contained HTML file. The
//! Markdown and HTML print every figure through `fmt`, so the three agree.

use std::fmt::Write as _;

use edgewatch_catalog::html::escape;
use jiff::tz::TimeZone;

use crate::fmt;
use crate::model::{BudgetStatus, IncidentReport, LatencyReport, POSTMORTEM_CONSUMED, Report, SloReport};
use crate::svg::{Axis, BarChart, Line, LineChart, Reference, Stack};

/// The SRE Workbook's error budget policy, which the postmortem flag follows.
const POLICY_URL: &str = "https://sre.google/workbook/error-budget-policy/";

/// Status classes in the order charts stack them, with their colours.
const CLASSES: [(&str, &str); 6] = [
    ("2xx", "#2e7d32"),
    ("3xx", "#1565c0"),
    ("1xx", "#6a1b9a"),
    ("4xx", "#f9a825"),
    ("5xx", "#c62828"),
    ("other", "#757575"),
];

/// Line colours, red left out: red marks objectives and spent budgets.
const PALETTE: [&str; 5] = ["#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#2e7d32"];

/// The report as JSON (pretty, with a final newline); its schema is
/// `docs/report.schema.json`.
pub fn json(report: &Report) -> String {
    // A report holds only strings, numbers and maps with string keys.
    let mut s = serde_json::to_string_pretty(report).unwrap_or_default();
    s.push('\n');
    s
}

fn tz(report: &Report) -> TimeZone {
    TimeZone::get(&report.period.timezone).unwrap_or(TimeZone::UTC)
}

fn met(slo: &SloReport) -> &'static str {
    match slo.met {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not judged",
    }
}

/// What an SLO counts.
fn unit(s: &SloReport) -> &'static str {
    if s.kind == crate::model::SloKind::Probe { "probes" } else { "requests" }
}

fn postmortem_note() -> String {
    format!(
        "Incidents that consumed more than {:.0}% of an SLO's error budget for the period are flagged for a postmortem, after the SRE Workbook's error budget policy ({POLICY_URL}).",
        POSTMORTEM_CONSUMED * 100.0
    )
}

fn incident_budget(i: &IncidentReport) -> String {
    let parts: Vec<String> =
        i.budget.iter().filter(|b| b.bad > 0.0).map(|b| format!("{} {}", b.slo, fmt::budget(b.consumed))).collect();
    if parts.is_empty() { "none".to_owned() } else { parts.join(", ") }
}

fn method_notes(report: &Report) -> Vec<String> {
    vec![
        format!(
            "Every figure comes from Prometheus: the exporters' counters, increased over each calendar day in {} and summed over the period; the SLI is good requests over all requests the SLO counted.",
            report.period.timezone
        ),
        "The error budget is the share of the period's requests the objective allows to be bad; consumed is bad requests over that allowance. Status: ok under 75% consumed, warning from 75%, breached over 100%, insufficient data under the customer's traffic floor.".to_owned(),
        "Latency percentiles are interpolated within the exporter's histogram buckets, as Prometheus' histogram_quantile does. The peak rate is the highest five-minute average.".to_owned(),
        "Probe uptime counts every probe of every address; a probe SLO counts all of the customer's probes.".to_owned(),
    ]
}

/// The report as Markdown, for a ticket or an e-mail.
pub fn markdown(report: &Report) -> String {
    let tz = tz(report);
    let p = &report.period;
    let mut out = String::new();
    let _ = writeln!(out, "# Service report: {} ({})\n", report.customer.name, report.customer.id);
    let _ = writeln!(
        out,
        "Period **{}**: {} to {} ({}). Generated {}.\n",
        p.label,
        fmt::time(p.from, &tz),
        fmt::time(p.to, &tz),
        p.timezone,
        fmt::time(report.generated_at, &tz)
    );

    out.push_str("## Service levels\n\n");
    out.push_str(
        "| SLO | measures | objective | SLI | met | budget consumed | budget remaining | status | requests |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for s in &report.slos {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.name,
            s.description,
            fmt::objective(s.objective),
            fmt::sli(s.sli),
            met(s),
            fmt::budget(s.budget.consumed),
            fmt::budget(s.budget.remaining),
            s.budget.status.as_str(),
            fmt::count(s.requests)
        );
    }
    for s in report.slos.iter().filter(|s| s.budget.status == BudgetStatus::InsufficientData) {
        let _ = writeln!(
            out,
            "\n`{}`: {} {}, under the traffic floor of {}: not enough traffic to judge the objective.",
            s.name,
            fmt::count(s.requests),
            unit(s),
            s.floor
        );
    }
    let t = &report.traffic;
    let _ = writeln!(
        out,
        "\n**Traffic:** {} requests, peak {}. **Security:** {} requests mitigated ({} of all).\n",
        fmt::count(t.requests),
        fmt::rate(t.peak_rate),
        fmt::count(report.security.mitigated),
        fmt::pct(report.security.share, 2)
    );

    out.push_str("## Incidents\n\n");
    markdown_incidents(&mut out, report, &tz);

    markdown_tail(&mut out, report, &tz);
    out
}

fn markdown_tail(out: &mut String, report: &Report, tz: &TimeZone) {
    let t = &report.traffic;
    out.push_str("## Daily\n\n");
    out.push_str("| date | requests | peak |");
    for s in &report.slos {
        let _ = write!(out, " SLI {} | budget left {} |", s.name, s.name);
    }
    out.push('\n');
    out.push_str("|---|---|---|");
    out.push_str(&"---|---|".repeat(report.slos.len()));
    out.push('\n');
    for (i, d) in t.daily.iter().enumerate() {
        let _ = write!(out, "| {} | {} | {} |", d.date, fmt::count(d.requests), fmt::rate(d.peak_rate));
        for s in &report.slos {
            let day = s.daily.get(i);
            let _ = write!(
                out,
                " {} | {} |",
                fmt::sli(day.and_then(|d| d.sli)),
                fmt::budget(day.and_then(|d| d.budget_remaining))
            );
        }
        out.push('\n');
    }

    for l in &report.latency {
        markdown_latency(out, l);
    }

    out.push_str("\n## Status mix\n\n| date | requests |");
    for (c, _) in CLASSES {
        let _ = write!(out, " {c} |");
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(CLASSES.len()));
    out.push('\n');
    for d in &t.daily {
        let _ = write!(out, "| {} | {} |", d.date, fmt::count(d.requests));
        for (c, _) in CLASSES {
            let _ = write!(out, " {} |", fmt::count(d.status_classes.get(c).copied().unwrap_or(0.0)));
        }
        out.push('\n');
    }

    if !report.probes.is_empty() {
        out.push_str("\n## Probes\n\n| probe | URL | checks | failed | uptime | certificate expires | days left at period end |\n|---|---|---|---|---|---|---|\n");
        for pr in &report.probes {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                pr.name,
                pr.url,
                fmt::count(pr.checks),
                fmt::count(pr.failures),
                fmt::sli(pr.uptime),
                pr.certificate_expires.map_or_else(|| "–".to_owned(), |t| fmt::time(t, tz)),
                fmt::days(pr.certificate_days_left)
            );
        }
    }

    out.push_str("\n## Security\n\n");
    if report.security.by_action.is_empty() {
        out.push_str("No request was blocked or challenged.\n");
    } else {
        out.push_str("| action | requests |\n|---|---|\n");
        for (a, n) in &report.security.by_action {
            let _ = writeln!(out, "| {a} | {} |", fmt::count(*n));
        }
    }
    if report.incidents.available {
        if report.security.attacks.is_empty() {
            out.push_str("\nNo attack alert fired.\n");
        } else {
            out.push_str("\n| attack alert | from | to | incident | top offenders (share of refused or failed requests) |\n|---|---|---|---|---|\n");
            for a in &report.security.attacks {
                let end = a.end.map_or_else(|| "firing".to_owned(), |t| fmt::time(t, tz));
                let top = fmt::offenders(&a.offenders);
                let _ = writeln!(out, "| {} | {} | {end} | {} | {top} |", a.alert, fmt::time(a.start, tz), a.incident);
            }
        }
    }

    out.push_str("\n## How these numbers are computed\n\n");
    for n in method_notes(report) {
        let _ = writeln!(out, "- {n}");
    }
}

fn markdown_incidents(out: &mut String, report: &Report, tz: &TimeZone) {
    let inc = &report.incidents;
    if !inc.available {
        out.push_str("Incidents are not connected to this report (no incident source), so none is listed: that does not mean nothing happened.\n\n");
        return;
    }
    if inc.items.is_empty() {
        out.push_str("No incident in the period.\n\n");
        return;
    }
    out.push_str("| start | end | duration | severity | alerts | budget consumed | postmortem | links |\n|---|---|---|---|---|---|---|---|\n");
    for i in &inc.items {
        let alerts: Vec<&str> = i.alerts.iter().map(|a| a.name.as_str()).collect();
        // A reference without a page (a PagerDuty dedup key) is its text.
        let links: Vec<String> = i
            .links
            .iter()
            .map(|l| if l.url.is_empty() { l.title.clone() } else { format!("[{}]({})", l.title, l.url) })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            fmt::time(i.start, tz),
            i.end.map_or_else(|| "open".to_owned(), |e| fmt::time(e, tz)),
            fmt::duration(i.duration_seconds),
            i.severity.as_str(),
            alerts.join(", "),
            incident_budget(i),
            if i.postmortem { "**required**" } else { "no" },
            links.join(" ")
        );
    }
    out.push('\n');
    for i in inc.items.iter().filter(|i| !i.remediation.is_empty()) {
        let _ = writeln!(out, "**{}** ({}) remediation:\n", i.title, fmt::time(i.start, tz));
        for n in &i.remediation {
            let _ = writeln!(out, "- {} ({}): {}", fmt::time(n.at, tz), n.author, n.text);
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}\n", postmortem_note());
}

fn markdown_latency(out: &mut String, l: &LatencyReport) {
    let _ = writeln!(
        out,
        "\n## Latency: {}\n\nOver the period: p50 {}, p90 {}, p99 {}.\n\n| date | requests | p50 | p90 | p99 |\n|---|---|---|---|---|",
        source_name(&l.source),
        fmt::latency(l.period.p50),
        fmt::latency(l.period.p90),
        fmt::latency(l.period.p99)
    );
    for d in &l.daily {
        let p = &d.percentiles;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            d.date,
            fmt::count(p.requests),
            fmt::latency(p.p50),
            fmt::latency(p.p90),
            fmt::latency(p.p99)
        );
    }
}

fn source_name(source: &str) -> &str {
    match source {
        "edge_ttfb" => "edge time to first byte",
        "origin_duration" => "origin response time",
        other => other,
    }
}

pub(crate) const CSS: &str = r"
:root { color-scheme: light; }
body { font-family: 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif; color: #1a1a1a; margin: 0 auto; max-width: 960px; padding: 24px; line-height: 1.4; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; border-bottom: 2px solid #e0e0e0; padding-bottom: 4px; margin-top: 32px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
.sub { color: #555; margin: 0 0 16px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { border: 1px solid #ddd; border-left: 6px solid #999; border-radius: 4px; padding: 10px 14px; min-width: 190px; flex: 1; }
.card .big { font-size: 24px; font-weight: bold; }
.card.ok { border-left-color: #2e7d32; } .card.warning { border-left-color: #f9a825; }
.card.breached { border-left-color: #c62828; } .card.insufficient_data { border-left-color: #9e9e9e; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0 16px; }
th, td { border: 1px solid #ddd; padding: 4px 6px; text-align: right; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
th { background: #f3f3f3; }
.status { font-weight: bold; padding: 1px 6px; border-radius: 3px; color: #fff; white-space: nowrap; }
.status.ok { background: #2e7d32; } .status.warning { background: #f9a825; color: #1a1a1a; }
.status.breached { background: #c62828; } .status.insufficient_data { background: #9e9e9e; }
.flag { color: #c62828; font-weight: bold; }
.note { color: #555; font-size: 13px; }
svg.chart { display: block; margin: 8px 0 16px; max-width: 100%; height: auto; }
svg .chart-title { font-size: 13px; font-weight: bold; fill: #1a1a1a; }
svg .legend, svg .tick { font-size: 11px; fill: #444; }
svg .grid { stroke: #e6e6e6; stroke-width: 1; }
svg .reference { stroke: #c62828; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg .reference-label { font-size: 11px; fill: #c62828; }
section { break-inside: avoid-page; }
@page { size: A4; margin: 14mm; }
@media print { body { max-width: none; padding: 0; } h2 { break-after: avoid; } svg.chart, table, .card { break-inside: avoid; } }
";

pub(crate) fn status_class(s: BudgetStatus) -> &'static str {
    match s {
        BudgetStatus::Ok => "ok",
        BudgetStatus::Warning => "warning",
        BudgetStatus::Breached => "breached",
        BudgetStatus::InsufficientData => "insufficient_data",
    }
}

fn status_html(s: BudgetStatus) -> String {
    format!(r#"<span class="status {}">{}</span>"#, status_class(s), s.as_str())
}

fn pct_axis(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

fn budget_axis(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

fn count_axis(v: f64) -> String {
    fmt::count(v)
}

fn latency_axis(v: f64) -> String {
    fmt::latency(Some(v))
}

fn day_labels(report: &Report) -> Vec<String> {
    report.traffic.daily.iter().map(|d| d.date.strftime("%b %d").to_string()).collect()
}

fn sli_chart(report: &Report, s: &SloReport) -> LineChart {
    let objective = s.objective / 100.0;
    let lowest = s.daily.iter().filter_map(|d| d.sli).fold(objective, f64::min);
    let span = (1.0 - lowest).max(1e-4);
    LineChart {
        title: format!("{}: SLI per day against the objective", s.name),
        x_labels: day_labels(report),
        lines: vec![Line {
            name: "SLI".to_owned(),
            color: PALETTE[0],
            points: s.daily.iter().map(|d| d.sli).collect(),
        }],
        axis: Axis { min: (lowest - span * 0.25).max(0.0), max: 1.0, format: pct_axis },
        reference: Some(Reference { value: objective, label: format!("objective {}", fmt::objective(s.objective)) }),
    }
}

fn burn_chart(report: &Report) -> Option<LineChart> {
    let judged: Vec<&SloReport> =
        report.slos.iter().filter(|s| s.budget.status != BudgetStatus::InsufficientData).collect();
    if judged.is_empty() {
        return None;
    }
    let values = judged.iter().flat_map(|s| s.daily.iter().filter_map(|d| d.budget_remaining));
    let min = values.fold(0.0_f64, f64::min);
    Some(LineChart {
        title: "Error budget remaining over the period".to_owned(),
        x_labels: day_labels(report),
        lines: judged
            .iter()
            .zip(PALETTE.iter().cycle())
            .map(|(s, c)| Line {
                name: s.name.clone(),
                color: c,
                points: s.daily.iter().map(|d| d.budget_remaining).collect(),
            })
            .collect(),
        axis: Axis::down_to(min, 1.0, budget_axis),
        reference: Some(Reference { value: 0.0, label: "budget spent".to_owned() }),
    })
}

fn latency_chart(report: &Report, l: &LatencyReport) -> LineChart {
    let pick = |f: fn(&crate::model::Percentiles) -> Option<f64>| -> Vec<Option<f64>> {
        l.daily.iter().map(|d| f(&d.percentiles)).collect()
    };
    let lines = vec![
        Line { name: "p50".to_owned(), color: "#2e7d32", points: pick(|p| p.p50) },
        Line { name: "p90".to_owned(), color: "#ef6c00", points: pick(|p| p.p90) },
        Line { name: "p99".to_owned(), color: "#c62828", points: pick(|p| p.p99) },
    ];
    let axis = Axis::fitting(lines.iter().flat_map(|l| l.points.iter().flatten().copied()), latency_axis);
    LineChart {
        title: format!("Latency per day: {}", source_name(&l.source)),
        x_labels: day_labels(report),
        lines,
        axis,
        reference: None,
    }
}

fn traffic_chart(report: &Report) -> BarChart {
    BarChart {
        title: "Requests per day by status class".to_owned(),
        x_labels: day_labels(report),
        stacks: CLASSES
            .iter()
            .filter(|(c, _)| report.traffic.status_classes.get(*c).is_some_and(|n| *n > 0.0))
            .map(|(c, color)| Stack {
                name: (*c).to_owned(),
                color,
                values: report.traffic.daily.iter().map(|d| d.status_classes.get(*c).copied().unwrap_or(0.0)).collect(),
            })
            .collect(),
        format: count_axis,
    }
}

/// The report as one HTML file: inline CSS and SVG, no script, nothing
/// fetched; it prints to A4.
pub fn html(report: &Report) -> String {
    let tz = tz(report);
    let p = &report.period;
    let e = |s: &str| escape(s);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Service report: {} ({})</title><style>{CSS}</style></head><body>\n",
        e(&report.customer.name),
        e(&p.label)
    );
    let _ = writeln!(
        out,
        "<h1>Service report: {}</h1><p class=\"sub\">Customer <b>{}</b>{} · period <b>{}</b>: {} to {} ({}) · generated {}</p>",
        e(&report.customer.name),
        e(&report.customer.id),
        report.customer.tier.as_ref().map_or_else(String::new, |t| format!(" (tier {})", e(t))),
        e(&p.label),
        e(&fmt::time(p.from, &tz)),
        e(&fmt::time(p.to, &tz)),
        e(&p.timezone),
        e(&fmt::time(report.generated_at, &tz))
    );

    // Summary cards: one per SLO, then traffic.
    out.push_str("<section><h2>Summary</h2><div class=\"cards\">");
    for s in &report.slos {
        let _ = write!(
            out,
            "<div class=\"card {}\"><div>{} · objective {}</div><div class=\"big\">{}</div><div>budget consumed {} · {}</div></div>",
            status_class(s.budget.status),
            e(&s.name),
            e(&fmt::objective(s.objective)),
            e(&fmt::sli(s.sli)),
            e(&fmt::budget(s.budget.consumed)),
            status_html(s.budget.status)
        );
    }
    let t = &report.traffic;
    let _ = writeln!(
        out,
        "<div class=\"card\"><div>requests</div><div class=\"big\">{}</div><div>peak {} · mitigated {}</div></div></div></section>",
        e(&fmt::count(t.requests)),
        e(&fmt::rate(t.peak_rate)),
        e(&fmt::count(report.security.mitigated))
    );

    out.push_str("<section><h2>Service levels</h2><table><tr><th class=\"text\">SLO</th><th class=\"text\">measures</th><th>objective</th><th>SLI</th><th>met</th><th>budget consumed</th><th>budget remaining</th><th>status</th><th>requests</th><th>bad</th></tr>");
    for s in &report.slos {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(&s.name),
            e(&s.description),
            e(&fmt::objective(s.objective)),
            e(&fmt::sli(s.sli)),
            met(s),
            e(&fmt::budget(s.budget.consumed)),
            e(&fmt::budget(s.budget.remaining)),
            status_html(s.budget.status),
            e(&fmt::count(s.requests)),
            e(&fmt::count(s.bad))
        );
    }
    out.push_str("</table>");
    for s in report.slos.iter().filter(|s| s.budget.status == BudgetStatus::InsufficientData) {
        let _ = write!(
            out,
            "<p class=\"note\"><b>{}</b>: {} {}, under the traffic floor of {}: not enough traffic to judge the objective.</p>",
            e(&s.name),
            e(&fmt::count(s.requests)),
            unit(s),
            s.floor
        );
    }
    if let Some(chart) = burn_chart(report) {
        out.push_str(&chart.svg());
    }
    for s in report.slos.iter().filter(|s| s.requests > 0.0) {
        out.push_str(&sli_chart(report, s).svg());
    }
    out.push_str("</section>\n");

    out.push_str("<section><h2>Incidents</h2>");
    html_incidents(&mut out, report, &tz);
    out.push_str("</section>\n");

    html_details(&mut out, report, &tz);
    out.push_str("</table></section>\n<section><h2>How these numbers are computed</h2><ul class=\"note\">");
    for n in method_notes(report) {
        let _ = write!(out, "<li>{}</li>", e(&n));
    }
    out.push_str("</ul></section>\n</body></html>\n");
    out
}

fn html_details(out: &mut String, report: &Report, tz: &TimeZone) {
    let e = |s: &str| escape(s);
    let t = &report.traffic;
    out.push_str("<section><h2>Traffic</h2>");
    out.push_str(&traffic_chart(report).svg());
    out.push_str("<table><tr><th>status class</th><th>requests</th><th>share</th></tr>");
    for (c, _) in CLASSES {
        if let Some(n) = t.status_classes.get(c).filter(|n| **n > 0.0) {
            let share = (t.requests > 0.0).then(|| n / t.requests);
            let _ = write!(out, "<tr><td>{c}</td><td>{}</td><td>{}</td></tr>", fmt::count(*n), fmt::pct(share, 2));
        }
    }
    out.push_str("</table></section>\n");

    for l in &report.latency {
        let _ = write!(
            out,
            "<section><h2>Latency: {}</h2><p>Over the period: p50 <b>{}</b>, p90 <b>{}</b>, p99 <b>{}</b>.</p>",
            e(source_name(&l.source)),
            e(&fmt::latency(l.period.p50)),
            e(&fmt::latency(l.period.p90)),
            e(&fmt::latency(l.period.p99))
        );
        out.push_str(&latency_chart(report, l).svg());
        out.push_str("</section>\n");
    }

    if !report.probes.is_empty() {
        out.push_str("<section><h2>Probes</h2><table><tr><th class=\"text\">probe</th><th class=\"text\">URL</th><th>checks</th><th>failed</th><th>uptime</th><th>certificate expires</th><th>days left at period end</th></tr>");
        for pr in &report.probes {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e(&pr.name),
                e(&pr.url),
                e(&fmt::count(pr.checks)),
                e(&fmt::count(pr.failures)),
                e(&fmt::sli(pr.uptime)),
                e(&pr.certificate_expires.map_or_else(|| "–".to_owned(), |t| fmt::time(t, tz))),
                e(&fmt::days(pr.certificate_days_left))
            );
        }
        out.push_str("</table></section>\n");
    }

    let sec = &report.security;
    let _ = write!(
        out,
        "<section><h2>Security</h2><p><b>{}</b> requests were blocked or challenged ({} of all requests).</p>",
        e(&fmt::count(sec.mitigated)),
        e(&fmt::pct(sec.share, 2))
    );
    if !sec.by_action.is_empty() {
        out.push_str("<table><tr><th class=\"text\">action</th><th>requests</th></tr>");
        for (a, n) in &sec.by_action {
            let _ = write!(out, "<tr><td>{}</td><td>{}</td></tr>", e(a), e(&fmt::count(*n)));
        }
        out.push_str("</table>");
    }
    html_attacks(out, report, tz);
    out.push_str("</section>\n");

    out.push_str("<section><h2>Daily figures</h2><table><tr><th>date</th><th>requests</th><th>peak</th>");
    for s in &report.slos {
        let _ = write!(out, "<th>SLI {}</th><th>budget left {}</th>", e(&s.name), e(&s.name));
    }
    out.push_str("</tr>");
    for (i, d) in t.daily.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td>",
            d.date,
            e(&fmt::count(d.requests)),
            e(&fmt::rate(d.peak_rate))
        );
        for s in &report.slos {
            let day = s.daily.get(i);
            let _ = write!(
                out,
                "<td>{}</td><td>{}</td>",
                e(&fmt::sli(day.and_then(|d| d.sli))),
                e(&fmt::budget(day.and_then(|d| d.budget_remaining)))
            );
        }
        out.push_str("</tr>");
    }
}

/// The attack alerts of the security section, when incidents are connected.
fn html_attacks(out: &mut String, report: &Report, tz: &TimeZone) {
    let e = |s: &str| escape(s);
    let attacks = &report.security.attacks;
    if !report.incidents.available {
        return;
    }
    if attacks.is_empty() {
        out.push_str("<p>No attack alert fired.</p>");
        return;
    }
    out.push_str("<table><tr><th class=\"text\">attack alert</th><th>from</th><th>to</th><th>incident</th><th class=\"text\">top offenders (share of refused or failed requests)</th></tr>");
    for a in attacks {
        let end = a.end.map_or_else(|| "firing".to_owned(), |t| fmt::time(t, tz));
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>",
            e(&a.alert),
            e(&fmt::time(a.start, tz)),
            e(&end),
            e(&a.incident),
            e(&fmt::offenders(&a.offenders))
        );
    }
    out.push_str("</table>");
}

fn html_incidents(out: &mut String, report: &Report, tz: &TimeZone) {
    let e = |s: &str| escape(s);
    let inc = &report.incidents;
    if !inc.available {
        out.push_str("<p class=\"note\">Incidents are not connected to this report (no incident source), so none is listed: that does not mean nothing happened.</p>");
        return;
    }
    if inc.items.is_empty() {
        out.push_str("<p>No incident in the period.</p>");
        return;
    }
    out.push_str("<table><tr><th class=\"text\">incident</th><th class=\"text\">start</th><th class=\"text\">end</th><th>duration</th><th>severity</th><th class=\"text\">alerts</th><th>budget consumed</th><th>postmortem</th><th class=\"text\">links</th></tr>");
    for i in &inc.items {
        let alerts: Vec<&str> = i.alerts.iter().map(|a| a.name.as_str()).collect();
        let links: Vec<String> =
            i.links
                .iter()
                .map(|l| {
                    if l.url.is_empty() {
                        e(&l.title)
                    } else {
                        format!("<a href=\"{}\">{}</a>", e(&l.url), e(&l.title))
                    }
                })
                .collect();
        let _ = write!(
            out,
            "<tr><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>",
            e(&i.title),
            e(&fmt::time(i.start, tz)),
            e(&i.end.map_or_else(|| "open".to_owned(), |t| fmt::time(t, tz))),
            e(&fmt::duration(i.duration_seconds)),
            i.severity.as_str(),
            e(&alerts.join(", ")),
            e(&incident_budget(i)),
            if i.postmortem { "<span class=\"flag\">required</span>" } else { "no" },
            links.join(" ")
        );
    }
    out.push_str("</table>");
    for i in inc.items.iter().filter(|i| !i.remediation.is_empty()) {
        let _ = write!(out, "<h3>{} ({}): remediation</h3><ul>", e(&i.title), e(&fmt::time(i.start, tz)));
        for n in &i.remediation {
            let _ = write!(out, "<li>{} ({}): {}</li>", e(&fmt::time(n.at, tz)), e(&n.author), e(&n.text));
        }
        out.push_str("</ul>");
    }
    let _ = write!(
        out,
        "<p class=\"note\">{}</p>",
        e(&postmortem_note()).replace(POLICY_URL, &format!("<a href=\"{POLICY_URL}\">{POLICY_URL}</a>"))
    );
}
