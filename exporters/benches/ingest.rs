//! Exporter throughput against mtail, end to end.
//!
//! `cargo bench -p edgewatch-exporters --bench ingest` (or `scripts/bench-exporter`):
//! generates a Logpush-shaped corpus (24 fields, about 800 bytes a line,
//! gzip batches), pushes it over HTTP into an exporter in a child process
//! (HTTP, gzip, parse, aggregate, merge) on one core and on all cores, runs
//! mtail on the same corpus (ungzipped, counting by host and status with a
//! TTFB histogram) on one core, and prints lines per second and the ratio.
//! The exporter and the load generator run in separate processes, pinned to
//! separate cores for the one-core figure, as a server is benchmarked.
//! It also times `GET /metrics` at about 100,000 series.
//!
//! `EW_BENCH_LINES` sets the corpus size (default 400,000).

// A benchmark reports on stdout and stops loudly on a broken setup.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::format_push_string
)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use edgewatch_exporters::Exporter;
use edgewatch_exporters::config::Config;
use flate2::Compression;
use flate2::write::GzEncoder;

const HOSTS: usize = 50;
const BATCH_LINES: usize = 10_000;

fn main() {
    let lines: usize = std::env::var("EW_BENCH_LINES").ok().and_then(|v| v.parse().ok()).unwrap_or(400_000);
    let dir = std::env::temp_dir().join(format!("edgewatch-bench-{}", std::process::id()));
    match std::env::var("EW_BENCH_ROLE").as_deref() {
        // A child run: ingest the corpus in `dir` and print lines per second.
        Ok("serve") => serve(),
        Ok("push") => {
            let dir = PathBuf::from(std::env::var("EW_BENCH_DIR").unwrap());
            let rate = push(&dir, &std::env::var("EW_BENCH_URL").unwrap());
            println!("RATE {rate}");
        }
        // Only write the corpus to `EW_BENCH_DIR`, for profiling a child.
        Ok("generate") => {
            let dir = PathBuf::from(std::env::var("EW_BENCH_DIR").unwrap());
            std::fs::create_dir_all(&dir).unwrap();
            corpus(&dir, lines);
        }
        _ => orchestrate(&dir, lines),
    }
}

fn orchestrate(dir: &Path, lines: usize) {
    std::fs::create_dir_all(dir).unwrap();
    println!("corpus: generating {lines} Logpush-shaped lines ...");
    let bytes = corpus(dir, lines);
    println!(
        "corpus: {lines} lines, {:.1} MB, {:.0} bytes/line, {} gzip batches",
        bytes as f64 / 1e6,
        bytes as f64 / lines as f64,
        lines.div_ceil(BATCH_LINES)
    );
    let cores = std::thread::available_parallelism().map_or(1, usize::from);

    let gunzip = gunzip_rate(dir);
    let (one, one_cpu) = server_rate(dir, lines, Some("0"), Some("1"));
    let (all, _) = server_rate(dir, lines, None, None);
    let mtail = mtail_rate(dir, lines);
    let encode = encode_time();

    println!();
    println!("| run | lines/s | vs mtail (1 core) |");
    println!("|---|---|---|");
    println!(
        "| mtail 1 core (regex program: counter by host and status, TTFB histogram by host) | {mtail:.0} | 1.0x |"
    );
    println!(
        "| edgewatch on 1 core (HTTP, gzip, parse, aggregate; load generator on the other core) | {one:.0} | {:.1}x |",
        one / mtail
    );
    println!(
        "| edgewatch, lines per CPU-second of the pinned exporter (less disturbed by other load) | {one_cpu:.0} | {:.1}x |",
        one_cpu / mtail
    );
    println!("| gzip decompression alone, 1 thread (the ceiling) | {gunzip:.0} | {:.1}x |", gunzip / mtail);
    println!("| edgewatch on {cores} cores, shared with the load generator | {all:.0} | {:.1}x |", all / mtail);
    println!();
    println!("GET /metrics at {} series: {:.1} ms ({:.1} MB)", encode.0, encode.1 * 1e3, encode.2 as f64 / 1e6);
    let _ = std::fs::remove_dir_all(dir);
}

/// Writes `corpus.ndjson` (plain, for mtail) and `batch-N.gz` files; returns
/// the plain size.
fn corpus(dir: &Path, lines: usize) -> usize {
    let mut plain = Vec::with_capacity(lines * 820);
    let statuses = [200, 200, 200, 200, 200, 200, 200, 200, 200, 304, 404, 301, 500, 502, 503, 429];
    let caches = ["hit", "miss", "expired", "dynamic"];
    let actions = ["", "", "", "", "", "", "", "", "", "block", "challenge"];
    let mut seed: u64 = 42;
    let mut rand = move || {
        // xorshift: reproducible without a dependency.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut batch = Vec::new();
    let mut n_batch = 0;
    for i in 0..lines {
        let r = rand();
        let host = r as usize % HOSTS;
        let status = statuses[(r >> 8) as usize % statuses.len()];
        let ttfb = 5 + (r >> 16) % 400;
        let line = format!(
            r#"{{"RayID":"{:016x}","EdgeStartTimestamp":"2024-05-01T12:{:02}:{:02}Z","EdgeEndTimestamp":"2024-05-01T12:{:02}:{:02}Z","ZoneName":"customer{host:03}.example.com","ClientRequestHost":"customer{host:03}.example.com","ClientRequestMethod":"GET","ClientRequestPath":"/api/v1/items/{}","ClientRequestURI":"/api/v1/items/{}?session=4f9c2d7a1e&lang=en","ClientRequestProtocol":"HTTP/2","ClientRequestScheme":"https","ClientIP":"203.0.113.{}","ClientASN":{},"ClientCountry":"de","ClientTCPRTTMs":14,"EdgeColoCode":"FRA","EdgeResponseStatus":{status},"OriginResponseStatus":{status},"OriginResponseDurationMs":{},"OriginTCPHandshakeDurationMs":0,"OriginTLSHandshakeDurationMs":0,"EdgeTimeToFirstByteMs":{ttfb},"CacheCacheStatus":"{}","SecurityAction":"{}","EdgeResponseBytes":{},"ClientRequestUserAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36","WorkerSubrequest":false}}"#,
            r,
            (i / 60_000) % 60,
            (i / 1000) % 60,
            (i / 60_000) % 60,
            (i / 1000) % 60,
            r % 100_000,
            r % 100_000,
            1 + (r >> 24) % 254,
            3320 + (r >> 32) % 50,
            ttfb.saturating_sub(3),
            caches[(r >> 40) as usize % caches.len()],
            actions[(r >> 44) as usize % actions.len()],
            200 + (r >> 48) % 200_000,
        );
        plain.extend_from_slice(line.as_bytes());
        plain.push(b'\n');
        batch.extend_from_slice(line.as_bytes());
        batch.push(b'\n');
        if (i + 1) % BATCH_LINES == 0 || i + 1 == lines {
            let mut e = GzEncoder::new(Vec::new(), Compression::default());
            e.write_all(&batch).unwrap();
            std::fs::write(dir.join(format!("batch-{n_batch:05}.gz")), e.finish().unwrap()).unwrap();
            batch.clear();
            n_batch += 1;
        }
    }
    std::fs::write(dir.join("corpus.ndjson"), &plain).unwrap();
    plain.len()
}

fn catalog() -> edgewatch_catalog::Catalog {
    let mut yaml = String::from("customers:\n");
    for i in 0..HOSTS {
        yaml.push_str(&format!("  - {{id: customer{i:03}, hosts: [customer{i:03}.example.com], slos: {{latency: {{ttfb: {{threshold: 300ms, objective: 99}}}}}}}}\n"));
    }
    edgewatch_catalog::load_str("bench.yaml", &yaml).unwrap().catalog
}

/// The corpus's gzip batches, in order.
fn read_batches(dir: &Path) -> Vec<Vec<u8>> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "gz"))
        .collect();
    names.sort();
    names.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Lines per second that decompression alone allows, on one thread.
fn gunzip_rate(dir: &Path) -> f64 {
    use std::io::Read as _;
    let batches = read_batches(dir);
    let start = Instant::now();
    let mut lines = 0;
    let mut buf = vec![0u8; 256 * 1024];
    for b in &batches {
        let mut d = flate2::read::MultiGzDecoder::new(&b[..]);
        loop {
            let n = d.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            lines += memchr_count(&buf[..n]);
        }
    }
    lines as f64 / start.elapsed().as_secs_f64()
}

fn memchr_count(b: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', b).count()
}

/// Runs the exporter in one child process and the load generator in
/// another, each pinned to a core when given, as a server is benchmarked;
/// returns lines per second of wall time and per CPU-second the exporter
/// used.
fn server_rate(dir: &Path, lines: usize, server_cpu: Option<&str>, client_cpu: Option<&str>) -> (f64, f64) {
    use std::io::BufRead as _;
    let pinned = |cpu: Option<&str>| {
        let exe = std::env::current_exe().unwrap();
        match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpu]).arg(exe);
                c
            }
            None => Command::new(exe),
        }
    };
    let mut server = pinned(server_cpu)
        .env("EW_BENCH_ROLE", "serve")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("taskset (util-linux) is needed to pin a run to one core");
    let mut said = std::io::BufReader::new(server.stdout.take().unwrap());
    let mut first = String::new();
    said.read_line(&mut first).unwrap();
    let url =
        first.trim().strip_prefix("URL ").unwrap_or_else(|| panic!("the exporter child said {first:?}")).to_owned();
    let out = pinned(client_cpu)
        .env("EW_BENCH_ROLE", "push")
        .env("EW_BENCH_DIR", dir)
        .env("EW_BENCH_URL", &url)
        .output()
        .unwrap();
    // Closing its standard input stops the exporter, which then says how
    // much CPU time it used.
    drop(server.stdin.take());
    let mut last = String::new();
    said.read_line(&mut last).unwrap();
    let _ = server.wait();
    let cpu: f64 = last.trim().strip_prefix("CPU ").and_then(|c| c.parse().ok()).unwrap_or(f64::NAN);
    let text = String::from_utf8_lossy(&out.stdout);
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("RATE "))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("load generator failed: {}\n{}", text, String::from_utf8_lossy(&out.stderr)));
    (rate, lines as f64 / cpu)
}

/// CPU seconds (user and system) this process has used, from `/proc`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name: state is the first, utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // Linux reports these in USER_HZ, 100 on every architecture it runs on.
    ticks / 100.0
}

/// The exporter alone: prints its push URL, serves until standard input closes.
fn serve() {
    let ready = std::sync::Mutex::new(0.0);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let exporter = Exporter::build(&Config::default(), &catalog(), |_| None).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        *ready.lock().unwrap() = cpu_seconds();
        println!("URL http://{}/ingest/logpush", listener.local_addr().unwrap());
        let stop = async {
            let _ = tokio::task::spawn_blocking(|| std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new()))
                .await;
        };
        exporter.serve(listener, &edgewatch_web::WebConfig::default(), stop).await.unwrap();
    });
    // Only what serving the batches cost, not the start.
    println!("CPU {}", cpu_seconds() - *ready.lock().unwrap());
}

/// The load generator: pushes every batch in `dir` to `url`, two at a time;
/// returns lines per second.
fn push(dir: &Path, url: &str) -> f64 {
    let batches = read_batches(dir);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let client = edgewatch_test_kit::http_client();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(batches));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let (client, queue, url) = (client.clone(), queue.clone(), url.to_owned());
            tasks.push(tokio::spawn(async move {
                let mut lines = 0u64;
                loop {
                    let Some(body) = queue.lock().unwrap().pop() else { break };
                    let resp = client.post(&url).header("Content-Encoding", "gzip").body(body).send().await.unwrap();
                    assert_eq!(resp.status(), 200);
                    let doc: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
                    lines += doc["lines"].as_u64().unwrap();
                }
                lines
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total as f64 / start.elapsed().as_secs_f64()
    })
}

/// Runs mtail one-shot on the plain corpus, pinned to one core.
fn mtail_rate(dir: &Path, lines: usize) -> f64 {
    let progs = dir.join("progs");
    std::fs::create_dir_all(&progs).unwrap();
    std::fs::write(
        progs.join("cf.mtail"),
        r#"counter cf_requests_total by host, status
histogram cf_edge_ttfb_seconds by host buckets 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10

/"ClientRequestHost":"(?P<host>[^"]+)".*"EdgeResponseStatus":(?P<status>\d{3}),.*"EdgeTimeToFirstByteMs":(?P<ttfb>\d+),/ {
  cf_requests_total[$host][$status]++
  cf_edge_ttfb_seconds[$host] = float($ttfb) / 1000.0
}
"#,
    )
    .unwrap();
    let start = Instant::now();
    let out = Command::new("taskset")
        .args([
            "-c",
            "0",
            "mtail",
            "--address",
            "127.0.0.1",
            "--port",
            "0",
            "--one_shot",
            "--one_shot_format",
            "prometheus",
            "--progs",
        ])
        .arg(&progs)
        .arg("--logs")
        .arg(dir.join("corpus.ndjson"))
        .env("GOMAXPROCS", "1")
        .output()
        .expect("mtail is needed: apt-get install mtail (scripts/bench-exporter does)");
    let elapsed = start.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout);
    let counted: f64 = text
        .lines()
        .filter(|l| l.starts_with("cf_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum();
    assert!(
        (counted - lines as f64).abs() < 0.5,
        "mtail counted {counted} of {lines} lines: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines as f64 / elapsed
}

/// Fills an exporter with about 100,000 series and times `GET /metrics`.
fn encode_time() -> (u64, f64, usize) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut config = Config::default();
        config.limits.hosts_per_customer = 100_000;
        config.limits.max_series = 1_000_000;
        let exporter = Exporter::build(&config, &catalog(), |_| None).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { exporter.serve(listener, &edgewatch_web::WebConfig::default(), std::future::pending()).await });
        let client = edgewatch_test_kit::http_client();
        // 2,500 hosts of one unknown domain, each with 8 request series and
        // two histograms of 14 buckets: about 100k series.
        let mut body = String::new();
        for h in 0..2_500 {
            for (status, cache) in [(200, "hit"), (200, "miss"), (304, "hit"), (404, "dynamic"), (500, "dynamic"), (502, "miss"), (301, "hit"), (429, "dynamic")] {
                body.push_str(&format!(r#"{{"ClientRequestHost":"h{h}.unknown.example","EdgeResponseStatus":{status},"CacheCacheStatus":"{cache}","EdgeTimeToFirstByteMs":42,"OriginResponseStatus":{status},"OriginResponseDurationMs":30}}"#));
                body.push('\n');
            }
        }
        let resp = client.post(format!("{base}/ingest/logpush")).body(body).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let text = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        let series = text.lines().find_map(|l| l.strip_prefix("edgewatch_exporter_series ")).and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut best = f64::MAX;
        let mut size = 0;
        for _ in 0..5 {
            let start = Instant::now();
            size = client.get(format!("{base}/metrics")).send().await.unwrap().bytes().await.unwrap().len();
            best = best.min(start.elapsed().as_secs_f64());
        }
        (series, best, size)
    })
}
