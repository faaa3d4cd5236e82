//! One incident per customer problem, through the receiver's webhook to the
//! Jira and PagerDuty contract fakes: a customer's burn-rate page, origin
//! errors ticket and probe-down page, in separate notifications, are one
//! Jira issue and one PagerDuty alert; PagerDuty follows the pages and Jira
//! everything, its priority following the severity; a certificate alert of
//! the same customer is an incident of its own.

use std::time::Duration;

use crate::fakes::jira::{self, FakeJira, adf};
use crate::fakes::pagerduty::{AlertStatus, PagerDutyFake};
use crate::support::{self, Alert, BURN, Backend, CERTIFICATE, ORIGIN, PD_KEY, PROBE, Running, on_both_stores};
use serde_json::Value;

const USER: &str = "bot@example.com";
const JIRA_TOKEN: &str = "jira-token";

/// A receiver for `shop`: pages to PagerDuty, pages and tickets to Jira.
async fn start(store: Backend, name: &str, jira: &FakeJira, pd: &PagerDutyFake) -> Running {
    let catalog = format!(
        "destinations:
  pd: {{pagerduty: {{routing_key: 'env:PD_KEY', url: '{}'}}}}
  jira:
    jira:
      deployment: cloud
      url: '{}'
      project: NOC
      issue_type: Incident
      priorities: {{page: Highest, ticket: Medium}}
      auth: {{basic: {{user: {USER}, token: 'env:JIRA_TOKEN'}}}}
customers:
  - id: shop
    name: Shop & Co
    hosts: [shop.example]
    alerting:
      routes: [{{to: [pd], severities: [page]}}, {{to: [jira], severities: [page, ticket]}}]
",
        pd.url(),
        jira.url()
    );
    let config = "delivery: {initial_backoff: 100ms, max_backoff: 1s}\n";
    Running::start_on(store, name, &catalog, config, &[("PD_KEY", PD_KEY), ("JIRA_TOKEN", JIRA_TOKEN)]).await
}

/// A notification of one alert, firing or (with `ends`) resolved.
fn notification(a: &Alert, ends: Option<&str>) -> String {
    a.notification("2026-11-21T08:00:00Z", ends)
}

/// Waits until `check` holds, up to 20 s.
async fn eventually(what: &str, check: impl FnMut() -> bool) {
    support::eventually(what, 20, check).await;
}

fn comments(issue: &jira::Issue) -> Vec<String> {
    issue.comments.iter().map(adf::plain).collect()
}

fn pd_summary(body: &Value) -> &str {
    body["payload"]["summary"].as_str().unwrap_or_default()
}

on_both_stores! {
    async fn one_customer_problem_is_one_issue_and_one_page_and_a_certificate_is_another_incident(store) {
        let jira = FakeJira::cloud().basic(USER, JIRA_TOKEN).start().await;
        let pd = PagerDutyFake::start().await;
        let r = start(store, "incidents-one-problem", &jira, &pd).await;

        // The outage: a page, then a ticket, then another page, as Alertmanager
        // groups them (each alert name on its own).
        r.post_ok(&notification(&BURN, None)).await;
        eventually("the issue and the page", || jira.issues().len() == 1 && pd.alerts().len() == 1).await;
        r.post_ok(&notification(&ORIGIN, None)).await;
        eventually("the origin errors comment", || jira.issues()[0].comments.len() == 1).await;
        r.post_ok(&notification(&PROBE, None)).await;
        eventually("the probe comment", || jira.issues()[0].comments.len() == 2).await;

        let issue = &jira.issues()[0];
        assert_eq!(issue.fields["summary"], "Shop & Co: availability SLO error budget burning fast");
        let said = comments(issue);
        assert!(
            said[0].starts_with("Updated: 2 of 2 alert(s) firing, severity page.\nJoined: EdgewatchOriginErrors (ticket): 7% of origin requests fail"),
            "{said:?}"
        );
        assert!(
            said[1].starts_with("Updated: 3 of 3 alert(s) firing, severity page.\nJoined: EdgewatchProbeDown (page): probe home fails from 66.67% of its addresses"),
            "{said:?}"
        );
        // PagerDuty: one alert, told of each change, led by the first page.
        eventually("three triggers", || pd.alerts()[0].triggers() == 3).await;
        let alert = &pd.alerts()[0];
        assert_eq!(alert.summary, "Shop & Co: availability SLO error budget burning fast");
        assert_eq!(alert.dedup_key, issue.labels.iter().find(|l| l.starts_with("edgewatch-")).unwrap().as_str());

        // The certificate: an incident of its own, a ticket, so Jira only.
        r.post_ok(&notification(&CERTIFICATE, None)).await;
        eventually("the certificate issue", || jira.issues().len() == 2).await;
        let cert = &jira.issues()[1];
        assert_eq!(cert.fields["summary"], "Shop & Co: the certificate of shop.example expires in 6 days");
        assert_ne!(cert.labels, issue.labels);

        // The pages end, one after the other; the ticket fires on: PagerDuty's
        // alert resolves, the Jira issue stays open and hears it.
        r.post_ok(&notification(&BURN, Some("2026-11-21T09:00:00Z"))).await;
        r.post_ok(&notification(&PROBE, Some("2026-11-21T09:05:00Z"))).await;
        eventually("the page resolved", || pd.alerts()[0].status == AlertStatus::Resolved).await;
        eventually("two more comments", || jira.issues()[0].comments.len() == 4).await;
        let said = comments(&jira.issues()[0]);
        assert!(
            said[2].starts_with("Updated: 2 of 3 alert(s) firing, severity page.\nEnded: EdgewatchErrorBudgetBurnFast"),
            "{said:?}"
        );
        assert!(
            said[3].starts_with("Updated: 1 of 3 alert(s) firing, severity lowered to ticket.\nEnded: EdgewatchProbeDown"),
            "{said:?}"
        );
        assert_eq!(jira.issues()[0].status, "To Do");

        // The last one ends: the issue is done, saying when.
        r.post_ok(&notification(&ORIGIN, Some("2026-11-21T09:20:00Z"))).await;
        eventually("the issue done", || jira.issues()[0].status == "Done").await;
        let said = comments(&jira.issues()[0]);
        assert!(
            said[4].starts_with("Resolved: every alert ended (2026-11-21T09:20:00Z).\nEnded: EdgewatchOriginErrors"),
            "{said:?}"
        );

        // In all: two issues, one PagerDuty alert, opened and resolved once.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(jira.issues().len(), 2);
        assert_eq!(jira.calls().iter().filter(|c| *c == "POST /rest/api/3/issue").count(), 2);
        assert_eq!(pd.alerts().len(), 1);
        // Opened, told of the ticket, of the second page and of the first
        // page's end, then resolved with the last page.
        assert_eq!(pd.alerts()[0].events, ["trigger", "trigger", "trigger", "trigger", "resolve"]);
        // Each trigger is led by a firing page: the probe's once the burn ended.
        let bodies = pd.bodies();
        let summaries: Vec<&str> = bodies.iter().filter(|b| b["event_action"] == "trigger").map(pd_summary).collect();
        let burn = "Shop & Co: availability SLO error budget burning fast";
        assert_eq!(summaries, [burn, burn, burn, "Shop & Co: probe home fails from 66.67% of its addresses"]);
        assert_eq!(jira.issues()[1].status, "To Do", "the certificate is still to do");
    }
}

on_both_stores! {
    async fn pagerduty_follows_the_pages_and_jiras_priority_follows_the_severity(store) {
        let jira = FakeJira::cloud().basic(USER, JIRA_TOKEN).start().await;
        let pd = PagerDutyFake::start().await;
        let r = start(store, "incidents-severity", &jira, &pd).await;
        let priorities = || jira.issues().first().map(|i| i.priorities.clone()).unwrap_or_default();

        // A ticket: Jira only, at the ticket's priority.
        r.post_ok(&notification(&ORIGIN, None)).await;
        eventually("the issue", || jira.issues().len() == 1).await;
        assert_eq!(priorities(), ["Medium"]);

        // A page joins: PagerDuty opens, Jira's priority rises, and the comment
        // says so and names the page.
        r.post_ok(&notification(&BURN, None)).await;
        eventually("the page", || pd.alerts().len() == 1).await;
        eventually("the comment", || jira.issues()[0].comments.len() == 1).await;
        assert_eq!(priorities(), ["Medium", "Highest"]);
        let said = comments(&jira.issues()[0]);
        assert!(
            said[0].starts_with(
                "Updated: 2 of 2 alert(s) firing, severity raised to page.\n\
                 Joined: EdgewatchErrorBudgetBurnFast (page): availability SLO error budget burning fast"
            ),
            "{said:?}"
        );
        let dedup = pd.alerts()[0].dedup_key.clone();
        assert_eq!(pd.received().len(), 1, "PagerDuty heard nothing of the ticket before the page");

        // The page ends, the ticket fires on: PagerDuty resolves, Jira's
        // priority falls back.
        r.post_ok(&notification(&BURN, Some("2026-11-21T09:00:00Z"))).await;
        eventually("the page resolved", || pd.alerts()[0].status == AlertStatus::Resolved).await;
        eventually("the second comment", || jira.issues()[0].comments.len() == 2).await;
        assert_eq!(priorities(), ["Medium", "Highest", "Medium"]);
        assert!(comments(&jira.issues()[0])[1].starts_with("Updated: 1 of 2 alert(s) firing, severity lowered to ticket."));
        assert_eq!(jira.issues()[0].status, "To Do");

        // Everything ends: Jira resolves; PagerDuty has nothing more to hear.
        r.post_ok(&notification(&ORIGIN, Some("2026-11-21T09:10:00Z"))).await;
        eventually("the issue done", || jira.issues()[0].status == "Done").await;
        assert_eq!(pd.alerts()[0].events, ["trigger", "resolve"]);

        // The page fires again within the reopen window: the same issue and the
        // same PagerDuty key, both reopened, and the priority up again.
        r.post_ok(&BURN.notification("2026-11-21T09:30:00Z", None)).await;
        eventually("the issue reopened", || jira.issues()[0].status == "To Do").await;
        eventually("a new alert under the key", || pd.alerts_for(&dedup).len() == 2).await;
        assert_eq!(pd.alerts_for(&dedup)[1].status, AlertStatus::Triggered);
        assert_eq!(jira.issues()[0].history, ["Done", "Reopen"]);
        eventually("the priority up", || priorities().len() == 4).await;
        assert_eq!(priorities(), ["Medium", "Highest", "Medium", "Highest"]);
        assert_eq!(jira.issues().len(), 1);
    }
}

on_both_stores! {
    /// The incident history reads what the receiver recorded, read only,
    /// while it runs: times, severity, alerts, the Jira issue key and the
    /// PagerDuty `dedup_key`, when it was ticketed; a period it does not
    /// overlap has none. A missing store and one of a newer receiver are
    /// clear errors.
    async fn the_history_lists_the_incidents_with_their_tickets_while_the_receiver_runs(store) {
        use edgewatch_webhook_receiver::{Config, History, StoreError};

        let jira = FakeJira::cloud().basic(USER, JIRA_TOKEN).start().await;
        let pd = PagerDutyFake::start().await;
        let r = start(store, "incidents-history", &jira, &pd).await;
        r.post_ok(&notification(&BURN, None)).await;
        r.post_ok(&notification(&ORIGIN, None)).await;
        eventually("the issue and the page", || jira.issues().len() == 1 && pd.alerts().len() == 1).await;
        r.post_ok(&notification(&BURN, Some("2026-11-21T08:30:00Z"))).await;
        r.post_ok(&notification(&ORIGIN, Some("2026-11-21T08:45:00Z"))).await;
        eventually("the page resolved", || pd.alerts()[0].status == AlertStatus::Resolved).await;

        let ms = |t: &str| edgewatch_webhook_receiver::testing::parse_rfc3339(t).unwrap();
        let history = History::connect(&r.config, &|_| None).unwrap();
        let all = history.incidents(Some("shop"), ms("2026-11-21T00:00:00Z"), ms("2026-11-22T00:00:00Z")).unwrap();
        assert_eq!(all.len(), 1, "{all:#?}");
        let i = &all[0];
        assert_eq!(i.customer.as_deref(), Some("shop"));
        assert_eq!(i.alertname, "EdgewatchErrorBudgetBurnFast");
        assert_eq!(i.severity.map(edgewatch_catalog::names::Severity::as_str), Some("page"));
        assert_eq!(i.slo.as_deref(), Some("availability"));
        assert_eq!(i.started_at, ms("2026-11-21T08:00:00Z"));
        assert_eq!(i.resolved_at, Some(ms("2026-11-21T08:45:00Z")));
        let mut names: Vec<_> = i.alerts.iter().map(|a| (a.name.as_str(), a.ended_at)).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                ("EdgewatchErrorBudgetBurnFast", Some(ms("2026-11-21T08:30:00Z"))),
                ("EdgewatchOriginErrors", Some(ms("2026-11-21T08:45:00Z")))
            ]
        );
        let refs: Vec<_> = i.externals.iter().map(|e| (e.destination.as_str(), e.reference.clone())).collect();
        assert_eq!(refs, [("jira", jira.issues()[0].key.clone()), ("pd", pd.alerts()[0].dedup_key.clone())]);
        assert!(i.ticketed_at.is_some());
        assert_eq!(i.reopened, 0);
        assert_eq!(history.incident(i.id).unwrap().as_ref(), Some(i));
        assert!(history.incident(999).unwrap().is_none());

        // Another customer, a period before: none.
        assert!(history.incidents(Some("other"), 0, i64::MAX).unwrap().is_empty());
        assert!(history.incidents(None, 0, ms("2026-11-21T08:00:00Z")).unwrap().is_empty());
        assert_eq!(history.incidents(None, 0, i64::MAX).unwrap().len(), 1);

        // No store here; a store from a newer receiver: clear errors.
        if let Backend::Postgres(server) = &r.store {
            let template = server.url().replace("/postgres", "/template1");
            let elsewhere = Config { store: Some(template), ..r.config.clone() };
            let e = History::connect(&elsewhere, &|_| None).unwrap_err();
            assert!(e.to_string().contains("holds no receiver store"), "{e}");
            let url = server.url();
            std::thread::spawn(move || {
                let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                client.execute("UPDATE edgewatch_schema SET version = 99", &[]).unwrap();
            })
            .join()
            .unwrap();
            let e = History::connect(&r.config, &|_| None).unwrap_err();
            assert!(matches!(e, StoreError::Newer { found: 99, .. }), "{e}");
        } else {
            assert!(matches!(History::open(&r.dir.join("nowhere")), Err(StoreError::Io { .. })));
            let newer = r.dir.join("newer");
            std::fs::create_dir_all(&newer).unwrap();
            std::fs::copy(r.dir.join("data/receiver.db"), newer.join("receiver.db")).unwrap();
            let _ = std::fs::copy(r.dir.join("data/receiver.db-wal"), newer.join("receiver.db-wal"));
            let conn = rusqlite::Connection::open(newer.join("receiver.db")).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
            let e = History::open(&newer).unwrap_err();
            assert!(matches!(e, StoreError::Newer { found: 99, .. }), "{e}");
            assert!(e.to_string().contains("newer edgewatch"), "{e}");
            let dead_letters = edgewatch_webhook_receiver::DeadLetters::open(&newer);
            assert!(matches!(dead_letters, Err(StoreError::Newer { .. })));
        }
    }
}

/// An analyst's remediation note, through the authenticated endpoint and
/// through the store handle `edgewatch incidents note` uses: each becomes
/// one comment on the Jira issue (who, when, what), PagerDuty gets no
/// event for it, and the store's history shows the notes in order (each
/// was committed before it was answered). Bad notes are refused with what
/// is wrong, and nothing of them is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remediation_notes_reach_the_ticket_once_and_stay_with_the_incident() {
    use edgewatch_webhook_receiver::{History, NOTES_PATH, NewNote, NoteKind, Notes, StoreError};

    const TOKEN: &str = "notes-token";
    let jira = FakeJira::cloud().basic(USER, JIRA_TOKEN).start().await;
    let pd = PagerDutyFake::start().await;
    let dir = edgewatch_test_kit::scratch_dir("incidents-notes");
    let catalog = |jira: &FakeJira, pd: &PagerDutyFake| {
        format!(
            "destinations:
  pd: {{pagerduty: {{routing_key: 'env:PD_KEY', url: '{}'}}}}
  jira: {{jira: {{deployment: cloud, url: '{}', project: NOC, issue_type: Incident, auth: {{basic: {{user: {USER}, token: 'env:JIRA_TOKEN'}}}}}}}}
customers:
  - id: shop
    hosts: [shop.example]
    alerting:
      routes: [{{to: [pd], severities: [page]}}, {{to: [jira], severities: [page, ticket]}}]
",
            pd.url(),
            jira.url()
        )
    };
    let config = "auth: {bearer_token: 'env:RECEIVER_TOKEN'}\ndelivery: {initial_backoff: 100ms, max_backoff: 1s}\n";
    let env = [("PD_KEY", PD_KEY), ("JIRA_TOKEN", JIRA_TOKEN), ("RECEIVER_TOKEN", TOKEN)];
    let r = Running::start_in(dir.clone(), &catalog(&jira, &pd), config, &env).await;
    let (status, answer) = r.post(&notification(&BURN, None), Some(TOKEN)).await;
    assert_eq!(status, 200, "{answer}");
    eventually("the issue and the page", || jira.issues().len() == 1 && pd.alerts().len() == 1).await;
    let events_before = pd.received().len();
    let data = dir.join("data");
    let id = History::open(&data).unwrap().incidents(Some("shop"), 0, i64::MAX).unwrap()[0].id;

    let notes_url = |id: &str| format!("{}{}", r.url, NOTES_PATH.replace("{id}", id));
    let post = |url: String, body: &'static str, token: Option<&'static str>| {
        let client = r.client.clone();
        async move {
            let mut request = client.post(url).header("content-type", "application/json").body(body);
            if let Some(t) = token {
                request = request.bearer_auth(t);
            }
            let answer = request.send().await.unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    };
    let body = r#"{"kind":"remediation","author":"alice","text":"Origin pool drained; traffic moved to fra2."}"#;
    let (status, answer) = post(notes_url(&id.to_string()), body, Some(TOKEN)).await;
    assert_eq!(status, 201, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!((answer["note"]["author"].as_str(), answer["actions"].as_u64()), (Some("alice"), Some(2)));

    // Refused, and nothing recorded: no token, a wrong one, no such
    // incident, no text, not JSON.
    for (url, body, token, expected) in [
        (notes_url(&id.to_string()), body, None, 401),
        (notes_url(&id.to_string()), body, Some("wrong"), 401),
        (notes_url("999"), body, Some(TOKEN), 404),
        (notes_url("x"), body, Some(TOKEN), 404),
        (notes_url(&id.to_string()), r#"{"author":"alice","text":"  "}"#, Some(TOKEN), 422),
        (notes_url(&id.to_string()), r#"{"author":"alice","txt":"typo"}"#, Some(TOKEN), 400),
        (notes_url(&id.to_string()), "remediated", Some(TOKEN), 400),
    ] {
        let (status, answer) = post(url.clone(), body, token).await;
        assert_eq!(status, expected, "{url} {body}: {answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["status"], "error", "{answer}");
    }

    // The CLI's way: the store handle, beside the running receiver.
    let notes = Notes::open(&data).unwrap();
    let note = NewNote::new(NoteKind::Comment, "bob", "Customer informed by phone.").unwrap();
    let (recorded, destinations) = notes.add(id, &note).unwrap();
    assert_eq!((recorded.author.as_str(), destinations), ("bob", 2));
    assert!(matches!(notes.add(999, &note), Err(StoreError::NoIncident(999))));
    assert!(NewNote::new(NoteKind::Remediation, " ", "x").is_err());

    eventually("both notes on the issue", || {
        comments(&jira.issues()[0]).iter().filter(|c| c.contains("recorded by")).count() == 2
    })
    .await;
    let on_issue: Vec<_> = comments(&jira.issues()[0]).into_iter().filter(|c| c.contains("recorded by")).collect();
    assert!(on_issue[0].starts_with("Remediation recorded by alice at 20"), "{on_issue:?}");
    assert!(on_issue[0].ends_with("Origin pool drained; traffic moved to fra2."), "{on_issue:?}");
    assert!(on_issue[1].starts_with("Note recorded by bob at "), "{on_issue:?}");
    // The page is not sent again for a note.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(pd.received().len(), events_before);

    // The store holds the two notes, in order, and none of the refused.
    let shown = History::open(&data).unwrap().incident(id).unwrap().unwrap();
    let kept: Vec<_> = shown.notes.iter().map(|n| (n.kind, n.author.as_str())).collect();
    assert_eq!(kept, [(NoteKind::Remediation, "alice"), (NoteKind::Comment, "bob")]);
    assert!(shown.notes[0].created_at >= shown.started_at);
    assert!(History::open(&data).unwrap().incident(999).unwrap().is_none());
}
