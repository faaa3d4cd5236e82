//! Live values from the real Prometheus (started here on loopback, with
//! recording rules standing in for the SLI series): they reach the ticket's
//! description and the page's details.

use std::time::{Duration, Instant};

use edgewatch_test_kit::{PrometheusProcess, http_client, scratch_dir};

use crate::support::{BURN, Running};

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
    let prometheus = PrometheusProcess::start_with(
        &dir,
        &dir.join("tsdb"),
        "global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\n",
    );
    let port = prometheus.port;
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

    let catalog = "destinations:\n  audit: {log: {path: '{dir}/audit.jsonl'}}\ncustomers:\n  - id: shop\n    hosts: [shop.example]\n    alerting: {routes: [{to: [audit]}]}\n";
    let config = format!("prometheus: {{url: 'http://127.0.0.1:{port}', timeout: 5s}}\n");
    let r = Running::start_in(dir, catalog, &config, &[]).await;
    r.post_ok(&BURN.with_fingerprint("abcd000000000007").firing()).await;

    let line = &r.lines(1, 20).await[0];
    let description = line["message"]["description"].as_str().unwrap();
    assert!(description.contains("- SLI over the last hour: 98.000%"), "{description}");
    assert!(description.contains("- Burn rate over the last hour: 20.0x"), "{description}");
    assert_eq!(line["message"]["details"]["live"]["SLI over the last hour"], "98.000%");
}
