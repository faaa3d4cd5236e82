//! End to end with the real Alertmanager (Debian's `prometheus-alertmanager`,
//! started here on loopback): an alert posted to its API reaches the receiver
//! through a generated `webhook_config` with bearer auth and becomes one Jira
//! issue and one PagerDuty alert (on the contract fakes) and one audit line;
//! its resolution resolves all three.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod fakes;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use edgewatch_test_kit::{free_port, scratch_dir, tool};
use edgewatch_webhook_receiver::{Config, Receiver, WEBHOOK_PATH};

const TOKEN: &str = "am-to-receiver";
const JIRA_USER: &str = "noc-bot@edgewatch.example";
const JIRA_TOKEN: &str = "jira-api-token";
const PD_KEY: &str = "e93facc04764012d7bfb002500d5d1a6";

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn alert(starts_at: &str, ends_at: Option<&str>) -> serde_json::Value {
    let mut a = serde_json::json!({
        "labels": {"alertname": "EdgewatchProbeDown", "customer": "shop", "probe": "home", "severity": "page", "alert_kind": "probe_down"},
        "annotations": {"summary": "shop: probe home fails from 66.67% of its addresses"},
        "startsAt": starts_at,
        "generatorURL": "http://prometheus.example/graph"
    });
    if let Some(end) = ends_at {
        a["endsAt"] = serde_json::json!(end);
    }
    serde_json::json!([a])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_through_alertmanager_opens_and_resolves_one_issue_and_one_page() {
    let dir = scratch_dir("receiver-am");
    let jira = fakes::jira::FakeJira::cloud().basic(JIRA_USER, JIRA_TOKEN).start().await;
    let pd = fakes::pagerduty::PagerDutyFake::start().await;
    let catalog = catalog(&dir, jira.url(), &pd.url());
    let config =
        Config::parse(&format!("data_dir: '{}'\nauth: {{bearer_token: 'env:T'}}\n", dir.join("data").display()))
            .unwrap();
    let env = |k: &str| match k {
        "T" => Some(TOKEN.to_owned()),
        "PD_KEY" => Some(PD_KEY.to_owned()),
        "JIRA_TOKEN" => Some(JIRA_TOKEN.to_owned()),
        _ => None,
    };
    let receiver = Receiver::build(&config, catalog, &env).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_url = format!("http://{}{WEBHOOK_PATH}", listener.local_addr().unwrap());
    receiver.spawn_workers();
    tokio::spawn(async move { axum::serve(listener, receiver.router()).await });

    // Alertmanager, sending every group change at once.
    let am_port = free_port();
    let am_config = dir.join("alertmanager.yml");
    std::fs::write(
        &am_config,
        format!(
            "route:\n  receiver: edgewatch\n  group_by: [alertname, customer]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: edgewatch\n    webhook_configs:\n      - url: '{receiver_url}'\n        send_resolved: true\n        http_config:\n          authorization: {{type: Bearer, credentials: '{TOKEN}'}}\n"
        ),
    )
    .unwrap();
    let _am = Kill(
        Command::new(tool("prometheus-alertmanager", "prometheus-alertmanager"))
            .arg(format!("--config.file={}", am_config.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = edgewatch_test_kit::http_client();
    let api = format!("http://127.0.0.1:{am_port}/api/v2/alerts");
    let now = edgewatch_webhook_receiver::testing::now_ms();
    let started = edgewatch_webhook_receiver::testing::rfc3339(now - 60_000);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match client.post(&api).json(&alert(&started, None)).send().await {
            Ok(r) if r.status().is_success() => break,
            _ if std::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
            Ok(r) => panic!("Alertmanager refused the alert: {} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => panic!("Alertmanager did not answer: {e}"),
        }
    }
    let lines = wait_lines(&dir.join("audit.jsonl"), 1).await;
    assert_eq!(lines[0]["action"], "open");
    assert_eq!(lines[0]["incident"]["key"], "customer=shop");
    assert_eq!(lines[0]["incident"]["severity"], "page");
    let dedup = lines[0]["incident"]["dedup"].as_str().unwrap().to_owned();
    eventually(|| jira.issues().len() == 1 && pd.alerts().len() == 1).await;
    let issue = &jira.issues()[0];
    assert_eq!(issue.project, "NOC");
    assert!(issue.labels.contains(&dedup), "{:?}", issue.labels);
    assert_eq!(pd.alerts()[0].dedup_key, dedup);

    // Resolved: an end in the past.
    let ended = edgewatch_webhook_receiver::testing::rfc3339(edgewatch_webhook_receiver::testing::now_ms() - 1000);
    let resolved = client.post(&api).json(&alert(&started, Some(&ended))).send().await.unwrap();
    assert!(resolved.status().is_success());
    let lines = wait_lines(&dir.join("audit.jsonl"), 2).await;
    assert_eq!(lines[1]["action"], "resolve");
    assert_eq!(lines[1]["incident"]["dedup"], lines[0]["incident"]["dedup"]);
    eventually(|| {
        pd.alerts()[0].status == fakes::pagerduty::AlertStatus::Resolved
            && jira.issues()[0].history.iter().any(|t| t == "Done")
    })
    .await;
    // Alertmanager's repeats add nothing: one issue, one alert, two lines.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(wait_lines(&dir.join("audit.jsonl"), 2).await.len(), 2);
    assert_eq!(jira.issues().len(), 1);
    assert_eq!(pd.alerts().len(), 1);
    assert_eq!(pd.alerts()[0].events, ["trigger", "resolve"]);
}

/// Routes `shop`'s pages to PagerDuty, and everything to Jira and a log.
fn catalog(dir: &std::path::Path, jira_url: &str, pd_url: &str) -> edgewatch_catalog::Catalog {
    let catalog_file = dir.join("catalog.yaml");
    std::fs::write(
        &catalog_file,
        format!(
            "destinations:
  audit: {{log: {{path: '{}'}}}}
  pd: {{pagerduty: {{routing_key: 'env:PD_KEY', url: '{}'}}}}
  jira:
    jira:
      deployment: cloud
      url: '{}'
      project: NOC
      issue_type: Incident
      auth: {{basic: {{user: '{JIRA_USER}', token: 'env:JIRA_TOKEN'}}}}
customers:
  - id: shop
    hosts: [shop.example]
    alerting:
      routes: [{{to: [pd], severities: [page]}}, {{to: [jira, audit]}}]
",
            dir.join("audit.jsonl").display(),
            pd_url,
            jira_url
        ),
    )
    .unwrap();
    edgewatch_catalog::load(&catalog_file).unwrap().catalog
}

async fn eventually(mut check: impl FnMut() -> bool) {
    for _ in 0..300 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not within 30s");
}

async fn wait_lines(path: &std::path::Path, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..300 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        if lines.len() >= n {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} lines in {} after 30s", path.display());
}
