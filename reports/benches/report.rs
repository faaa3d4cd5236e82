//! A 30-day report for 1,000 customers against the real Prometheus:
//! `cargo bench -p edgewatch-reports --bench report`. It backfills 31 days
//! of the exporters' counters for every customer (`promtool tsdb
//! create-blocks-from openmetrics`, a hundred customers a file, so the text
//! never fills the disk), starts Prometheus on them, makes every customer's
//! report in all three formats, and prints the figures docs/performance.md
//! records.
//!
//! `EDGEWATCH_BENCH_CUSTOMERS` (default 1000) and `EDGEWATCH_BENCH_STEP`
//! (seconds between samples, default 60) change the size.

// A benchmark: it prints its figures, and a failure is a failed run.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::too_many_lines
)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edgewatch_catalog::names::{label, le_label, metric};
use edgewatch_reports::{Format, NoIncidents, Period, PeriodSpec, Prometheus, Selection};
use edgewatch_test_kit::{PrometheusProcess, scratch_dir, tool};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// 2026-01-01T00:00:00Z: the history starts a day before the period.
const T0: i64 = 1_767_225_600;
const DAYS: i64 = 31;
const BOUNDS: [f64; 7] = [0.05, 0.1, 0.25, 0.3, 0.5, 1.0, 2.5];
const PER_FILE: usize = 25;

fn env(name: &str, default: i64) -> i64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Cumulative counters of customer `c` at each sample: one line per sample.
fn write_customer(out: &mut impl std::io::Write, c: usize, step: i64, samples: i64) {
    let id = format!("c{c:04}");
    // 1 to 20 requests a second, by customer.
    let rate = 1 + (c % 20) as i64;
    let mut line = String::new();
    let mut series = |name: &str, labels: &str, per_step: &dyn Fn(i64) -> i64| {
        let mut total = 0i64;
        for k in 0..=samples {
            if k > 0 {
                total += per_step(k);
            }
            line.clear();
            let _ = writeln!(line, "{name}{{{}=\"{id}\"{labels}}} {total} {}", label::CUSTOMER, T0 + k * step);
            out.write_all(line.as_bytes()).unwrap();
        }
    };
    let requests = move |_k: i64| rate * step;
    // An outage of an hour on day (c % 28) + 2 for every tenth customer.
    let failing = move |k: i64| {
        let t = T0 + k * step;
        let start = T0 + ((c % 28) as i64 + 2) * 86_400 + 36_000;
        c.is_multiple_of(10) && t > start && t <= start + 3600
    };
    let bad = move |k: i64| if failing(k) { requests(k) } else { requests(k) / 2000 };
    series(metric::SLO_REQUESTS_TOTAL, &format!(",{}=\"availability\",{}=\"good\"", label::SLO, label::RESULT), &|k| {
        requests(k) - bad(k)
    });
    series(metric::SLO_REQUESTS_TOTAL, &format!(",{}=\"availability\",{}=\"bad\"", label::SLO, label::RESULT), &bad);
    for (class, per) in [
        ("2xx", &(move |k| requests(k) - bad(k) - requests(k) / 50) as &dyn Fn(i64) -> i64),
        ("4xx", &|k| requests(k) / 50),
        ("5xx", &bad),
    ] {
        series(metric::REQUESTS_TOTAL, &format!(",{}=\"{class}\"", label::STATUS_CLASS), per);
    }
    // Latency: 90% under 50 ms, 1% over 300 ms.
    let shares = [900, 960, 985, 990, 996, 999, 1000];
    for (bound, share) in BOUNDS.iter().zip(shares) {
        series(&format!("{}_bucket", metric::EDGE_TTFB_SECONDS), &format!(",le=\"{}\"", le_label(*bound)), &|k| {
            requests(k) * share / 1000
        });
    }
    series(&format!("{}_bucket", metric::EDGE_TTFB_SECONDS), ",le=\"+Inf\"", &requests);
    series(&format!("{}_count", metric::EDGE_TTFB_SECONDS), "", &requests);
    series(metric::SECURITY_ACTIONS_TOTAL, &format!(",{}=\"block\"", label::ACTION), &|k| requests(k) / 100);
    series(metric::SECURITY_ACTIONS_TOTAL, &format!(",{}=\"log\"", label::ACTION), &|k| requests(k) / 100);
}

/// Families in the OpenMetrics text must come one after the other: each
/// customer file holds them in this order, every customer's series of a
/// family together.
fn write_file(path: &Path, customers: std::ops::Range<usize>, step: i64, samples: i64) {
    // One pass per family, so each family is contiguous.
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut buf = Vec::new();
    let mut by_family: Vec<(String, Vec<u8>)> = Vec::new();
    for c in customers {
        buf.clear();
        write_customer(&mut buf, c, step, samples);
        // Split the customer's lines by family name.
        for line in buf.split_inclusive(|b| *b == b'\n') {
            let name_end = line.iter().position(|b| *b == b'{').unwrap();
            let name = std::str::from_utf8(&line[..name_end]).unwrap();
            let family =
                name.trim_end_matches("_bucket").trim_end_matches("_count").trim_end_matches("_total").to_owned();
            match by_family.iter_mut().find(|(f, _)| *f == family) {
                Some((_, lines)) => lines.extend_from_slice(line),
                None => by_family.push((family, line.to_vec())),
            }
        }
    }
    for (family, lines) in &by_family {
        let kind = if family == metric::EDGE_TTFB_SECONDS { "histogram" } else { "counter" };
        writeln!(out, "# TYPE {family} {kind}").unwrap();
        out.write_all(lines).unwrap();
    }
    writeln!(out, "# EOF").unwrap();
    out.flush().unwrap();
}

fn catalog(customers: usize) -> String {
    let mut y = String::from(
        "defaults:\n  slos:\n    availability: {objective: 99.9, period: 30d, errors: [5xx]}\n    latency:\n      ttfb: {source: edge_ttfb, threshold: 300ms, objective: 99, period: 30d}\n  alerting: {min_requests: 1000}\ncustomers:\n",
    );
    for c in 0..customers {
        let _ = writeln!(y, "  - {{id: c{c:04}, hosts: [www.c{c:04}.example]}}");
    }
    y
}

fn main() {
    let customers = usize::try_from(env("EDGEWATCH_BENCH_CUSTOMERS", 1000)).unwrap();
    let step = env("EDGEWATCH_BENCH_STEP", 60);
    let samples = DAYS * 86_400 / step;
    let dir = scratch_dir("report-bench");
    let tsdb = dir.join("tsdb");

    let started = Instant::now();
    let text = dir.join("history.om");
    for first in (0..customers).step_by(PER_FILE) {
        write_file(&text, first..(first + PER_FILE).min(customers), step, samples);
        let out = Command::new(tool("promtool", "prometheus"))
            .args(["tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=744h"])
            .arg(&text)
            .arg(&tsdb)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "promtool: {}", String::from_utf8_lossy(&out.stderr));
    }
    std::fs::remove_file(&text).unwrap();
    let series_per_customer = 16;
    let total_samples = customers as i64 * series_per_customer * (samples + 1);
    let backfill = started.elapsed();

    let prometheus = PrometheusProcess::start(&dir, &tsdb);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let prom = Prometheus::new(&prometheus.url(), Duration::from_secs(300)).unwrap();
    let catalog = edgewatch_catalog::load_str("catalog.yaml", &catalog(customers)).unwrap().catalog;
    let spec = PeriodSpec::Range { from: "2026-01-02".parse().unwrap(), to: "2026-01-31".parse().unwrap() };
    let period = Period::resolve(&spec, &TimeZone::UTC, Timestamp::now()).unwrap();

    let t = Instant::now();
    let reports = runtime
        .block_on(edgewatch_reports::build(&catalog, &prom, &NoIncidents, &Selection::All, &period, Timestamp::now()))
        .unwrap();
    let queried = t.elapsed();
    let t = Instant::now();
    let written =
        edgewatch_reports::write_all(&dir.join("out"), &reports, &[Format::Html, Format::Markdown, Format::Json])
            .unwrap();
    let rendered = t.elapsed();
    let bytes: u64 = written.iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    let breached = reports.iter().filter(|r| r.slos[0].met == Some(false)).count();
    drop(prometheus);
    let tsdb_size = dir_size(&tsdb);
    std::fs::remove_dir_all(&dir).unwrap();

    println!("customers                      {customers}");
    println!("period                         30 days ({} to {})", period.from, period.to);
    println!(
        "samples backfilled             {total_samples} ({series_per_customer} series a customer, one every {step}s; TSDB {:.0} MB)",
        tsdb_size as f64 / 1e6
    );
    println!("backfill (promtool)            {:.1} s", backfill.as_secs_f64());
    println!("queries and reports            {:.2} s", queried.as_secs_f64());
    println!(
        "render and write 3 formats     {:.2} s ({} files, {:.1} MB)",
        rendered.as_secs_f64(),
        written.len(),
        bytes as f64 / 1e6
    );
    println!("total report time              {:.2} s", (queried + rendered).as_secs_f64());
    println!("customers breaching            {breached} (every tenth has a one-hour outage)");
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| if e.path().is_dir() { dir_size(&e.path()) } else { e.metadata().map_or(0, |m| m.len()) })
            .sum()
    })
}
