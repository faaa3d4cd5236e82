//! rule-gen at scale: `cargo bench -p edgewatch-rule-gen --bench render`.
//!
//! 1. Renders catalogs of 1, 100 and 10,000 generated customers and prints
//!    the time and the number of rules (goal: 10,000 customers under 2 s).
//! 2. Feeds an exporter synthetic logs for 10,000 customers (two hosts
//!    each, every host's series exposed; `EDGEWATCH_BENCH_EVAL_CUSTOMERS`
//!    changes it), lets Debian's
//!    Prometheus scrape it every 15 s with those customers' rules loaded,
//!    and prints the evaluation time Prometheus reports per rule group
//!    (`prometheus_rule_group_last_duration_seconds`, the largest seen
//!    over `EDGEWATCH_BENCH_EVAL_MINUTES`, 6 by default, so every group
//!    has run), against half the group's interval, and what all groups
//!    cost per minute at their intervals.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::cast_precision_loss)]

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edgewatch_rule_gen::{Delivery, Options, Target, render};

fn catalog(n: usize) -> edgewatch_catalog::Catalog {
    let mut y = String::from(
        "destinations:\n  log: {log: {path: '-'}}\ndefaults:\n  alerting: {routes: [{to: [log]}]}\n  slos:\n    availability: {objective: 99.9, period: 28d}\n    latency:\n      ttfb: {threshold: 300ms, objective: 99}\ncustomers:\n",
    );
    for i in 0..n {
        let _ = writeln!(y, "  - {{id: c{i:05}, hosts: [www.c{i:05}.example, api.c{i:05}.example]}}");
    }
    edgewatch_catalog::load_str("bench.yaml", &y).unwrap().catalog
}

fn options() -> Options {
    Options {
        target: Target::Prometheus,
        catalog_name: "bench".to_owned(),
        grafana_url: "http://grafana.example".to_owned(),
        scrape_interval: "15s".parse().unwrap(),
        ingest_silence: edgewatch_rule_gen::DEFAULT_INGEST_SILENCE,
        delivery: Delivery {
            receiver_url: "http://localhost:9818/api/v1/alertmanager".to_owned(),
            exporter_targets: vec![],
            exporter_job: edgewatch_rule_gen::DEFAULT_EXPORTER_JOB.to_owned(),
            receiver_credentials_file: None,
            alertmanager_url: "http://localhost:9093".to_owned(),
            fallback_pagerduty: None,
            heartbeat_url: None,
            prometheus_url: None,
        },
    }
}

fn rules(files: &[edgewatch_rule_gen::OutputFile]) -> usize {
    files
        .iter()
        .filter(|f| f.path.starts_with("rules"))
        .map(|f| f.contents.lines().filter(|l| l.starts_with("  - record:") || l.starts_with("  - alert:")).count())
        .sum()
}

fn main() {
    println!("| customers | load catalog | render | rules | of which per-customer constants |");
    println!("|---|---|---|---|---|");
    for n in [1, 100, 10_000] {
        let t = Instant::now();
        let c = catalog(n);
        let load = t.elapsed();
        let t = Instant::now();
        let files = render(&c, &options()).unwrap();
        let took = t.elapsed();
        let shared = rules(
            &files
                .iter()
                .filter(|f| {
                    !f.path.starts_with("rules/profiles")
                        && !f.path.starts_with("rules/customers")
                        && !f.path.ends_with("edgewatch-constants.yml")
                })
                .cloned()
                .collect::<Vec<_>>(),
        );
        let total = rules(&files);
        println!(
            "| {n} | {:.0} ms | {:.0} ms | {total} | {} |",
            load.as_secs_f64() * 1e3,
            took.as_secs_f64() * 1e3,
            total - shared
        );
    }
    println!();
    let n = std::env::var("EDGEWATCH_BENCH_EVAL_CUSTOMERS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let minutes = std::env::var("EDGEWATCH_BENCH_EVAL_MINUTES").ok().and_then(|v| v.parse().ok()).unwrap_or(6);
    evaluation(n, minutes);
}

/// Each rule group's `(interval, last evaluation)` in seconds, from
/// Prometheus' own `/metrics`.
fn group_durations(text: &str) -> std::collections::BTreeMap<String, (f64, f64)> {
    let mut out: std::collections::BTreeMap<String, (f64, f64)> = std::collections::BTreeMap::new();
    for line in text.lines() {
        let slot = if line.starts_with("prometheus_rule_group_interval_seconds{") {
            0
        } else if line.starts_with("prometheus_rule_group_last_duration_seconds{") {
            1
        } else {
            continue;
        };
        let group = line.split("rule_group=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_owned();
        let v: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        let entry = out.entry(group).or_default();
        if slot == 0 {
            entry.0 = v;
        } else {
            entry.1 = v;
        }
    }
    out
}

/// Prometheus' own measure of rule evaluation for `n` customers' series,
/// over `minutes`.
#[allow(clippy::too_many_lines)] // one measurement, start to end
fn evaluation(n: usize, minutes: u64) {
    let dir = std::env::temp_dir().join(format!("edgewatch-rulebench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let c = catalog(n);
    for f in render(&c, &options()).unwrap() {
        let p = dir.join(&f.path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, f.contents).unwrap();
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        // The exporter, holding every customer's series.
        // Room for every host's series: the default `max_series` (200,000)
        // would count half the hosts in the exporter-wide overflow set.
        let config = edgewatch_exporters::config::Config::parse("limits: {max_series: 2000000}\n").unwrap();
        let exporter = edgewatch_exporters::Exporter::build(&config, &c, |_| None).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { exporter.serve(listener, &edgewatch_web::WebConfig::default(), std::future::pending()).await });
        let client = edgewatch_test_kit::http_client();
        let push = |body: String| client.post(format!("http://{target}/ingest/logpush")).body(body).send();
        let mut body = String::new();
        for i in 0..n {
            for host in ["www", "api"] {
                for (status, ttfb) in [(200, 40), (200, 120), (503, 900), (404, 30)] {
                    let _ = writeln!(body, r#"{{"ClientRequestHost":"{host}.c{i:05}.example","EdgeResponseStatus":{status},"EdgeTimeToFirstByteMs":{ttfb},"CacheCacheStatus":"miss"}}"#);
                }
            }
        }
        push(body.clone()).await.unwrap();
        let series: String = client.get(format!("http://{target}/metrics")).send().await.unwrap().text().await.unwrap();
        let exposed = series.lines().filter(|l| !l.starts_with('#')).count();

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        std::fs::write(
            dir.join("prometheus.yml"),
            format!(
                "global: {{scrape_interval: 15s, evaluation_interval: 15s, scrape_timeout: 14s}}\nrule_files: ['{0}/rules/*.yml', '{0}/rules/customers/*.yml', '{0}/rules/profiles/*.yml']\nscrape_configs:\n  - job_name: edgewatch\n    static_configs: [{{targets: ['{target}']}}]\n",
                dir.display()
            ),
        )
        .unwrap();
        let mut prom = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is needed (Debian package `prometheus`)");
        // Keep traffic flowing while every group evaluates, keeping the
        // largest evaluation each group reports.
        let until = Instant::now() + Duration::from_secs(minutes * 60);
        // Each group's interval, largest evaluation, and last evaluation.
        let mut worst: std::collections::BTreeMap<String, (f64, f64, f64)> = std::collections::BTreeMap::new();
        while Instant::now() < until {
            push(body.clone()).await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            let Ok(r) = client.get(format!("http://127.0.0.1:{port}/metrics")).send().await else { continue };
            for (g, (interval, last)) in group_durations(&r.text().await.unwrap_or_default()) {
                let w = worst.entry(g).or_default();
                *w = (interval, w.1.max(last), last);
            }
        }
        // Where the time goes: each rule's last evaluation, from the rules
        // API, by what it costs a minute.
        let mut by_rule: Vec<(f64, String, f64)> = Vec::new();
        if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/api/v1/rules")).send().await {
            let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or_default();
            for g in v["data"]["groups"].as_array().into_iter().flatten() {
                let every = 60.0 / g["interval"].as_f64().unwrap_or(60.0).max(1.0);
                let group = g["name"].as_str().unwrap_or_default();
                for rule in g["rules"].as_array().into_iter().flatten() {
                    let took = rule["evaluationTime"].as_f64().unwrap_or(0.0);
                    let name = rule["name"].as_str().unwrap_or_default();
                    let query: String = rule["query"].as_str().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
                    let head: String = query.chars().take(90).collect();
                    by_rule.push((took * every, format!("{group}: {name}: `{head}`"), took));
                }
            }
        }
        by_rule.sort_by(|a, b| b.0.total_cmp(&a.0));
        let _ = prom.kill();
        let _ = prom.wait();
        // The constants' groups (customers' shards, profiles, the join) as
        // one line; the shared groups each.
        let mut shared = Vec::new();
        // Constants: groups, largest, last summed, per minute at the last.
        let (mut groups, mut c_largest, mut c_last, mut c_minute) = (0, 0.0_f64, 0.0, 0.0);
        let (mut per_minute, mut per_minute_worst) = (0.0, 0.0);
        let mut over_half = Vec::new();
        for (group, (interval, largest, last)) in &worst {
            let name = group.rsplit(';').next().unwrap_or(group).to_owned();
            let every = 60.0 / interval.max(1.0);
            per_minute += last * every;
            per_minute_worst += largest * every;
            if *largest > interval / 2.0 {
                over_half.push(name.clone());
            }
            if group.contains("/customers/") || group.contains("/profiles/") || name == "edgewatch-constants" {
                groups += 1;
                c_largest = c_largest.max(*largest);
                c_last += last;
                c_minute += last * every;
            } else {
                shared.push((name, *interval, *largest, *last, last * every));
            }
        }
        println!(
            "Rule evaluation, {n} customers, {exposed} exposed series (Prometheus 2.42, {minutes} minutes; the largest evaluation seen and the last):"
        );
        println!();
        println!("| rule group | interval | largest | last | per minute, at the last |");
        println!("|---|---|---|---|---|");
        for (g, interval, largest, last, cost) in &shared {
            println!(
                "| {g} | {interval:.0} s | {:.1} ms | {:.1} ms | {:.1} ms |",
                largest * 1e3,
                last * 1e3,
                cost * 1e3
            );
        }
        println!(
            "| constants: {groups} groups (customers' shards, profiles, the join), summed | 60 s | {:.1} ms (one group) | {:.1} ms | {:.1} ms |",
            c_largest * 1e3,
            c_last * 1e3,
            c_minute * 1e3
        );
        println!("| **all groups** | | | | **{per_minute:.2} s** (at the largest: {per_minute_worst:.2} s) |");
        println!();
        println!("The rules that cost most, at their last evaluation:");
        println!();
        println!("| rule | last | per minute |");
        println!("|---|---|---|");
        for (cost, rule, last) in by_rule.iter().take(15) {
            println!("| {} | {:.1} ms | {:.1} ms |", rule.replace('|', "\\|"), last * 1e3, cost * 1e3);
        }
        println!();
        if over_half.is_empty() {
            println!("Every group finished within half its interval.");
        } else {
            println!("Over half their interval: {}", over_half.join(", "));
        }
    });
    let _ = std::fs::remove_dir_all(dir);
}
