//! rule-gen at scale: `cargo bench -p edgewatch-rule-gen --bench render`.
//!
//! 1. Renders catalogs of 1, 100 and 10,000 generated customers and prints
//!    the time and the number of rules (goal: 10,000 customers under 2 s).
//! 2. Feeds an exporter synthetic logs for 1,000 customers, lets Debian's
//!    Prometheus scrape it with those customers' rules loaded, and prints
//!    the evaluation time Prometheus reports per rule group
//!    (`prometheus_rule_group_last_duration_seconds`).

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
        let _ = writeln!(y, "  - {{id: c{i:05}, hosts: [www.c{i:05}.example]}}");
    }
    edgewatch_catalog::load_str("bench.yaml", &y).unwrap().catalog
}

fn options() -> Options {
    Options {
        target: Target::Prometheus,
        catalog_name: "bench".to_owned(),
        grafana_url: "http://grafana.example".to_owned(),
        scrape_interval: "5s".parse().unwrap(),
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
    evaluation(1_000);
}

/// Prometheus' own measure of rule evaluation for `n` customers' series.
fn evaluation(n: usize) {
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
        let exporter = edgewatch_exporters::Exporter::build(&edgewatch_exporters::config::Config::default(), &c, |_| None).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { exporter.serve(listener, &edgewatch_web::WebConfig::default(), std::future::pending()).await });
        let client = edgewatch_test_kit::http_client();
        let push = |body: String| client.post(format!("http://{target}/ingest/logpush")).body(body).send();
        let mut body = String::new();
        for i in 0..n {
            for (status, ttfb) in [(200, 40), (200, 120), (503, 900), (404, 30)] {
                let _ = writeln!(body, r#"{{"ClientRequestHost":"www.c{i:05}.example","EdgeResponseStatus":{status},"EdgeTimeToFirstByteMs":{ttfb},"CacheCacheStatus":"miss"}}"#);
            }
        }
        push(body.clone()).await.unwrap();
        let series: String = client.get(format!("http://{target}/metrics")).send().await.unwrap().text().await.unwrap();
        let exposed = series.lines().filter(|l| !l.starts_with('#')).count();

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        std::fs::write(
            dir.join("prometheus.yml"),
            format!(
                "global: {{scrape_interval: 5s, evaluation_interval: 15s}}\nrule_files: ['{0}/rules/*.yml', '{0}/rules/profiles/*.yml']\nscrape_configs:\n  - job_name: edgewatch\n    static_configs: [{{targets: ['{target}']}}]\n",
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
        // Keep traffic flowing while rules evaluate for two minutes.
        let until = Instant::now() + Duration::from_secs(120);
        while Instant::now() < until {
            push(body.clone()).await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        // Prometheus' own metric, on its own /metrics.
        let text = client.get(format!("http://127.0.0.1:{port}/metrics")).send().await.unwrap().text().await.unwrap();
        let _ = prom.kill();
        let _ = prom.wait();
        let mut shared = Vec::new();
        let mut constants = 0.0;
        for line in text.lines().filter(|l| l.starts_with("prometheus_rule_group_last_duration_seconds{")) {
            let group = line.split("rule_group=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("");
            let secs: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            if group.contains("/customers/") {
                constants += secs;
            } else {
                shared.push((group.rsplit(';').next().unwrap_or(group).to_owned(), secs));
            }
        }
        shared.sort_by(|a, b| a.0.cmp(&b.0));
        println!("Rule evaluation, {n} customers, {exposed} exposed series (Prometheus 2.42, last evaluation):");
        println!();
        println!("| rule group | last evaluation |");
        println!("|---|---|");
        for (g, s) in &shared {
            println!("| {g} | {:.1} ms |", s * 1e3);
        }
        println!("| {n} per-customer constant groups, summed | {:.1} ms |", constants * 1e3);
    });
    let _ = std::fs::remove_dir_all(dir);
}
