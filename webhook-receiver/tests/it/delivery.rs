//! Delivery through the whole receiver to the PagerDuty contract fake:
//! firing then resolved gives one trigger then one resolve; a 429 storm is
//! ridden out with `Retry-After` honoured; a 400 becomes a dead letter that
//! a replay delivers once the fault is fixed.

use std::time::{Duration, Instant};

use edgewatch_webhook_receiver::testing;

use crate::fakes::jira::{FakeJira, adf};
use crate::fakes::pagerduty::{AlertStatus, Fault, PagerDutyFake};
use crate::support::{Backend, PD_KEY, PROBE, Running, eventually, on_both_stores};

async fn start(store: Backend, name: &str, pd: &PagerDutyFake) -> Running {
    start_with(store, name, pd, "", "").await
}

/// A receiver routing `shop`'s pages to PagerDuty on `pd`, with `delivery`
/// settings besides fast retries (`, key: value`) and `extra` lines of
/// configuration.
async fn start_with(store: Backend, name: &str, pd: &PagerDutyFake, delivery: &str, extra: &str) -> Running {
    let catalog = format!(
        "destinations:\n  pd: {{pagerduty: {{routing_key: 'env:PD_KEY', url: '{}'}}}}\ncustomers:\n  - id: shop\n    hosts: [shop.example]\n    alerting:\n      routes: [{{to: [pd], severities: [page]}}]\n",
        pd.url()
    );
    let config = format!("delivery: {{initial_backoff: 100ms, max_backoff: 2s, max_attempts: 8{delivery}}}\n{extra}");
    Running::start_on(store, name, &catalog, &config, &[("PD_KEY", PD_KEY)]).await
}

/// The probe alert: firing, or resolved at 09:00.
fn notification(status: &str) -> String {
    if status == "firing" { PROBE.firing() } else { PROBE.resolved("2026-11-21T09:00:00Z") }
}

on_both_stores! {
    async fn firing_then_resolved_is_one_trigger_then_one_resolve(store) {
        let pd = PagerDutyFake::start().await;
        let r = start(store, "delivery-lifecycle", &pd).await;
        r.post_ok(&notification("firing")).await;
        r.post_ok(&notification("resolved")).await;
        eventually("the alert resolved", 10, || pd.alerts().first().is_some_and(|a| a.status == AlertStatus::Resolved))
            .await;
        let alerts = pd.alerts();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].events, ["trigger", "resolve"]);
        assert_eq!(alerts[0].summary, "shop: probe home fails from 66.67% of its addresses", "the id is the name here");
        assert!(alerts[0].dedup_key.starts_with("edgewatch-"));
    }
}

on_both_stores! {
    async fn pagerduty_links_back_to_the_configured_alertmanager(store) {
        let pd = PagerDutyFake::start().await;
        let r = start_with(store, "delivery-client-url", &pd, "", "alertmanager_url: https://alertmanager.example.net\n").await;
        r.post_ok(&notification("firing")).await;
        eventually("the alert", 10, || pd.alerts().len() == 1).await;
        // The notification's `externalURL` is `http://alertmanager:9093`, a name
        // people's browsers cannot reach.
        assert_eq!(pd.bodies()[0]["client_url"], "https://alertmanager.example.net");
    }
}

on_both_stores! {
    async fn a_429_storm_is_ridden_out_honouring_retry_after(store) {
        let pd = PagerDutyFake::start().await;
        pd.inject(3, Fault { status: 429, retry_after: Some(1) });
        let r = start(store, "delivery-429", &pd).await;
        let started = Instant::now();
        r.post_ok(&notification("firing")).await;
        eventually("the alert", 20, || pd.alerts().len() == 1).await;
        // Three refusals, each waited out for its full second (not the 100ms backoff).
        assert!(started.elapsed() >= Duration::from_secs(3), "{:?}", started.elapsed());
        let statuses: Vec<u16> = pd.received().iter().map(|x| x.status).collect();
        assert_eq!(statuses, [429, 429, 429, 202]);
        assert_eq!(pd.alerts()[0].triggers(), 1);
    }
}

on_both_stores! {
    async fn a_400_is_a_dead_letter_until_replayed_and_holds_back_what_follows(store) {
        let pd = PagerDutyFake::start().await;
        pd.inject(1, Fault { status: 400, retry_after: None });
        let r = start(store, "delivery-dead", &pd).await;
        r.post_ok(&notification("firing")).await;
        let store = r.dead_letters();
        eventually("a dead letter", 10, || store.list().unwrap().len() == 1).await;
        let dead = &store.list().unwrap()[0];
        assert_eq!(dead.destination, "pd");
        assert!(dead.reason.contains("HTTP 400"), "{}", dead.reason);
        // The resolve waits behind the dead open: nothing reaches PagerDuty.
        r.post_ok(&notification("resolved")).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(pd.alerts().is_empty());
        assert!(r.metrics().await.contains("edgewatch_receiver_outbox_pending 1\n"));

        // Fixed (the fault is spent): replay; the open, then the resolve, arrive.
        assert_eq!(store.replay(None).unwrap(), 1);
        eventually("the alert resolved", 10, || pd.alerts().first().is_some_and(|a| a.status == AlertStatus::Resolved))
            .await;
        assert_eq!(pd.alerts()[0].events, ["trigger", "resolve"]);
        assert!(store.list().unwrap().is_empty());
    }
}

on_both_stores! {
    /// Alerts that join an incident while its page is on its way are one
    /// update after it, not one each: the update waiting takes the news of
    /// the next.
    async fn alerts_joining_while_the_page_is_sent_are_one_update(store) {
        let pd = PagerDutyFake::start().await;
        pd.delay_next(1, Duration::from_secs(2));
        let r = start(store, "delivery-joins", &pd).await;
        r.post_ok(&notification("firing")).await;
        // The open is taken at once, and PagerDuty answers it 2 s late.
        tokio::time::sleep(Duration::from_millis(500)).await;
        for fingerprint in ["p000000000000031", "p000000000000032", "p000000000000033", "p000000000000034"] {
            r.post_ok(&PROBE.with_fingerprint(fingerprint).firing()).await;
        }
        eventually("the open and the update", 15, || pd.alerts().first().is_some_and(|a| a.events.len() >= 2)).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(pd.alerts()[0].events, ["trigger", "trigger"], "the open, then one update for four alerts");
        let last = pd.bodies().last().cloned().unwrap();
        assert_eq!(last["payload"]["custom_details"]["num_firing"], 5, "{last}");
    }
}

/// A receiver routing `shop`'s pages to PagerDuty on `pd`, whose updates
/// wait `hold` for more news (`delivery.update_hold`), once the probe's
/// page has gone out.
async fn paged_holding(store: Backend, name: &str, pd: &PagerDutyFake, hold: &str) -> Running {
    let r = start_with(store, name, pd, &format!(", update_hold: {hold}"), "").await;
    r.post_ok(&notification("firing")).await;
    eventually("the page", 10, || pd.alerts().first().is_some_and(|a| a.events.len() == 1)).await;
    r
}

on_both_stores! {
    /// With `update_hold`, alerts that join an incident one notification
    /// at a time, after its page went out, are one update when the hold
    /// ends, not one each.
    async fn updates_on_hold_take_the_news_of_those_after_them(store) {
        let pd = PagerDutyFake::start().await;
        let r = paged_holding(store, "delivery-hold", &pd, "2s").await;
        let posted = Instant::now();
        for fingerprint in ["p000000000000041", "p000000000000042", "p000000000000043", "p000000000000044"] {
            r.post_ok(&PROBE.with_fingerprint(fingerprint).firing()).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(pd.alerts()[0].events, ["trigger"], "the update waits out its hold");
        eventually("the update", 10, || pd.alerts()[0].events.len() >= 2).await;
        assert!(posted.elapsed() >= Duration::from_millis(1_500), "{:?}", posted.elapsed());
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(pd.alerts()[0].events, ["trigger", "trigger"], "one update for four alerts");
        let last = pd.bodies().last().cloned().unwrap();
        assert_eq!(last["payload"]["custom_details"]["num_firing"], 5, "{last}");
    }
}

on_both_stores! {
    /// The resolve of an incident whose update is on hold does not wait
    /// out the hold: the update goes at once, then the resolve.
    async fn a_resolve_sends_the_update_on_hold_first(store) {
        let pd = PagerDutyFake::start().await;
        let r = paged_holding(store, "delivery-hold-resolve", &pd, "1m").await;
        let joined = PROBE.with_fingerprint("p000000000000051");
        r.post_ok(&joined.firing()).await;
        r.post_ok(&PROBE.resolved("2026-11-21T09:00:00Z")).await;
        r.post_ok(&joined.resolved("2026-11-21T09:00:00Z")).await;
        eventually("the resolve", 10, || pd.alerts()[0].status == AlertStatus::Resolved).await;
        assert_eq!(pd.alerts()[0].events, ["trigger", "trigger", "resolve"]);
    }
}

/// A receiver routing `shop` to a Jira Cloud destination on `jira`.
async fn start_jira(store: Backend, name: &str, jira: &FakeJira) -> Running {
    let catalog = format!(
        "destinations:\n  jira:\n    jira: {{deployment: cloud, url: '{}', project: NOC, issue_type: Incident, auth: {{basic: {{user: bot@example.com, token: 'env:JIRA_TOKEN'}}}}}}\ncustomers:\n  - id: shop\n    hosts: [shop.example]\n    alerting: {{routes: [{{to: [jira]}}]}}\n",
        jira.url()
    );
    Running::start_on(store, name, &catalog, "", &[("JIRA_TOKEN", "jira-token")]).await
}

on_both_stores! {
    async fn the_same_notification_posted_three_times_at_once_is_one_jira_issue(store) {
        let jira = FakeJira::cloud().basic("bot@example.com", "jira-token").start().await;
        let r = start_jira(store, "delivery-jira-triple", &jira).await;
        let body = notification("firing");
        tokio::join!(r.post_ok(&body), r.post_ok(&body), r.post_ok(&body));
        eventually("the issue", 10, || jira.issues().len() == 1).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(jira.issues().len(), 1);
        assert_eq!(jira.calls().iter().filter(|c| c.as_str() == "POST /rest/api/3/issue").count(), 1);
    }
}

on_both_stores! {
    async fn the_resolve_comment_gives_the_time_the_alerts_ended_not_when_the_news_came(store) {
        let jira = FakeJira::cloud().basic("bot@example.com", "jira-token").start().await;
        let r = start_jira(store, "delivery-jira-ended", &jira).await;
        r.post_ok(&notification("firing")).await;
        eventually("the issue", 10, || jira.issues().len() == 1).await;
        // Alertmanager tells of the end 210 s after it (group_interval, retries).
        let now = testing::now_ms();
        let ended = testing::rfc3339(now - 210_000);
        r.post_ok(&PROBE.resolved(&ended)).await;
        eventually("the issue done", 10, || jira.issues()[0].status == "Done").await;
        let comments = &jira.issues()[0].comments;
        let text = adf::plain(comments.last().unwrap());
        assert!(text.starts_with(&format!("Resolved: every alert ended ({ended}).")), "{text}");
    }
}

on_both_stores! {
    /// A destination that answers slowly fills its own deliveries, never
    /// another's: with PagerDuty taking 4 s an event and two deliveries at
    /// once per destination, six customers' audit lines are all written
    /// within 3 s (sharing the two would take 12 s), and every page still
    /// arrives, once, afterwards.
    async fn a_slow_destination_never_delays_another(store) {
        let pd = PagerDutyFake::start().await;
        pd.delay_next(100, Duration::from_secs(4));
        let mut catalog = format!(
            "destinations:\n  pd: {{pagerduty: {{routing_key: 'env:PD_KEY', url: '{}'}}}}\n  audit: {{log: {{path: '{{dir}}/audit.jsonl'}}}}\ncustomers:\n",
            pd.url()
        );
        for i in 0..6 {
            let routes = "alerting:\n      routes: [{to: [pd, audit]}]";
            catalog.extend([format!("  - id: c{i}\n    hosts: [c{i}.example]\n    {routes}\n")]);
        }
        let config = "delivery: {concurrency: 2, timeout: 10s}\n";
        let r = Running::start_on(store, "delivery-slow-destination", &catalog, config, &[("PD_KEY", PD_KEY)]).await;
        let fingerprints =
            ["c000000000000000", "c000000000000001", "c000000000000002", "c000000000000003", "c000000000000004", "c000000000000005"];
        let started = Instant::now();
        for (i, fingerprint) in fingerprints.into_iter().enumerate() {
            let firing = PROBE.with_fingerprint(fingerprint).firing();
            r.post_ok(&firing.replace(r#""customer":"shop""#, &format!(r#""customer":"c{i}""#))).await;
        }
        let lines = r.lines(6, 3).await;
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        let mut customers: Vec<_> =
            lines.iter().map(|l| l["incident"]["customer"].as_str().unwrap().to_owned()).collect();
        customers.sort();
        assert_eq!(customers, ["c0", "c1", "c2", "c3", "c4", "c5"]);
        eventually("every page", 20, || pd.alerts().len() == 6).await;
        assert!(pd.alerts().iter().all(|a| a.events == ["trigger"]), "{:?}", pd.alerts());
    }
}
