//! Live values from the real Prometheus (started here on loopback, with
//! recording rules standing in for the SLI series): they reach the ticket's
//! description and the page's details.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use edgewatch_test_kit::{free_port, http_client, scratch_dir, tool};
use edgewatch_webhook_receiver::{Config, Receiver, WEBHOOK_PATH};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const RULES: &str = "groups:
  - name: sli
    interval: 1s
    rules:
      - record: slo:sli_error:ratio_rate1h
        expr: vector(0.02)
        labels: {customer: shop, slo: availability}
      - record: slo:burn_rate:ratio_rate1h
        expr: vector(20)
        labels: {customer: shop, slo: availability}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_values_from_prometheus_reach_the_ticket() {
    let dir = scratch_dir("receiver-live");
    std::fs::write(dir.join("rules.yml"), RULES).unwrap();
    std::fs::write(dir.join("prometheus.yml"), "global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\n").unwrap();
    let port = free_port();
    let _prometheus = Kill(
        Command::new(tool("prometheus", "prometheus"))
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = http_client();
    let query = format!("http://127.0.0.1:{port}/api/v1/query?query=slo:burn_rate:ratio_rate1h");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = match client.get(&query).send().await {
            Ok(r) => r.text().await.unwrap_or_default().contains("\"20\""),
            Err(_) => false,
        };
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "Prometheus did not evaluate the rules");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let file = dir.join("catalog.yaml");
    std::fs::write(
        &file,
        format!(
            "destinations:\n  audit: {{log: {{path: '{}'}}}}\ncustomers:\n  - id: shop\n    hosts: [shop.example]\n    alerting: {{routes: [{{to: [audit]}}]}}\n",
            dir.join("audit.jsonl").display()
        ),
    )
    .unwrap();
    let catalog = edgewatch_catalog::load(&file).unwrap().catalog;
    let config = Config::parse(&format!(
        "data_dir: '{}'\nprometheus: {{url: 'http://127.0.0.1:{port}', timeout: 5s}}\n",
        dir.join("data").display()
    ))
    .unwrap();
    let receiver = Receiver::build(&config, catalog, &|_| None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{WEBHOOK_PATH}", listener.local_addr().unwrap());
    receiver.spawn_workers();
    tokio::spawn(async move { axum::serve(listener, receiver.router()).await });
    let body = r#"{"receiver":"edgewatch","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"EdgewatchErrorBudgetBurnFast","customer":"shop","slo":"availability","severity":"page","alert_kind":"burn_rate_fast"},"annotations":{"summary":"shop: availability SLO error budget burning fast"},"startsAt":"2026-11-21T08:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"abcd000000000007"}],"groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"","version":"4","groupKey":"g","truncatedAlerts":0}"#;
    let r = client.post(&url).body(body).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let path = dir.join("audit.jsonl");
    let deadline = Instant::now() + Duration::from_secs(20);
    let line: serde_json::Value = loop {
        if let Some(l) = std::fs::read_to_string(&path).unwrap_or_default().lines().next() {
            break serde_json::from_str(l).unwrap();
        }
        assert!(Instant::now() < deadline, "no action delivered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let description = line["message"]["description"].as_str().unwrap();
    assert!(description.contains("- SLI over the last hour: 98.000%"), "{description}");
    assert!(description.contains("- Burn rate over the last hour: 20.0x"), "{description}");
    assert_eq!(line["message"]["details"]["live"]["SLI over the last hour"], "98.000%");
}
