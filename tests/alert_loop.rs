//! The whole alert loop with the real parts: the exporter takes synthetic
//! Logpush traffic for three customers, the real Prometheus scrapes it and
//! evaluates the rules `edgewatch render` wrote, the real Alertmanager
//! routes with the rendered configuration, and the receiver opens and
//! resolves Jira issues and PagerDuty alerts (on the contract fakes). One
//! customer has a full outage: it gives exactly one PagerDuty alert and one
//! Jira issue, nothing for the others, and nothing new after recovery. The
//! test prints the seconds from the outage's start to the page and from
//! recovery to the resolve.
//!
//! A second test kills the receiver: Alertmanager then pages through its
//! own PagerDuty notifier (the rendered fallback route), and the page
//! resolves once the receiver is back.
//!
//! It runs with a 1s scrape interval (the rendered windows and group
//! intervals follow it); `shipped_defaults_timing` (ignored: about ten
//! minutes) runs the same loop with the shipped 15s, as docs/performance.md
//! records.

// The measured seconds are printed from a helper the two tests share.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used, clippy::print_stdout)]

#[path = "../webhook-receiver/tests/it/fakes/mod.rs"]
mod fakes;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use edgewatch_test_kit::{KillOnDrop, free_port, tool};
use fakes::jira::FakeJira;
use fakes::pagerduty::{AlertStatus, PagerDutyFake};

const USER: &str = "noc-bot@edgewatch.example";
const JIRA_TOKEN: &str = "jira-api-token";
const PD_KEY: &str = "e93facc04764012d7bfb002500d5d1a6";
const CUSTOMERS: [&str; 3] = ["shop", "news", "bank"];

fn spawn(cmd: &mut Command, log: &Path) -> KillOnDrop {
    let out = std::fs::File::create(log).unwrap();
    KillOnDrop(cmd.stdout(Stdio::null()).stderr(out).spawn().unwrap())
}

fn catalog(jira: &str, pd: &str) -> String {
    let mut y = format!(
        "destinations:
  pd: {{pagerduty: {{routing_key: 'env:PD_KEY', url: '{pd}'}}}}
  jira:
    jira: {{deployment: cloud, url: '{jira}', project: NOC, issue_type: Incident,
           priorities: {{page: Highest, ticket: High}},
           auth: {{basic: {{user: '{USER}', token: 'env:JIRA_TOKEN'}}}}}}
defaults:
  slos:
    availability: {{objective: 99.9, period: 28d}}
  alerting:
    min_requests: 1000
    routes:
      - {{to: [pd], severities: [page]}}
      - {{to: [jira], severities: [page, ticket]}}
customers:
"
    );
    for c in CUSTOMERS {
        let _ = writeln!(y, "  - {{id: {c}, hosts: [www.{c}.example]}}");
    }
    y
}

/// Everything running, and what the test reads.
struct Stack {
    dir: PathBuf,
    exporter: u16,
    prometheus: u16,
    jira: FakeJira,
    pd: PagerDutyFake,
    client: reqwest::Client,
    /// How to start the receiver again, and the running one.
    receiver: (Command, Option<KillOnDrop>),
    _processes: Vec<KillOnDrop>,
}

/// One stack at a time: two on two cores would slow each other's timing.
static ONE_STACK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The routing key of Alertmanager's own PagerDuty notifier (the fallback).
const FALLBACK_KEY: &str = "f4llb4ckf4llb4ckf4llb4ckf4llb4ck";

impl Stack {
    async fn start(name: &str, scrape: &str) -> Self {
        Self::start_with(name, scrape, None).await
    }

    /// The stack, with Alertmanager's own PagerDuty notifier sending to
    /// `fallback` (an Events API URL) when given.
    async fn start_with(name: &str, scrape: &str, fallback: Option<&str>) -> Self {
        let dir = edgewatch_test_kit::scratch_dir(name);
        let jira = FakeJira::cloud().basic(USER, JIRA_TOKEN).start().await;
        let pd = PagerDutyFake::start().await;
        let catalog_path = dir.join("catalog.yaml");
        std::fs::write(&catalog_path, catalog(jira.url(), &pd.url())).unwrap();
        let (exporter, receiver, prometheus, alertmanager) = (free_port(), free_port(), free_port(), free_port());
        let bin = env!("CARGO_BIN_EXE_edgewatch");

        // The configs as `edgewatch render` writes them: Prometheus' whole
        // example, Alertmanager's with the receiver's token file.
        let token = dir.join("receiver-token");
        std::fs::write(&token, "alertmanager-to-receiver").unwrap();
        let out = dir.join("deploy");
        let mut render = Command::new(bin);
        render.arg("render");
        if let Some(url) = fallback {
            let key = dir.join("fallback-key");
            std::fs::write(&key, FALLBACK_KEY).unwrap();
            render.arg("--fallback-pagerduty-key-file").arg(&key).arg(format!("--fallback-pagerduty-url={url}"));
        }
        let rendered = render
            .arg("--catalog")
            .arg(&catalog_path)
            .arg("--out")
            .arg(&out)
            .args(["--scrape-interval", scrape])
            .arg(format!("--exporter=127.0.0.1:{exporter}"))
            .arg(format!("--receiver-url=http://127.0.0.1:{receiver}/api/v1/alertmanager"))
            .arg(format!("--alertmanager-url=http://127.0.0.1:{alertmanager}"))
            .arg(format!("--prometheus-url=http://127.0.0.1:{prometheus}"))
            .arg("--receiver-credentials-file")
            .arg(&token)
            .output()
            .unwrap();
        assert!(rendered.status.success(), "render: {}", String::from_utf8_lossy(&rendered.stderr));
        std::fs::write(
            dir.join("receiver.yml"),
            format!(
                "data_dir: '{}'\nauth: {{bearer_token: 'file:{}'}}\nprometheus: {{url: 'http://127.0.0.1:{prometheus}', timeout: 2s}}\n",
                dir.join("receiver-data").display(),
                token.display()
            ),
        )
        .unwrap();

        let mut receiver_cmd = Command::new(bin);
        receiver_cmd
            .args(["receiver", "--catalog"])
            .arg(&catalog_path)
            .arg("--config")
            .arg(dir.join("receiver.yml"))
            .arg(format!("--web.listen-address=127.0.0.1:{receiver}"))
            .env("PD_KEY", PD_KEY)
            .env("JIRA_TOKEN", JIRA_TOKEN);
        let running_receiver = spawn(&mut receiver_cmd, &dir.join("receiver.log"));
        let mut processes = vec![
            spawn(
                Command::new(bin)
                    .args(["exporter", "--catalog"])
                    .arg(&catalog_path)
                    .arg(format!("--web.listen-address=127.0.0.1:{exporter}")),
                &dir.join("exporter.log"),
            ),
            spawn(
                Command::new(tool("prometheus-alertmanager", "prometheus-alertmanager"))
                    .arg(format!("--config.file={}", out.join("alertmanager/alertmanager.example.yml").display()))
                    .arg(format!("--storage.path={}", dir.join("am-data").display()))
                    .arg(format!("--web.listen-address=127.0.0.1:{alertmanager}"))
                    .arg("--cluster.listen-address="),
                &dir.join("alertmanager.log"),
            ),
        ];
        processes.push(spawn(
            Command::new(tool("prometheus", "prometheus"))
                .arg(format!("--config.file={}", out.join("prometheus/prometheus.example.yml").display()))
                .arg(format!("--storage.tsdb.path={}", dir.join("prom-data").display()))
                .arg(format!("--web.listen-address=127.0.0.1:{prometheus}")),
            &dir.join("prometheus.log"),
        ));
        let stack = Self {
            dir,
            exporter,
            prometheus,
            jira,
            pd,
            client: edgewatch_test_kit::http_client(),
            receiver: (receiver_cmd, Some(running_receiver)),
            _processes: processes,
        };
        stack.wait_ready().await;
        stack
    }

    /// Until the exporter takes pushes and Prometheus has loaded the rules.
    /// The customers' constants are a join across groups, each first
    /// evaluated somewhere in its first minute: they take up to two.
    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(150);
        loop {
            let exporter = self.client.get(format!("http://127.0.0.1:{}/-/ready", self.exporter)).send().await;
            let rules = self.query("count(slo:error_budget:ratio)").await;
            if exporter.is_ok_and(|r| r.status().is_success()) && rules.is_some_and(|v| v >= 3.0) {
                return;
            }
            assert!(Instant::now() < deadline, "the stack did not come up; logs in {}", self.dir.display());
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Stops the receiver (SIGKILL), or starts it again.
    fn receiver(&mut self, up: bool) {
        if up {
            self.receiver.1 = Some(spawn(&mut self.receiver.0, &self.dir.join("receiver-again.log")));
        } else {
            self.receiver.1 = None;
        }
    }

    async fn query(&self, q: &str) -> Option<f64> {
        let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        let url = format!("http://127.0.0.1:{}/api/v1/query?query={q}", self.prometheus);
        let body = self.client.get(url).send().await.ok()?.bytes().await.ok()?;
        let doc: serde_json::Value = serde_json::from_slice(&body).ok()?;
        doc["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Pushes 60 requests a second for each customer, every 250 ms, until
    /// dropped (the fast tier's 20-scrape window then meets the floor of
    /// 1000 requests at a 1s scrape); `shop` answers 503 while `down` is set.
    fn traffic(&self, down: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
        let (client, url) = (self.client.clone(), format!("http://127.0.0.1:{}/ingest/logpush", self.exporter));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut n = 0u64;
            loop {
                tick.tick().await;
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
                let mut body = String::new();
                for c in CUSTOMERS {
                    let failing = c == "shop" && down.load(Ordering::SeqCst);
                    let (edge, origin) = if failing { (503, 503) } else { (200, 200) };
                    for _ in 0..15 {
                        n += 1;
                        let _ = writeln!(
                            body,
                            r#"{{"ClientRequestHost":"www.{c}.example","EdgeResponseStatus":{edge},"OriginResponseStatus":{origin},"EdgeTimeToFirstByteMs":40,"OriginResponseDurationMs":30,"CacheCacheStatus":"miss","EdgeEndTimestamp":{now},"RayID":"{n:x}"}}"#
                        );
                    }
                }
                let _ = client.post(&url).body(body).send().await;
            }
        })
    }

    /// PagerDuty alerts and Jira issues, by customer.
    fn pages(&self, customer: &str) -> Vec<fakes::pagerduty::Alert> {
        self.pd.alerts().into_iter().filter(|a| a.payload["source"] == customer).collect()
    }

    fn issues(&self, customer: &str) -> Vec<fakes::jira::Issue> {
        let name = customer;
        self.jira
            .issues()
            .into_iter()
            .filter(|i| i.fields["summary"].as_str().is_some_and(|s| s.contains(name)))
            .collect()
    }
}

/// Waits up to `limit` for `done`, polling; the time it took.
async fn until(limit: Duration, what: &str, dir: &Path, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what} did not happen within {limit:?}; logs in {}", dir.display());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    start.elapsed()
}

/// Runs the loop: `warmup` of healthy traffic, an outage of `outage`, then
/// recovery and `after` of watching. Returns (start → page, recovery →
/// resolved in both PagerDuty and Jira).
async fn outage_loop(name: &str, scrape: &str, warmup: Duration, outage: Duration, after: Duration) -> (f64, f64) {
    let _one = ONE_STACK.lock().await;
    let stack = Stack::start(name, scrape).await;
    let down = Arc::new(AtomicBool::new(false));
    let traffic = stack.traffic(Arc::clone(&down));
    tokio::time::sleep(warmup).await;
    assert!(stack.pd.alerts().is_empty() && stack.jira.issues().is_empty(), "healthy traffic opened something");

    down.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let to_page = until(Duration::from_secs(120), "the page", &stack.dir, || !stack.pages("shop").is_empty()).await;
    tokio::time::sleep(outage.saturating_sub(started.elapsed())).await;
    down.store(false, Ordering::SeqCst);
    let to_resolve = until(Duration::from_secs(600), "the resolve", &stack.dir, || {
        stack.pages("shop").iter().all(|a| a.status == AlertStatus::Resolved)
            && stack.issues("shop").iter().all(|i| i.history.iter().any(|t| t == "Done"))
            && !stack.issues("shop").is_empty()
    })
    .await;
    // Watch on: nothing new opens from windows that still hold the outage.
    tokio::time::sleep(after).await;
    traffic.abort();

    let (pages, issues) = (stack.pages("shop"), stack.issues("shop"));
    assert_eq!(pages.len(), 1, "one PagerDuty alert for the outage: {pages:#?}");
    assert_eq!(pages[0].status, AlertStatus::Resolved, "{pages:#?}");
    assert!(
        pages[0].events.iter().skip_while(|e| *e != "resolve").all(|e| e == "resolve"),
        "nothing triggered the page after its resolve: {:?}",
        pages[0].events
    );
    assert_eq!(issues.len(), 1, "one Jira issue for the outage: {issues:#?}");
    assert_eq!(issues[0].status, "Done", "{:?}", issues[0].history);
    assert_eq!(issues[0].history.iter().filter(|t| *t == "Done").count(), 1, "{:?}", issues[0].history);
    for other in ["news", "bank"] {
        assert!(stack.pages(other).is_empty() && stack.issues(other).is_empty(), "{other} got a page or a ticket");
    }
    assert_eq!(stack.pd.alerts().len(), 1);
    assert_eq!(stack.jira.issues().len(), 1);
    rules_evaluated_cleanly(&stack).await;
    let (page, resolve) = (to_page.as_secs_f64(), to_resolve.as_secs_f64());
    println!(
        "alert loop ({scrape} scrape): outage start to PagerDuty trigger {page:.1}s; recovery to resolved in PagerDuty and Jira {resolve:.1}s"
    );
    let _ = std::fs::remove_dir_all(&stack.dir);
    (page, resolve)
}

/// Prometheus evaluated every rendered group through the outage without a
/// failure, and scraped itself (as the rendered example configuration
/// does): the series `EdgewatchRulesFailing` and `EdgewatchRulesBehind`
/// read are there for every group.
async fn rules_evaluated_cleanly(stack: &Stack) {
    let ours = r#"{rule_group=~".+;edgewatch-.+"}"#;
    let groups = stack.query(&format!("count(prometheus_rule_group_interval_seconds{ours})")).await.unwrap_or(0.0);
    assert!(groups >= 8.0, "Prometheus' own series name {groups} rendered groups");
    for m in [
        "prometheus_rule_evaluation_failures_total",
        "prometheus_rule_group_iterations_missed_total",
        "prometheus_rule_group_last_duration_seconds",
    ] {
        assert_eq!(stack.query(&format!("count({m}{ours})")).await, Some(groups), "{m}");
    }
    let failed = stack.query(&format!("sum(prometheus_rule_evaluation_failures_total{ours})")).await;
    assert_eq!(
        failed,
        Some(0.0),
        "rendered rules failed to evaluate; see {}",
        stack.dir.join("prometheus.log").display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_outage_is_one_page_and_one_ticket_and_nothing_after_recovery() {
    let (page, resolve) =
        outage_loop("alert-loop", "1s", Duration::from_secs(15), Duration::from_secs(40), Duration::from_secs(45))
            .await;
    // With a 1s scrape the windows are seconds long; the page waits for
    // Alertmanager's group_wait (5s), the resolve for its group_interval (1m).
    assert!(page < 60.0, "paged after {page:.1}s");
    assert!(resolve < 300.0, "resolved after {resolve:.1}s");
}

/// The shipped defaults (15s scrape, rendered windows and group intervals,
/// Alertmanager's page timing): a 2-minute full outage. About ten minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "about ten minutes; run by hand for docs/performance.md"]
async fn shipped_defaults_timing() {
    let (page, resolve) = outage_loop(
        "alert-loop-15s",
        "15s",
        Duration::from_secs(180),
        Duration::from_secs(120),
        Duration::from_secs(180),
    )
    .await;
    assert!(page < 60.0, "paged after {page:.1}s");
    assert!(resolve < 300.0, "resolved after {resolve:.1}s");
}

/// The receiver down: Prometheus sees it (`EdgewatchReceiverDown`), and
/// Alertmanager pages through its own PagerDuty notifier, the fallback
/// route, since the receiver cannot; with the receiver back, the page
/// resolves. Before, while all is well, the fallback pages nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_pages_through_alertmanagers_own_pagerduty() {
    let _one = ONE_STACK.lock().await;
    let fallback = PagerDutyFake::start().await;
    let mut stack = Stack::start_with("alert-loop-fallback", "1s", Some(&fallback.url())).await;
    let dir = stack.dir.clone();
    let receiver_up = "max(up{job=\"edgewatch-receiver\"})";
    let deadline = Instant::now() + Duration::from_secs(60);
    while stack.query(receiver_up).await != Some(1.0) {
        assert!(Instant::now() < deadline, "Prometheus never scraped the receiver; logs in {}", dir.display());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert!(fallback.alerts().is_empty(), "the fallback paged while all was well: {:#?}", fallback.alerts());

    stack.receiver(false);
    let down = |f: &PagerDutyFake| {
        f.alerts()
            .into_iter()
            .find(|a| a.payload["summary"].as_str().is_some_and(|s| s.contains("EdgewatchReceiverDown")))
    };
    let paged = until(Duration::from_secs(120), "the fallback page", &dir, || down(&fallback).is_some()).await;
    let page = down(&fallback).unwrap();
    assert_eq!((page.routing_key.as_str(), page.status), (FALLBACK_KEY, AlertStatus::Triggered), "{page:#?}");

    stack.receiver(true);
    let resolved = until(Duration::from_secs(240), "the fallback page's resolve", &dir, || {
        down(&fallback).is_some_and(|a| a.status == AlertStatus::Resolved)
    })
    .await;
    println!(
        "fallback (1s scrape): receiver killed to page {:.1}s; receiver back to resolved {:.1}s",
        paged.as_secs_f64(),
        resolved.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
