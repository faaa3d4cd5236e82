//! End to end with the real Alertmanager (Debian's `prometheus-alertmanager`,
//! started here on loopback): an alert posted to its API reaches the receiver
//! through a generated `webhook_config` with bearer auth and becomes one Jira
//! issue and one PagerDuty alert (on the contract fakes) and one audit line;
//! its resolution resolves all three. And a PostgreSQL outage while
//! Alertmanager sends: what it was told to retry is delivered after.

use std::process::{Command, Stdio};
use std::time::Duration;

use edgewatch_test_kit::{KillOnDrop, free_port, tool};
use edgewatch_webhook_receiver::testing;

use crate::fakes;
use crate::support::{Backend, PD_KEY, Running, eventually};

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
    let (_am, api) = alertmanager(&dir, &receiver_url, &["alertname", "customer"]);
    let client = edgewatch_test_kit::http_client();
    let now = testing::now_ms();
    let started = testing::rfc3339(now - 60_000);
    post_alerts(&client, &api, &alert(&started, None)).await;
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

/// Alertmanager in `dir` on a loopback port, grouping by `group_by` and
/// sending every group change at once to `receiver_url` with the bearer
/// token: the process, and its alerts API.
fn alertmanager(dir: &std::path::Path, receiver_url: &str, group_by: &[&str]) -> (KillOnDrop, String) {
    let am_port = free_port();
    let am_config = dir.join("alertmanager.yml");
    std::fs::write(
        &am_config,
        format!(
            "route:\n  receiver: edgewatch\n  group_by: [{}]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: edgewatch\n    webhook_configs:\n      - url: '{receiver_url}'\n        send_resolved: true\n        http_config:\n          authorization: {{type: Bearer, credentials: '{TOKEN}'}}\n",
            group_by.join(", ")
        ),
    )
    .unwrap();
    let am = KillOnDrop(
        Command::new(tool("prometheus-alertmanager", "prometheus-alertmanager"))
            .arg(format!("--config.file={}", am_config.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("alertmanager.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    (am, format!("http://127.0.0.1:{am_port}/api/v2/alerts"))
}

/// Posts `alerts` to Alertmanager's API, waiting up to 20 s for it to start.
async fn post_alerts(client: &reqwest::Client, api: &str, alerts: &serde_json::Value) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match client.post(api).json(alerts).send().await {
            Ok(r) if r.status().is_success() => return,
            _ if std::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
            Ok(r) => panic!("Alertmanager refused the alerts: {} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => panic!("Alertmanager did not answer: {e}"),
        }
    }
}

/// PostgreSQL stopped while Alertmanager sends, then started again: every
/// notification the receiver answered 503 during the outage is delivered
/// after it, with no restart of the receiver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_outage_while_alertmanager_sends_loses_nothing() {
    let jira = fakes::jira::FakeJira::cloud().basic(JIRA_USER, JIRA_TOKEN).start().await;
    let pd = fakes::pagerduty::PagerDutyFake::start().await;
    let env = [("T", TOKEN), ("PD_KEY", PD_KEY), ("JIRA_TOKEN", JIRA_TOKEN)];
    // One incident per probe.
    let config = "auth: {bearer_token: 'env:T'}\nincidents: {key_labels: [customer, probe]}\n";
    let catalog = catalog(jira.url(), &pd.url());
    let mut r = Running::start_on(Backend::postgres("am-outage"), "receiver-am-outage", &catalog, config, &env).await;
    let (_am, api) = alertmanager(&r.dir, &r.webhook(), &["alertname", "customer", "probe"]);
    let client = edgewatch_test_kit::http_client();
    let started = testing::rfc3339(testing::now_ms() - 60_000);
    let probe = |name: &str| {
        let mut a = alert(&started, None);
        a[0]["labels"]["probe"] = serde_json::json!(name);
        a
    };
    post_alerts(&client, &api, &probe("p0")).await;
    eventually("the first issue", 30, || jira.issues().len() == 1).await;

    let Backend::Postgres(server) = &mut r.store else { unreachable!() };
    server.stop();
    for name in ["p1", "p2", "p3"] {
        post_alerts(&client, &api, &probe(name)).await;
    }
    // Alertmanager sends them, and is told to try again.
    let metrics = || r.metrics();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !metrics().await.contains("edgewatch_receiver_notifications_total{result=\"unavailable\"}") {
        assert!(std::time::Instant::now() < deadline, "Alertmanager sent nothing during the outage");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(jira.issues().len() == 1 && pd.alerts().len() == 1, "nothing went out while the store was down");
    let Backend::Postgres(server) = &mut r.store else { unreachable!() };
    server.resume();

    // Alertmanager's retries are taken once the database is back.
    eventually("every probe's issue and page", 60, || jira.issues().len() == 4 && pd.alerts().len() == 4).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(jira.issues().len(), 4, "one issue per incident");
    assert!(pd.alerts().iter().all(|a| a.triggers() == 1), "one trigger each");
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
