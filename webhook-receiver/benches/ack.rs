//! Ack latency, sustained notifications per second and delivery, with
//! durable commits: the receivers in this process on loopback, the client
//! in another (this bench, run again as the client), every notification
//! distinct (a new alert of one of 50 customers' incidents, so each commit
//! also updates an incident and queues an action to a log destination).
//!
//! `cargo bench -p edgewatch-webhook-receiver --bench ack [-- N CONCURRENCY]`
//! posts N notifications as fast as CONCURRENCY connections can (the
//! maximum); `-- N --rate R` posts them at R a second whatever the answers
//! (an open loop: each latency counts from when its post was due, so a
//! receiver falling behind shows in the figures, not as a slower client).
//! `EDGEWATCH_BENCH_CUSTOMERS=N`: the customers (default 50).
//! `EDGEWATCH_BENCH_DELIVERY_CONCURRENCY=N`: `delivery.concurrency`.
//! `EDGEWATCH_BENCH_UPDATE_HOLD=2s`: `delivery.update_hold`.
//! `EDGEWATCH_BENCH_STORE=postgres`: a PostgreSQL of the bench's own (fsync
//! on), shared by `EDGEWATCH_BENCH_RECEIVERS` receivers (default 1), the
//! client taking them in turn (`EDGEWATCH_PG_SETTINGS="name=value …"`: more
//! server settings). `EDGEWATCH_BENCH_NO_DELIVERY=1`: the intake
//! alone, nothing delivered. `EDGEWATCH_BENCH_BACKLOG=1`: delivery starts
//! only after the last ack, so the whole run is a backlog, and the bench
//! prints how fast it drains (actions a second).
//!
//! It prints the CPU time a notification cost, from the first post to the
//! last action out (or the last ack, without delivery): the receivers (this
//! process), PostgreSQL (its server and backends) and the client, read from
//! `/proc`. That is what sizes a machine: the notifications a second a core
//! serves, whatever else shares this one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use edgewatch_webhook_receiver::{Config, Receiver, WEBHOOK_PATH};

/// Customers the notifications go to in turn: 50, or
/// `EDGEWATCH_BENCH_CUSTOMERS` (as many as notifications: each one opens an
/// incident of its own, and queues an action no other merges with).
fn customers() -> usize {
    std::env::var("EDGEWATCH_BENCH_CUSTOMERS").ok().and_then(|v| v.parse().ok()).unwrap_or(50)
}

fn catalog(dir: &std::path::Path) -> edgewatch_catalog::Catalog {
    let mut text =
        format!("destinations:\n  audit: {{log: {{path: '{}'}}}}\ncustomers:\n", dir.join("audit.jsonl").display());
    for i in 0..customers() {
        let _ = write!(text, "  - id: c{i}\n    hosts: [c{i}.example]\n    alerting: {{routes: [{{to: [audit]}}]}}\n");
    }
    let file = dir.join("catalog.yaml");
    std::fs::write(&file, text).unwrap();
    edgewatch_catalog::load(&file).unwrap().catalog
}

fn body(i: usize, customers: usize) -> String {
    let customer = i % customers;
    format!(
        r#"{{"receiver":"edgewatch","status":"firing","alerts":[{{"status":"firing","labels":{{"alertname":"EdgewatchProbeDown","customer":"c{customer}","probe":"p{}","severity":"page","alert_kind":"probe_down"}},"annotations":{{"summary":"probe down"}},"startsAt":"2026-11-21T08:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"{i:016x}"}}],"groupLabels":{{}},"commonLabels":{{}},"commonAnnotations":{{}},"externalURL":"http://am","version":"4","groupKey":"g{i}","truncatedAlerts":0}}"#,
        i % 7
    )
}

/// How the client posts.
#[derive(Clone, Copy)]
enum Load {
    /// As fast as this many connections can.
    Max(usize),
    /// This many a second, whatever the answers.
    Rate(f64),
}

/// What the client measured, as it prints it for the bench.
#[derive(serde::Serialize, serde::Deserialize)]
struct Measured {
    /// Seconds from the first post due to the last answer.
    wall: f64,
    /// Each ack's latency in seconds, sorted.
    latencies: Vec<f64>,
    /// Answers other than 200.
    refused: usize,
}

const CLIENT: &str = "EDGEWATCH_BENCH_CLIENT";

fn main() {
    if let Ok(urls) = std::env::var(CLIENT) {
        return client(&urls);
    }
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(3000);
    let load = match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("--rate"), Some(r)) => Load::Rate(r.parse().expect("--rate R: notifications a second")),
        (Some(c), _) => Load::Max(c.parse().expect("CONCURRENCY: a number")),
        (None, _) => Load::Max(16),
    };
    let dir = std::env::temp_dir().join(format!("edgewatch-bench-ack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let postgres = (std::env::var("EDGEWATCH_BENCH_STORE").as_deref() == Ok("postgres"))
        .then(|| edgewatch_test_kit::postgres::PostgresServer::start_durable("bench-ack"));
    let receivers: usize = std::env::var("EDGEWATCH_BENCH_RECEIVERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let delivery = std::env::var_os("EDGEWATCH_BENCH_NO_DELIVERY").is_none();
    let backlog = std::env::var_os("EDGEWATCH_BENCH_BACKLOG").is_some();
    let store = postgres.as_ref().map_or_else(String::new, |pg| format!("store: '{}'\n", pg.url()));
    let catalog = catalog(&dir);
    let built: Vec<Receiver> = (0..receivers)
        .map(|r| {
            let mut text = format!("data_dir: '{}'\n{store}", dir.join(format!("data-{r}")).display());
            let delivery: Vec<String> = [
                ("concurrency", "EDGEWATCH_BENCH_DELIVERY_CONCURRENCY"),
                ("update_hold", "EDGEWATCH_BENCH_UPDATE_HOLD"),
            ]
            .iter()
            .filter_map(|(key, var)| Some(format!("{key}: {}", std::env::var(var).ok()?)))
            .collect();
            if !delivery.is_empty() {
                let _ = writeln!(text, "delivery: {{{}}}", delivery.join(", "));
            }
            Receiver::build(&Config::parse(&text).unwrap(), catalog.clone(), &|_| None).unwrap()
        })
        .collect();
    let postgres_pid = postgres.as_ref().and_then(edgewatch_test_kit::postgres::PostgresServer::pid);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let store_dir = dir.clone();
    rt.block_on(async move {
        let dir = store_dir.join("data-0");
        let mut urls = Vec::new();
        for receiver in &built {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            urls.push(format!("http://{}{WEBHOOK_PATH}", listener.local_addr().unwrap()));
            if delivery && !backlog {
                receiver.spawn_workers();
            }
            let router = receiver.router();
            tokio::spawn(async move { axum::serve(listener, router).await });
        }
        let url = urls[0].clone();
        let started = Instant::now();
        let cpu_before = Cpu::now(postgres_pid);
        let client_urls = urls.join(",");
        let measured = tokio::task::spawn_blocking(move || run_client(&client_urls, n, load)).await.unwrap();
        let store = if postgres.is_some() {
            format!("PostgreSQL (fsync on), {receivers} receiver(s)")
        } else {
            "SQLite (WAL, synchronous=FULL)".to_owned()
        };
        print_measured(n, load, &store, &measured);
        let client = edgewatch_test_kit::http_client();
        // How many notifications each commit held (group commit), and how
        // long the last actions took to go out.
        let metrics = client.get(url.replace(WEBHOOK_PATH, "/metrics")).send().await.unwrap().text().await.unwrap();
        let read =
            |name: &str| metrics.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok()).unwrap_or(0.0);
        let (sum, count) =
            (read("edgewatch_receiver_commit_batch_size_sum"), read("edgewatch_receiver_commit_batch_size_count"));
        println!("commits: {count:.0}, notifications per commit: {:.1} on average", sum / count.max(1.0));
        if delivery && backlog {
            let from = Instant::now();
            for receiver in &built {
                receiver.spawn_workers();
            }
            drained(&client, &url, from).await;
            let took = from.elapsed().as_secs_f64();
            let actions = delivered(&client, &urls).await;
            println!("backlog: {actions:.0} actions delivered in {took:.2} s: {:.0} actions/s", actions / took);
        } else if delivery {
            drained(&client, &url, started).await;
            // Updates waiting behind another action of their pair take the
            // news of the notifications after them: fewer actions than
            // notifications when delivery falls behind, one each when it
            // keeps up.
            let actions = delivered(&client, &urls).await;
            println!("actions delivered: {actions:.0}, {:.2} a notification", actions / n as f64);
        }
        Cpu::now(postgres_pid).print_since(&cpu_before, n);
        let size: u64 = ["receiver.db", "receiver.db-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
            .map(|m| m.len())
            .sum();
        if postgres.is_none() {
            println!("store: {:.1} MB (receiver.db and its WAL)", size as f64 / 1e6);
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// CPU seconds used so far (user and system, from `/proc`).
struct Cpu {
    /// This process: the receivers.
    receivers: f64,
    /// This process's children waited for: the client, once it ended.
    client: f64,
    /// The PostgreSQL server and its backends, those ended included.
    postgres: f64,
}

impl Cpu {
    fn now(postgres: Option<u32>) -> Self {
        let own = Self::of("self");
        let postgres = postgres.map_or(0.0, |pid| {
            let pid = pid.to_string();
            let (server, ended) = Self::of(&pid);
            // The backends running now: the server's children.
            let backends: f64 = std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|p| Self::parent(p).as_deref() == Some(pid.as_str()))
                .map(|p| Self::of(&p).0)
                .sum();
            server + ended + backends
        });
        Self { receivers: own.0, client: own.1, postgres }
    }

    /// A process's `/proc/PID/stat` fields after its name (which may hold
    /// spaces): the state first.
    fn stat(pid: &str) -> Vec<String> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        text.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().map(str::to_owned).collect()).unwrap_or_default()
    }

    fn parent(pid: &str) -> Option<String> {
        Self::stat(pid).get(1).cloned()
    }

    /// The process's own CPU seconds, and those of its children waited for
    /// (`utime`, `stime`; `cutime`, `cstime`).
    fn of(pid: &str) -> (f64, f64) {
        let stat = Self::stat(pid);
        let ticks = |i: usize| stat.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / clock_ticks();
        (ticks(11) + ticks(12), ticks(13) + ticks(14))
    }

    fn print_since(&self, before: &Self, n: usize) {
        let per = |now: f64, then: f64| (now - then) * 1e3 / n as f64;
        let (receivers, postgres) = (per(self.receivers, before.receivers), per(self.postgres, before.postgres));
        let client = per(self.client, before.client);
        let store = if postgres > 0.0 { format!(", PostgreSQL {postgres:.2} ms") } else { String::new() };
        println!(
            "CPU a notification: receivers {receivers:.2} ms{store}, the client {client:.2} ms; \
             a core serves {:.0} notifications a second at that cost (the client left out)",
            1e3 / (receivers + postgres)
        );
    }
}

/// Clock ticks a second, the unit of `/proc/PID/stat`'s times.
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        let out = std::process::Command::new("getconf").arg("CLK_TCK").output();
        out.ok().and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok()).unwrap_or(100.0)
    })
}

/// Runs the client in another process (this bench again) and reads what it
/// measured.
fn run_client(urls: &str, n: usize, load: Load) -> Measured {
    let (flag, value) = match load {
        Load::Max(c) => ("max", c.to_string()),
        Load::Rate(r) => ("rate", r.to_string()),
    };
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CLIENT, urls)
        .args([n.to_string(), flag.to_owned(), value])
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "the client failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn print_measured(n: usize, load: Load, store: &str, measured: &Measured) {
    let all = &measured.latencies;
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] * 1e3;
    let load = match load {
        Load::Max(c) => format!("at the maximum, {c} connections"),
        Load::Rate(r) => format!("at {r:.0}/s"),
    };
    println!("notifications: {n}, {load}, {store}, the client in another process");
    println!(
        "sustained: {:.0} notifications/s over {:.2} s; refused: {}",
        n as f64 / measured.wall,
        measured.wall,
        measured.refused
    );
    println!(
        "ack latency: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        pct(0.50),
        pct(0.99),
        pct(0.999),
        all.last().unwrap() * 1e3
    );
}

/// The client: posts to `urls` (comma-separated) in turn as its arguments
/// say (`N max CONCURRENCY` or `N rate R`), and prints what it measured.
fn client(urls: &str) {
    let urls: std::sync::Arc<Vec<String>> = std::sync::Arc::new(urls.split(',').map(str::to_owned).collect());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args[0].parse().unwrap();
    let load = match args[1].as_str() {
        "rate" => Load::Rate(args[2].parse().unwrap()),
        _ => Load::Max(args[2].parse().unwrap()),
    };
    // One thread: the client takes one core at most from the receivers.
    let customers = customers();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let measured = rt.block_on(async move {
        let client = edgewatch_test_kit::http_client();
        let post = move |i: usize| {
            let (client, urls) = (client.clone(), urls.clone());
            async move {
                let r = client.post(&urls[i % urls.len()]).body(body(i, customers)).send().await;
                r.is_ok_and(|r| r.status().as_u16() == 200)
            }
        };
        let started = Instant::now();
        let mut tasks = Vec::new();
        match load {
            Load::Max(concurrency) => {
                let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
                for _ in 0..concurrency {
                    let (next, post) = (next.clone(), post.clone());
                    tasks.push(tokio::spawn(async move {
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if i >= n {
                                return out;
                            }
                            let t = Instant::now();
                            let ok = post(i).await;
                            out.push((t.elapsed(), ok));
                        }
                    }));
                }
            }
            Load::Rate(rate) => {
                for i in 0..n {
                    let due = started + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                    let post = post.clone();
                    tasks.push(tokio::spawn(async move {
                        let ok = post(i).await;
                        // From when it was due: a late start is latency too.
                        vec![(due.elapsed(), ok)]
                    }));
                }
            }
        }
        let mut latencies = Vec::with_capacity(n);
        let mut refused = 0;
        for t in tasks {
            for (latency, ok) in t.await.unwrap() {
                latencies.push(latency.as_secs_f64());
                refused += usize::from(!ok);
            }
        }
        let wall = started.elapsed().as_secs_f64();
        latencies.sort_by(f64::total_cmp);
        Measured { wall, latencies, refused }
    });
    println!("{}", serde_json::to_string(&measured).unwrap());
}

/// Actions delivered by the receivers at `urls`, from their metrics.
async fn delivered(client: &reqwest::Client, urls: &[String]) -> f64 {
    let mut actions = 0.0;
    for url in urls {
        let text = client.get(url.replace(WEBHOOK_PATH, "/metrics")).send().await.unwrap().text().await.unwrap();
        actions += text
            .lines()
            .filter(|l| l.starts_with("edgewatch_receiver_actions_total{") && l.contains("\"delivered\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    actions
}

/// Waits until the outbox is empty (one database: any receiver's gauge
/// tells), and says how long after `started` that was.
async fn drained(client: &reqwest::Client, url: &str, started: Instant) {
    let pending = || async {
        let text = client.get(url.replace(WEBHOOK_PATH, "/metrics")).send().await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("edgewatch_receiver_outbox_pending ")?.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let left = pending().await;
    while pending().await > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "delivery: {left} actions pending at the last ack; the outbox empty {:.2} s after the first post",
        started.elapsed().as_secs_f64()
    );
}
