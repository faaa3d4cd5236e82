//! The webhook as Alertmanager meets it: authentication, bad input answered
//! with the right 4xx, durable acceptance, duplicates recognized, and
//! incidents delivered in order (to the log destination here).

use std::time::Duration;

use edgewatch_webhook_receiver::{WEBHOOK_PATH, testing};

use crate::support::{Alert, BURN, Backend, Running, eventually, on_both_stores};

const TOKEN: &str = "s3cret-token";

/// `shop`, with a name, a contact and runbooks, routed to a log.
const CATALOG: &str = "
destinations:
  audit: {log: {path: '{dir}/audit.jsonl'}}
customers:
  - id: shop
    name: Shop & Co
    hosts: [shop.example]
    contacts: [{name: Ada, email: ada@shop.example, role: technical}]
    alerting:
      routes: [{to: [audit]}]
    runbooks: {default: 'https://runbooks.example/{{alert_kind}}'}
";

async fn start(name: &str) -> Running {
    start_with(name, "").await
}

/// A receiver with `extra` lines of configuration.
async fn start_with(name: &str, extra: &str) -> Running {
    start_on(Backend::Sqlite, name, extra).await
}

/// A receiver on `store` with `extra` lines of configuration.
async fn start_on(store: Backend, name: &str, extra: &str) -> Running {
    let config = format!(
        "auth: {{bearer_token: 'env:TEST_RECEIVER_TOKEN'}}\nbody_limit: 64KiB\ngrafana_url: https://grafana.example\ndelivery: {{initial_backoff: 100ms, max_backoff: 1s}}\n{extra}"
    );
    Running::start_on(store, name, CATALOG, &config, &[("TEST_RECEIVER_TOKEN", TOKEN)]).await
}

/// The burn-rate page with a description, under `fingerprint`: firing, or
/// resolved at 09:00.
fn notification(status: &str, fingerprint: &'static str) -> String {
    let alert = Alert { description: "2% of requests failed", ..BURN.with_fingerprint(fingerprint) };
    if status == "firing" { alert.firing() } else { alert.resolved("2026-11-21T09:00:00Z") }
}

#[tokio::test]
async fn without_the_token_nothing_is_taken() {
    let r = start("webhook-auth").await;
    let (status, body) = r.post(&notification("firing", "aaaa000000000001"), None).await;
    assert_eq!(status, 401, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "error");
    assert!(body["error"].as_str().unwrap().contains("bearer token"), "{body}");
    let (status, _) = r.post(&notification("firing", "aaaa000000000001"), Some("s3cret-tokem")).await;
    assert_eq!(status, 401);
    let metrics = r.metrics().await;
    assert!(metrics.contains("edgewatch_receiver_notifications_total{result=\"unauthorized\"} 2"), "{metrics}");
    assert!(!metrics.contains(TOKEN));
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx() {
    let r = start("webhook-bad").await;
    let (status, body) = r.post("{\"version\": \"4\",\n \"alerts\": [}", Some(TOKEN)).await;
    assert_eq!(status, 400);
    assert!(body.contains("malformed JSON at line 2, column 13"), "{body}");
    let (status, body) = r.post("{\"version\": \"4\"}", Some(TOKEN)).await;
    assert_eq!(status, 422);
    assert!(body.contains("missing field"), "{body}");
    let (status, body) =
        r.post(&notification("firing", "a1").replace("\"version\":\"4\"", "\"version\":\"3\""), Some(TOKEN)).await;
    assert_eq!(status, 422, "{body}");
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(70 * 1024));
    let (status, body) = r.post(&big, Some(TOKEN)).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("65536 bytes"), "{body}");
}

on_both_stores! {
    async fn firing_then_resolved_opens_then_resolves_once_even_when_posted_three_times(store) {
        let r = start_on(store, "webhook-lifecycle", "").await;
        // Three HA peers post the same notification at once: one is taken.
        let firing = notification("firing", "bbbb000000000002");
        let answers =
            futures_join3(r.post(&firing, Some(TOKEN)), r.post(&firing, Some(TOKEN)), r.post(&firing, Some(TOKEN))).await;
        let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
        assert_eq!(statuses, [200, 200, 200]);
        let accepted = answers.iter().filter(|(_, b)| b.contains("\"accepted\"")).count();
        assert_eq!(accepted, 1, "{answers:?}");
        let lines = r.lines(1, 5).await;
        assert_eq!(lines[0]["action"], "open");
        assert_eq!(lines[0]["incident"]["customer"], "shop");
        let message = &lines[0]["message"];
        assert_eq!(message["title"], "Shop & Co: availability SLO error budget burning fast", "no HTML escaping");
        assert!(message["description"].as_str().unwrap().contains("Ada <ada@shop.example> (technical)"), "{message}");
        let hrefs: Vec<&str> = message["links"].as_array().unwrap().iter().map(|l| l["href"].as_str().unwrap()).collect();
        assert!(hrefs[0].starts_with("https://grafana.example/d/edgewatch-shop?var-slo=availability&from="), "{hrefs:?}");
        assert!(hrefs.contains(&"https://runbooks.example/burn_rate_fast"), "{hrefs:?}");

        let (status, _) = r.post(&notification("resolved", "bbbb000000000002"), Some(TOKEN)).await;
        assert_eq!(status, 200);
        let lines = r.lines(2, 5).await;
        assert_eq!(lines[1]["action"], "resolve");
        assert_eq!(lines[0]["incident"]["dedup"], lines[1]["incident"]["dedup"]);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(r.lines(2, 5).await.len(), 2, "no duplicate action");

        let metrics = r.metrics().await;
        assert!(metrics.contains("edgewatch_receiver_notifications_total{result=\"accepted\"} 2"), "{metrics}");
        assert!(metrics.contains("edgewatch_receiver_notifications_total{result=\"duplicate\"} 2"), "{metrics}");
        assert!(
            metrics.contains("edgewatch_receiver_actions_total{destination=\"audit\",outcome=\"delivered\"} 2"),
            "{metrics}"
        );
        assert!(metrics.contains("edgewatch_receiver_outbox_pending 0"), "{metrics}");
        let ready = r.client.get(format!("{}/-/ready", r.url)).send().await.unwrap();
        assert_eq!(ready.status().as_u16(), 200);
    }
}

#[tokio::test]
async fn the_dashboard_of_a_resolved_incident_ends_an_hour_after_its_alerts_did() {
    let r = start("webhook-dashboard-end").await;
    let (status, _) = r.post(&notification("firing", "abab000000000008"), Some(TOKEN)).await;
    assert_eq!(status, 200);
    // Ended at 2026-11-21T09:00:00Z; the news arrives now, days later.
    let (status, _) = r.post(&notification("resolved", "abab000000000008"), Some(TOKEN)).await;
    assert_eq!(status, 200);
    let lines = r.lines(2, 5).await;
    assert_eq!(lines[1]["action"], "resolve");
    let dashboard = lines[1]["message"]["links"][0]["href"].as_str().unwrap();
    let end = testing::parse_rfc3339("2026-11-21T09:00:00Z").unwrap();
    let start = testing::parse_rfc3339("2026-11-21T08:00:00Z").unwrap();
    assert_eq!(
        dashboard,
        format!(
            "https://grafana.example/d/edgewatch-shop?var-slo=availability&from={}&to={}",
            start - 3_600_000,
            end + 3_600_000
        )
    );
}

async fn futures_join3<F: std::future::Future>(a: F, b: F, c: F) -> [F::Output; 3] {
    let (a, b, c) = tokio::join!(a, b, c);
    [a, b, c]
}

#[tokio::test]
async fn prometheus_down_still_gives_a_ticket_without_live_values() {
    // Nothing listens there: enrichment fails fast, or times out at 300ms.
    let port = edgewatch_test_kit::free_port();
    let r =
        start_with("webhook-prom-down", &format!("prometheus: {{url: 'http://127.0.0.1:{port}', timeout: 300ms}}\n"))
            .await;
    let (status, _) = r.post(&notification("firing", "cccc000000000003"), Some(TOKEN)).await;
    assert_eq!(status, 200);
    let lines = r.lines(1, 5).await;
    assert_eq!(lines[0]["action"], "open");
    assert!(lines[0]["message"]["details"].get("live").is_none(), "{}", lines[0]["message"]);
    assert!(!lines[0]["message"]["description"].as_str().unwrap().contains("Now:"));
}

#[tokio::test]
async fn the_catalog_replaces_a_template_and_strict_mode_refuses_unknown_names() {
    let catalog = "templates:\n  title: '[{{incident.severity}}] {{customer.name}} <{{incident.alertname}}>'\ndestinations:\n  audit: {log: {path: '{dir}/audit.jsonl'}}\ncustomers:\n  - id: shop\n    hosts: [shop.example]\n    alerting: {routes: [{to: [audit]}]}\n";
    let r = Running::start("webhook-templates", catalog, "", &[]).await;
    let (status, _) = r.post(&notification("firing", "eeee000000000005"), None).await;
    assert_eq!(status, 200);
    let lines = r.lines(1, 5).await;
    assert_eq!(lines[0]["message"]["title"], "[page] shop <EdgewatchErrorBudgetBurnFast>", "no HTML escaping");

    // A name that does not exist is an error, not an empty string: the
    // action is a dead letter that says which.
    let bad = edgewatch_test_kit::scratch_dir("webhook-templates-bad");
    std::fs::write(bad.join("title.hbs"), "{{customer.nickname}}").unwrap();
    let catalog = "destinations:\n  audit: {log: {path: '-'}}\ncustomers:\n  - id: shop\n    hosts: [shop.example]\n    alerting: {routes: [{to: [audit]}]}\n";
    let r = Running::start_in(bad, catalog, "templates: '{dir}'\n", &[]).await;
    let (status, _) = r.post(&notification("firing", "ffff000000000006"), None).await;
    assert_eq!(status, 200);
    let letters = r.dead_letters();
    eventually("a dead letter", 5, || !letters.list().unwrap().is_empty()).await;
    let err = letters.list().unwrap()[0].reason.clone();
    assert!(err.starts_with("rendering `title`:") && err.contains("nickname"), "{err}");
}

#[tokio::test]
async fn the_root_is_a_landing_page_linking_the_endpoints() {
    let r = start("landing").await;
    let resp = r.client.get(format!("{}/", r.url)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = resp.text().await.unwrap();
    for link in ["<a href=\"/metrics\">", "<a href=\"/-/healthy\">", "<a href=\"/-/ready\">", WEBHOOK_PATH] {
        assert!(page.contains(link), "{link} missing:\n{page}");
    }
    assert!(page.contains(env!("CARGO_PKG_VERSION")), "{page}");
}

/// Writes `head` (and `body`) on a raw connection and reads the answer's
/// status line, with the time it took.
async fn raw(url: &str, head: &str, body: &[u8]) -> (String, Duration) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let start = std::time::Instant::now();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    (text.lines().next().unwrap_or_default().to_owned(), start.elapsed())
}

#[tokio::test]
async fn a_declared_oversized_body_is_refused_before_it_is_read_and_auth_comes_first() {
    let r = start("webhook-declared").await;
    let head = |auth: &str| {
        format!(
            "POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: r\r\n{auth}Content-Type: application/json\r\nContent-Length: 52428800\r\n\r\n"
        )
    };
    // 50 MiB declared, 2 bytes sent: answered at once, not after the body.
    let (status, took) = raw(&r.url, &head(&format!("Authorization: Bearer {TOKEN}\r\n")), b"{}").await;
    assert!(status.contains("413"), "{status}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    // Without the token the body's size is nobody's business: 401.
    let (status, took) = raw(&r.url, &head(""), b"{}").await;
    assert!(status.contains("401"), "{status}");
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let r = start("webhook-bearer-case").await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let resp = r
            .client
            .post(format!("{}{WEBHOOK_PATH}", r.url))
            .header("Authorization", format!("{scheme}  {TOKEN}"))
            .body(notification("firing", "cccc000000000001"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{scheme}");
    }
    let (status, _) = raw(
        &r.url,
        &format!(
            "POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: r\r\nAuthorization: Basic {TOKEN}\r\nContent-Length: 2\r\n\r\n"
        ),
        b"{}",
    )
    .await;
    assert!(status.contains("401"), "{status}");
}

#[tokio::test]
async fn ready_is_503_while_the_store_cannot_commit_and_200_again_when_it_can() {
    let r = start("webhook-ready-store").await;
    let ready = || async { r.client.get(format!("{}/-/ready", r.url)).send().await.unwrap() };
    assert_eq!(ready().await.status(), 200);
    // Another process holds the database's write lock (as a full disk, a
    // commit cannot happen): the receiver cannot take webhooks, and says so.
    let db = rusqlite::Connection::open(r.dir.join("data/receiver.db")).unwrap();
    db.execute_batch("BEGIN EXCLUSIVE; INSERT OR REPLACE INTO meta (name, value) VALUES ('lock', 'held');").unwrap();
    let locked = ready().await;
    assert_eq!(locked.status(), 503);
    assert!(locked.text().await.unwrap().contains("the store cannot commit"));
    db.execute_batch("ROLLBACK;").unwrap();
    assert_eq!(ready().await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_outage_is_503_and_what_came_during_it_is_delivered_after() {
    let mut r = start_on(Backend::postgres("webhook-outage"), "webhook-outage", "").await;
    let ready = |r: &Running| {
        let request = r.client.get(format!("{}/-/ready", r.url));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(ready(&r).await, 200);
    r.post_ok_with(&notification("firing", "aaaa000000000001"), TOKEN).await;
    r.lines(1, 10).await;
    let Backend::Postgres(server) = &mut r.store else { unreachable!() };
    server.stop();
    // Alertmanager is told to try again, and the receiver is not ready.
    let during = notification("resolved", "aaaa000000000001");
    let (status, body) = r.post(&during, Some(TOKEN)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(ready(&r).await, 503);
    let Backend::Postgres(server) = &mut r.store else { unreachable!() };
    server.resume();
    // Back without a restart: Alertmanager's retry is taken and delivered.
    eventually_ready(&r).await;
    r.post_ok_with(&during, TOKEN).await;
    let lines = r.lines(2, 10).await;
    assert_eq!(lines[1]["action"], "resolve");
    assert_eq!(lines[0]["incident"]["dedup"], lines[1]["incident"]["dedup"]);
}

/// Waits until `/-/ready` answers 200 again.
async fn eventually_ready(r: &Running) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status = r.client.get(format!("{}/-/ready", r.url)).send().await.unwrap().status();
        if status == 200 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "not ready again: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
