//! The NOC review as JSON, Markdown and one self-contained HTML file,
//! printed through `fmt` as the customer reports are.

use std::fmt::Write as _;

use edgewatch_catalog::html::escape;
use jiff::tz::TimeZone;

use crate::fmt;
use crate::noc::{NocReview, Row, Spread};
use crate::svg::{BarChart, Stack};

/// The review as JSON (pretty, with a final newline); its schema is
/// `docs/noc-review.schema.json`.
pub fn noc_json(review: &NocReview) -> String {
    let mut s = serde_json::to_string_pretty(review).unwrap_or_default();
    s.push('\n');
    s
}

fn spread(s: Spread) -> String {
    match (s.median, s.worst) {
        (Some(m), Some(w)) => format!("{} / {}", fmt::duration(m), fmt::duration(w)),
        _ => "–".to_owned(),
    }
}

fn slis(r: &Row) -> String {
    r.slos.iter().map(|s| format!("{} {}", s.name, fmt::sli(s.sli))).collect::<Vec<_>>().join(", ")
}

fn incidents_cell(review: &NocReview, n: u32) -> String {
    if review.incidents_available { n.to_string() } else { "–".to_owned() }
}

fn heading(review: &NocReview) -> (String, String) {
    let tz = TimeZone::get(&review.period.timezone).unwrap_or(TimeZone::UTC);
    let p = &review.period;
    let s = &review.summary;
    let line = format!(
        "{} to {} ({}), generated {}. {} customers: {} breached, {} warning, {} ok, {} insufficient data.",
        fmt::time(p.from, &tz),
        fmt::time(p.to, &tz),
        p.timezone,
        fmt::time(review.generated_at, &tz),
        s.customers,
        s.breached,
        s.warning,
        s.ok,
        s.insufficient_data
    );
    let incidents = if review.incidents_available {
        format!(
            "Incidents: {} ({} needing a postmortem, {} reopened), {} alerts per incident; time to ticket {} and to resolve {} (median / worst).",
            s.incidents,
            s.postmortems,
            s.reopened,
            s.alerts_per_incident.map_or_else(|| "–".to_owned(), |a| format!("{a:.1}")),
            spread(s.time_to_ticket),
            spread(s.time_to_resolve)
        )
    } else {
        "Incidents are not connected to this review (no incident source), so its incident columns are empty: that does not mean nothing happened.".to_owned()
    };
    (line, incidents)
}

/// The review as Markdown.
pub fn noc_markdown(review: &NocReview) -> String {
    let mut out = String::new();
    let (line, incidents) = heading(review);
    let _ = writeln!(out, "# NOC review: {}\n\n{line}\n\n{incidents}\n", review.period.label);
    out.push_str("## Customers by error budget consumed\n\n");
    out.push_str("| customer | status | budget consumed | worst SLO | SLIs | requests | incidents | postmortems | reopened | alerts | time to ticket | time to resolve |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in &review.customers {
        let _ = writeln!(
            out,
            "| {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.id,
            r.status.as_str(),
            fmt::budget(r.budget_consumed),
            r.worst_slo.as_deref().unwrap_or("–"),
            slis(r),
            fmt::count(r.requests),
            incidents_cell(review, r.incidents),
            incidents_cell(review, r.postmortems),
            incidents_cell(review, r.reopened),
            incidents_cell(review, r.alerts),
            spread(r.time_to_ticket),
            spread(r.time_to_resolve)
        );
    }
    out.push_str("\n## Under the traffic floor\n\n");
    if review.under_floor.is_empty() {
        out.push_str("None: every SLO of every customer had enough traffic to judge.\n");
    } else {
        let _ = writeln!(
            out,
            "Not enough traffic to judge some SLO over the period: {}.",
            review.under_floor.iter().map(|id| format!("`{id}`")).collect::<Vec<_>>().join(", ")
        );
    }
    out
}

/// The review as one HTML file: inline CSS and SVG, no script.
pub fn noc_html(review: &NocReview) -> String {
    let e = |s: &str| escape(s);
    let (line, incidents) = heading(review);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>NOC review: {l}</title><style>{}</style></head><body>\n<h1>NOC review: {l}</h1><p class=\"sub\">{}</p><p>{}</p>\n",
        crate::render::CSS,
        e(&line),
        e(&incidents),
        l = e(&review.period.label)
    );
    let top: Vec<&Row> = review.customers.iter().filter(|r| r.budget_consumed.is_some()).take(30).collect();
    if !top.is_empty() {
        let chart = BarChart {
            title: "Error budget consumed, the most first".to_owned(),
            x_labels: top.iter().map(|r| r.id.clone()).collect(),
            stacks: vec![Stack {
                name: "budget consumed".to_owned(),
                color: "#c62828",
                values: top.iter().map(|r| r.budget_consumed.unwrap_or(0.0)).collect(),
            }],
            format: |v| format!("{:.0}%", v * 100.0),
        };
        out.push_str(&chart.svg());
    }
    out.push_str("<h2>Customers by error budget consumed</h2><table><tr><th class=\"text\">customer</th><th>status</th><th>budget consumed</th><th class=\"text\">worst SLO</th><th class=\"text\">SLIs</th><th>requests</th><th>incidents</th><th>postmortems</th><th>reopened</th><th>alerts</th><th>time to ticket</th><th>time to resolve</th></tr>");
    for r in &review.customers {
        let _ = write!(
            out,
            "<tr><td>{} ({})</td><td><span class=\"status {}\">{}</span></td><td>{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(&r.name),
            e(&r.id),
            crate::render::status_class(r.status),
            r.status.as_str(),
            e(&fmt::budget(r.budget_consumed)),
            e(r.worst_slo.as_deref().unwrap_or("–")),
            e(&slis(r)),
            e(&fmt::count(r.requests)),
            incidents_cell(review, r.incidents),
            incidents_cell(review, r.postmortems),
            incidents_cell(review, r.reopened),
            incidents_cell(review, r.alerts),
            e(&spread(r.time_to_ticket)),
            e(&spread(r.time_to_resolve))
        );
    }
    out.push_str("</table><h2>Under the traffic floor</h2>");
    if review.under_floor.is_empty() {
        out.push_str("<p>None: every SLO of every customer had enough traffic to judge.</p>");
    } else {
        let _ = write!(
            out,
            "<p>Not enough traffic to judge some SLO over the period: {}.</p>",
            e(&review.under_floor.join(", "))
        );
    }
    out.push_str("\n</body></html>\n");
    out
}
