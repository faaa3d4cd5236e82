//! The Statuspage destination against the Statuspage contract fake: the
//! delivery contract through the whole receiver; a customer's incident
//! opened, updated and resolved on the page in the customer's words, with
//! no internal name; Statuspage's 420 waited out; and the fake against
//! Statuspage's contract. (A lost answer making no second page incident is
//! the contract's `timeouts` case.)

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::contract::{self, Failure};
use crate::fakes::statuspage::{Fault, StatuspageFake};
use crate::support::{BURN, ORIGIN, Running, eventually, on_both_stores};

const PAGE: &str = "kctbh9vrtdwd";
const KEY: &str = "statuspage-api-key-0123456789";

impl contract::Service for StatuspageFake {
    fn destination(&self) -> String {
        format!("{{statuspage: {{page_id: {PAGE}, api_key: 'env:SP_KEY', url: '{}'}}}}", self.url())
    }

    fn env(&self) -> Vec<(&'static str, &'static str)> {
        vec![("SP_KEY", KEY)]
    }

    fn secret(&self) -> &'static str {
        KEY
    }

    fn fail_next(&self, n: usize, failure: Failure) {
        match failure {
            Failure::RateLimited(secs) => self.inject(n, Fault::Status { status: 429, retry_after: Some(secs) }),
            Failure::Unavailable(secs) => self.inject(n, Fault::Status { status: 503, retry_after: Some(secs) }),
            Failure::Late(by) => self.inject(n, Fault::Late(by)),
        }
    }

    fn refuse_until_fixed(&self, message: &str) {
        StatuspageFake::refuse_until_fixed(self, message);
    }

    fn fix(&self) {
        StatuspageFake::fix(self);
    }

    fn answers(&self) -> Vec<(Instant, u16)> {
        self.received().iter().map(|r| (r.at, r.status)).collect()
    }

    fn incidents(&self) -> Vec<bool> {
        StatuspageFake::incidents(self).iter().map(|i| i["status"] != "resolved").collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_the_delivery_contract() {
    contract::check("contract-statuspage", &StatuspageFake::start(PAGE, KEY).await).await;
}

fn catalog(fake: &StatuspageFake) -> String {
    format!(
        "destinations:
  status: {{statuspage: {{page_id: {PAGE}, api_key: 'env:SP_KEY', url: '{}', impacts: {{ticket: minor}}}}}}
customers:
  - id: shop
    name: Shop & Co
    hosts: [www.shop.example, '*.api.shop.example']
    statuspage_components: [cmp0001, cmp0002]
    slos: {{availability: {{objective: 99.9}}}}
    alerting: {{routes: [{{to: [status]}}]}}
",
        fake.url()
    )
}

fn updates(incident: &Value) -> Vec<String> {
    incident["incident_updates"].as_array().unwrap().iter().map(|u| u["body"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_tells_customers_what_is_affected_in_their_words() {
    let fake = StatuspageFake::start(PAGE, KEY).await;
    let r = Running::start("statuspage-words", &catalog(&fake), "", &[("SP_KEY", KEY)]).await;
    r.post_ok(&BURN.firing()).await;
    eventually("a page incident", 10, || fake.incidents().len() == 1).await;
    let incident = &fake.incidents()[0];
    assert_eq!(incident["name"], "Shop & Co: investigating errors on some requests");
    assert_eq!(incident["status"], "investigating");
    assert_eq!(incident["impact"], "major", "a page is a major impact by default");
    assert_eq!(incident["components"], json!({"cmp0001": "major_outage", "cmp0002": "major_outage"}));
    let body = &updates(incident)[0];
    assert_eq!(
        body,
        "Since 2026-11-21 08:00 UTC, Shop & Co is seeing errors on some requests, affecting www.shop.example, *.api.shop.example. Everything else is working normally. Our network operations center is working on it; the next update comes within 30 minutes."
    );

    // The origin joins: an update; then both end: resolved, operational.
    r.post_ok(&ORIGIN.firing()).await;
    eventually("an update", 10, || updates(&fake.incidents()[0]).len() == 2).await;
    assert!(updates(&fake.incidents()[0])[1].contains("errors from its origin servers"), "{:?}", fake.incidents());
    r.post_ok(&BURN.resolved("2026-11-21T08:25:00Z")).await;
    r.post_ok(&ORIGIN.resolved("2026-11-21T08:25:00Z")).await;
    eventually("resolved", 10, || fake.incidents()[0]["status"] == "resolved").await;
    let incident = &fake.incidents()[0];
    assert_eq!(incident["components"], json!({"cmp0001": "operational", "cmp0002": "operational"}));
    let last = updates(incident).pop().unwrap();
    assert!(
        last.starts_with("This incident is resolved. From 2026-11-21 08:00 UTC to 2026-11-21 08:25 UTC (25 minutes)"),
        "{last}"
    );
    assert_eq!(fake.incidents().len(), 1, "one page incident for the incident");

    // Nothing internal reached the page.
    for r in fake.received() {
        let text = r.body.to_string();
        for internal in
            ["Edgewatch", "alertmanager", "prometheus", "runbook", "grafana", "burn", "SLO", "customer=shop"]
        {
            assert!(!text.contains(internal), "`{internal}` sent to the page: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuspages_own_rate_limit_420_is_waited_out() {
    let fake = StatuspageFake::start(PAGE, KEY).await;
    let config = "delivery: {timeout: 1s, initial_backoff: 100ms, max_backoff: 5s}\n";
    let r = Running::start("statuspage-420", &catalog(&fake), config, &[("SP_KEY", KEY)]).await;
    // The look-up answered 420 without Retry-After: at least a second.
    fake.inject(1, Fault::Status { status: 420, retry_after: None });
    r.post_ok(&BURN.firing()).await;
    eventually("a page incident", 10, || fake.incidents().len() == 1).await;
    let got = fake.received();
    assert_eq!(got[0].status, 420);
    assert!(got[1].at - got[0].at >= Duration::from_millis(950), "retried {:?} after a 420", got[1].at - got[0].at);

    // A lost answer (served after the timeout) is the delivery contract's
    // `timeouts` case: the retry finds the page incident by its metadata.
    drop(r);
}

#[tokio::test]
async fn the_fake_refuses_what_statuspage_refuses() {
    let fake = StatuspageFake::start(PAGE, KEY).await;
    let client = edgewatch_test_kit::http_client();
    let url = format!("{}/pages/{PAGE}/incidents", fake.url());
    let post = |key: &'static str, body: Value| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let r = client.post(url).header("Authorization", format!("OAuth {key}")).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(post("wrong", json!({"incident": {"name": "x"}})).await.0, 401);
    let (status, body) =
        post(KEY, json!({"incident": {"name": "x", "status": "broken", "impact_override": "huge"}})).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(post(KEY, json!({"incident": {"status": "investigating"}})).await.0, 422, "no name");
    assert_eq!(post(KEY, json!({"incident": {"name": "x", "components": {"c": "down"}}})).await.0, 422);
    let (status, body) = post(KEY, json!({"incident": {"name": "x", "metadata": {"edgewatch": {"dedup": "d"}}}})).await;
    assert_eq!(status, 201);
    assert_eq!(body["metadata"]["edgewatch"]["dedup"], "d");
    // Four authenticated requests so far this minute.
    fake.limit_per_minute(4);
    let (status, body) = post(KEY, json!({"incident": {"name": "y"}})).await;
    assert_eq!((status, body["error"].as_str()), (420, Some("Rate limited")), "the fifth request in a minute");
}

on_both_stores! {
    /// A route with `approval: required` holds what it would send: the draft
    /// is noted on the incident (here the log; a ticket gets it as a comment),
    /// nothing reaches the page until a person sends it through the receiver's
    /// endpoint, and what is sent is recorded on the incident; a discarded
    /// message is never sent.
    async fn a_route_needing_approval_holds_the_message_until_a_person_sends_it(store) {
        let fake = StatuspageFake::start(PAGE, KEY).await;
        let catalog = catalog(&fake)
            .replace(
                "    alerting: {routes: [{to: [status]}]}\n",
                "    alerting: {routes: [{to: [status], approval: required}, {to: [audit]}]}\n",
            )
            .replace("destinations:\n", "destinations:\n  audit: {log: {path: '{dir}/audit.jsonl'}}\n");
        let env = [("SP_KEY", KEY), ("RECEIVER_TOKEN", "t0ken")];
        let config = "auth: {bearer_token: env:RECEIVER_TOKEN}\n";
        let r = Running::start_on(store, "statuspage-approval", &catalog, config, &env).await;
        let outreach = edgewatch_webhook_receiver::Outreach::connect(&r.config, &|_| None).unwrap();
        assert_eq!(r.post(&BURN.firing(), Some("t0ken")).await.0, 200);

        // The draft, on the incident; nothing on the page.
        let lines = r.lines(2, 10).await;
        let note = lines
            .iter()
            .map(|l| l["message"]["comment"].as_str().unwrap_or_default())
            .find(|c| c.contains("Held for approval"))
            .unwrap_or_else(|| panic!("{lines:?}"));
        assert!(note.contains("the open message to status (the subscribers of status page kctbh9vrtdwd)"), "{note}");
        assert!(note.contains("Shop & Co: investigating errors on some requests"), "{note}");
        assert!(note.contains("edgewatch outreach send 1"), "{note}");
        let held = outreach.held(Some(1)).unwrap();
        assert_eq!(held.len(), 1);
        assert!(
            held[0].drafted && held[0].draft.as_deref().is_some_and(|d| d.contains("Everything else is working normally"))
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(fake.incidents().is_empty(), "sent before approval");

        // Sent through the endpoint (bearer token required).
        let url = format!("{}/api/v1/incidents/1/outreach", r.url);
        let body = json!({"decision": "send", "author": "ada"}).to_string();
        let denied = r.client.post(&url).body(body.clone()).send().await.unwrap();
        assert_eq!(denied.status(), 401);
        let sent = r.client.post(&url).bearer_auth("t0ken").body(body.clone()).send().await.unwrap();
        assert_eq!(sent.status(), 200);
        assert_eq!(sent.json::<Value>().await.unwrap()["messages"], 1);
        eventually("the page incident", 10, || fake.incidents().len() == 1).await;
        let again = r.client.post(&url).bearer_auth("t0ken").body(body).send().await.unwrap();
        assert_eq!(again.status(), 409, "nothing left to send");
        let lines = r.lines(4, 10).await;
        let comments: Vec<&str> = lines.iter().filter_map(|l| l["message"]["comment"].as_str()).collect();
        assert!(comments.iter().any(|c| c.contains("approved by ada")), "{comments:?}");
        assert!(
            comments.iter().any(|c| c.contains("Sent to customers (open of the incident) through status")),
            "{comments:?}"
        );

        // The resolve is held too; discarded, it never reaches the page.
        assert_eq!(r.post(&BURN.resolved("2026-11-21T08:30:00Z"), Some("t0ken")).await.0, 200);
        eventually("the resolve drafted", 10, || outreach.held(Some(1)).unwrap().iter().any(|h| h.drafted)).await;
        assert_eq!(outreach.decide(1, false, "ada").unwrap(), 1);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(fake.incidents()[0]["status"], "investigating", "a discarded resolve is not sent");
        assert!(outreach.held(None).unwrap().is_empty());
    }
}
