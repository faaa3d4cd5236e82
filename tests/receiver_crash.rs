//! The receiver process is killed with SIGKILL several times while
//! notifications stream in, and restarted on the same data directory. In
//! the end every notification Alertmanager got a 200 for has been acted on:
//! one Jira issue and one PagerDuty alert per incident, each resolved once,
//! none opened twice, none reopened.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

#[path = "../webhook-receiver/tests/it/fakes/mod.rs"]
mod fakes;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fakes::jira::FakeJira;
use fakes::pagerduty::{AlertStatus, PagerDutyFake};

const INCIDENTS: usize = 24;
const KILLS: usize = 3;
const USER: &str = "noc-bot@edgewatch.example";
const JIRA_TOKEN: &str = "jira-api-token";
const PD_KEY: &str = "e93facc04764012d7bfb002500d5d1a6";

fn spawn(catalog: &std::path::Path, config: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_edgewatch"))
        .args(["receiver", "--catalog"])
        .arg(catalog)
        .arg("--config")
        .arg(config)
        .arg("--web.listen-address")
        .arg(format!("127.0.0.1:{port}"))
        .env("PD_KEY", PD_KEY)
        .env("JIRA_TOKEN", JIRA_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn notification(i: usize, status: &str) -> String {
    let ends = if status == "firing" { "0001-01-01T00:00:00Z" } else { "2026-11-21T09:00:00Z" };
    format!(
        r#"{{"receiver":"edgewatch","status":"{status}","alerts":[{{"status":"{status}","labels":{{"alertname":"EdgewatchProbeDown","customer":"shop","probe":"p{i}","severity":"page","alert_kind":"probe_down"}},"annotations":{{"summary":"shop: probe p{i} down"}},"startsAt":"2026-11-21T08:00:00Z","endsAt":"{ends}","generatorURL":"","fingerprint":"{i:016x}"}}],"groupLabels":{{}},"commonLabels":{{}},"commonAnnotations":{{}},"externalURL":"http://alertmanager:9093","version":"4","groupKey":"g{i}","truncatedAlerts":0}}"#
    )
}

/// Posts until a 200, as Alertmanager retries a receiver that is down.
async fn deliver(client: &reqwest::Client, url: &str, body: String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.post(url).body(body.clone()).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "the receiver never took a notification");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_notifications_stream_loses_nothing_and_opens_nothing_twice() {
    let dir = edgewatch_test_kit::scratch_dir("receiver-crash");
    // Jira's search lags its writes; the receiver waits out more than that
    // before rerunning an attempt a kill interrupted.
    let jira = FakeJira::cloud().basic(USER, JIRA_TOKEN).search_lag(Duration::from_millis(500)).start().await;
    let pd = PagerDutyFake::start().await;
    let catalog = dir.join("catalog.yaml");
    std::fs::write(
        &catalog,
        format!(
            "destinations:
  pd: {{pagerduty: {{routing_key: 'env:PD_KEY', url: '{}'}}}}
  jira:
    jira: {{deployment: cloud, url: '{}', project: NOC, issue_type: Incident, auth: {{basic: {{user: '{USER}', token: 'env:JIRA_TOKEN'}}}}}}
customers:
  - id: shop
    hosts: [shop.example]
    alerting: {{routes: [{{to: [pd, jira]}}]}}
",
            pd.url(),
            jira.url()
        ),
    )
    .unwrap();
    // One incident per probe, not one for the customer: many incidents in
    // flight while the receiver is killed.
    let config = dir.join("receiver.yml");
    std::fs::write(
        &config,
        format!(
            "data_dir: '{}'\ndelivery: {{initial_backoff: 100ms, max_backoff: 1s, settle: 1500ms}}\nincidents: {{key_labels: [customer, probe]}}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let port = edgewatch_test_kit::free_port();
    let url = format!("http://127.0.0.1:{port}/api/v1/alertmanager");
    let mut child = spawn(&catalog, &config, port);

    let sender = tokio::spawn({
        let url = url.clone();
        async move {
            let client = edgewatch_test_kit::http_client();
            for status in ["firing", "resolved"] {
                for i in 0..INCIDENTS {
                    deliver(&client, &url, notification(i, status)).await;
                    tokio::time::sleep(Duration::from_millis(40)).await;
                }
            }
        }
    });
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(700)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        child = spawn(&catalog, &config, port);
    }
    sender.await.unwrap();

    // Everything accepted is acted on, after the restarts.
    let deadline = Instant::now() + Duration::from_secs(90);
    let done = || {
        pd.alerts().len() == INCIDENTS
            && pd.alerts().iter().all(|a| a.status == AlertStatus::Resolved)
            && jira.issues().len() == INCIDENTS
            && jira.issues().iter().all(|i| i.status == "Done")
    };
    while !done() {
        assert!(
            Instant::now() < deadline,
            "not all delivered: {} PagerDuty alerts, {} Jira issues",
            pd.alerts().len(),
            jira.issues().len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = child.kill();
    let _ = child.wait();

    // One issue per incident, each moved to Done once.
    let mut labels: Vec<String> =
        jira.issues().iter().flat_map(|i| i.labels.iter().filter(|l| l.starts_with("edgewatch-")).cloned()).collect();
    labels.sort();
    labels.dedup();
    assert_eq!(labels.len(), INCIDENTS, "no incident has two issues");
    for issue in jira.issues() {
        assert_eq!(issue.history.iter().filter(|t| *t == "Done").count(), 1, "{}: {:?}", issue.key, issue.history);
    }
    // One PagerDuty alert per incident, resolved once, never reopened. A
    // trigger that a kill interrupted after PagerDuty's 202 and before the
    // receiver's commit is sent again; PagerDuty's dedup_key folds it into
    // the same open alert, so it pages once. At most one such per kill.
    let mut repeated = 0;
    for a in pd.alerts() {
        assert_eq!(a.events.last().map(String::as_str), Some("resolve"), "{:?}", a.events);
        assert_eq!(a.events.iter().filter(|e| *e == "resolve").count(), 1, "{:?}", a.events);
        repeated += a.triggers() - 1;
    }
    assert!(repeated <= KILLS, "{repeated} repeated triggers for {KILLS} kills");
    let _ = std::fs::remove_dir_all(dir);
}
