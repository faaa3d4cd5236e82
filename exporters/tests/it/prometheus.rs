//! The real Prometheus (Debian's package, started here on loopback) scrapes
//! the exporter, and what it stores matches what was pushed and probed;
//! promtool finds nothing wrong with `/metrics`. With native histograms on,
//! Prometheus scrapes the protobuf format and stores them.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edgewatch_test_kit::{KillOnDrop, free_port};

use crate::{start, start_with};

fn tool(name: &str) -> String {
    edgewatch_test_kit::tool(name, "prometheus")
}

/// A Prometheus on a free loopback port, with `scrape_configs` and extra
/// flags; stopped (and its data removed) on drop.
struct Prometheus {
    port: u16,
    client: reqwest::Client,
    dir: PathBuf,
    _process: KillOnDrop,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Prometheus {
    fn start(name: &str, scrape_configs: &str, flags: &[&str]) -> Self {
        let dir = edgewatch_test_kit::scratch_dir(name);
        let config = format!("global: {{scrape_interval: 1s}}\nscrape_configs:\n{scrape_configs}");
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let process = KillOnDrop(
            Command::new(tool("prometheus"))
                .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
                .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .args(flags)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        Self { port, client: edgewatch_test_kit::http_client(), dir, _process: process }
    }

    /// The instant query's result vector (empty when nothing matches or
    /// Prometheus does not answer yet).
    async fn query(&self, q: &str) -> Vec<serde_json::Value> {
        let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        let url = format!("http://127.0.0.1:{}/api/v1/query?query={q}", self.port);
        let Ok(resp) = self.client.get(&url).send().await else { return Vec::new() };
        let body = resp.bytes().await.unwrap_or_default();
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        doc["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// The value of the query's first sample.
    async fn value(&self, q: &str) -> Option<f64> {
        self.query(q).await.first()?["value"][1].as_str()?.parse().ok()
    }

    /// Waits for the query's value, which must be a whole number.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked
    async fn count(&self, q: &str) -> u64 {
        let v = self.wait(q).await;
        assert!(v >= 0.0 && (v - v.round()).abs() < 1e-9, "`{q}` is {v}, not a count");
        v.round() as u64
    }

    /// Waits (up to 60 s) until the query has a value.
    async fn wait(&self, q: &str) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(v) = self.value(q).await {
                return v;
            }
            assert!(Instant::now() < deadline, "Prometheus has no value for `{q}` within 60s");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_what_was_pushed_and_probed() {
    // Prometheus asks for OpenMetrics first: the probe families must parse too.
    scrape_what_was_pushed_and_probed("prom", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_same_over_protobuf() {
    // With native histograms enabled Prometheus asks for protobuf first:
    // every family, the prober's included, must arrive that way too.
    scrape_what_was_pushed_and_probed("prom-pb", &["--enable-feature=native-histograms"]).await;
}

async fn scrape_what_was_pushed_and_probed(name: &str, flags: &[&str]) {
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

    let target = ex.base.trim_start_matches("http://").to_owned();
    let prom = Prometheus::start(
        name,
        &format!("  - {{job_name: edgewatch, static_configs: [{{targets: ['{target}']}}]}}\n"),
        flags,
    );
    // Wait for a scrape to land, then compare what Prometheus stored.
    assert_eq!(prom.count("sum(edgewatch_requests_total)").await, 300);
    let failed = prom.value(r#"sum(edgewatch_requests_total{customer="acme",status_class="5xx"})"#).await;
    assert_eq!(failed, Some(100.0));
    let globex = prom.value(r#"sum(edgewatch_edge_ttfb_seconds_count{customer="globex"})"#).await;
    assert_eq!(globex, Some(100.0));
    let probed = prom.count(r#"edgewatch_probe_success{customer="initech",probe="home",ip="127.0.0.1"}"#).await;
    assert_eq!(probed, 1);
    let runs = prom.count(r#"sum(edgewatch_probes_total{customer="initech",result="success"})"#).await;
    assert!(runs >= 1, "{runs}");
    let phases = prom.query(r#"edgewatch_probe_duration_seconds{customer="initech"}"#).await;
    assert_eq!(phases.len(), 5, "{phases:?}");
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

/// Prometheus 2.42 with `--enable-feature=native-histograms` asks for the
/// protobuf format, and stores the native histograms of an exporter that
/// keeps them: counts, sums and quantiles are what the lines imply, and
/// every counter still arrives. It then stores no classic `_bucket` series
/// for those histograms (2.42 has no setting to keep both); an exporter with
/// native buckets off still gives it every classic series over protobuf.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_stores_native_histograms_scraped_over_protobuf() {
    let native = start("histograms: {native: {enabled: true}}\n").await;
    let classic = start("").await;
    // 100 requests of www.acme.example with TTFB and origin duration 1..=100
    // ms, and 50 of a globex host without timings.
    let mut lines: Vec<String> = (1..=100)
        .map(|ms| {
            format!(
                r#"{{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200,"EdgeTimeToFirstByteMs":{ms},"OriginResponseStatus":200,"OriginResponseDurationMs":{ms},"RayID":"r{ms}","EdgeEndTimestamp":1700000000}}"#
            )
        })
        .collect();
    lines.extend((0..50).map(|_| r#"{"ClientRequestHost":"shop.globex.example","EdgeResponseStatus":503}"#.to_owned()));
    for ex in [&native, &classic] {
        let (status, _) = ex.push("/ingest/logpush", lines.join("\n").into_bytes(), &[]).await;
        assert_eq!(status, 200);
    }

    // What Prometheus 2.42 sends with the flag: the exporter answers protobuf.
    let accept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let resp = native.metrics_as(accept).await;
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
    );

    let target = |ex: &crate::Running| ex.base.trim_start_matches("http://").to_owned();
    let jobs = format!(
        "  - {{job_name: native, static_configs: [{{targets: ['{}']}}]}}\n  - {{job_name: classic, static_configs: [{{targets: ['{}']}}]}}\n",
        target(&native),
        target(&classic)
    );
    let prom = Prometheus::start("prom-native", &jobs, &["--enable-feature=native-histograms"]);

    // The native histograms: one series each, with count, sum and quantiles.
    let ttfb = r#"edgewatch_edge_ttfb_seconds{job="native",customer="acme",host="www.acme.example"}"#;
    assert_eq!(prom.count(&format!("histogram_count({ttfb})")).await, 100);
    let sum = prom.wait(&format!("histogram_sum({ttfb})")).await;
    assert!((sum - 5.05).abs() < 1e-9, "1 + 2 + ... + 100 ms: {sum}");
    // The 50th of 100 values is 50 ms, in the schema-3 bucket
    // (2^(-35/8), 2^(-34/8)] = (48.2 ms, 52.6 ms].
    let median = prom.wait(&format!("histogram_quantile(0.5, {ttfb})")).await;
    assert!((0.0481..=0.0526).contains(&median), "median {median}");
    let p99 = prom.wait(&format!("histogram_quantile(0.99, {ttfb})")).await;
    assert!((0.0971..=0.1052).contains(&p99), "p99 {p99}, in the bucket of 99 ms: (2^(-27/8), 2^(-26/8)]");
    let origin = r#"edgewatch_origin_duration_seconds{job="native",customer="acme"}"#;
    assert_eq!(prom.count(&format!("histogram_count({origin})")).await, 100);
    // At or below 100 ms: everything, less what interpolation puts above
    // 100 ms in the top bucket (97.2 ms, 105.1 ms], which holds 98..=100.
    let fraction = prom.wait(&format!("histogram_fraction(0, 0.1, {ttfb})")).await;
    assert!((0.95..=1.0).contains(&fraction), "fraction at or below 100 ms: {fraction}");

    // Counters and gauges still arrive over protobuf, every one of them.
    assert_eq!(prom.count(r#"sum(edgewatch_requests_total{job="native"})"#).await, 150);
    assert_eq!(prom.count(r#"sum(edgewatch_requests_total{job="native",status_class="5xx"})"#).await, 50);
    assert_eq!(prom.count(r#"edgewatch_exporter_lines_total{job="native",result="ok"}"#).await, 150);
    assert_eq!(prom.count(r#"sum(edgewatch_slo_requests_total{job="native",customer="globex"})"#).await, 50);
    assert!(prom.wait(r#"edgewatch_exporter_series{job="native"}"#).await > 0.0);

    // The classic series of the native histograms are not stored by 2.42
    // (newer versions keep them with `scrape_classic_histograms: true`, 3.x
    // `always_scrape_classic_histograms: true`), and neither are `_count`
    // and `_sum`; the lag histogram, which has no native buckets, is.
    assert!(prom.query(r#"edgewatch_edge_ttfb_seconds_bucket{job="native"}"#).await.is_empty());
    assert!(prom.query(r#"edgewatch_edge_ttfb_seconds_count{job="native"}"#).await.is_empty());
    assert_eq!(prom.count(r#"edgewatch_exporter_ingest_lag_seconds_count{job="native"}"#).await, 100);

    // Native buckets off: the same Prometheus (still asking for protobuf)
    // stores every classic series, `le` labels as in the text formats.
    let bucket = |le: &str| format!(r#"edgewatch_edge_ttfb_seconds_bucket{{job="classic",customer="acme",le="{le}"}}"#);
    assert_eq!(prom.count(&bucket("0.025")).await, 25);
    assert_eq!(prom.count(&bucket("0.25")).await, 100, "the catalog's 250ms threshold is a bucket");
    assert_eq!(prom.count(&bucket("1.0")).await, 100);
    assert_eq!(prom.count(&bucket("+Inf")).await, 100);
    assert_eq!(prom.count(r#"edgewatch_origin_duration_seconds_count{job="classic"}"#).await, 100);
    assert!(prom.query(r#"edgewatch_edge_ttfb_seconds{job="classic"}"#).await.is_empty(), "no native series");
    assert_eq!(prom.count(r#"sum(edgewatch_requests_total{job="classic"})"#).await, 150);
    // The native job has the same metric names less the classic histogram
    // series (`_bucket`, `_count`, `_sum` of two histograms), plus the two
    // native ones.
    let names = |job: &str| {
        let q = format!(r#"count by (__name__) ({{job="{job}"}})"#);
        let prom = &prom;
        async move {
            let mut names: Vec<String> = prom
                .query(&q)
                .await
                .iter()
                .filter_map(|r| r["metric"]["__name__"].as_str().map(str::to_owned))
                .collect();
            names.sort();
            names
        }
    };
    let (native_names, classic_names) = (names("native").await, names("classic").await);
    let only_native: Vec<&String> = native_names.iter().filter(|n| !classic_names.contains(n)).collect();
    let only_classic: Vec<&String> = classic_names.iter().filter(|n| !native_names.contains(n)).collect();
    assert_eq!(only_native, ["edgewatch_edge_ttfb_seconds", "edgewatch_origin_duration_seconds"]);
    assert_eq!(
        only_classic,
        [
            "edgewatch_edge_ttfb_seconds_bucket",
            "edgewatch_edge_ttfb_seconds_count",
            "edgewatch_edge_ttfb_seconds_sum",
            "edgewatch_origin_duration_seconds_bucket",
            "edgewatch_origin_duration_seconds_count",
            "edgewatch_origin_duration_seconds_sum",
        ]
    );
}
