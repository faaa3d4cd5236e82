//! The receiver process is killed with SIGKILL several times while
//! notifications stream in, and restarted on the same store. In the end
//! every notification Alertmanager got a 200 for has been acted on: one
//! Jira issue and one PagerDuty alert per incident, each resolved once,
//! none opened twice, none reopened. Once alone on SQLite; once as one of
//! two receivers on one PostgreSQL behind a real two-peer Alertmanager
//! cluster.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

#[path = "../webhook-receiver/tests/it/fakes/mod.rs"]
mod fakes;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use edgewatch_test_kit::postgres::PostgresServer;
use edgewatch_test_kit::{KillOnDrop, free_port, tool};
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

/// `shop`, routed to PagerDuty and Jira, in `dir/catalog.yaml`.
fn write_catalog(dir: &std::path::Path, jira: &FakeJira, pd: &PagerDutyFake) -> std::path::PathBuf {
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
    catalog
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
    let catalog = write_catalog(&dir, &jira, &pd);
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

    all_acted_on_once(&jira, &pd, KILLS, || {
        let _ = child.kill();
        let _ = child.wait();
    })
    .await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Waits until every incident's issue and alert are resolved, runs `stop`,
/// then checks one issue per incident, each moved to Done once, and one
/// PagerDuty alert per incident, resolved once, its trigger repeated at
/// most once per kill.
async fn all_acted_on_once(jira: &FakeJira, pd: &PagerDutyFake, kills: usize, stop: impl FnOnce()) {
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
    stop();

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
    assert!(repeated <= kills, "{repeated} repeated triggers for {kills} kills");
}

/// An alert of probe `i` of `shop`, as Prometheus posts it to
/// Alertmanager: firing since a minute ago, or ended a second ago.
fn am_alerts(resolved: bool) -> serde_json::Value {
    let now = edgewatch_webhook_receiver::testing::now_ms();
    let starts = edgewatch_webhook_receiver::testing::rfc3339(now - 60_000);
    let alerts: Vec<_> = (0..INCIDENTS)
        .map(|i| {
            let mut a = serde_json::json!({
                "labels": {"alertname": "EdgewatchProbeDown", "customer": "shop", "probe": format!("p{i}"), "severity": "page", "alert_kind": "probe_down"},
                "annotations": {"summary": format!("shop: probe p{i} down")},
                "startsAt": starts, "generatorURL": "http://prometheus.example/graph",
            });
            if resolved {
                a["endsAt"] = serde_json::json!(edgewatch_webhook_receiver::testing::rfc3339(now - 1_000));
            }
            a
        })
        .collect();
    serde_json::Value::Array(alerts)
}

/// One Alertmanager peer of a cluster on loopback: web on `web`, gossip on
/// `gossip`, its peer's gossip on `peer`; it notifies `receiver`.
fn alertmanager(dir: &std::path::Path, name: &str, web: u16, gossip: u16, peer: u16, receiver: u16) -> KillOnDrop {
    let config = dir.join(format!("{name}.yml"));
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: edgewatch\n  group_by: [customer, probe]\n  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 1h\nreceivers:\n  - name: edgewatch\n    webhook_configs:\n      - url: 'http://127.0.0.1:{receiver}/api/v1/alertmanager'\n        send_resolved: true\n"
        ),
    )
    .unwrap();
    KillOnDrop(
        Command::new(tool("prometheus-alertmanager", "prometheus-alertmanager"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join(format!("{name}-data")).display()))
            .arg(format!("--web.listen-address=127.0.0.1:{web}"))
            .arg(format!("--cluster.listen-address=127.0.0.1:{gossip}"))
            .arg(format!("--cluster.peer=127.0.0.1:{peer}"))
            // The second peer sends what the first has not after this: short,
            // so a killed receiver's notifications go round by the other.
            .arg("--cluster.peer-timeout=2s")
            .arg("--cluster.gossip-interval=50ms")
            .arg("--cluster.pushpull-interval=2s")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
            .spawn()
            .unwrap(),
    )
}

/// Waits until the Alertmanager on `web` sees `peers` cluster members.
async fn clustered(client: &reqwest::Client, web: u16, peers: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client.get(format!("http://127.0.0.1:{web}/api/v2/status")).send().await;
        if let Ok(r) = status
            && let Ok(v) = r.json::<serde_json::Value>().await
            && v["cluster"]["peers"].as_array().is_some_and(|p| p.len() == peers)
        {
            return;
        }
        assert!(Instant::now() < deadline, "Alertmanager on {web} did not see {peers} peers");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Posts `alerts` to both Alertmanagers, as Prometheus does.
async fn post_alerts(client: &reqwest::Client, webs: [u16; 2], alerts: &serde_json::Value) {
    for web in webs {
        let answer = client.post(format!("http://127.0.0.1:{web}/api/v2/alerts")).json(alerts).send().await.unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_receivers_on_postgresql_behind_an_alertmanager_pair_lose_nothing_when_one_is_killed() {
    let dir = edgewatch_test_kit::scratch_dir("receiver-ha");
    let postgres = PostgresServer::start("receiver-ha");
    let jira = FakeJira::cloud().basic(USER, JIRA_TOKEN).search_lag(Duration::from_millis(500)).start().await;
    let pd = PagerDutyFake::start().await;
    let catalog = write_catalog(&dir, &jira, &pd);
    // Both on one database, each with a folder of its own; a claim lasts
    // 3 s here (a minute by default), so a killed receiver's actions are
    // taken over within the test.
    let config = |name: &str| {
        let file = dir.join(format!("{name}.yml"));
        std::fs::write(
            &file,
            format!(
                "data_dir: '{}'\nstore: '{}'\ndelivery: {{initial_backoff: 100ms, max_backoff: 1s, timeout: 2s, settle: 1500ms, lease: 3s}}\nincidents: {{key_labels: [customer, probe]}}\n",
                dir.join(name).display(),
                postgres.url()
            ),
        )
        .unwrap();
        file
    };
    let (config_a, config_b) = (config("receiver-a"), config("receiver-b"));
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = spawn(&catalog, &config_a, port_a);
    let mut b = KillOnDrop(spawn(&catalog, &config_b, port_b));
    let (web_1, web_2, gossip_1, gossip_2) = (free_port(), free_port(), free_port(), free_port());
    let _am_1 = alertmanager(&dir, "am-1", web_1, gossip_1, gossip_2, port_a);
    let _am_2 = alertmanager(&dir, "am-2", web_2, gossip_2, gossip_1, port_b);
    let client = edgewatch_test_kit::http_client();
    clustered(&client, web_1, 2).await;
    clustered(&client, web_2, 2).await;

    // The alerts fire, then end; receiver A is killed while Alertmanager
    // sends each wave, and stays down longer than the second peer waits for
    // the first, so that the second sends to B what A did not take.
    for resolved in [false, true] {
        post_alerts(&client, [web_1, web_2], &am_alerts(resolved)).await;
        for _ in 0..KILLS {
            tokio::time::sleep(Duration::from_millis(700)).await;
            a.kill().unwrap(); // SIGKILL
            a.wait().unwrap();
            tokio::time::sleep(Duration::from_millis(2_500)).await;
            a = spawn(&catalog, &config_a, port_a);
        }
        if !resolved {
            let deadline = Instant::now() + Duration::from_secs(60);
            while pd.alerts().len() < INCIDENTS || jira.issues().len() < INCIDENTS {
                assert!(Instant::now() < deadline, "{} alerts, {} issues", pd.alerts().len(), jira.issues().len());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let metrics = client.get(format!("http://127.0.0.1:{port_b}/metrics")).send().await.unwrap().text().await.unwrap();
    let taken = |result: &str| {
        let line = format!("edgewatch_receiver_notifications_total{{result=\"{result}\"}} ");
        metrics.lines().find_map(|l| l.strip_prefix(&line)?.parse::<u64>().ok()).unwrap_or(0)
    };
    assert!(taken("accepted") + taken("duplicate") > 0, "B took nothing: the pair never failed over\n{metrics}");
    all_acted_on_once(&jira, &pd, 2 * KILLS, || {
        let _ = a.kill();
        let _ = a.wait();
        let _ = b.0.kill();
    })
    .await;
    let creates = jira.calls().iter().filter(|c| c.as_str() == "POST /rest/api/3/issue").count();
    assert_eq!(creates, INCIDENTS, "each issue created once");
    let _ = std::fs::remove_dir_all(dir);
}
