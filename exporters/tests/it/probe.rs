//! The prober against real servers on loopback: plain HTTP, HTTPS with a
//! self-signed certificate for `localhost`, a closed port and a server too
//! slow to answer. Probes run every second, so each test waits a few.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use edgewatch_exporters::Exporter;
use edgewatch_exporters::config::Config;

use crate::{Running, serve, start_with};

/// Request headers an origin saw: (path, authorization, user-agent).
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// The origin's answers, one per path.
fn origin_router(seen: &Seen) -> Router {
    let record = |path: &'static str, seen: Seen| {
        move |headers: HeaderMap| {
            let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            seen.lock().unwrap().push((path.to_owned(), value("authorization"), value("user-agent")));
            async move { if path == "/secret" { StatusCode::OK } else { StatusCode::NOT_FOUND } }
        }
    };
    Router::new()
        .route("/ok", get(|| async { ([("X-Served-By", "edge-1")], "hello edgewatch") }))
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "no such page") }))
        .route("/maintenance", get(|| async { "Down for maintenance" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "too late"
            }),
        )
        .route("/secret", get(record("/secret", Arc::clone(seen))))
        .route("/secret-404", get(record("/secret-404", Arc::clone(seen))))
}

/// A plain HTTP origin on a loopback port.
pub(crate) async fn http_origin() -> (u16, Seen) {
    let seen = Seen::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = origin_router(&seen);
    tokio::spawn(async move { axum::serve(listener, router).await });
    (port, seen)
}

/// An HTTPS origin with a self-signed certificate for `localhost`.
pub(crate) struct TlsOrigin {
    pub(crate) port: u16,
    /// The certificate, as PEM: what `probes.ca_file` trusts.
    pub(crate) ca_file: PathBuf,
    /// The certificate's notAfter, unix seconds.
    pub(crate) not_after: i64,
}

pub(crate) async fn https_origin(name: &str) -> TlsOrigin {
    let dir = edgewatch_test_kit::scratch_dir(&format!("probe-{name}"));
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.not_after = rcgen::date_time_ymd(2031, 5, 6);
    let not_after = params.not_after.unix_timestamp();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
    let web_yml = dir.join("web.yml");
    std::fs::write(&web_yml, "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n").unwrap();
    let web = edgewatch_web::WebConfig::load(&web_yml).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = origin_router(&Seen::default());
    tokio::spawn(async move { edgewatch_web::serve(listener, router, &web, std::future::pending()).await });
    TlsOrigin { port, ca_file: dir.join("tls.crt"), not_after }
}

/// A catalog of one customer, `acme`, with these probes (YAML flow
/// mappings), each every second on IPv4.
pub(crate) fn catalog(probes: &[String]) -> String {
    let mut yaml = String::from("customers:\n  - id: acme\n    hosts: [www.acme.example]\n    probes:\n");
    for p in probes {
        let _ = writeln!(yaml, "      - {{interval: 1s, timeout: 500ms, ip_families: [ipv4], {p}}}");
    }
    yaml
}

/// The request-log tests' catalog plus customer `initech` with this probe.
pub(crate) fn with_probe(probe: &str) -> String {
    let extra = catalog(&[probe.to_owned()])
        .trim_start_matches("customers:\n")
        .replace("id: acme", "id: initech")
        .replace("www.acme.example", "www.initech.example");
    format!("{}{extra}", crate::CATALOG)
}

/// The value of one sample of `text`.
pub(crate) fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map(|v| v.parse().unwrap())
}

/// `/metrics` once `ready` holds, failing the test after 20 s.
pub(crate) async fn until(ex: &Running, what: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, text) = ex.get("/metrics").await;
        if ready(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what}: not within 20s\n--- /metrics:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn series(metric: &str, probe: &str, ip: &str, extra: &str) -> String {
    format!(r#"{metric}{{customer="acme",probe="{probe}",ip="{ip}"{extra}}}"#)
}

fn success(probe: &str, ip: &str) -> String {
    series("edgewatch_probe_success", probe, ip, "")
}

fn total(probe: &str, ip: &str, result: &str) -> String {
    series("edgewatch_probes_total", probe, ip, &format!(r#",result="{result}""#))
}

fn status(probe: &str, ip: &str) -> String {
    series("edgewatch_probe_http_status_code", probe, ip, "")
}

fn phase(probe: &str, ip: &str, phase: &str) -> String {
    series("edgewatch_probe_duration_seconds", probe, ip, &format!(r#",phase="{phase}""#))
}

fn not_after(probe: &str) -> String {
    format!(r#"edgewatch_probe_tls_not_after_timestamp_seconds{{customer="acme",probe="{probe}"}}"#)
}

const LOCAL: &str = "127.0.0.1";

#[tokio::test]
async fn http_probes_check_status_body_and_headers() {
    let (port, _) = http_origin().await;
    let url = |path: &str| format!("url: 'http://localhost:{port}{path}'");
    let yaml = catalog(&[
        format!(
            "name: ok, {}, expect: {{status: [200], body_matches: hello, headers: {{x-served-by: ^edge-}}}}",
            url("/ok")
        ),
        format!("name: wrong-status, {}", url("/missing")),
        format!("name: body, {}, expect: {{body_matches: goodbye}}", url("/ok")),
        format!("name: forbidden-body, {}, expect: {{body_not_matches: (?i)maintenance}}", url("/maintenance")),
        format!("name: header, {}, expect: {{headers: {{x-served-by: ^origin-}}}}", url("/ok")),
        format!("name: missing-header, {}, expect: {{headers: {{x-cache: HIT}}}}", url("/ok")),
    ]);
    let ex = start_with(&yaml, "", |_| None).await;
    let failing = ["wrong-status", "body", "forbidden-body", "header", "missing-header"];
    let text = until(&ex, "two successful runs and a failure of each failing probe", |t| {
        value(t, &total("ok", LOCAL, "success")) >= Some(2.0)
            && failing.iter().all(|p| value(t, &total(p, LOCAL, "failure")) >= Some(1.0))
    })
    .await;

    assert_eq!(value(&text, &success("ok", LOCAL)), Some(1.0));
    assert_eq!(value(&text, &total("ok", LOCAL, "failure")), Some(0.0), "both results exist from the first probe");
    assert_eq!(value(&text, &status("ok", LOCAL)), Some(200.0));
    for p in ["resolve", "connect", "processing", "transfer"] {
        assert!(value(&text, &phase("ok", LOCAL, p)) >= Some(0.0), "{p}:\n{text}");
    }
    assert!(value(&text, &phase("ok", LOCAL, "connect")) > Some(0.0), "{text}");
    assert!(value(&text, &phase("ok", LOCAL, "processing")) > Some(0.0), "{text}");
    assert_eq!(value(&text, &phase("ok", LOCAL, "tls")), Some(0.0), "no TLS over http");
    assert!(!text.contains("edgewatch_probe_tls_not_after_timestamp_seconds{"), "no certificate over http");

    for p in failing {
        assert_eq!(value(&text, &success(p, LOCAL)), Some(0.0), "{p}");
        assert_eq!(value(&text, &total(p, LOCAL, "success")), Some(0.0), "{p}");
    }
    assert_eq!(value(&text, &status("wrong-status", LOCAL)), Some(404.0));
    assert_eq!(value(&text, &status("body", LOCAL)), Some(200.0), "the status of a response that failed a check");

    // Counters keep counting.
    let runs = value(&text, &total("ok", LOCAL, "success")).unwrap();
    until(&ex, "another run", |t| value(t, &total("ok", LOCAL, "success")) > Some(runs)).await;
    edgewatch_test_kit::check_metrics(&text);
}

#[tokio::test]
async fn refused_unresolvable_and_slow_targets_fail() {
    let (port, _) = http_origin().await;
    let closed = edgewatch_test_kit::free_port();
    let yaml = catalog(&[
        format!("name: refused, url: 'http://localhost:{closed}/'"),
        format!("name: slow, url: 'http://localhost:{port}/slow'"),
        "name: nowhere, url: 'http://edgewatch-test.invalid/'".to_owned(),
    ]);
    let ex = start_with(&yaml, "", |_| None).await;
    let text = until(&ex, "a failure of each probe", |t| {
        ["refused", "slow"].iter().all(|p| value(t, &total(p, LOCAL, "failure")) >= Some(1.0))
            && value(t, &total("nowhere", "0.0.0.0", "failure")) >= Some(1.0)
    })
    .await;

    assert_eq!(value(&text, &success("refused", LOCAL)), Some(0.0));
    assert_eq!(value(&text, &status("refused", LOCAL)), Some(0.0));
    assert_eq!(value(&text, &total("refused", LOCAL, "success")), Some(0.0));
    assert_eq!(value(&text, &phase("refused", LOCAL, "processing")), Some(0.0), "never got that far");

    // The timeout (500ms) ended the wait for the response head.
    assert_eq!(value(&text, &success("slow", LOCAL)), Some(0.0));
    assert_eq!(value(&text, &status("slow", LOCAL)), Some(0.0));
    let waited = value(&text, &phase("slow", LOCAL, "processing")).unwrap();
    assert!((0.4..2.0).contains(&waited), "processing took {waited}s, not about the 500ms timeout");

    // A name that does not resolve fails under the family's unspecified address.
    assert_eq!(value(&text, &success("nowhere", "0.0.0.0")), Some(0.0));
    assert_eq!(value(&text, &status("nowhere", "0.0.0.0")), Some(0.0));
    edgewatch_test_kit::check_metrics(&text);
}

#[tokio::test]
async fn https_probes_report_the_certificate_and_check_it() {
    let origin = https_origin("https").await;
    let port = origin.port;
    let yaml = catalog(&[
        format!("name: tls, url: 'https://localhost:{port}/ok'"),
        // The certificate names localhost, not the address.
        format!("name: wrong-name, url: 'https://127.0.0.1:{port}/ok'"),
    ]);
    let config = format!("probes: {{ca_file: '{}'}}\n", origin.ca_file.display());
    let ex = start_with(&yaml, &config, |_| None).await;
    let text = until(&ex, "a success and a failure", |t| {
        value(t, &total("tls", LOCAL, "success")) >= Some(1.0)
            && value(t, &total("wrong-name", LOCAL, "failure")) >= Some(1.0)
    })
    .await;
    assert_eq!(value(&text, &success("tls", LOCAL)), Some(1.0), "{text}");
    assert_eq!(value(&text, &status("tls", LOCAL)), Some(200.0));
    assert!(value(&text, &phase("tls", LOCAL, "tls")) > Some(0.0), "{text}");
    #[allow(clippy::cast_precision_loss)] // unix seconds are far below 2^53
    let expected = origin.not_after as f64;
    assert_eq!(value(&text, &not_after("tls")), Some(expected));

    assert_eq!(value(&text, &success("wrong-name", LOCAL)), Some(0.0));
    assert_eq!(value(&text, &status("wrong-name", LOCAL)), Some(0.0));
    edgewatch_test_kit::check_metrics(&text);

    // OpenMetrics too: the seconds unit, and `# EOF` last.
    let resp = ex.metrics_as("application/openmetrics-text;version=1.0.0").await;
    let open = resp.text().await.unwrap();
    assert!(open.contains("# UNIT edgewatch_probe_tls_not_after_timestamp_seconds seconds\n"), "{open}");
    assert!(open.contains("# TYPE edgewatch_probes counter\n"), "{open}");
    assert!(open.ends_with("# EOF\n"));
}

#[tokio::test]
async fn an_untrusted_certificate_fails_the_probe() {
    let origin = https_origin("untrusted").await;
    let yaml = catalog(&[format!("name: tls, url: 'https://localhost:{}/ok'", origin.port)]);
    // No ca_file: only the public roots, which never signed this certificate.
    let ex = start_with(&yaml, "", |_| None).await;
    let text = until(&ex, "a failure", |t| value(t, &total("tls", LOCAL, "failure")) >= Some(1.0)).await;
    assert_eq!(value(&text, &success("tls", LOCAL)), Some(0.0));
    assert_eq!(value(&text, &status("tls", LOCAL)), Some(0.0));
    assert_eq!(value(&text, &phase("tls", LOCAL, "processing")), Some(0.0), "no request after the handshake failed");
    // What was served still says when it expires (an expired certificate
    // keeps its expiry alert).
    #[allow(clippy::cast_precision_loss)]
    let expected = origin.not_after as f64;
    assert_eq!(value(&text, &not_after("tls")), Some(expected));
}

/// Every log line of this test binary from edgewatch's crates, captured
/// by one global subscriber (a per-test one misses events when tests run in
/// parallel: tracing caches per call site whether anyone listens).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Logs {
    static LOGS: std::sync::OnceLock<Logs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("edgewatch_exporters=trace"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        logs
    })
}

const TOKEN: &str = "Bearer tok-5ecret-v4lue";

#[tokio::test]
async fn secret_headers_are_sent_and_never_shown() {
    let logs = logs();
    let (port, seen) = http_origin().await;
    // Its own customer id, to find its lines among every test's.
    let yaml = catalog(&[
        format!("name: api, url: 'http://localhost:{port}/secret', headers: {{Authorization: env:PROBE_TOKEN}}"),
        format!(
            "name: api-down, url: 'http://localhost:{port}/secret-404', headers: {{Authorization: env:PROBE_TOKEN}}"
        ),
    ])
    .replace("id: acme", "id: secretive");
    let built = edgewatch_catalog::load_str("catalog.yaml", &yaml).unwrap().catalog;
    let env = |k: &str| (k == "PROBE_TOKEN").then(|| TOKEN.to_owned());
    let exporter = Exporter::build(&Config::default(), &built, env).unwrap();
    assert!(!format!("{exporter:?}").contains("5ecret"), "Debug shows no secret");
    let ex = serve(exporter).await;
    let total = |probe: &str, result: &str| {
        format!(r#"edgewatch_probes_total{{customer="secretive",probe="{probe}",ip="{LOCAL}",result="{result}"}}"#)
    };
    let text = until(&ex, "a run of each probe", |t| {
        value(t, &total("api", "success")) >= Some(1.0) && value(t, &total("api-down", "failure")) >= Some(1.0)
    })
    .await;

    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().any(|(path, auth, _)| path == "/secret" && auth == TOKEN), "{seen:?}");
    let agent = format!("edgewatch-prober/{}", env!("CARGO_PKG_VERSION"));
    assert!(seen.iter().all(|(_, _, ua)| *ua == agent), "{seen:?}");
    assert!(!text.contains("5ecret"), "{text}");

    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    let failed = logged
        .lines()
        .find(|l| l.contains("customer=\"secretive\"") && l.contains("Probe failed."))
        .unwrap_or_else(|| panic!("no failure logged:\n{logged}"));
    assert!(failed.contains("probe=\"api-down\"") && failed.contains("status 404 is not one of 2xx"), "{failed}");
    assert!(logged.contains("customer=\"secretive\" probe=\"api\""), "{logged}");
    assert!(!logged.contains("5ecret"), "{logged}");
}

#[tokio::test]
async fn build_errors_name_what_is_wrong() {
    let yaml = catalog(&["name: api, url: 'https://localhost/', headers: {X-Api-Key: env:PROBE_KEY}".to_owned()]);
    let catalog = edgewatch_catalog::load_str("catalog.yaml", &yaml).unwrap().catalog;
    let err = Exporter::build(&Config::default(), &catalog, |_| None).unwrap_err().to_string();
    assert_eq!(
        err,
        "customer `acme`, probe `api`: header `X-Api-Key`: environment variable `PROBE_KEY` is not set or empty"
    );

    let config = Config::parse("probes: {ca_file: /nonexistent/ca.pem}\n").unwrap();
    let err = Exporter::build(&config, &catalog, |_| Some("k".to_owned())).unwrap_err().to_string();
    assert!(err.starts_with("probes.ca_file `/nonexistent/ca.pem`: "), "{err}");

    // Off: nothing runs and no secret is needed.
    let config = Config::parse("probes: {enabled: false}\n").unwrap();
    let ex = serve(Exporter::build(&config, &catalog, |_| None).unwrap()).await;
    let (_, text) = ex.get("/metrics").await;
    assert!(!text.contains("edgewatch_probe"), "{text}");
}
