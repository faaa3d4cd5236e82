//! The exporter's memory for one hostile push batch.
//!
//! `cargo bench -p edgewatch-exporters --bench memory`: starts the exporter
//! in a child process (the real HTTP endpoint, default configuration), pushes
//! an ordinary batch to reach its steady state, then a gzip batch of Logpush
//! lines that each name another host (none of them in the catalog), twice,
//! and an ordinary batch again. Meanwhile it samples the child's
//! `/proc/PID/status` (`VmRSS` every 10 ms, and `VmHWM`, the peak) and prints
//! what the child held before, at its peak, and after each push.
//!
//! Hostile batches: `hosts`, where every line has another host of no
//! customer; `hosts+offenders`, where every line is also blocked and has
//! another client address, ASN, country, path and user agent (the
//! top-offender tally's worst case); `hosts of 200 customers`, where the
//! hosts are spread over 200 customers' wildcards, so that the batch fills
//! its whole host table (`limits.batch_hosts`), pushed alone and four at
//! once. `EW_BENCH_LINES` sets the lines per hostile batch (default
//! 1,000,000).
//!
//! At scale: an exporter of 10,000 customers (`EW_BENCH_SCALE_CUSTOMERS`),
//! two hosts each, an availability and a latency SLO, fed ordinary traffic
//! on every host (statuses, cache verdicts, latencies, origin failures and
//! blocks); it prints the series exposed and per host, the memory per
//! customer, and how long `/metrics` takes in text and protobuf, with the
//! default `max_series` and with one large enough for every host.
//! `EW_BENCH_ONLY=scale` runs only this part.

// A benchmark reports on stdout and stops loudly on a broken setup.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_precision_loss,
    clippy::format_push_string
)]

use std::io::{BufRead as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use edgewatch_exporters::Exporter;
use edgewatch_exporters::config::Config;
use flate2::Compression;
use flate2::write::GzEncoder;

fn main() {
    if std::env::var("EW_BENCH_ROLE").as_deref() == Ok("serve") {
        serve();
        return;
    }
    let customers: usize =
        std::env::var("EW_BENCH_SCALE_CUSTOMERS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    if std::env::var("EW_BENCH_ONLY").as_deref() != Ok("scale") {
        hostile();
        println!();
    }
    println!(
        "| customers | max_series | series exposed | per host | overflowed requests | RSS before traffic | RSS after | per customer | /metrics text | text size | /metrics protobuf | protobuf size |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for max_series in [200_000, 2_000_000] {
        scale(customers, max_series);
    }
}

/// The hostile batches.
fn hostile() {
    let lines: usize = std::env::var("EW_BENCH_LINES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let ordinary = gzip(&ordinary_lines(20_000));
    println!(
        "| batch | pushes at once | gzip body | lines | RSS before | peak (VmHWM) | RSS after | RSS after a second round | RSS after an ordinary batch | time of the first round |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let hosts = gzip(&hostile_lines(lines, Spread::NoCustomer, false));
    run("hosts", 1, lines, &hosts, &ordinary);
    drop(hosts);
    let offenders = gzip(&hostile_lines(lines, Spread::NoCustomer, true));
    run("hosts+offenders", 1, lines, &offenders, &ordinary);
    drop(offenders);
    let spread = gzip(&hostile_lines(lines, Spread::Customers, false));
    run("hosts of 200 customers", 1, lines, &spread, &ordinary);
    run("hosts of 200 customers", 4, lines, &spread, &ordinary);
}

/// `customers` customers' traffic on an exporter with `max_series`.
fn scale(customers: usize, max_series: usize) {
    let (mut child, url) =
        spawn(&[("EW_BENCH_SCALE_CUSTOMERS", customers.to_string()), ("EW_BENCH_MAX_SERIES", max_series.to_string())]);
    let pid = child.id();
    let base = url.trim_end_matches("/ingest/logpush").to_owned();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = edgewatch_test_kit::http_client();
    settle();
    let before = status(pid, "VmRSS");
    // Ordinary traffic on every host, a thousand customers a push, twice:
    // every host has seen every kind of request it will.
    for _ in 0..2 {
        for first in (0..customers).step_by(1_000) {
            let body = gzip(&scale_lines(first..(first + 1_000).min(customers)));
            rt.block_on(async {
                let r = client.post(&url).header("Content-Encoding", "gzip").body(body).send().await.unwrap();
                assert_eq!(r.status().as_u16(), 200);
            });
        }
    }
    settle();
    let after = status(pid, "VmRSS");
    let scrape = |accept: &'static str| {
        let mut times = Vec::new();
        let mut body = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            body = rt.block_on(async {
                let r = client.get(format!("{base}/metrics")).header("Accept", accept).send().await.unwrap();
                r.bytes().await.unwrap().to_vec()
            });
            times.push(started.elapsed());
        }
        times.sort();
        (times[2], body)
    };
    let (text_time, text) = scrape("text/plain;version=0.0.4");
    let (proto_time, proto) = scrape(
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.9,text/plain;version=0.0.4;q=0.5",
    );
    let text = String::from_utf8(text).unwrap();
    let gauge = |name: &str| -> f64 {
        text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0.0)
    };
    let overflowed: f64 = text
        .lines()
        .filter(|l| l.starts_with("edgewatch_exporter_overflow_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |a, b| a + b);
    let series = gauge("edgewatch_exporter_series");
    let exposed = text.lines().filter(|l| !l.starts_with('#')).count();
    drop(child.stdin.take());
    let _ = child.wait();
    println!(
        "| {customers} | {max_series} | {series:.0} request series; {exposed} samples in all | {:.1} | {overflowed:.0} | {} | {} | {:.0} KB | {:.0} ms | {:.1} MB | {:.0} ms | {:.1} MB |",
        series / (2 * customers) as f64,
        mb(before),
        mb(after),
        (after.saturating_sub(before)) as f64 * 1024.0 / customers as f64 / 1e3,
        text_time.as_secs_f64() * 1e3,
        text.len() as f64 / 1e6,
        proto_time.as_secs_f64() * 1e3,
        proto.len() as f64 / 1e6,
    );
}

/// Ordinary traffic of `customers`: on each of their two hosts, hits and
/// misses, a redirect, a 404, a 503 and a 522 from the origin, a block,
/// over the latency buckets.
fn scale_lines(customers: std::ops::Range<usize>) -> Vec<u8> {
    let mut out = Vec::new();
    for i in customers {
        for host in ["www", "api"] {
            for (k, (status, cache, origin, action)) in [
                (200, "hit", 0, ""),
                (200, "miss", 200, ""),
                (200, "dynamic", 200, ""),
                (304, "revalidated", 304, ""),
                (404, "dynamic", 404, ""),
                (503, "miss", 503, ""),
                (522, "miss", 0, ""),
                (403, "none", 0, "block"),
            ]
            .into_iter()
            .enumerate()
            {
                let ttfb = [3, 20, 70, 180, 400, 900, 2_000, 15][k];
                let origin_fields = if origin > 0 {
                    format!(r#","OriginResponseStatus":{origin},"OriginResponseDurationMs":{}"#, ttfb * 4 / 5)
                } else {
                    r#","OriginResponseStatus":0"#.to_owned()
                };
                writeln!(
                    out,
                    r#"{{"ClientRequestHost":"{host}.c{i:05}.example","EdgeResponseStatus":{status},"CacheCacheStatus":"{cache}","EdgeTimeToFirstByteMs":{ttfb}{origin_fields},"SecurityAction":"{action}","EdgeResponseBytes":1234,"RayID":"{i:08x}{k:08x}","ClientIP":"203.0.113.{k}","ClientRequestPath":"/p/{k}"}}"#
                )
                .unwrap();
            }
        }
    }
    out
}

/// One child exporter: steady state, two rounds of `at_once` hostile
/// pushes, one ordinary push.
fn run(name: &str, at_once: usize, lines: usize, body: &[u8], ordinary: &[u8]) {
    let (mut child, url) = spawn(&[]);
    let pid = child.id();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = edgewatch_test_kit::http_client();
    let push = |body: &[u8], n: usize| {
        let started = Instant::now();
        rt.block_on(async {
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let request = client
                        .post(&url)
                        .header("Content-Encoding", "gzip")
                        .body(body.to_vec())
                        .timeout(Duration::from_secs(600));
                    tokio::spawn(async move {
                        let resp = request.send().await.unwrap();
                        (resp.status().as_u16(), resp.text().await.unwrap())
                    })
                })
                .collect();
            for t in tasks {
                let (status, text) = t.await.unwrap();
                assert_eq!(status, 200, "{text}");
            }
        });
        started.elapsed()
    };
    // Steady state: an ordinary batch or two, then what the process holds.
    push(ordinary, 1);
    push(ordinary, 1);
    settle();
    let before = status(pid, "VmRSS");
    let sampler = Sampler::start(pid);
    let took = push(body, at_once);
    settle();
    let after = status(pid, "VmRSS");
    let peak = status(pid, "VmHWM").max(sampler.stop());
    push(body, at_once);
    settle();
    let after_second = status(pid, "VmRSS");
    push(ordinary, 1);
    settle();
    let after_ordinary = status(pid, "VmRSS");
    drop(child.stdin.take());
    let _ = child.wait();
    println!(
        "| {name} | {at_once} | {:.1} MB | {lines} | {} | {} | {} | {} | {} | {:.1} s |",
        body.len() as f64 / 1e6,
        mb(before),
        mb(peak),
        mb(after),
        mb(after_second),
        mb(after_ordinary),
        took.as_secs_f64()
    );
}

/// Lets the allocator and the runtime finish with the batch.
fn settle() {
    std::thread::sleep(Duration::from_millis(500));
}

fn mb(kib: u64) -> String {
    format!("{:.0} MB", kib as f64 * 1024.0 / 1e6)
}

/// A field of `/proc/PID/status`, in KiB.
fn status(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The largest `VmRSS` seen, sampled every 10 ms.
struct Sampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Sampler {
    fn start(pid: u32) -> Self {
        let (stop, peak) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let thread = std::thread::spawn({
            let (stop, peak) = (Arc::clone(&stop), Arc::clone(&peak));
            move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(status(pid, "VmRSS"), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        });
        Self { stop, peak, thread }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        self.peak.load(Ordering::Relaxed)
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Lines of the catalog's hosts, as an ordinary Logpush batch has them.
fn ordinary_lines(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let blocked = if i % 11 == 0 { "block" } else { "" };
        writeln!(
            out,
            r#"{{"ClientRequestHost":"customer{:03}.example.com","EdgeResponseStatus":200,"OriginResponseStatus":200,"OriginResponseDurationMs":{},"EdgeTimeToFirstByteMs":{},"CacheCacheStatus":"miss","EdgeResponseBytes":1234,"RayID":"{i:016x}","EdgeEndTimestamp":"2024-05-01T12:00:00Z","SecurityAction":"{blocked}","ClientIP":"203.0.113.{}","ClientASN":3320,"ClientCountry":"de","ClientRequestPath":"/item/{}","ClientRequestUserAgent":"Mozilla/5.0"}}"#,
            i % 10,
            i % 300,
            i % 300 + 5,
            i % 250,
            i % 1000,
        )
        .unwrap();
    }
    out
}

/// Whose hosts a hostile batch names.
#[derive(Clone, Copy)]
enum Spread {
    /// Hosts of no customer.
    NoCustomer,
    /// Hosts under the wildcards of the catalog's customers, in turn.
    Customers,
}

/// Lines that each name another host; with `offenders`, blocked, each with
/// other client fields too.
fn hostile_lines(n: usize, spread: Spread, offenders: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * if offenders { 330 } else { 230 });
    for i in 0..n {
        let domain = match spread {
            Spread::NoCustomer => "attack.example".to_owned(),
            Spread::Customers => format!("customer{:03}.example.com", i % CUSTOMERS),
        };
        write!(
            out,
            r#"{{"ClientRequestHost":"h{i:07}.{domain}","EdgeResponseStatus":200,"OriginResponseStatus":200,"OriginResponseDurationMs":{},"EdgeTimeToFirstByteMs":{},"CacheCacheStatus":"miss","EdgeResponseBytes":1234,"RayID":"{i:016x}","EdgeEndTimestamp":"2024-05-01T12:00:00Z""#,
            i % 300,
            i % 300 + 5,
        )
        .unwrap();
        if offenders {
            write!(
                out,
                r#","SecurityAction":"block","ClientIP":"10.{}.{}.{}","ClientASN":{i},"ClientCountry":"c{i}","ClientRequestPath":"/p/{i}","ClientRequestUserAgent":"agent/{i}""#,
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255,
            )
            .unwrap();
        }
        out.extend_from_slice(b"}\n");
    }
    out
}

/// Starts the exporter child with `env`; returns it and its push URL.
fn spawn(env: &[(&str, String)]) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("EW_BENCH_ROLE", "serve")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let url =
        first.trim().strip_prefix("URL ").unwrap_or_else(|| panic!("the exporter child said {first:?}")).to_owned();
    (child, url)
}

/// Customers in the catalog, each with a host and a wildcard.
const CUSTOMERS: usize = 200;

/// The exporter alone, with the default configuration (or the scale
/// catalog and `max_series` the environment names): prints its push URL,
/// serves until standard input closes.
fn serve() {
    let mut yaml = String::from("customers:\n");
    let mut config = Config::default();
    if let Some(n) = std::env::var("EW_BENCH_SCALE_CUSTOMERS").ok().and_then(|v| v.parse::<usize>().ok()) {
        yaml.insert_str(
            0,
            "defaults:\n  slos:\n    availability: {objective: 99.9}\n    latency: {ttfb: {threshold: 300ms, objective: 99}}\n",
        );
        for i in 0..n {
            yaml.push_str(&format!("  - {{id: c{i:05}, hosts: [www.c{i:05}.example, api.c{i:05}.example]}}\n"));
        }
        let max = std::env::var("EW_BENCH_MAX_SERIES").unwrap();
        config = Config::parse(&format!("limits: {{max_series: {max}}}\n")).unwrap();
    } else {
        for i in 0..CUSTOMERS {
            yaml.push_str(&format!("  - {{id: customer{i:03}, hosts: [customer{i:03}.example.com, '*.customer{i:03}.example.com'], slos: {{latency: {{ttfb: {{threshold: 300ms, objective: 99}}}}}}}}\n"));
        }
    }
    let catalog = edgewatch_catalog::load_str("bench.yaml", &yaml).unwrap().catalog;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let exporter = Exporter::build(&config, &catalog, |_| None).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("URL http://{}/ingest/logpush", listener.local_addr().unwrap());
        let stop = async {
            let _ = tokio::task::spawn_blocking(|| std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new()))
                .await;
        };
        exporter.serve(listener, &edgewatch_web::WebConfig::default(), stop).await.unwrap();
    });
}
