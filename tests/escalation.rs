//! Escalation and status updates with the real receiver (the `edgewatch`
//! binary), across a SIGKILL and a restart: a route with `escalate_after`
//! gets an incident only once it has fired that long, exactly once; a
//! route with `update_every` gets status updates while it fires. Both are
//! kept in the store, not in memory.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use edgewatch_test_kit::free_port;
use serde_json::Value;

fn spawn(dir: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_edgewatch"))
        .args(["receiver", "--catalog"])
        .arg(dir.join("catalog.yaml"))
        .arg("--config")
        .arg(dir.join("receiver.yml"))
        .arg("--web.listen-address")
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn notification(status: &str, starts: &str) -> String {
    let ends = if status == "firing" {
        "0001-01-01T00:00:00Z".to_owned()
    } else {
        edgewatch_catalog::time::format_rfc3339_millis(edgewatch_catalog::time::now_ms())
    };
    format!(
        r#"{{"receiver":"edgewatch","status":"{status}","alerts":[{{"status":"{status}","labels":{{"alertname":"EdgewatchProbeDown","customer":"shop","probe":"home","severity":"page","alert_kind":"probe_down"}},"annotations":{{"summary":"shop: probe home down"}},"startsAt":"{starts}","endsAt":"{ends}","generatorURL":"","fingerprint":"e5ca1a7e00000001"}}],"groupLabels":{{}},"commonLabels":{{}},"commonAnnotations":{{}},"externalURL":"http://alertmanager:9093","version":"4","groupKey":"g","truncatedAlerts":0}}"#
    )
}

/// Posts until a 200, as Alertmanager retries a receiver that is down.
async fn deliver(client: &reqwest::Client, url: &str, body: String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.post(url).body(body.clone()).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "the receiver never took the notification");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn actions(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["action"].as_str().unwrap().to_owned(), v["message"]["comment"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

async fn until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what} did not happen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_escalation_fires_once_after_its_delay_across_a_restart_and_updates_repeat() {
    let dir: PathBuf = edgewatch_test_kit::scratch_dir("escalation");
    let (noc, sre) = (dir.join("noc.jsonl"), dir.join("sre.jsonl"));
    std::fs::write(
        dir.join("catalog.yaml"),
        format!(
            "destinations:
  noc: {{log: {{path: '{}'}}}}
  sre: {{log: {{path: '{}'}}}}
customers:
  - id: shop
    hosts: [shop.example]
    alerting:
      routes:
        - {{to: [noc], update_every: 3s}}
        - {{to: [sre], escalate_after: 8s}}
",
            noc.display(),
            sre.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("receiver.yml"), format!("data_dir: '{}'\n", dir.join("data").display())).unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/api/v1/alertmanager");
    let client = edgewatch_test_kit::http_client();
    let started = Instant::now();
    let starts = edgewatch_catalog::time::format_rfc3339_millis(edgewatch_catalog::time::now_ms());

    let mut first = spawn(&dir, port);
    deliver(&client, &url, notification("firing", &starts)).await;
    until(Duration::from_secs(10), "the NOC's open", || actions(&noc).iter().any(|(a, _)| a == "open")).await;
    assert!(actions(&sre).is_empty(), "escalated at once");

    // Killed before the escalation is due; a new process on the same store.
    first.kill().unwrap();
    first.wait().unwrap();
    let mut second = spawn(&dir, port);
    until(Duration::from_secs(20), "the escalation", || !actions(&sre).is_empty()).await;
    let after = started.elapsed();
    assert!(after >= Duration::from_secs(8), "escalated after {after:?}, before its 8 s");
    // A few more looks at the schedule: still one open.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(actions(&sre).iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(), ["open"], "escalated once");

    // The NOC got status updates every 3 s meanwhile.
    let updates: Vec<String> = actions(&noc)
        .into_iter()
        .filter(|(a, c)| a == "update" && c.starts_with("Status update: firing for"))
        .map(|(_, c)| c)
        .collect();
    assert!(updates.len() >= 2, "{updates:?}");

    // Resolved: both hear of it.
    deliver(&client, &url, notification("resolved", &starts)).await;
    until(Duration::from_secs(10), "the resolves", || {
        actions(&sre).iter().any(|(a, _)| a == "resolve") && actions(&noc).iter().any(|(a, _)| a == "resolve")
    })
    .await;
    second.kill().unwrap();
    second.wait().unwrap();
}
