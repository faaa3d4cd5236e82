//! Mitigation end to end, with the real exporter and receiver (the
//! `edgewatch` binary) and the Jira, PagerDuty and Cloudflare contract
//! fakes. An attack is pushed through two exporters behind a "load
//! balancer" (every other line to each): two addresses, and one AS from
//! many addresses, send most of the blocked requests among normal traffic;
//! an allowlisted partner is blocked too. The attack alert's ticket and
//! page carry a suggestion that names exactly the attackers; `edgewatch
//! mitigate show` prints it with the API calls, `apply` adds the rule to the
//! zone (on the Cloudflare fake) only once confirmed, records it on the
//! incident (a comment on the ticket), and `revert` removes it. With the
//! exporters down, the ticket still goes, saying the suggestion is missing.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

#[path = "../webhook-receiver/tests/it/fakes/mod.rs"]
mod fakes;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use edgewatch_test_kit::{KillOnDrop, free_port};
use fakes::cloudflare::CloudflareFake;
use fakes::jira::{FakeJira, adf};
use fakes::pagerduty::PagerDutyFake;
use serde_json::json;

const USER: &str = "noc-bot@edgewatch.example";
const JIRA_TOKEN: &str = "jira-api-token";
const PD_KEY: &str = "e93facc04764012d7bfb002500d5d1a6";
const CF_TOKEN: &str = "cloudflare-api-token";
const ZONE: &str = "023e105f4ecef8ad9ca31a8372d0c353";
const BIN: &str = env!("CARGO_BIN_EXE_edgewatch");

fn catalog(jira: &str, pd: &str) -> String {
    format!(
        "destinations:
  pd: {{pagerduty: {{routing_key: 'env:PD_KEY', url: '{pd}'}}}}
  jira:
    jira: {{deployment: cloud, url: '{jira}', project: NOC, issue_type: Incident,
           priorities: {{page: Highest, ticket: High}},
           auth: {{basic: {{user: '{USER}', token: 'env:JIRA_TOKEN'}}}}}}
defaults:
  alerting:
    routes:
      - {{to: [pd], severities: [page]}}
      - {{to: [jira], severities: [page, ticket]}}
customers:
  - id: shop
    hosts: [www.shop.example]
    mitigation:
      cloudflare_zone: {ZONE}
      allowlist: [203.0.113.0/24]
      origins: [198.51.100.200]
"
    )
}

struct Stack {
    dir: PathBuf,
    receiver: u16,
    exporters: [u16; 2],
    jira: FakeJira,
    pd: PagerDutyFake,
    client: reqwest::Client,
    _processes: Vec<KillOnDrop>,
}

fn spawn(cmd: &mut Command, log: &Path) -> KillOnDrop {
    let out = std::fs::File::create(log).unwrap();
    KillOnDrop(cmd.stdout(Stdio::null()).stderr(out).spawn().unwrap())
}

impl Stack {
    /// Two exporters and a receiver reading them; with `exporters_up`
    /// false the receiver is pointed at ports nothing listens on.
    async fn start(name: &str, exporters_up: bool) -> Self {
        let dir = edgewatch_test_kit::scratch_dir(name);
        let jira = FakeJira::cloud().basic(USER, JIRA_TOKEN).start().await;
        let pd = PagerDutyFake::start().await;
        let catalog_path = dir.join("catalog.yaml");
        std::fs::write(&catalog_path, catalog(jira.url(), &pd.url())).unwrap();
        let (receiver, exporters) = (free_port(), [free_port(), free_port()]);
        std::fs::write(
            dir.join("receiver.yml"),
            format!(
                "data_dir: '{}'\nexporters: {{urls: ['http://127.0.0.1:{}', 'http://127.0.0.1:{}'], timeout: 2s}}\n",
                dir.join("data").display(),
                exporters[0],
                exporters[1]
            ),
        )
        .unwrap();
        let mut processes = Vec::new();
        if exporters_up {
            for (i, port) in exporters.iter().enumerate() {
                processes.push(spawn(
                    Command::new(BIN)
                        .args(["exporter", "--catalog"])
                        .arg(&catalog_path)
                        .arg(format!("--web.listen-address=127.0.0.1:{port}")),
                    &dir.join(format!("exporter-{i}.log")),
                ));
            }
        }
        processes.push(spawn(
            Command::new(BIN)
                .args(["receiver", "--catalog"])
                .arg(&catalog_path)
                .arg("--config")
                .arg(dir.join("receiver.yml"))
                .arg(format!("--web.listen-address=127.0.0.1:{receiver}"))
                .env("PD_KEY", PD_KEY)
                .env("JIRA_TOKEN", JIRA_TOKEN),
            &dir.join("receiver.log"),
        ));
        let stack = Self {
            dir,
            receiver,
            exporters,
            jira,
            pd,
            client: edgewatch_test_kit::http_client(),
            _processes: processes,
        };
        let mut ready: Vec<u16> = vec![receiver];
        if exporters_up {
            ready.extend(exporters);
        }
        for port in ready {
            stack
                .until(Duration::from_secs(30), "ready", || async {
                    let r = stack.client.get(format!("http://127.0.0.1:{port}/-/ready")).send().await;
                    r.is_ok_and(|r| r.status().is_success())
                })
                .await;
        }
        stack
    }

    async fn until<F: Future<Output = bool>>(&self, limit: Duration, what: &str, mut done: impl FnMut() -> F) {
        let start = Instant::now();
        while !done().await {
            assert!(start.elapsed() < limit, "{what} did not happen within {limit:?}; logs in {}", self.dir.display());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The attack among normal traffic, every other line to each exporter.
    async fn push_attack(&self) {
        let now = u64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
            .unwrap();
        let line = |ip: &str, asn: u32, status: u16, action: &str, ua: &str, path: &str| {
            json!({
                "ClientRequestHost": "www.shop.example", "EdgeResponseStatus": status, "SecurityAction": action,
                "ClientIP": ip, "ClientASN": asn, "ClientCountry": "de", "ClientRequestPath": path,
                "ClientRequestUserAgent": ua,
                "EdgeEndTimestamp": now,
            })
            .to_string()
        };
        let browser = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0";
        let mut lines = Vec::new();
        // Normal traffic: 300 clients of one ISP, 20 requests each, a few 404s.
        for c in 0..300 {
            for r in 0..20 {
                let status = if r == 0 { 404 } else { 200 };
                lines.push(line(&format!("100.64.{}.{}", c / 200, c % 200 + 1), 3320, status, "", browser, "/"));
            }
        }
        // The attack: two addresses, and one AS from fifty addresses, all blocked.
        for _ in 0..600 {
            lines.push(line("192.0.2.66", 64496, 403, "block", "python-requests/2.31", "/login"));
        }
        for _ in 0..400 {
            lines.push(line("192.0.2.67", 64496, 403, "block", "python-requests/2.31", "/login"));
        }
        for i in 0..1000 {
            lines.push(line(&format!("198.18.0.{}", i % 50 + 1), 64511, 403, "block", "curl/8.5.0", "/login"));
        }
        // The payment partner (on the ISP, with a browser's agent), blocked
        // by a too strict rule: never named.
        for _ in 0..300 {
            lines.push(line("203.0.113.5", 3320, 403, "block", browser, "/api"));
        }
        // Interleave, as arrivals would.
        let mut mixed = Vec::with_capacity(lines.len());
        let (normal, attack) = lines.split_at(6000);
        for (i, l) in normal.iter().enumerate() {
            mixed.push(l.clone());
            if i % 3 == 0
                && let Some(a) = attack.get(i / 3)
            {
                mixed.push(a.clone());
            }
        }
        mixed.extend(attack.iter().skip(2000).cloned());
        let mut bodies = [String::new(), String::new()];
        for (i, l) in mixed.iter().enumerate() {
            let _ = writeln!(bodies[i % 2], "{l}");
        }
        for (port, body) in self.exporters.iter().zip(bodies) {
            let r =
                self.client.post(format!("http://127.0.0.1:{port}/ingest/logpush")).body(body).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
    }

    async fn alert(&self) {
        let labels = json!({"alertname": "EdgewatchSuspectedAttack", "customer": "shop", "severity": "page", "alert_kind": "attack"});
        let body = json!({
            "receiver": "edgewatch", "status": "firing", "version": "4",
            "groupKey": "{}:{customer=\"shop\"}", "truncatedAlerts": 0,
            "groupLabels": {"customer": "shop"}, "commonLabels": labels, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": [{"status": "firing", "labels": labels,
                "annotations": {"summary": "shop: 27% of requests blocked or challenged"},
                "startsAt": "2026-12-05T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph", "fingerprint": "a77ac0"}],
        });
        let url = format!("http://127.0.0.1:{}/api/v1/alertmanager", self.receiver);
        let r = self.client.post(url).body(body.to_string()).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }

    fn mitigate(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(BIN)
            .arg("mitigate")
            .args(args)
            .arg("--config")
            .arg(self.dir.join("receiver.yml"))
            .env("CLOUDFLARE_API_TOKEN", CF_TOKEN)
            .env("USER", "ada")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_attack_ticket_names_the_attackers_and_a_rule_is_applied_only_when_asked() {
    let stack = Stack::start("mitigation-attack", true).await;
    stack.push_attack().await;
    stack.alert().await;
    stack
        .until(Duration::from_secs(30), "a Jira issue and a page", || async {
            !stack.jira.issues().is_empty() && !stack.pd.alerts().is_empty()
        })
        .await;

    // The ticket: the suggestion names the two addresses, the AS, the
    // attackers' agents, and no normal client, partner or ISP.
    let issue = &stack.jira.issues()[0];
    let description = adf::plain(&issue.fields["description"]);
    let rule = description
        .lines()
        .skip_while(|l| !l.starts_with("Suggested custom rule"))
        .nth(1)
        .unwrap_or_else(|| panic!("no custom rule in:\n{description}"));
    assert_eq!(
        rule,
        r#"http.host in {"www.shop.example"} and (ip.src in {192.0.2.66 192.0.2.67} or ip.src.asnum in {64496 64511} or http.user_agent eq "curl/8.5.0" or http.user_agent eq "python-requests/2.31") and not cf.client.bot and not ip.src in {203.0.113.0/24 198.51.100.200}"#,
        "{description}"
    );
    edgewatch_test_kit::rules_language::check(rule).unwrap();
    assert!(!rule.contains("100.64.") && !rule.contains("3320") && !rule.contains("203.0.113.5"));
    assert!(description.contains("in the allowlist (203.0.113.0/24"), "{description}");
    assert!(description.contains(r#""period": 60"#) && description.contains("cf.colo.id"), "{description}");
    // The page carries the same suggestion.
    let page = &stack.pd.alerts()[0];
    let details = &page.payload["custom_details"]["mitigation"];
    assert_eq!(details["custom_rule"]["expression"], rule, "{details}");
    assert_eq!(details["missing"], json!([]), "both exporters answered");

    // `mitigate show`: the suggestion, the exact calls, nothing applied.
    let shown = stack.mitigate(&["show", "1", "--zone", ZONE], "");
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown.stderr));
    let out = text(&shown.stdout);
    assert!(out.contains(rule), "{out}");
    assert!(
        out.contains(&format!(
            "https://api.cloudflare.com/client/v4/zones/{ZONE}/rulesets/phases/http_request_firewall_custom/entrypoint"
        )),
        "{out}"
    );
    assert!(out.contains("applied: nothing"), "{out}");

    // Reports list the same top offenders for the incident, those the rule
    // names first.
    let catalog = edgewatch_catalog::load(&stack.dir.join("catalog.yaml")).unwrap().catalog;
    let source = edgewatch_webhook_receiver::ReportIncidents::open(&stack.dir.join("data"), &catalog).unwrap();
    let (from, to) = ("2000-01-01T00:00:00Z".parse().unwrap(), "2100-01-01T00:00:00Z".parse().unwrap());
    let listed = edgewatch_reports::IncidentSource::incidents(&source, "shop", from, to).await.unwrap();
    let top = &listed[0].offenders;
    let named: Vec<&str> = top.iter().take_while(|o| o.named).map(|o| o.value.as_str()).collect();
    for attacker in ["192.0.2.66", "192.0.2.67", "curl/8.5.0"] {
        assert!(named.contains(&attacker), "{attacker} not named first: {top:?}");
    }
    assert!(top.iter().all(|o| o.offending > 0.0 && o.offending_share > 0.0), "{top:?}");

    // `apply` without a yes changes nothing; with one, the rule is added.
    let cf = CloudflareFake::start(CF_TOKEN).await;
    let url = cf.url();
    let declined = stack.mitigate(&["apply", "1", "--zone", ZONE, "--cloudflare.url", &url], "n\n");
    assert_eq!(declined.status.code(), Some(1), "{}", text(&declined.stderr));
    assert!(cf.requests().is_empty(), "nothing sent before a yes");
    let applied = stack.mitigate(&["apply", "1", "--zone", ZONE, "--cloudflare.url", &url], "yes\n");
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied.stderr));
    let rules = cf.rules(ZONE, "http_request_firewall_custom");
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["expression"], rule);
    assert_eq!(rules[0]["action"], "block");
    let twice = stack.mitigate(&["apply", "1", "--zone", ZONE, "--cloudflare.url", &url, "--yes"], "");
    assert!(text(&twice.stdout).contains("already applied"), "{}", text(&twice.stdout));
    assert_eq!(cf.rules(ZONE, "http_request_firewall_custom").len(), 1);
    // The rate-limiting rule, too, on its own phase.
    let rl =
        stack.mitigate(&["apply", "1", "--rule", "rate-limit", "--zone", ZONE, "--cloudflare.url", &url, "--yes"], "");
    assert_eq!(rl.status.code(), Some(0), "{}", text(&rl.stderr));
    assert_eq!(cf.rules(ZONE, "http_ratelimit")[0]["ratelimit"]["characteristics"], json!(["ip.src", "cf.colo.id"]));

    // Recorded on the incident: a remediation comment on the ticket.
    stack.until(Duration::from_secs(15), "the comments", || async { stack.jira.issues()[0].comments.len() >= 2 }).await;
    let comments: Vec<String> = stack.jira.issues()[0].comments.iter().map(adf::plain).collect();
    assert!(comments[0].contains("Applied Cloudflare custom rule") && comments[0].contains("ada"), "{comments:?}");

    // `revert` removes both, and says so on the ticket.
    let reverted = stack.mitigate(&["revert", "1", "--cloudflare.url", &url, "--yes"], "");
    assert_eq!(reverted.status.code(), Some(0), "{}", text(&reverted.stderr));
    assert!(cf.rules(ZONE, "http_request_firewall_custom").is_empty() && cf.rules(ZONE, "http_ratelimit").is_empty());
    let shown = text(&stack.mitigate(&["show", "1", "--zone", ZONE], "").stdout);
    assert_eq!(shown.matches(": removed ").count(), 2, "{shown}");
    stack
        .until(Duration::from_secs(15), "the revert comments", || async {
            stack.jira.issues()[0].comments.iter().filter(|c| adf::plain(c).contains("Removed Cloudflare")).count() == 2
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_exporters_down_the_ticket_says_the_suggestion_is_missing() {
    let stack = Stack::start("mitigation-missing", false).await;
    stack.alert().await;
    stack.until(Duration::from_secs(30), "a Jira issue", || async { !stack.jira.issues().is_empty() }).await;
    let description = adf::plain(&stack.jira.issues()[0].fields["description"]);
    assert!(description.contains("Mitigation suggestion missing: no exporter answered"), "{description}");
    assert!(description.contains("could not connect"), "{description}");
    let shown = stack.mitigate(&["show", "1", "--zone", ZONE], "");
    assert!(text(&shown.stdout).contains("No suggestion"), "{}", text(&shown.stdout));
}
