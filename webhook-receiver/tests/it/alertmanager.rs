//! End to end with the real Alertmanager (Debian's `prometheus-alertmanager`,
//! started here on loopback): an alert posted to its API reaches the receiver
//! through a generated `webhook_config` with bearer auth and becomes one Jira
//! issue and one PagerDuty alert (on the contract fakes) and one audit line;
//! its resolution resolves all three.

use std::process::{Command, Stdio};
use std::time::Duration;

use edgewatch_test_kit::{KillOnDrop, free_port, tool};
use edgewatch_webhook_receiver::testing;

use crate::fakes;
use crate::support::{PD_KEY, Running, eventually};

const TOKEN: &str = "am-to-receiver";
const JIRA_USER: &str = "noc-bot@edgewatch.example";
const JIRA_TOKEN: &str = "jira-api-token";

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
    let jira = fakes::jira::FakeJira::cloud().basic(JIRA_USER, JIRA_TOKEN).start().await;
    let pd = fakes::pagerduty::PagerDutyFake::start().await;
    let env = [("T", TOKEN), ("PD_KEY", PD_KEY), ("JIRA_TOKEN", JIRA_TOKEN)];
    let r =
        Running::start("receiver-am", &catalog(jira.url(), &pd.url()), "auth: {bearer_token: 'env:T'}\n", &env).await;
    let (dir, receiver_url) = (r.dir.clone(), r.webhook());

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
    let _am = KillOnDrop(
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
    let now = testing::now_ms();
    let started = testing::rfc3339(now - 60_000);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match client.post(&api).json(&alert(&started, None)).send().await {
            Ok(r) if r.status().is_success() => break,
            _ if std::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
            Ok(r) => panic!("Alertmanager refused the alert: {} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => panic!("Alertmanager did not answer: {e}"),
        }
    }
    let lines = r.lines(1, 30).await;
    assert_eq!(lines[0]["action"], "open");
    assert_eq!(lines[0]["incident"]["key"], "customer=shop");
    assert_eq!(lines[0]["incident"]["severity"], "page");
    let dedup = lines[0]["incident"]["dedup"].as_str().unwrap().to_owned();
    eventually("the issue and the page", 30, || jira.issues().len() == 1 && pd.alerts().len() == 1).await;
    let issue = &jira.issues()[0];
    assert_eq!(issue.project, "NOC");
    assert!(issue.labels.contains(&dedup), "{:?}", issue.labels);
    assert_eq!(pd.alerts()[0].dedup_key, dedup);

    // Resolved: an end in the past.
    let ended = testing::rfc3339(testing::now_ms() - 1000);
    let resolved = client.post(&api).json(&alert(&started, Some(&ended))).send().await.unwrap();
    assert!(resolved.status().is_success());
    let lines = r.lines(2, 30).await;
    assert_eq!(lines[1]["action"], "resolve");
    assert_eq!(lines[1]["incident"]["dedup"], lines[0]["incident"]["dedup"]);
    eventually("both resolved", 30, || {
        pd.alerts()[0].status == fakes::pagerduty::AlertStatus::Resolved
            && jira.issues()[0].history.iter().any(|t| t == "Done")
    })
    .await;
    // Alertmanager's repeats add nothing: one issue, one alert, two lines.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(r.lines(2, 30).await.len(), 2);
    assert_eq!(jira.issues().len(), 1);
    assert_eq!(pd.alerts().len(), 1);
    assert_eq!(pd.alerts()[0].events, ["trigger", "resolve"]);
}

/// Routes `shop`'s pages to PagerDuty, and everything to Jira and a log.
fn catalog(jira_url: &str, pd_url: &str) -> String {
    format!(
        "destinations:
  audit: {{log: {{path: '{{dir}}/audit.jsonl'}}}}
  pd: {{pagerduty: {{routing_key: 'env:PD_KEY', url: '{pd_url}'}}}}
  jira:
    jira:
      deployment: cloud
      url: '{jira_url}'
      project: NOC
      issue_type: Incident
      auth: {{basic: {{user: '{JIRA_USER}', token: 'env:JIRA_TOKEN'}}}}
customers:
  - id: shop
    hosts: [shop.example]
    alerting:
      routes: [{{to: [pd], severities: [page]}}, {{to: [jira, audit]}}]
"
    )
}
