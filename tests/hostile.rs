//! The services as processes, against hostile and careless clients over
//! raw sockets: pushes that hold their slot, SIGTERM with a slow client
//! open, and alert labels that try to forge log lines.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CATALOG: &str = "
destinations:
  audit: {log: {path: 'AUDIT'}}
customers:
  - id: shop
    hosts: [shop.example]
    alerting: {routes: [{to: [audit]}]}
";

struct Service {
    child: Child,
    addr: SocketAddr,
    dir: std::path::PathBuf,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `edgewatch <what>` on a free port with `flags`, stderr to a file,
/// and waits until it answers.
fn start(name: &str, what: &str, flags: &[&str]) -> Service {
    let dir = edgewatch_test_kit::scratch_dir(name);
    let catalog = dir.join("catalog.yaml");
    std::fs::write(&catalog, CATALOG.replace("AUDIT", &dir.join("audit.jsonl").display().to_string())).unwrap();
    let port = edgewatch_test_kit::free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgewatch"));
    cmd.arg(what).arg("--catalog").arg(&catalog).arg("--web.listen-address").arg(addr.to_string()).args(flags);
    if what == "receiver" {
        let config = dir.join("receiver.yml");
        std::fs::write(&config, format!("data_dir: '{}'\nauth: {{bearer_token: 'env:TOKEN'}}\n", dir.display()))
            .unwrap();
        cmd.arg("--config").arg(config).env("TOKEN", "t0ken");
    }
    let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
    let child = cmd.stdout(Stdio::null()).stderr(stderr).spawn().unwrap();
    let service = Service { child, addr, dir };
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(addr, "/-/healthy").is_none() {
        assert!(Instant::now() < deadline, "{what} did not come up: {}", service.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    service
}

impl Service {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    fn sigterm(&self) {
        let ok = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(ok.success());
    }

    /// Waits for the process to exit; its exit status and how long it took.
    fn exited(&mut self, within: Duration) -> (std::process::ExitStatus, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, start.elapsed());
            }
            assert!(start.elapsed() < within, "still running after {within:?}: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn threads(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status.lines().find_map(|l| l.strip_prefix("Threads:")).unwrap().trim().parse().unwrap()
    }
}

/// One request on a new connection; the status line and the whole answer.
fn request(addr: SocketAddr, head: &str, body: &[u8]) -> Option<(String, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.lines().next()?.to_owned();
    Some((status, text))
}

fn get(addr: SocketAddr, path: &str) -> Option<(String, String)> {
    request(addr, &format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), b"")
}

fn push_head(len: usize) -> String {
    format!("POST /ingest/logpush HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {len}\r\n\r\n")
}

const LINE: &str = r#"{"ClientRequestHost":"shop.example","EdgeResponseStatus":200,"EdgeStartTimestamp":1764000000000000000,"EdgeTimeToFirstByteMs":12}"#;

/// A connection that sent a request head and part of its body, and waits.
fn hold(addr: SocketAddr, head: &str, part: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(part).unwrap();
    s
}

/// Reads until the server closes `s` (or answers); the answer's status line.
fn answer(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).lines().next().unwrap_or_default().to_owned()
}

#[test]
fn idle_pushes_hold_only_their_slots_and_everything_else_is_served() {
    let exporter = start(
        "hostile-idle-pushes",
        "exporter",
        &["--web.max-in-flight", "4", "--web.body-idle-timeout", "2s", "--web.max-connections", "200"],
    );
    let before = exporter.threads();
    // 60 authenticated-enough pushes (no secret is configured) that send
    // their head and nothing else.
    let mut idle: Vec<TcpStream> = (0..60).map(|_| hold(exporter.addr, &push_head(1000), b"")).collect();
    std::thread::sleep(Duration::from_millis(300));
    // Past the cap: 503 with Retry-After, at once; health and metrics served.
    let start = Instant::now();
    let (status, text) = request(exporter.addr, &push_head(LINE.len() + 1), format!("{LINE}\n").as_bytes()).unwrap();
    assert!(status.contains("503"), "{text}");
    assert!(text.to_ascii_lowercase().contains("retry-after: 1"), "{text}");
    assert!(get(exporter.addr, "/-/healthy").unwrap().0.contains("200"));
    assert!(get(exporter.addr, "/metrics").unwrap().0.contains("200"));
    assert!(start.elapsed() < Duration::from_secs(1), "{:?}", start.elapsed());
    // The blocking pool did not grow with the idle pushes.
    assert!(exporter.threads() <= before + 8, "threads {before} -> {}", exporter.threads());
    // Four held their slot and get 408 after the body idle timeout; the
    // rest were refused at once. Then pushes count again.
    let answers: Vec<String> = idle.iter_mut().map(answer).collect();
    assert_eq!(answers.iter().filter(|a| a.contains("408")).count(), 4, "{answers:?}");
    assert_eq!(answers.iter().filter(|a| a.contains("503")).count(), 56, "{answers:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, text) =
            request(exporter.addr, &push_head(LINE.len() + 1), format!("{LINE}\n").as_bytes()).unwrap();
        if status.contains("200") {
            assert!(text.contains("\"lines\":1"), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let metrics = get(exporter.addr, "/metrics").unwrap().1;
    assert!(metrics.contains(r#"edgewatch_exporter_batches_total{input="logpush",result="timeout"} 4"#), "{metrics}");
}

#[test]
fn sigterm_with_a_slow_push_open_drains_then_exits_within_the_grace_period() {
    let mut exporter = start("hostile-exporter-sigterm", "exporter", &["--web.shutdown-grace", "2s"]);
    let mut slow = hold(exporter.addr, &push_head(10_000), LINE.as_bytes());
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    exporter.sigterm();
    std::thread::sleep(Duration::from_millis(200));
    // Draining: not ready, still healthy, new pushes refused for a retry.
    let (status, text) = get(exporter.addr, "/-/ready").unwrap();
    assert!(status.contains("503"), "{text}");
    assert!(get(exporter.addr, "/-/healthy").unwrap().0.contains("200"));
    let (status, text) = request(exporter.addr, &push_head(LINE.len() + 1), format!("{LINE}\n").as_bytes()).unwrap();
    assert!(status.contains("503") && text.to_ascii_lowercase().contains("retry-after"), "{text}");
    // The slow push is cut at the end of the grace period, unanswered (it
    // was not counted, so Logpush sends it again), and the process exits.
    assert_eq!(answer(&mut slow), "");
    let (code, _) = exporter.exited(Duration::from_secs(6));
    assert!(code.success(), "{code:?}: {}", exporter.log());
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(1800) && took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn sigterm_lets_a_webhook_in_progress_finish_and_the_receiver_exits() {
    let mut receiver = start("hostile-receiver-sigterm", "receiver", &["--web.shutdown-grace", "3s"]);
    let body = notification("shop.example");
    let head = format!(
        "POST /api/v1/alertmanager HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer t0ken\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.as_bytes().split_at(20);
    let mut slow = hold(receiver.addr, &head, first);
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    receiver.sigterm();
    std::thread::sleep(Duration::from_millis(300));
    let (status, text) = get(receiver.addr, "/-/ready").unwrap();
    assert!(status.contains("503") && text.contains("shutting down"), "{text}");
    // The webhook in progress finishes within the grace period and is taken.
    slow.write_all(rest).unwrap();
    assert!(answer(&mut slow).contains("200"));
    let (code, _) = receiver.exited(Duration::from_secs(6));
    assert!(code.success(), "{code:?}: {}", receiver.log());
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
}

fn notification(customer_label: &str) -> String {
    let labels = serde_json::json!({
        "alertname": "EdgewatchOriginErrors",
        "customer": "shop",
        "incident": "origin",
        "severity": "ticket",
        "alert_kind": "origin_errors",
        "host": customer_label,
    });
    serde_json::json!({
        "receiver": "edgewatch", "status": "firing", "version": "4", "groupKey": "g1", "truncatedAlerts": 0,
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
        "alerts": [{
            "status": "firing", "labels": labels, "annotations": {"summary": "origin errors"},
            "startsAt": "2026-11-21T08:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "", "fingerprint": "00000000000000f1"
        }]
    })
    .to_string()
}

#[test]
fn labels_with_control_characters_cannot_forge_log_lines() {
    // At debug level, which must not turn on other crates' output either.
    let mut receiver = start("hostile-log-injection", "receiver", &["--log.level", "debug"]);
    let forged = "x\n2026-12-01T00:00:00Z FORGED edgewatch: ERROR root access\u{0}\u{1b}[31m\r\u{2028}";
    let mut body = notification(forged);
    // The incident is keyed by customer and incident; the key holds what
    // the labels hold, so put the forgery in the key too.
    body = body.replace("\"incident\":\"origin\"", &format!("\"incident\":{}", serde_json::to_string(forged).unwrap()));
    let head = format!(
        "POST /api/v1/alertmanager HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer t0ken\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let (status, text) = request(receiver.addr, &head, body.as_bytes()).unwrap();
    assert!(status.contains("200"), "{text}");
    // Delivered to the log destination: the deliver span carries the key.
    let audit = receiver.dir.join("audit.jsonl");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&audit).unwrap_or_default().is_empty() {
        assert!(Instant::now() < deadline, "nothing delivered: {}", receiver.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    receiver.sigterm();
    receiver.exited(Duration::from_secs(15));
    let log = receiver.log();
    assert!(log.contains("FORGED"), "the label never reached the log: {log}");
    for line in log.lines() {
        assert!(!line.contains("FORGED") || line.contains(r"\n2026-12-01T00:00:00Z FORGED"), "a forged line: {line}");
        assert!(!line.starts_with("2026-12-01"), "a forged line: {line}");
        assert!(!line.chars().any(char::is_control), "a control character: {line:?}");
    }
    assert!(log.contains(r"\x00\x1b[31m\r\u{2028}"), "{log}");
    assert!(log.contains(" DEBUG "), "{log}");
    assert!(!log.contains("handlebars"), "third-party debug output: {log}");
}
