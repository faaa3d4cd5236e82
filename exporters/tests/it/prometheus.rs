//! The real Prometheus (Debian's package, started here on loopback) scrapes
//! the exporter, and what it stores matches what was pushed and probed;
//! promtool finds nothing wrong with `/metrics`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{start, start_with};

/// A child process killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

use edgewatch_test_kit::free_port;

fn tool(name: &str) -> String {
    edgewatch_test_kit::tool(name, "prometheus")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_what_was_pushed_and_probed() {
    // Prometheus asks for OpenMetrics first: the probe families must parse too.
    let (origin, _) = crate::probe::http_origin().await;
    let catalog = crate::probe::with_probe(&format!("name: home, url: 'http://localhost:{origin}/ok'"));
    let ex = start_with(&catalog, "", |_| None).await;
    let lines: Vec<String> = (0..300)
        .map(|i| {
            let (host, status) = match i % 3 {
                0 => ("www.acme.example", 200),
                1 => ("x.api.acme.example", 503),
                _ => ("shop.globex.example", 200),
            };
            format!(r#"{{"ClientRequestHost":"{host}","EdgeResponseStatus":{status},"EdgeTimeToFirstByteMs":{},"RayID":"{i:x}"}}"#, i % 500)
        })
        .collect();
    let (status, _) = ex.push("/ingest/logpush", lines.join("\n").into_bytes(), &[]).await;
    assert_eq!(status, 200);

    let dir = std::env::temp_dir().join(format!("edgewatch-prom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let target = ex.base.trim_start_matches("http://").to_owned();
    let config = format!(
        "global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: edgewatch\n    static_configs: [{{targets: ['{target}']}}]\n"
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let _prometheus = Process(
        Command::new(tool("prometheus"))
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Wait for a scrape to land, then compare what Prometheus stored.
    let query = |q: &'static str| {
        let client = ex.client.clone();
        async move {
            let encoded: String = q
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            let url = format!("http://127.0.0.1:{port}/api/v1/query?query={encoded}");
            let resp = client.get(&url).send().await.ok()?;
            let doc: serde_json::Value = serde_json::from_slice(&resp.bytes().await.ok()?).ok()?;
            doc["data"]["result"][0]["value"][1].as_str()?.parse::<f64>().ok()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let total = loop {
        if let Some(v) = query("sum(edgewatch_requests_total)").await {
            break v;
        }
        assert!(Instant::now() < deadline, "Prometheus stored no edgewatch_requests_total within 60s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!((total - 300.0).abs() < f64::EPSILON, "{total}");
    let failed = query(r#"sum(edgewatch_requests_total{customer="acme",status_class="5xx"})"#).await;
    assert_eq!(failed, Some(100.0));
    let globex = query(r#"sum(edgewatch_edge_ttfb_seconds_count{customer="globex"})"#).await;
    assert_eq!(globex, Some(100.0));
    let probed = loop {
        if let Some(v) = query(r#"edgewatch_probe_success{customer="initech",probe="home",ip="127.0.0.1"}"#).await {
            break v;
        }
        assert!(Instant::now() < deadline, "Prometheus stored no edgewatch_probe_success within 60s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!((probed - 1.0).abs() < f64::EPSILON, "{probed}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn promtool_finds_nothing_wrong_with_metrics() {
    let ex = start("").await;
    let lines = r#"{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200,"EdgeTimeToFirstByteMs":12,"OriginResponseStatus":200,"OriginResponseDurationMs":9,"EdgeResponseBytes":100}
{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":522,"OriginResponseStatus":0,"SecurityAction":"block","ClientIP":"192.0.2.1"}"#;
    ex.push("/ingest/logpush", lines.as_bytes().to_vec(), &[]).await;
    let (_, metrics) = ex.get("/metrics").await;
    edgewatch_test_kit::check_metrics(&metrics);
}
