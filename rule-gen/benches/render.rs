//! rule-gen at scale: `cargo bench -p edgewatch-rule-gen --bench render`.
//!
//! 1. Renders catalogs of 1, 100 and 10,000 generated customers and prints
//!    the time and the number of rules (goal: 10,000 customers under 2 s).
//! 2. Feeds an exporter synthetic logs for 10,000 customers (two hosts
//!    each, every host's series exposed; `EDGEWATCH_BENCH_EVAL_CUSTOMERS`
//!    changes it; 1% of them failing, `EDGEWATCH_BENCH_FAILING` changes
//!    that), lets Debian's
//!    Prometheus scrape it every 15 s with those customers' rules loaded,
//!    and prints the evaluation time Prometheus reports per rule group
//!    (`prometheus_rule_group_last_duration_seconds` of every evaluation
//!    after the first two of `EDGEWATCH_BENCH_EVAL_MINUTES`, 8 by default:
//!    their median, mean and largest, the largest against half the group's
//!    interval), what all groups cost per minute at their intervals, and
//!    the rules that cost most. `EDGEWATCH_BENCH_RULES=floor` loads, instead
//!    of the rendered rules, the least the fast tier can read (`FLOOR`).

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
    let minutes = std::env::var("EDGEWATCH_BENCH_EVAL_MINUTES").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    evaluation(n, minutes);
}

/// Each rule group's interval, last evaluation's duration, and when that
/// evaluation ran (seconds), from Prometheus' own `/metrics`.
fn group_durations(text: &str) -> std::collections::BTreeMap<String, [f64; 3]> {
    let mut out: std::collections::BTreeMap<String, [f64; 3]> = std::collections::BTreeMap::new();
    for line in text.lines() {
        let slot = if line.starts_with("prometheus_rule_group_interval_seconds{") {
            0
        } else if line.starts_with("prometheus_rule_group_last_duration_seconds{") {
            1
        } else if line.starts_with("prometheus_rule_group_last_evaluation_timestamp_seconds{") {
            2
        } else {
            continue;
        };
        let group = line.split("rule_group=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_owned();
        let v: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        out.entry(group).or_default()[slot] = v;
    }
    out
}

/// A group's evaluations as the benchmark saw them.
#[derive(Default)]
struct Seen {
    interval: f64,
    /// Durations of the evaluations after the warm-up.
    durations: Vec<f64>,
    /// The last evaluation seen, whenever it ran (a group of 5 minutes may
    /// run once, in the warm-up).
    last: f64,
    at: f64,
}

impl Seen {
    /// The mean evaluation: of those after the warm-up, else the last.
    fn mean(&self) -> f64 {
        if self.durations.is_empty() {
            self.last
        } else {
            self.durations.iter().sum::<f64>() / self.durations.len() as f64
        }
    }

    fn median(&self) -> f64 {
        let mut d = self.durations.clone();
        d.sort_by(f64::total_cmp);
        d.get(d.len() / 2).copied().unwrap_or(self.last)
    }

    fn largest(&self) -> f64 {
        self.durations.iter().copied().fold(self.last, f64::max)
    }

    /// Evaluations a minute, at the group's interval.
    fn every(&self) -> f64 {
        60.0 / self.interval.max(1.0)
    }
}

/// Prometheus' own measure of rule evaluation for `n` customers' series,
/// over `minutes`.
#[allow(clippy::too_many_lines)] // one measurement, start to end
/// The least any rules can read for the fast tier at the scrape interval:
/// each of its three windows' error ratio, over every SLO, once, against a
/// literal threshold (no per-SLO constants, no significance bound, no
/// floor, no alert). `EDGEWATCH_BENCH_RULES=floor` loads these alone, to
/// show what Prometheus costs for them on this machine.
const FLOOR: &str = r#"groups:
  - name: floor-fast
    interval: 15s
    rules:
      - record: floor:sli_error:ratio_rate1m
        expr: sum by (customer, slo) (rate(edgewatch_slo_requests_total{result="bad"}[1m])) / sum by (customer, slo) (rate(edgewatch_slo_requests_total[1m])) > 0.0144
      - record: floor:sli_error:ratio_rate2m
        expr: sum by (customer, slo) (rate(edgewatch_slo_requests_total{result="bad"}[2m])) / sum by (customer, slo) (rate(edgewatch_slo_requests_total[2m])) > 0.0144
      - record: floor:sli_error:ratio_rate5m
        expr: sum by (customer, slo) (rate(edgewatch_slo_requests_total{result="bad"}[5m])) / sum by (customer, slo) (rate(edgewatch_slo_requests_total[5m])) > 0.0144
"#;

fn evaluation(n: usize, minutes: u64) {
    let floor = std::env::var("EDGEWATCH_BENCH_RULES").is_ok_and(|v| v == "floor");
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
        // A NOC's steady state: the first `failing` customers fail a
        // quarter of their requests (slow 503s), with three times the
        // traffic so that they pass the alerts' floor and their alerts fire;
        // the others fail one request now and then (one push in 200 for
        // each customer, in turn), well inside their objectives.
        let failing = std::env::var("EDGEWATCH_BENCH_FAILING").ok().and_then(|v| v.parse().ok()).unwrap_or(n / 100);
        let batch = |k: usize| {
            let mut body = String::new();
            for i in 0..n {
                let fails = i < failing || (i + k).is_multiple_of(200);
                let slow_503 = if fails { (503, 900) } else { (200, 60) };
                let copies = if i < failing { 3 } else { 1 };
                for host in std::iter::repeat_n(["www", "api"], copies).flatten() {
                    for (status, ttfb) in [(200, 40), (200, 120), slow_503, (404, 30)] {
                        let _ = writeln!(body, r#"{{"ClientRequestHost":"{host}.c{i:05}.example","EdgeResponseStatus":{status},"EdgeTimeToFirstByteMs":{ttfb},"CacheCacheStatus":"miss"}}"#);
                    }
                }
            }
            body
        };
        push(batch(0)).await.unwrap();
        let series: String = client.get(format!("http://{target}/metrics")).send().await.unwrap().text().await.unwrap();
        let exposed = series.lines().filter(|l| !l.starts_with('#')).count();
        // What the floor's rules read an evaluation: every SLO counter series
        // (good and bad) and the bad ones again, for each of three windows.
        let slo_series = series.lines().filter(|l| l.starts_with("edgewatch_slo_requests_total{")).count();
        let slo_bad = series.lines().filter(|l| l.starts_with("edgewatch_slo_requests_total{") && l.contains("result=\"bad\"")).count();
        let floor_reads = 3 * (slo_series + slo_bad);

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let rule_files = if floor {
            std::fs::write(dir.join("floor.yml"), FLOOR).unwrap();
            format!("['{}/floor.yml']", dir.display())
        } else {
            format!("['{0}/rules/*.yml', '{0}/rules/customers/*.yml', '{0}/rules/profiles/*.yml']", dir.display())
        };
        std::fs::write(
            dir.join("prometheus.yml"),
            format!(
                "global: {{scrape_interval: 15s, evaluation_interval: 15s, scrape_timeout: 14s}}\nrule_files: {rule_files}\nscrape_configs:\n  - job_name: edgewatch\n    static_configs: [{{targets: ['{target}']}}]\n"
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
        // Keep traffic flowing while every group evaluates, keeping each
        // evaluation after the first two minutes (start-up: the first
        // scrapes, the head filling).
        let until = Instant::now() + Duration::from_secs(minutes * 60);
        let warm = Instant::now() + Duration::from_secs(minutes.min(2) * 60);
        let mut seen: std::collections::BTreeMap<String, Seen> = std::collections::BTreeMap::new();
        let mut pushes = 1;
        while Instant::now() < until {
            push(batch(pushes)).await.unwrap();
            pushes += 1;
            tokio::time::sleep(Duration::from_secs(5)).await;
            let Ok(r) = client.get(format!("http://127.0.0.1:{port}/metrics")).send().await else { continue };
            for (g, [interval, last, at]) in group_durations(&r.text().await.unwrap_or_default()) {
                let s = seen.entry(g).or_default();
                s.interval = interval;
                if at > 0.0 && at > s.at {
                    (s.at, s.last) = (at, last);
                    if Instant::now() > warm {
                        s.durations.push(last);
                    }
                }
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
        let firing = match client.get(format!("http://127.0.0.1:{port}/api/v1/alerts")).send().await {
            Ok(r) => {
                let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or_default();
                v["data"]["alerts"].as_array().map_or(0, Vec::len)
            }
            Err(_) => 0,
        };
        let _ = prom.kill();
        let _ = prom.wait();
        // The constants' groups (customers' shards, profiles, the join) as
        // one line; the shared groups each.
        let mut shared = Vec::new();
        // Constants: groups, largest, mean summed, per minute at the mean.
        let (mut groups, mut c_largest, mut c_mean, mut c_minute, mut c_interval) = (0, 0.0_f64, 0.0, 0.0, 0.0_f64);
        let (mut per_minute, mut per_minute_median) = (0.0, 0.0);
        let mut over_half = Vec::new();
        for (group, s) in &seen {
            let name = group.rsplit(';').next().unwrap_or(group).to_owned();
            per_minute += s.mean() * s.every();
            per_minute_median += s.median() * s.every();
            if s.largest() > s.interval / 2.0 {
                over_half.push(name.clone());
            }
            if group.contains("/customers/") || group.contains("/profiles/") || name == "edgewatch-constants" {
                groups += 1;
                c_largest = c_largest.max(s.largest());
                c_interval = c_interval.max(s.interval);
                c_mean += s.mean();
                c_minute += s.mean() * s.every();
            } else {
                shared.push((name, s));
            }
        }
        println!(
            "Rule evaluation, {n} customers ({failing} failing), {exposed} exposed series, {firing} alerts pending or firing at the end (Prometheus 2.42, {minutes} minutes; every evaluation after the first two minutes):"
        );
        println!();
        println!("| rule group | interval | evaluations | median | mean | largest | per minute, at the mean |");
        println!("|---|---|---|---|---|---|---|");
        for (g, s) in &shared {
            println!(
                "| {g} | {:.0} s | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
                s.interval,
                s.durations.len(),
                s.median() * 1e3,
                s.mean() * 1e3,
                s.largest() * 1e3,
                s.mean() * s.every() * 1e3
            );
        }
        println!(
            "| constants: {groups} groups (customers' shards, profiles, the join), summed | {c_interval:.0} s | | | {:.1} ms | {:.1} ms (one group) | {:.1} ms |",
            c_mean * 1e3,
            c_largest * 1e3,
            c_minute * 1e3
        );
        println!("| **all groups** | | | | | | **{per_minute:.2} s** (at the medians: {per_minute_median:.2} s) |");
        println!();
        println!("The rules that cost most, at their last evaluation:");
        println!();
        println!("| rule | last | per minute |");
        println!("|---|---|---|");
        for (cost, rule, last) in by_rule.iter().take(15) {
            println!("| {} | {:.1} ms | {:.1} ms |", rule.replace('|', "\\|"), last * 1e3, cost * 1e3);
        }
        println!();
        if floor {
            let s = seen.iter().find(|(g, _)| g.ends_with(";floor-fast")).map(|(_, s)| s).unwrap();
            println!(
                "The floor reads {floor_reads} series an evaluation ({slo_series} SLO counter series, {slo_bad} of them bad): {:.1} µs a series read, at the median.",
                s.median() * 1e6 / floor_reads as f64
            );
            println!();
        }
        if over_half.is_empty() {
            println!("Every group finished within half its interval.");
        } else {
            println!("Over half their interval: {}", over_half.join(", "));
        }
    });
    let _ = std::fs::remove_dir_all(dir);
}
