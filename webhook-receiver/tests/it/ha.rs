//! Several receivers on one PostgreSQL database, as behind an Alertmanager
//! HA pair: each peer sends every notification, to a receiver of its own;
//! each incident still gets one Jira issue and one PagerDuty alert, and
//! each action is delivered once.

use std::time::Duration;

use serde_json::json;

use crate::fakes::jira::FakeJira;
use crate::fakes::pagerduty::{AlertStatus, PagerDutyFake};
use crate::support::{Backend, PD_KEY, Running, eventually};

const USER: &str = "bot@example.com";
const JIRA_TOKEN: &str = "jira-token";

/// `shop`'s pages to PagerDuty and Jira.
fn catalog(jira: &FakeJira, pd: &PagerDutyFake) -> String {
    format!(
        "destinations:
  pd: {{pagerduty: {{routing_key: 'env:PD_KEY', url: '{}'}}}}
  jira: {{jira: {{deployment: cloud, url: '{}', project: NOC, issue_type: Incident, auth: {{basic: {{user: {USER}, token: 'env:JIRA_TOKEN'}}}}}}}}
customers:
  - id: shop
    hosts: [shop.example]
    alerting:
      routes: [{{to: [pd, jira]}}]
",
        pd.url(),
        jira.url()
    )
}

/// Probe `n` of `shop` failing (an incident of its own), firing or
/// resolved, as the Alertmanager peer at `peer` sends it.
fn notification(n: usize, resolved: bool, peer: &str) -> String {
    joining(n, 0, resolved, peer)
}

/// Alert `k` of incident `n` (0: probe `n` itself; others join it), as
/// [`notification`] gives it.
fn joining(n: usize, k: usize, resolved: bool, peer: &str) -> String {
    let status = if resolved { "resolved" } else { "firing" };
    let incident = format!("probe-{n}");
    let probe = if k == 0 { incident.clone() } else { format!("probe-{n}-{k}") };
    let labels = json!({
        "alertname": "EdgewatchProbeDown", "customer": "shop", "severity": "page",
        "alert_kind": "probe_down", "probe": probe, "incident": incident,
    });
    json!({
        "receiver": "edgewatch", "status": status, "version": "4",
        "groupKey": format!("{{}}:{{incident=\"{probe}\"}}"), "truncatedAlerts": 0,
        "groupLabels": {"incident": probe}, "commonLabels": labels, "commonAnnotations": {},
        "externalURL": peer,
        "alerts": [{
            "status": status, "labels": labels, "annotations": {"summary": format!("shop: {probe} fails")},
            "startsAt": "2026-11-21T08:00:00Z",
            "endsAt": if resolved { "2026-11-21T09:00:00Z" } else { "0001-01-01T00:00:00Z" },
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": format!("{:016x}", n + 1000 * k),
        }],
    })
    .to_string()
}

/// The value of `metric` in a `/metrics` text (0 when absent).
fn value(metrics: &str, metric: &str) -> usize {
    metrics.lines().find_map(|l| l.strip_prefix(metric)?.trim().parse().ok()).unwrap_or(0)
}

/// Two receivers on one PostgreSQL of their own (`name`), as behind an
/// Alertmanager pair, routing `shop` to the Jira and PagerDuty fakes, with
/// `delivery` settings besides fast retries.
struct Pair {
    jira: FakeJira,
    pd: PagerDutyFake,
    a: Running,
    b: Running,
}

impl Pair {
    async fn start(name: &str, delivery: &str) -> Self {
        let jira = FakeJira::cloud().basic(USER, JIRA_TOKEN).start().await;
        let pd = PagerDutyFake::start().await;
        let catalog = catalog(&jira, &pd);
        let config = format!("delivery: {{initial_backoff: 100ms, max_backoff: 1s, concurrency: 8{delivery}}}\n");
        let env = [("PD_KEY", PD_KEY), ("JIRA_TOKEN", JIRA_TOKEN)];
        let a = Running::start_on(Backend::postgres(name), &format!("{name}-a"), &catalog, &config, &env).await;
        let Backend::Postgres(server) = &a.store else { unreachable!() };
        let b = Running::start_on(Backend::Shared(server.url()), &format!("{name}-b"), &catalog, &config, &env).await;
        Self { jira, pd, a, b }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_receivers_on_one_database_give_one_issue_and_one_page_per_incident() {
    const INCIDENTS: usize = 12;
    let Pair { jira, pd, a, b } = Pair::start("ha-two", "").await;

    // Each peer posts every notification to its receiver, at once; the
    // peers' `externalURL`s differ, as they do.
    for resolved in [false, true] {
        let posts = (0..INCIDENTS).flat_map(|n| {
            [(&a, notification(n, resolved, "http://am-1:9093")), (&b, notification(n, resolved, "http://am-2:9093"))]
        });
        let mut sent = tokio::task::JoinSet::new();
        for (r, body) in posts {
            let request = r.client.post(r.webhook()).body(body);
            sent.spawn(async move { request.send().await.unwrap().status().as_u16() });
        }
        let statuses = sent.join_all().await;
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        if !resolved {
            eventually("every page and issue", 30, || {
                pd.alerts().len() == INCIDENTS && jira.issues().len() == INCIDENTS
            })
            .await;
        }
    }
    eventually("every incident resolved", 30, || {
        pd.alerts().iter().all(|a| a.status == AlertStatus::Resolved)
            && jira.issues().iter().all(|i| i.status == "Done")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // One alert and one issue per incident, each opened and resolved once.
    let alerts = pd.alerts();
    assert_eq!(alerts.len(), INCIDENTS);
    for alert in &alerts {
        assert_eq!(alert.events, ["trigger", "resolve"], "{}", alert.dedup_key);
    }
    assert_eq!(jira.issues().len(), INCIDENTS);
    let created = jira.calls().iter().filter(|c| c.as_str() == "POST /rest/api/3/issue").count();
    assert_eq!(created, INCIDENTS);
    // Each notification was taken once, by one receiver or the other; the
    // other copy was a duplicate; the two delivered every action between
    // them, none twice.
    let (ma, mb) = (a.metrics().await, b.metrics().await);
    let sum = |metric: &str| value(&ma, metric) + value(&mb, metric);
    assert_eq!(sum("edgewatch_receiver_notifications_total{result=\"accepted\"}"), 2 * INCIDENTS);
    assert_eq!(sum("edgewatch_receiver_notifications_total{result=\"duplicate\"}"), 2 * INCIDENTS);
    let delivered = sum("edgewatch_receiver_actions_total{destination=\"pd\",outcome=\"delivered\"}")
        + sum("edgewatch_receiver_actions_total{destination=\"jira\",outcome=\"delivered\"}");
    assert_eq!(delivered, 4 * INCIDENTS, "open and resolve, at two destinations\n{ma}\n{mb}");
    // Each delivery followed one claim; nobody died, so nothing was taken over.
    assert_eq!(sum("edgewatch_receiver_claims_total"), delivered);
    assert_eq!(sum("edgewatch_receiver_claim_takeovers_total"), 0);
}

/// With `delivery.update_hold`, two receivers behind an Alertmanager pair
/// merge the alerts that join each incident into held updates without
/// sending any action twice: each incident is one issue and one page,
/// opened first and resolved last, with fewer updates than notifications.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_receivers_holding_updates_still_send_each_action_once() {
    const INCIDENTS: usize = 6;
    const JOINING: usize = 3;
    let Pair { jira, pd, a, b } = Pair::start("ha-hold", ", update_hold: 1s").await;
    // Each step's notifications, every one from both peers at once.
    let post = |bodies: Vec<(usize, usize, bool)>| {
        let mut sent = tokio::task::JoinSet::new();
        for (n, k, resolved) in bodies {
            for (r, peer) in [(&a, "http://am-1:9093"), (&b, "http://am-2:9093")] {
                let request = r.client.post(r.webhook()).body(joining(n, k, resolved, peer));
                sent.spawn(async move { request.send().await.unwrap().status().as_u16() });
            }
        }
        sent.join_all()
    };
    let opened = post((0..INCIDENTS).map(|n| (n, 0, false)).collect()).await;
    assert!(opened.iter().all(|s| *s == 200), "{opened:?}");
    eventually("every page and issue", 30, || pd.alerts().len() == INCIDENTS && jira.issues().len() == INCIDENTS).await;
    for k in 1..=JOINING {
        let joined = post((0..INCIDENTS).map(|n| (n, k, false)).collect()).await;
        assert!(joined.iter().all(|s| *s == 200), "{joined:?}");
    }
    let ended = post((0..INCIDENTS).flat_map(|n| (0..=JOINING).map(move |k| (n, k, true))).collect()).await;
    assert!(ended.iter().all(|s| *s == 200), "{ended:?}");
    eventually("every incident resolved", 30, || {
        pd.alerts().iter().all(|a| a.status == AlertStatus::Resolved)
            && jira.issues().iter().all(|i| i.status == "Done")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let alerts = pd.alerts();
    assert_eq!(alerts.len(), INCIDENTS);
    let mut updates = 0;
    for alert in &alerts {
        let events = &alert.events;
        assert_eq!(events.first().map(String::as_str), Some("trigger"), "{}", alert.dedup_key);
        assert_eq!(events.last().map(String::as_str), Some("resolve"), "{events:?}");
        assert_eq!(events.iter().filter(|e| *e == "resolve").count(), 1, "{events:?}");
        updates += events.len() - 2;
    }
    // Each incident had 3 joining alerts and 3 of its 4 ends as updates,
    // posted within the hold: one update each here (6 of 36), two each
    // allowed for a slow machine whose burst outlasts the hold.
    assert!(updates <= 2 * INCIDENTS, "{updates} updates for {} notifications", INCIDENTS * 2 * JOINING);
    let created = jira.calls().iter().filter(|c| c.as_str() == "POST /rest/api/3/issue").count();
    assert_eq!(created, INCIDENTS);
    let (ma, mb) = (a.metrics().await, b.metrics().await);
    let sum = |metric: &str| value(&ma, metric) + value(&mb, metric);
    let delivered = sum("edgewatch_receiver_actions_total{destination=\"pd\",outcome=\"delivered\"}")
        + sum("edgewatch_receiver_actions_total{destination=\"jira\",outcome=\"delivered\"}");
    // Every action delivered once: PagerDuty saw each of its own.
    assert_eq!(
        sum("edgewatch_receiver_actions_total{destination=\"pd\",outcome=\"delivered\"}"),
        alerts.iter().map(|a| a.events.len()).sum::<usize>()
    );
    assert_eq!(sum("edgewatch_receiver_claims_total"), delivered);
    assert_eq!(sum("edgewatch_receiver_claim_takeovers_total"), 0);
}

/// Work one receiver of a shared store does at a time (scheduled reports)
/// is one receiver's turn until it lapses without renewal, then another's;
/// what was recorded done is seen by all, the first record kept. On
/// SQLite (one receiver), the turn is always the receiver's.
#[test]
fn shared_work_is_one_receivers_turn_until_it_lapses() {
    use edgewatch_webhook_receiver::{Config, SharedWork};

    let server = edgewatch_test_kit::postgres::PostgresServer::start("shared-work");
    let config = Config { store: Some(server.url()), ..Config::default() };
    let a = SharedWork::connect(&config, &|_| None).unwrap();
    let b = SharedWork::connect(&config, &|_| None).unwrap();
    let turn = Duration::from_secs(2);
    assert!(a.take_turn("reports", turn).unwrap(), "free: taken");
    assert!(!b.take_turn("reports", turn).unwrap(), "the other's");
    assert!(b.take_turn("retention", turn).unwrap(), "another job is another turn");
    std::thread::sleep(Duration::from_secs(1));
    assert!(a.take_turn("reports", turn).unwrap(), "renewed");
    std::thread::sleep(Duration::from_secs(1));
    assert!(!b.take_turn("reports", turn).unwrap(), "the renewal holds it");
    std::thread::sleep(Duration::from_millis(2500));
    assert!(b.take_turn("reports", turn).unwrap(), "lapsed: taken over");
    assert!(!a.take_turn("reports", turn).unwrap(), "and no longer the first's");

    a.record_done("mailed: acme-2026-W48", "sent by a").unwrap();
    b.record_done("mailed: acme-2026-W48", "sent by b").unwrap();
    assert_eq!(b.done("mailed: acme-2026-W48").unwrap().map(|d| d.1).as_deref(), Some("sent by a"));
    assert_eq!(a.done("mailed: shop-2026-W48").unwrap(), None);
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(a.forget_done(Duration::from_secs(3600)).unwrap(), 0, "an hour: kept");
    assert_eq!(a.forget_done(Duration::ZERO).unwrap(), 1);
    assert_eq!(b.done("mailed: acme-2026-W48").unwrap(), None);

    let dir = edgewatch_test_kit::scratch_dir("shared-work-sqlite");
    let sqlite = Config { data_dir: dir.join("data"), ..Config::default() };
    let (c, d) = (SharedWork::connect(&sqlite, &|_| None).unwrap(), SharedWork::connect(&sqlite, &|_| None).unwrap());
    assert!(c.take_turn("reports", turn).unwrap() && d.take_turn("reports", turn).unwrap());
    c.record_done("mailed: acme-2026-W48", "sent").unwrap();
    assert_eq!(d.done("mailed: acme-2026-W48").unwrap().map(|d| d.1).as_deref(), Some("sent"));
    std::fs::remove_dir_all(&dir).unwrap();
}
