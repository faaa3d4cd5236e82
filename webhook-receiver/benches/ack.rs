//! Ack latency and sustained notifications per second, with durable
//! commits: the receiver in-process on loopback, its SQLite store on this
//! machine's disk, every notification distinct (a new alert of one of 50
//! customers' incidents, so each commit also updates an incident and queues
//! an action to a log destination).
//!
//! `cargo bench -p edgewatch-webhook-receiver --bench ack [-- N CONCURRENCY]`
//! (`EDGEWATCH_BENCH_NO_DELIVERY=1`: the intake alone, nothing delivered)

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

fn catalog(dir: &std::path::Path) -> edgewatch_catalog::Catalog {
    let mut text =
        format!("destinations:\n  audit: {{log: {{path: '{}'}}}}\ncustomers:\n", dir.join("audit.jsonl").display());
    for i in 0..50 {
        let _ = write!(text, "  - id: c{i}\n    hosts: [c{i}.example]\n    alerting: {{routes: [{{to: [audit]}}]}}\n");
    }
    let file = dir.join("catalog.yaml");
    std::fs::write(&file, text).unwrap();
    edgewatch_catalog::load(&file).unwrap().catalog
}

fn body(i: usize) -> String {
    let customer = i % 50;
    format!(
        r#"{{"receiver":"edgewatch","status":"firing","alerts":[{{"status":"firing","labels":{{"alertname":"EdgewatchProbeDown","customer":"c{customer}","probe":"p{}","severity":"page","alert_kind":"probe_down"}},"annotations":{{"summary":"probe down"}},"startsAt":"2026-11-21T08:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"{i:016x}"}}],"groupLabels":{{}},"commonLabels":{{}},"commonAnnotations":{{}},"externalURL":"http://am","version":"4","groupKey":"g{i}","truncatedAlerts":0}}"#,
        i % 7
    )
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = args.first().copied().unwrap_or(3000);
    let concurrency = args.get(1).copied().unwrap_or(16);
    let dir = std::env::temp_dir().join(format!("edgewatch-bench-ack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = Config::parse(&format!("data_dir: '{}'\n", dir.join("data").display())).unwrap();
    let receiver = Receiver::build(&config, catalog(&dir), &|_| None).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let store_dir = dir.clone();
    rt.block_on(async move {
        let dir = store_dir;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{WEBHOOK_PATH}", listener.local_addr().unwrap());
        // EDGEWATCH_BENCH_NO_DELIVERY=1: the intake alone, nothing delivered.
        if std::env::var_os("EDGEWATCH_BENCH_NO_DELIVERY").is_none() {
            receiver.spawn_workers();
        }
        tokio::spawn(async move { axum::serve(listener, receiver.router()).await });
        let client = edgewatch_test_kit::http_client();
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (client, url, next) = (client.clone(), url.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        return lat;
                    }
                    let t = Instant::now();
                    let r = client.post(&url).body(body(i)).send().await.unwrap();
                    assert_eq!(r.status().as_u16(), 200);
                    lat.push(t.elapsed());
                }
            }));
        }
        let mut all: Vec<Duration> = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let wall = started.elapsed();
        all.sort();
        let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
        println!("notifications: {n}, concurrency: {concurrency}, durable commits (WAL, synchronous=FULL)");
        println!("sustained: {:.0} notifications/s over {:.2} s", n as f64 / wall.as_secs_f64(), wall.as_secs_f64());
        println!(
            "ack latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            all.last().unwrap().as_secs_f64() * 1e3
        );
        // How many notifications each commit held (group commit).
        let metrics = client.get(url.replace(WEBHOOK_PATH, "/metrics")).send().await.unwrap().text().await.unwrap();
        let read =
            |name: &str| metrics.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok()).unwrap_or(0.0);
        let (sum, count) =
            (read("edgewatch_receiver_commit_batch_size_sum"), read("edgewatch_receiver_commit_batch_size_count"));
        println!("commits: {count:.0}, notifications per commit: {:.1} on average", sum / count.max(1.0));
        let size: u64 = ["receiver.db", "receiver.db-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(dir.join("data").join(f)).ok())
            .map(|m| m.len())
            .sum();
        println!("store: {:.1} MB (receiver.db and its WAL)", size as f64 / 1e6);
    });
    let _ = std::fs::remove_dir_all(&dir);
}
