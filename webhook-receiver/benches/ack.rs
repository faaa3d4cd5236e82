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
    // EDGEWATCH_BENCH_STORE=postgres: a PostgreSQL of the bench's own (fsync
    // on), shared by EDGEWATCH_BENCH_RECEIVERS receivers (default 1), each
    // taking every other notification.
    let postgres = (std::env::var("EDGEWATCH_BENCH_STORE").as_deref() == Ok("postgres"))
        .then(|| edgewatch_test_kit::postgres::PostgresServer::start_durable("bench-ack"));
    let receivers: usize = std::env::var("EDGEWATCH_BENCH_RECEIVERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let store = postgres.as_ref().map_or_else(String::new, |pg| format!("store: '{}'\n", pg.url()));
    let catalog = catalog(&dir);
    let built: Vec<Receiver> = (0..receivers)
        .map(|r| {
            let text = format!("data_dir: '{}'\n{store}", dir.join(format!("data-{r}")).display());
            Receiver::build(&Config::parse(&text).unwrap(), catalog.clone(), &|_| None).unwrap()
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let store_dir = dir.clone();
    rt.block_on(async move {
        let dir = store_dir.join("data-0");
        let mut urls = Vec::new();
        for receiver in built {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            urls.push(format!("http://{}{WEBHOOK_PATH}", listener.local_addr().unwrap()));
            // EDGEWATCH_BENCH_NO_DELIVERY=1: the intake alone, nothing delivered.
            if std::env::var_os("EDGEWATCH_BENCH_NO_DELIVERY").is_none() {
                receiver.spawn_workers();
            }
            tokio::spawn(async move { axum::serve(listener, receiver.router()).await });
        }
        let urls = std::sync::Arc::new(urls);
        let url = urls[0].clone();
        let client = edgewatch_test_kit::http_client();
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (client, urls, next) = (client.clone(), urls.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        return lat;
                    }
                    let t = Instant::now();
                    let r = client.post(&urls[i % urls.len()]).body(body(i)).send().await.unwrap();
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
        match &postgres {
            None => println!("notifications: {n}, concurrency: {concurrency}, SQLite (WAL, synchronous=FULL)"),
            Some(_) => println!(
                "notifications: {n}, concurrency: {concurrency}, PostgreSQL (fsync on), {receivers} receiver(s)"
            ),
        }
        println!("sustained: {:.0} notifications/s over {:.2} s", n as f64 / wall.as_secs_f64(), wall.as_secs_f64());
        println!(
            "ack latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            all.last().unwrap().as_secs_f64() * 1e3
        );
        // How many notifications each commit held (group commit), and how
        // long the last actions took to go out.
        let metrics = client.get(url.replace(WEBHOOK_PATH, "/metrics")).send().await.unwrap().text().await.unwrap();
        let read =
            |name: &str| metrics.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok()).unwrap_or(0.0);
        let (sum, count) =
            (read("edgewatch_receiver_commit_batch_size_sum"), read("edgewatch_receiver_commit_batch_size_count"));
        println!("commits: {count:.0}, notifications per commit: {:.1} on average", sum / count.max(1.0));
        if std::env::var_os("EDGEWATCH_BENCH_NO_DELIVERY").is_none() {
            drained(&client, &url, started).await;
        }
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
