//! What the windows of days cost once Prometheus holds their history:
//! `cargo bench -p edgewatch-rule-gen --bench history` (needs Debian's
//! `prometheus`, which `scripts/test` installs).
//!
//! Backfills 30 days of one sample a minute (the cadence at which the
//! minute group records the 5m increases the windows of days sum) for
//! `EDGEWATCH_BENCH_HISTORY_SERIES` series (50 by default) with `promtool
//! tsdb create-blocks-from openmetrics`, starts Prometheus 2.42 on those
//! blocks with nothing else loaded, and times `sum_over_time` over 6h, 3d
//! and 28d (three runs each, Prometheus' own evaluation time and sample
//! count). Prints the cost of a sample and what the period and 3d rules
//! would read at 20,000 SLOs: the render bench runs minutes, so its windows
//! of days read minutes.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use edgewatch_test_kit::{PrometheusProcess, tool};

const METRIC: &str = "slo:sli_errors:increase5m";
const DAYS: u64 = 30;

fn main() {
    let n: u64 = std::env::var("EDGEWATCH_BENCH_HISTORY_SERIES").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let dir = std::env::temp_dir().join(format!("edgewatch-historybench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() / 60 * 60;
    let mut text = format!("# TYPE {} gauge\n", METRIC.replace(':', "_"));
    for s in 0..n {
        for t in (now - DAYS * 86_400..now).step_by(60) {
            let _ = writeln!(
                text,
                "{}{{customer=\"c{s:05}\",slo=\"availability\"}} {} {t}",
                METRIC.replace(':', "_"),
                (t / 60 + s) % 7
            );
        }
    }
    text.push_str("# EOF\n");
    let file = dir.join("history.om");
    std::fs::write(&file, text).unwrap();
    let tsdb = dir.join("tsdb");
    let started = std::time::Instant::now();
    let out = std::process::Command::new(tool("promtool", "prometheus"))
        .args(["tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=744h", "-q"])
        .arg(&file)
        .arg(&tsdb)
        .output()
        .unwrap();
    assert!(out.status.success(), "promtool: {}", String::from_utf8_lossy(&out.stderr));
    let backfill = started.elapsed();
    let _ = std::fs::remove_file(&file);

    let prometheus = PrometheusProcess::start(&dir, &tsdb);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = edgewatch_test_kit::http_client();
    println!(
        "{n} series, {DAYS} days of one sample a minute, backfilled in {:.0} s; Prometheus 2.42, nothing else loaded:",
        backfill.as_secs_f64()
    );
    println!();
    println!("| window | samples read | evaluation (median of 3) | a sample |");
    println!("|---|---|---|---|");
    let mut per_sample = 0.0;
    for w in ["6h", "3d", "28d"] {
        let query = format!("count(sum_over_time({}[{w}]))", METRIC.replace(':', "_"));
        let mut runs: Vec<(f64, f64)> = (0..3)
            .map(|_| {
                rt.block_on(async {
                    let q: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
                    let r = client
                        .get(format!("{}/api/v1/query?query={q}&stats=all", prometheus.url()))
                        .send()
                        .await
                        .unwrap();
                    let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
                    let stats = &v["data"]["stats"];
                    (
                        stats["timings"]["evalTotalTime"].as_f64().unwrap(),
                        stats["samples"]["totalQueryableSamples"].as_f64().unwrap(),
                    )
                })
            })
            .collect();
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (took, samples) = runs[1];
        per_sample = took / samples;
        println!("| {w} | {samples:.0} | {:.1} ms | {:.0} ns |", took * 1e3, per_sample * 1e9);
    }
    // At 20,000 SLOs: the errors and the requests of each, one sample a
    // minute; the 3d windows also read the chronic pair.
    let period = 2.0 * 20_000.0 * 28.0 * 1440.0;
    let three_days = 4.0 * 20_000.0 * 3.0 * 1440.0;
    println!();
    println!(
        "At 20,000 SLOs, at the 28d window's cost a sample: a 28-day period's rule reads {:.2} billion samples, {:.0} s an evaluation; the 3d windows {:.0} million, {:.0} s.",
        period / 1e9,
        period * per_sample,
        three_days / 1e6,
        three_days * per_sample
    );
    drop(prometheus);
    let _ = std::fs::remove_dir_all(dir);
}
