//! Delivery through the whole receiver to the PagerDuty contract fake:
//! firing then resolved gives one trigger then one resolve; a 429 storm is
//! ridden out with `Retry-After` honoured; a 400 becomes a dead letter that
//! a replay delivers once the fault is fixed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fakes;

use std::time::{Duration, Instant};

use edgewatch_webhook_receiver::{Config, DeadLetters, Receiver, WEBHOOK_PATH};
use fakes::pagerduty::{AlertStatus, Fault, PagerDutyFake};

const KEY: &str = "e93facc04764012d7bfb002500d5d1a6";

struct Running {
    url: String,
    data: std::path::PathBuf,
    client: reqwest::Client,
}

async fn start(name: &str, pd: &PagerDutyFake) -> Running {
    start_with(name, pd, "").await
}

/// A receiver with `extra` lines of configuration.
async fn start_with(name: &str, pd: &PagerDutyFake, extra: &str) -> Running {
    let dir = edgewatch_test_kit::scratch_dir(name);
    let file = dir.join("catalog.yaml");
    std::fs::write(
        &file,
        format!(
            "destinations:\n  pd: {{pagerduty: {{routing_key: 'env:PD_KEY', url: '{}'}}}}\ncustomers:\n  - id: shop\n    hosts: [shop.example]\n    alerting:\n      routes: [{{to: [pd], severities: [page]}}]\n",
            pd.url()
        ),
    )
    .unwrap();
    let catalog = edgewatch_catalog::load(&file).unwrap().catalog;
    let data = dir.join("data");
    let config = Config::parse(&format!(
        "data_dir: '{}'\ndelivery: {{initial_backoff: 100ms, max_backoff: 2s, max_attempts: 8}}\n{extra}",
        data.display()
    ))
    .unwrap();
    let receiver = Receiver::build(&config, catalog, &|k| (k == "PD_KEY").then(|| KEY.to_owned())).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{WEBHOOK_PATH}", listener.local_addr().unwrap());
    receiver.spawn_workers();
    tokio::spawn(async move { axum::serve(listener, receiver.router()).await });
    Running { url, data, client: edgewatch_test_kit::http_client() }
}

fn notification(status: &str) -> String {
    let ends = if status == "firing" { "0001-01-01T00:00:00Z" } else { "2026-11-21T09:00:00Z" };
    notification_ending(status, ends)
}

/// The probe alert, resolved at `ends` (or firing, with the zero time).
fn notification_ending(status: &str, ends: &str) -> String {
    format!(
        r#"{{"receiver":"edgewatch","status":"{status}","alerts":[{{"status":"{status}","labels":{{"alertname":"EdgewatchProbeDown","customer":"shop","probe":"home","severity":"page","alert_kind":"probe_down"}},"annotations":{{"summary":"shop: probe home fails from 66.67% of its addresses"}},"startsAt":"2026-11-21T08:00:00Z","endsAt":"{ends}","generatorURL":"","fingerprint":"dddd000000000004"}}],"groupLabels":{{}},"commonLabels":{{}},"commonAnnotations":{{}},"externalURL":"http://alertmanager:9093","version":"4","groupKey":"g","truncatedAlerts":0}}"#
    )
}

impl Running {
    async fn post(&self, body: &str) {
        let r = self.client.post(&self.url).body(body.to_owned()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    }

    async fn metrics(&self) -> String {
        let url = self.url.replace(WEBHOOK_PATH, "/metrics");
        self.client.get(url).send().await.unwrap().text().await.unwrap()
    }
}

/// Waits until `check` holds, up to `secs`.
async fn eventually(secs: u64, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "not within {secs}s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firing_then_resolved_is_one_trigger_then_one_resolve() {
    let pd = PagerDutyFake::start().await;
    let r = start("delivery-lifecycle", &pd).await;
    r.post(&notification("firing")).await;
    r.post(&notification("resolved")).await;
    eventually(10, || pd.alerts().first().is_some_and(|a| a.status == AlertStatus::Resolved)).await;
    let alerts = pd.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].events, ["trigger", "resolve"]);
    assert_eq!(alerts[0].summary, "shop: probe home fails from 66.67% of its addresses", "the id is the name here");
    assert!(alerts[0].dedup_key.starts_with("edgewatch-"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_links_back_to_the_configured_alertmanager() {
    let pd = PagerDutyFake::start().await;
    let r = start_with("delivery-client-url", &pd, "alertmanager_url: https://alertmanager.example.net\n").await;
    r.post(&notification("firing")).await;
    eventually(10, || pd.alerts().len() == 1).await;
    // The notification's `externalURL` is `http://alertmanager:9093`, a name
    // people's browsers cannot reach.
    assert_eq!(pd.bodies()[0]["client_url"], "https://alertmanager.example.net");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_is_ridden_out_honouring_retry_after() {
    let pd = PagerDutyFake::start().await;
    pd.inject(3, Fault { status: 429, retry_after: Some(1) });
    let r = start("delivery-429", &pd).await;
    let started = Instant::now();
    r.post(&notification("firing")).await;
    eventually(20, || pd.alerts().len() == 1).await;
    // Three refusals, each waited out for its full second (not the 100ms backoff).
    assert!(started.elapsed() >= Duration::from_secs(3), "{:?}", started.elapsed());
    let statuses: Vec<u16> = pd.received().iter().map(|x| x.status).collect();
    assert_eq!(statuses, [429, 429, 429, 202]);
    assert_eq!(pd.alerts()[0].triggers(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_is_a_dead_letter_until_replayed_and_holds_back_what_follows() {
    let pd = PagerDutyFake::start().await;
    pd.inject(1, Fault { status: 400, retry_after: None });
    let r = start("delivery-dead", &pd).await;
    r.post(&notification("firing")).await;
    let store = DeadLetters::open(&r.data).unwrap();
    eventually(10, || store.list().unwrap().len() == 1).await;
    let dead = &store.list().unwrap()[0];
    assert_eq!(dead.destination, "pd");
    assert!(dead.reason.contains("HTTP 400"), "{}", dead.reason);
    // The resolve waits behind the dead open: nothing reaches PagerDuty.
    r.post(&notification("resolved")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(pd.alerts().is_empty());
    assert!(r.metrics().await.contains("edgewatch_receiver_outbox_pending 1\n"));

    // Fixed (the fault is spent): replay; the open, then the resolve, arrive.
    assert_eq!(store.replay(None).unwrap(), 1);
    eventually(10, || pd.alerts().first().is_some_and(|a| a.status == AlertStatus::Resolved)).await;
    assert_eq!(pd.alerts()[0].events, ["trigger", "resolve"]);
    assert!(store.list().unwrap().is_empty());
}

/// A receiver routing `shop` to a Jira Cloud destination on `jira`.
async fn start_jira(name: &str, jira: &fakes::jira::FakeJira) -> Running {
    let dir = edgewatch_test_kit::scratch_dir(name);
    let file = dir.join("catalog.yaml");
    std::fs::write(
        &file,
        format!(
            "destinations:\n  jira:\n    jira: {{deployment: cloud, url: '{}', project: NOC, issue_type: Incident, auth: {{basic: {{user: bot@example.com, token: 'env:JIRA_TOKEN'}}}}}}\ncustomers:\n  - id: shop\n    hosts: [shop.example]\n    alerting: {{routes: [{{to: [jira]}}]}}\n",
            jira.url()
        ),
    )
    .unwrap();
    let catalog = edgewatch_catalog::load(&file).unwrap().catalog;
    let config = Config::parse(&format!("data_dir: '{}'\n", dir.join("data").display())).unwrap();
    let receiver =
        Receiver::build(&config, catalog, &|k| (k == "JIRA_TOKEN").then(|| "jira-token".to_owned())).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{WEBHOOK_PATH}", listener.local_addr().unwrap());
    receiver.spawn_workers();
    tokio::spawn(async move { axum::serve(listener, receiver.router()).await });
    Running { url, data: dir.join("data"), client: edgewatch_test_kit::http_client() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_notification_posted_three_times_at_once_is_one_jira_issue() {
    let jira = fakes::jira::FakeJira::cloud().basic("bot@example.com", "jira-token").start().await;
    let r = start_jira("delivery-jira-triple", &jira).await;
    let body = notification("firing");
    tokio::join!(r.post(&body), r.post(&body), r.post(&body));
    eventually(10, || jira.issues().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(jira.issues().len(), 1);
    assert_eq!(jira.calls().iter().filter(|c| c.as_str() == "POST /rest/api/3/issue").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resolve_comment_gives_the_time_the_alerts_ended_not_when_the_news_came() {
    let jira = fakes::jira::FakeJira::cloud().basic("bot@example.com", "jira-token").start().await;
    let r = start_jira("delivery-jira-ended", &jira).await;
    r.post(&notification("firing")).await;
    eventually(10, || jira.issues().len() == 1).await;
    // Alertmanager tells of the end 210 s after it (group_interval, retries).
    let now = edgewatch_webhook_receiver::testing::now_ms();
    let ended = edgewatch_webhook_receiver::testing::rfc3339(now - 210_000);
    r.post(&notification_ending("resolved", &ended)).await;
    eventually(10, || jira.issues()[0].status == "Done").await;
    let comments = &jira.issues()[0].comments;
    let text = fakes::jira::adf::plain(comments.last().unwrap());
    assert!(text.starts_with(&format!("Resolved: every alert ended ({ended}).")), "{text}");
}
