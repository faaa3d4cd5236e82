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

use edgewatch_catalog::names::{label, le_label, metric, recorded};
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

/// The two exporters; customer `c` is counted by `INSTANCES[c % 2]`.
const INSTANCES: [&str; 2] = ["exporter-a:9101", "exporter-b:9101"];
/// The second exporter restarts on day 20 at noon: its counters start
/// again from zero and its start time changes, so that day is read with
/// `increase()` for its customers.
const RESTART: i64 = T0 + 20 * 86_400 + 43_200;
/// Rule-gen's rules (and their recorded request rate, which the peak
/// reads) are loaded a week into the history: the first week's peaks come
/// from the raw counters.
const RULES_LOADED: i64 = T0 + 8 * 86_400;

/// What a file holds, family by family (OpenMetrics wants each family's
/// lines together).
#[derive(Clone, Copy, PartialEq)]
enum Family {
    Slo,
    Requests,
    Ttfb,
    Security,
    Recorded,
    /// The exporters' start times (in the first file).
    Exporters,
}

impl Family {
    const ALL: [Self; 6] = [Self::Slo, Self::Requests, Self::Ttfb, Self::Security, Self::Recorded, Self::Exporters];

    fn header(self) -> String {
        let (name, kind) = match self {
            Self::Slo => (metric::SLO_REQUESTS_TOTAL.trim_end_matches("_total").to_owned(), "counter"),
            Self::Requests => (metric::REQUESTS_TOTAL.trim_end_matches("_total").to_owned(), "counter"),
            Self::Ttfb => (metric::EDGE_TTFB_SECONDS.to_owned(), "histogram"),
            Self::Security => (metric::SECURITY_ACTIONS_TOTAL.trim_end_matches("_total").to_owned(), "counter"),
            Self::Recorded => (recorded::REQUESTS_5M.to_owned(), "gauge"),
            Self::Exporters => {
                return format!("# TYPE {} gauge\n", metric::EXPORTER_START_TIME_SECONDS);
            }
        };
        format!("# TYPE {name} {kind}\n")
    }
}

/// One series: its value at each sample, written as it goes.
struct Writer<'a, W: std::io::Write> {
    out: &'a mut W,
    step: i64,
    samples: i64,
    line: String,
}

impl<W: std::io::Write> Writer<'_, W> {
    /// A counter growing by `per_step(k)` at sample `k`, from zero again
    /// after a restart of its exporter.
    fn counter(&mut self, series: &str, restarts: bool, per_step: &dyn Fn(i64) -> i64) {
        let mut total = 0i64;
        for k in 0..=self.samples {
            let t = T0 + k * self.step;
            if k > 0 {
                let restarted = restarts && t - self.step < RESTART && t >= RESTART;
                total = if restarted { 0 } else { total } + per_step(k);
            }
            self.sample(series, total as f64, t);
        }
    }

    fn sample(&mut self, series: &str, value: f64, t: i64) {
        self.line.clear();
        let _ = writeln!(self.line, "{series} {value} {t}");
        self.out.write_all(self.line.as_bytes()).unwrap();
    }
}

/// Customer `c`'s series of one family.
fn write_customer<W: std::io::Write>(w: &mut Writer<'_, W>, c: usize, family: Family) {
    let step = w.step;
    let instance = INSTANCES[c % 2];
    let restarts = c % 2 == 1;
    let labels = format!("{}=\"c{c:04}\",instance=\"{instance}\",job=\"edgewatch-exporter\"", label::CUSTOMER);
    // 1 to 20 requests a second, by customer.
    let rate = 1 + (c % 20) as i64;
    let requests = move |_k: i64| rate * step;
    // An outage of an hour on day (c % 28) + 2 for every tenth customer.
    let failing = move |k: i64| {
        let t = T0 + k * step;
        let start = T0 + ((c % 28) as i64 + 2) * 86_400 + 36_000;
        c.is_multiple_of(10) && t > start && t <= start + 3600
    };
    let bad = move |k: i64| if failing(k) { requests(k) } else { requests(k) / 2000 };
    match family {
        Family::Slo => {
            let slo = |result: &str| {
                format!(
                    "{}{{{labels},{}=\"availability\",{}=\"{result}\"}}",
                    metric::SLO_REQUESTS_TOTAL,
                    label::SLO,
                    label::RESULT
                )
            };
            w.counter(&slo("good"), restarts, &|k| requests(k) - bad(k));
            w.counter(&slo("bad"), restarts, &bad);
        }
        Family::Requests => {
            for (class, per) in [
                ("2xx", &(move |k| requests(k) - bad(k) - (requests(k) - bad(k)) / 50) as &dyn Fn(i64) -> i64),
                ("4xx", &|k| (requests(k) - bad(k)) / 50),
                ("5xx", &bad),
            ] {
                let series = format!("{}{{{labels},{}=\"{class}\"}}", metric::REQUESTS_TOTAL, label::STATUS_CLASS);
                w.counter(&series, restarts, per);
            }
        }
        Family::Ttfb => {
            // Latency: 90% under 50 ms, 1% over 300 ms.
            let shares = [900, 960, 985, 990, 996, 999, 1000];
            for (bound, share) in BOUNDS.iter().zip(shares) {
                let series = format!("{}_bucket{{{labels},le=\"{}\"}}", metric::EDGE_TTFB_SECONDS, le_label(*bound));
                w.counter(&series, restarts, &|k| requests(k) * share / 1000);
            }
            w.counter(&format!("{}_bucket{{{labels},le=\"+Inf\"}}", metric::EDGE_TTFB_SECONDS), restarts, &requests);
            w.counter(&format!("{}_count{{{labels}}}", metric::EDGE_TTFB_SECONDS), restarts, &requests);
        }
        Family::Security => {
            for action in ["block", "log"] {
                let series = format!("{}{{{labels},{}=\"{action}\"}}", metric::SECURITY_ACTIONS_TOTAL, label::ACTION);
                w.counter(&series, restarts, &|k| requests(k) / 100);
            }
        }
        Family::Recorded => {
            // Evaluated once a minute (or at each sample, if sparser).
            let series = format!("{}{{{}=\"c{c:04}\"}}", recorded::REQUESTS_5M, label::CUSTOMER);
            let every = step.max(60);
            for t in (RULES_LOADED..=T0 + DAYS * 86_400).step_by(every as usize) {
                w.sample(&series, rate as f64, t);
            }
        }
        Family::Exporters => {}
    }
}

/// The exporters' own series the report checks for restarts.
fn write_exporters<W: std::io::Write>(w: &mut Writer<'_, W>) {
    for (i, instance) in INSTANCES.iter().enumerate() {
        let series =
            format!("{}{{instance=\"{instance}\",job=\"edgewatch-exporter\"}}", metric::EXPORTER_START_TIME_SECONDS);
        for k in 0..=w.samples {
            let t = T0 + k * w.step;
            let started = if i == 1 && t >= RESTART { RESTART } else { T0 - 86_400 };
            w.sample(&series, started as f64, t);
        }
    }
}

/// One OpenMetrics file for `customers` (the exporters' own series in the
/// first), family by family.
fn write_file(path: &Path, customers: std::ops::Range<usize>, step: i64, samples: i64) {
    let first = customers.start == 0;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut w = Writer { out: &mut out, step, samples, line: String::new() };
    for family in Family::ALL {
        if family == Family::Exporters && !first {
            continue;
        }
        w.out.write_all(family.header().as_bytes()).unwrap();
        if family == Family::Exporters {
            write_exporters(&mut w);
        }
        for c in customers.clone() {
            write_customer(&mut w, c, family);
        }
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
    // A TSDB kept between runs (the backfill is most of a run's time).
    let kept = std::env::var_os("EDGEWATCH_BENCH_TSDB").map(std::path::PathBuf::from);
    let reuse = kept.as_ref().is_some_and(|p| p.join("done").exists());
    let tsdb = kept.unwrap_or_else(|| dir.join("tsdb"));

    let started = Instant::now();
    let text = dir.join("history.om");
    for first in (0..customers).step_by(PER_FILE).filter(|_| !reuse) {
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
    if !reuse {
        std::fs::remove_file(&text).unwrap();
        std::fs::write(tsdb.join("done"), "").unwrap();
    }
    let series_per_customer = 16;
    let recorded = (T0 + DAYS * 86_400 - RULES_LOADED) / step.max(60) + 1;
    let total_samples = customers as i64 * (series_per_customer * (samples + 1) + recorded);
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
    // Reports kept where `EDGEWATCH_BENCH_OUT` says, to look at or compare.
    let out = std::env::var_os("EDGEWATCH_BENCH_OUT").map_or_else(|| dir.join("out"), std::path::PathBuf::from);
    let written =
        edgewatch_reports::write_all(&out, &reports, &[Format::Html, Format::Markdown, Format::Json]).unwrap();
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
