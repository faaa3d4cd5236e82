//! The metric contract between the crates (docs/architecture: "every metric
//! a rule or panel reads is one that the exporters or the recording rules
//! produce"), checked on everything the example catalog renders. Queries are
//! parsed with a real `PromQL` parser, and every series selector counted.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;

use edgewatch_catalog::names::metric;
use promql_parser::parser::{self, Expr};

/// Metric names `expr` selects.
fn selected(expr: &Expr, out: &mut BTreeSet<String>) {
    match expr {
        Expr::VectorSelector(vs) => out.extend(vs.name.clone()),
        Expr::MatrixSelector(ms) => out.extend(ms.vs.name.clone()),
        Expr::Aggregate(a) => {
            selected(&a.expr, out);
            if let Some(p) = &a.param {
                selected(p, out);
            }
        }
        Expr::Unary(u) => selected(&u.expr, out),
        Expr::Binary(b) => {
            selected(&b.lhs, out);
            selected(&b.rhs, out);
        }
        Expr::Paren(p) => selected(&p.expr, out),
        Expr::Subquery(s) => selected(&s.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| selected(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn reads(query: &str, out: &mut BTreeSet<String>) {
    let expr = parser::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    selected(&expr, out);
}

/// Grafana's variables, replaced by what they expand to.
fn expand(query: &str) -> String {
    [
        ("$__rate_interval", "5m"),
        ("$__range", "1h"),
        ("$customer", "c"),
        ("$host", ".*"),
        ("$slo", ".*"),
        ("$tier", ".*"),
    ]
    .iter()
    .fold(query.to_owned(), |q, (var, value)| q.replace(var, value))
}

#[test]
fn every_metric_a_rule_or_panel_reads_is_produced() {
    let catalog = edgewatch_test_kit::example_catalog();
    let rules = edgewatch_rule_gen::render(
        &catalog,
        &edgewatch_rule_gen::Options {
            target: edgewatch_rule_gen::Target::Prometheus,
            catalog_name: "examples/catalog".to_owned(),
            grafana_url: "http://grafana.example".to_owned(),
            scrape_interval: "15s".parse().unwrap(),
            ingest_silence: edgewatch_rule_gen::DEFAULT_INGEST_SILENCE,
            delivery: edgewatch_rule_gen::Delivery {
                receiver_url: "http://receiver.example/api/v1/alertmanager".to_owned(),
                exporter_targets: vec!["exporter.example:9817".to_owned()],
                exporter_job: edgewatch_rule_gen::DEFAULT_EXPORTER_JOB.to_owned(),
                receiver_credentials_file: None,
                alertmanager_url: "http://localhost:9093".to_owned(),
                fallback_pagerduty: None,
                heartbeat_url: None,
                prometheus_url: None,
            },
        },
    )
    .unwrap();
    let mut recorded = BTreeSet::new();
    let mut read_by_rules = BTreeSet::new();
    for f in rules.iter().filter(|f| f.path.starts_with("rules")) {
        let doc: serde_json::Value = edgewatch_catalog::yaml::from_str(&f.contents).unwrap();
        for rule in doc["groups"].as_array().unwrap().iter().flat_map(|g| g["rules"].as_array().unwrap()) {
            recorded.extend(rule["record"].as_str().map(str::to_owned));
            reads(rule["expr"].as_str().unwrap(), &mut read_by_rules);
        }
    }
    let boards = edgewatch_dashboards::dashboards(
        &catalog,
        &edgewatch_dashboards::Options {
            target: edgewatch_dashboards::Target::Sidecar { namespace: None },
            catalog_name: "examples/catalog".to_owned(),
            grafana_url: "http://grafana.example".to_owned(),
            scrape_interval: "30s".parse().unwrap(),
        },
    )
    .unwrap();
    let mut read_by_panels = BTreeSet::new();
    for d in &boards {
        for q in d.queries().into_iter().chain(d.variable_selectors()) {
            reads(&expand(q), &mut read_by_panels);
        }
    }

    // What the exporters produce (their own test checks /metrics has each
    // of these, the prober's included), with the histograms' series.
    // The exporter's and the receiver's metrics about themselves are
    // checked by their own tests too.
    let produced: BTreeSet<String> = metric::ALL
        .iter()
        .chain(metric::EXPORTER_SELF)
        .chain(metric::RECEIVER_SELF)
        .flat_map(|m| [(*m).to_owned(), format!("{m}_bucket"), format!("{m}_count"), format!("{m}_sum")])
        .collect();
    // Prometheus' own series: firing alerts, and whether a scrape worked
    // (the exporter-down and no-data alerts read the exporter job's `up`).
    // Alertmanager's own counters, which the pipeline's fallback alert
    // reads, and Prometheus' rule evaluation (the health dashboard, and the
    // pipeline's alerts on Prometheus falling behind or failing).
    let builtin = BTreeSet::from(
        [
            "ALERTS",
            "up",
            "alertmanager_notifications_total",
            "alertmanager_notifications_failed_total",
            "prometheus_rule_group_last_duration_seconds",
            "prometheus_rule_group_interval_seconds",
            "prometheus_rule_group_iterations_missed_total",
            "prometheus_rule_evaluation_failures_total",
        ]
        .map(str::to_owned),
    );
    for (who, read) in [("rules", &read_by_rules), ("panels", &read_by_panels)] {
        let unknown: Vec<_> =
            read.iter().filter(|m| !produced.contains(*m) && !recorded.contains(*m) && !builtin.contains(*m)).collect();
        assert!(unknown.is_empty(), "{who} read metrics nothing produces: {unknown:?}");
    }
    // Both sides are really exercised: raw metrics and recorded series.
    for m in [
        metric::REQUESTS_TOTAL,
        metric::SLO_REQUESTS_TOTAL,
        "slo:error_budget_remaining:ratio",
        "slo:burn_rate:ratio_rate1h",
        "ALERTS",
    ] {
        assert!(read_by_panels.contains(m) || read_by_rules.contains(m), "{m} is read by nothing");
    }
    assert!(
        read_by_panels.contains("slo:error_budget_remaining:ratio") && read_by_panels.contains(metric::PROBE_SUCCESS)
    );
}
