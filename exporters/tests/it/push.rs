//! Logpush-shaped batches in, counters out.

use crate::{gzip, start, start_with};

const SECURED: &str = "push:\n  - name: cf\n    path: /ingest/cf\n    auth: {header: X-Logpush-Secret, secret: env:TEST_PUSH_SECRET}\n    max_body_bytes: 1MiB\n    max_decompressed_bytes: 4MiB\n";
const AUTH: (&str, &str) = ("X-Logpush-Secret", "s3cret");

/// One line per timestamp encoding and security field generation.
fn batch() -> Vec<u8> {
    [
        r#"{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200,"CacheCacheStatus":"hit","EdgeTimeToFirstByteMs":40,"EdgeEndTimestamp":1714564803000000000,"RayID":"a1","SecurityAction":""}"#,
        r#"{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200,"CacheCacheStatus":"miss","EdgeTimeToFirstByteMs":400,"EdgeEndTimestamp":1714564803,"RayID":"a2","OriginResponseStatus":200,"OriginResponseDurationMs":350}"#,
        r#"{"ClientRequestHost":"x.api.acme.example","EdgeResponseStatus":403,"CacheCacheStatus":"dynamic","EdgeEndTimestamp":"2024-05-01T12:00:03Z","WAFAction":"block","ClientIP":"198.51.100.7"}"#,
        r#"{"ClientRequestHost":"shop.globex.example","EdgeResponseStatus":524,"OriginResponseStatus":0,"EdgeEndTimestamp":"2024-05-01T12:00:03Z"}"#,
        r#"{"ClientRequestHost":"nobody.example","EdgeResponseStatus":200}"#,
        "{not json",
    ]
    .join("\n")
    .into_bytes()
}

#[tokio::test]
async fn a_gzip_batch_is_counted_by_customer_host_and_class() {
    let ex = start(SECURED).await;
    let (status, body) = ex.push("/ingest/cf", gzip(&batch()), &[AUTH, ("Content-Encoding", "gzip")]).await;
    assert_eq!((status, body.as_str()), (200, r#"{"lines":6,"malformed":1}"#));

    let req = |c: &str, h: &str, class: &str, cache: &str| {
        format!(
            r#"edgewatch_requests_total{{customer="{c}",host="{h}",status_class="{class}",cache_status="{cache}"}}"#
        )
    };
    assert_eq!(ex.sample(&req("acme", "www.acme.example", "2xx", "hit")).await, 1);
    assert_eq!(ex.sample(&req("acme", "www.acme.example", "2xx", "miss")).await, 1);
    assert_eq!(ex.sample(&req("acme", "x.api.acme.example", "4xx", "dynamic")).await, 1);
    assert_eq!(ex.sample(&req("globex", "shop.globex.example", "5xx", "none")).await, 1, "matched by zone");
    assert_eq!(
        ex.sample(&req("unknown", "nobody.example", "2xx", "none")).await,
        1,
        "no customer: counted, not dropped"
    );
    // The catalog's 250ms threshold is a bucket: one of two requests is under it.
    let le = r#"edgewatch_edge_ttfb_seconds_bucket{customer="acme",host="www.acme.example",le="0.25"}"#;
    assert_eq!(ex.sample(le).await, 1);
    let waf = r#"edgewatch_security_actions_total{customer="acme",host="x.api.acme.example",action="block"}"#;
    assert_eq!(ex.sample(waf).await, 1, "the pre-2023 WAFAction field");
    let timeout =
        r#"edgewatch_origin_errors_total{customer="globex",host="shop.globex.example",kind="response_timeout"}"#;
    assert_eq!(ex.sample(timeout).await, 1);
    assert_eq!(ex.sample(r#"edgewatch_exporter_lines_total{input="cf",result="malformed"}"#).await, 1);
    // globex's availability SLO judged its one request (a 524) bad; the
    // good series exists at zero, so rate() sees the first good request.
    let slo = |result: &str| {
        format!(
            r#"edgewatch_slo_requests_total{{customer="globex",slo="availability",slo_kind="availability",result="{result}"}}"#
        )
    };
    assert_eq!(ex.sample(&slo("bad")).await, 1);
    let (_, metrics) = ex.get("/metrics").await;
    assert!(metrics.contains(&format!("{} 0\n", slo("good"))), "{metrics}");
    // acme's latency SLO judged its two requests with a TTFB against 250ms:
    // 40ms good, 400ms bad; the 403 without one is not judged.
    let ttfb = |result: &str| {
        format!(r#"edgewatch_slo_requests_total{{customer="acme",slo="ttfb",slo_kind="latency",result="{result}"}}"#)
    };
    assert_eq!((ex.sample(&ttfb("good")).await, ex.sample(&ttfb("bad")).await), (1, 1));
    assert_eq!(ex.sample(r#"edgewatch_exporter_ingest_lag_seconds_count{input="cf"}"#).await, 4);

    // Plain NDJSON, any Content-Type, counts the same.
    let (status, _) = ex.push("/ingest/cf", batch(), &[AUTH, ("Content-Type", "application/octet-stream")]).await;
    assert_eq!(status, 200);
    assert_eq!(ex.sample(&req("acme", "www.acme.example", "2xx", "hit")).await, 2);
}

/// The exporter's half of the metric contract: with a probe configured,
/// every name in `names::metric` shows on /metrics, the prober's included.
#[tokio::test]
async fn produces_every_metric_of_the_contract() {
    let origin = crate::probe::https_origin("contract").await;
    let catalog = crate::probe::with_probe(&format!("name: home, url: 'https://localhost:{}/ok'", origin.port));
    let config = format!("{SECURED}probes: {{ca_file: '{}'}}\n", origin.ca_file.display());
    let env = |k: &str| (k == "TEST_PUSH_SECRET").then(|| "s3cret".to_owned());
    let ex = start_with(&catalog, &config, env).await;
    let (status, _) = ex.push("/ingest/cf", batch(), &[AUTH]).await;
    assert_eq!(status, 200);
    let body = r#"{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200,"OriginResponseStatus":200,"OriginResponseDurationMs":12,"EdgeTimeToFirstByteMs":20,"EdgeResponseBytes":100}"#;
    ex.push("/ingest/cf", body.as_bytes().to_vec(), &[AUTH]).await;
    let metrics = crate::probe::until(&ex, "the probe's first run", |t| {
        t.contains(r#"edgewatch_probe_success{customer="initech",probe="home",ip="127.0.0.1"} 1"#)
    })
    .await;
    for name in edgewatch_catalog::names::metric::ALL {
        assert!(metrics.lines().any(|l| l.starts_with(name) && !l.starts_with('#')), "/metrics lacks {name}");
    }
    // Its metrics about itself, which the pipeline alerts read, are always
    // declared (overflow has samples only once a cap is reached).
    for name in edgewatch_catalog::names::metric::EXPORTER_SELF {
        assert!(metrics.contains(&format!("# HELP {name} ")), "/metrics lacks {name}");
    }
}

#[tokio::test]
async fn every_security_action_is_counted_by_its_own_action() {
    // `skip` lets the request through, `block` stops it: both are counted,
    // each under its own label, and the HELP text does not call every
    // action terminating (dashboards and alerts pick the mitigating ones).
    let ex = start(SECURED).await;
    let line = |action: &str| {
        format!(r#"{{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200,"SecurityAction":"{action}"}}"#)
    };
    let body = [line("skip"), line("skip"), line("block")].join("\n");
    let (status, _) = ex.push("/ingest/cf", body.into_bytes(), &[AUTH]).await;
    assert_eq!(status, 200);
    let action = |a: &str| {
        format!(r#"edgewatch_security_actions_total{{customer="acme",host="www.acme.example",action="{a}"}}"#)
    };
    assert_eq!(ex.sample(&action("skip")).await, 2);
    assert_eq!(ex.sample(&action("block")).await, 1);
    let (_, metrics) = ex.get("/metrics").await;
    let help = metrics.lines().find(|l| l.starts_with("# HELP edgewatch_security_actions_total ")).unwrap();
    assert!(!help.contains("terminating"), "{help}");
    // It says which actions stop the request and which do not.
    assert!(help.contains("block") && help.contains("skip"), "{help}");
}

#[tokio::test]
async fn without_the_secret_nothing_is_counted() {
    let ex = start(SECURED).await;
    let (status, body) = ex.push("/ingest/cf", batch(), &[]).await;
    assert_eq!(status, 401);
    // The error shape every edgewatch service answers with.
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "error");
    assert!(body["error"].as_str().unwrap().contains("X-Logpush-Secret"), "{body}");
    let (status, _) = ex.push("/ingest/cf", batch(), &[("X-Logpush-Secret", "s3cres")]).await;
    assert_eq!(status, 401);
    assert_eq!(ex.sample(r#"edgewatch_exporter_batches_total{input="cf",result="unauthorized"}"#).await, 2);
    assert_eq!(ex.sample(r#"edgewatch_exporter_lines_total{input="cf",result="ok"}"#).await, 0);
}

#[tokio::test]
async fn a_broken_batch_is_refused_whole_and_counted_once_when_resent() {
    let ex = start(SECURED).await;
    let mut one = batch();
    one.push(b'\n');
    let full = gzip(&one.repeat(50));
    let (status, body) = ex.push("/ingest/cf", full[..full.len() - 40].to_vec(), &[AUTH]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("gzip"), "{body}");
    assert_eq!(ex.sample(r#"edgewatch_exporter_lines_total{input="cf",result="ok"}"#).await, 0);
    // Logpush sends the batch again; it counts once.
    let (status, _) = ex.push("/ingest/cf", full, &[AUTH]).await;
    assert_eq!(status, 200);
    assert_eq!(ex.sample(r#"edgewatch_exporter_lines_total{input="cf",result="ok"}"#).await, 250);
}

#[tokio::test]
async fn bombs_and_oversized_bodies_get_413() {
    let ex = start(SECURED).await;
    let bomb = gzip(&vec![b'\n'; 32 << 20]);
    let (status, body) = ex.push("/ingest/cf", bomb, &[AUTH]).await;
    assert_eq!(status, 413, "{body}");
    let (status, _) = ex.push("/ingest/cf", vec![b'\n'; 2 << 20], &[AUTH]).await;
    assert_eq!(status, 413, "over max_body_bytes");
    assert_eq!(ex.sample(r#"edgewatch_exporter_batches_total{input="cf",result="too_large"}"#).await, 2);
}

#[tokio::test]
async fn a_batch_streamed_in_small_chunks_is_counted_whole() {
    let ex = start(SECURED).await;
    let mut one = batch();
    one.push(b'\n');
    let body = gzip(&one.repeat(2000));
    // A first chunk of one byte splits gzip's magic, and there is no
    // Content-Encoding header: the body is still recognised as gzip.
    let chunks: Vec<&[u8]> = std::iter::once(&body[..1]).chain(body[1..].chunks(997)).collect();
    assert!(chunks.len() > 10);
    let response = ex.push_chunked("/ingest/cf", &chunks, &[AUTH], true).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with(r#"{"lines":12000,"malformed":2000}"#), "{response}");
    assert_eq!(ex.sample(r#"edgewatch_exporter_lines_total{input="cf",result="ok"}"#).await, 10_000);
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_gets_413_without_content_length() {
    let ex = start(SECURED).await;
    let line = br#"{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200}"#.to_vec();
    let mut data = Vec::new();
    while data.len() <= 1 << 20 {
        data.extend_from_slice(&line);
        data.push(b'\n');
    }
    let chunks: Vec<&[u8]> = data.chunks(64 * 1024).collect();
    let response = ex.push_chunked("/ingest/cf", &chunks, &[AUTH], true).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert_eq!(ex.sample(r#"edgewatch_exporter_lines_total{input="cf",result="ok"}"#).await, 0);
    assert_eq!(ex.sample(r#"edgewatch_exporter_batches_total{input="cf",result="too_large"}"#).await, 1);
}

#[tokio::test]
async fn a_body_cut_off_counts_nothing_and_counts_once_when_resent() {
    let ex = start(SECURED).await;
    let mut one = batch();
    one.push(b'\n');
    let plain = one.repeat(400);
    let chunks: Vec<&[u8]> = plain.chunks(4096).collect();
    ex.push_chunked("/ingest/cf", &chunks[..chunks.len() / 2], &[AUTH], false).await;
    let broken = r#"edgewatch_exporter_batches_total{input="cf",result="broken"}"#;
    for _ in 0..100 {
        if ex.sample(broken).await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(ex.sample(broken).await, 1, "the cut-off batch is counted as broken");
    assert_eq!(ex.sample(r#"edgewatch_exporter_lines_total{input="cf",result="ok"}"#).await, 0);
    let response = ex.push_chunked("/ingest/cf", &chunks, &[AUTH], true).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert_eq!(ex.sample(r#"edgewatch_exporter_lines_total{input="cf",result="ok"}"#).await, 2000);
}

#[tokio::test]
async fn the_root_is_a_landing_page_linking_the_endpoints() {
    let ex = start(SECURED).await;
    let (status, page) = ex.get("/").await;
    assert_eq!(status, 200);
    for link in
        ["<a href=\"/metrics\">", "<a href=\"/-/healthy\">", "<a href=\"/-/ready\">", "/api/v1/top", "/ingest/cf"]
    {
        assert!(page.contains(link), "{link} missing:\n{page}");
    }
}

#[tokio::test]
async fn answers_logpush_destination_validation() {
    let ex = start(SECURED).await;
    let (status, _) = ex.push("/ingest/cf", gzip(br#"{"content":"tests"}"#), &[AUTH]).await;
    assert_eq!(status, 200);
    assert_eq!(ex.sample(r#"edgewatch_exporter_lines_total{input="cf",result="ok"}"#).await, 0);
}

#[tokio::test]
async fn hosts_past_the_cap_count_as_other() {
    let ex = start("limits: {hosts_per_customer: 2}\n").await;
    let lines: Vec<String> = (0..5)
        .map(|i| format!(r#"{{"ClientRequestHost":"h{i}.api.acme.example","EdgeResponseStatus":200}}"#))
        .collect();
    let (status, _) = ex.push("/ingest/logpush", lines.join("\n").into_bytes(), &[]).await;
    assert_eq!(status, 200);
    let other = r#"edgewatch_requests_total{customer="acme",host="other",status_class="2xx",cache_status="none"}"#;
    assert_eq!(ex.sample(other).await, 3);
    assert_eq!(ex.sample(r#"edgewatch_exporter_overflow_total{customer="acme",label="host"}"#).await, 3);
}

/// A batch naming far more hosts than the caps: its customers' further
/// hosts count under `other` at once, and every request still counts.
#[tokio::test]
async fn a_batch_of_thousands_of_hosts_counts_every_request_within_the_caps() {
    use std::fmt::Write as _;
    let ex = start("limits: {hosts_per_customer: 3, batch_hosts: 10}\n").await;
    let mut body = String::new();
    for i in 0..5_000 {
        writeln!(body, r#"{{"ClientRequestHost":"h{i}.stranger.example","EdgeResponseStatus":200}}"#).unwrap();
        if i % 1000 == 999 {
            body.push_str(r#"{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200}"#);
            body.push('\n');
        }
    }
    let (status, answer) = ex.push("/ingest/logpush", gzip(body.as_bytes()), &[]).await;
    assert_eq!((status, answer.as_str()), (200, r#"{"lines":5005,"malformed":0}"#));
    let (_, metrics) = ex.get("/metrics").await;
    let requests: Vec<(&str, u64)> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("edgewatch_requests_total{"))
        .map(|l| {
            let (labels, value) = l.rsplit_once("} ").unwrap();
            (labels, value.parse().unwrap())
        })
        .collect();
    let unknown: Vec<_> = requests.iter().filter(|(l, _)| l.starts_with(r#"customer="unknown""#)).collect();
    assert_eq!(unknown.len(), 4, "three hosts and other: {unknown:?}");
    assert_eq!(requests.iter().map(|(_, n)| n).sum::<u64>(), 5005, "every request");
    let other = r#"edgewatch_requests_total{customer="unknown",host="other",status_class="2xx",cache_status="none"}"#;
    assert_eq!(ex.sample(other).await, 4997);
    assert_eq!(ex.sample(r#"edgewatch_exporter_overflow_total{customer="unknown",label="host"}"#).await, 4997);
    let acme =
        r#"edgewatch_requests_total{customer="acme",host="www.acme.example",status_class="2xx",cache_status="none"}"#;
    assert_eq!(ex.sample(acme).await, 5, "another customer keeps its host");
}

#[tokio::test]
async fn health_readiness_metrics_and_top_offenders() {
    // Every request counted among `requests`, so the counts are exact.
    let ex = start("limits: {top_requests_sample: 1}\n").await;
    assert_eq!(ex.get("/-/healthy").await.0, 200);
    assert_eq!(ex.get("/-/ready").await.0, 200);
    let resp = ex.metrics_as("application/openmetrics-text;version=1.0.0").await;
    assert_eq!(resp.headers()["content-type"], "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert!(resp.text().await.unwrap().ends_with("# EOF\n"));

    // Ten blocked requests (seven from one address) among thirty.
    let lines: Vec<String> = (0..30)
        .map(|i| match i {
            0..7 => blocked("192.0.2.66"),
            7..10 => blocked("192.0.2.1"),
            _ => format!(
                r#"{{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200,"ClientIP":"198.51.100.{i}"}}"#
            ),
        })
        .collect();
    ex.push("/ingest/logpush", lines.join("\n").into_bytes(), &[]).await;
    let (status, body) = ex.get("/api/v1/top?customer=acme&by=ip&n=1").await;
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((doc["of"].as_str(), doc["total"].as_u64()), (Some("offending"), Some(10)), "{doc}");
    assert_eq!(doc["top"][0]["value"], "192.0.2.66");
    assert_eq!(doc["top"][0]["share"], 0.7);
    assert_eq!(doc["unlisted"], 3, "the next address had three: an unlisted key had at most that");
    let (_, body) = ex.get("/api/v1/top?customer=acme&by=ip&n=2&of=requests").await;
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["total"], 30, "every request counts among `requests`");
    assert_eq!(doc["top"][0]["value"], "192.0.2.66");
    assert_eq!(doc["top"][1]["value"], "192.0.2.1");
    assert_eq!(doc["unlisted"], 1);
    assert_eq!(ex.get("/api/v1/top?customer=acme&by=ip&of=everything").await.0, 400);
    assert_eq!(ex.get("/api/v1/top?customer=nobody&by=ip").await.0, 404);
    assert_eq!(ex.get("/api/v1/top?customer=acme&by=colour").await.0, 400);
    assert_eq!(ex.get("/api/v1/top").await.0, 400);
}

/// A push input that names another format counts lines of that format,
/// gzip or not, through the same path as Logpush's.
#[tokio::test]
async fn a_push_input_takes_the_format_it_names() {
    let ex = start(
        "push:
  - name: nginx
    path: /ingest/nginx
    format:
      combined: {trailing: [request_time, host]}
",
    )
    .await;
    let lines = [
        r#"192.0.2.1 - - [21/Nov/2026:04:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl" 0.050 www.acme.example"#,
        r#"192.0.2.2 - - [21/Nov/2026:04:00:01 +0000] "GET /cart HTTP/1.1" 503 0 "-" "curl" 1.500 www.acme.example"#,
        r#"{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200}"#,
    ]
    .join("\n");
    let (status, body) = ex.push("/ingest/nginx", gzip(lines.as_bytes()), &[]).await;
    assert_eq!((status, body.as_str()), (200, r#"{"lines":3,"malformed":1}"#), "a Logpush line is not combined");
    let req = |class: &str| {
        format!(
            r#"edgewatch_requests_total{{customer="acme",host="www.acme.example",status_class="{class}",cache_status="none"}}"#
        )
    };
    assert_eq!((ex.sample(&req("2xx")).await, ex.sample(&req("5xx")).await), (1, 1));
    let le = r#"edgewatch_edge_ttfb_seconds_bucket{customer="acme",host="www.acme.example",le="0.25"}"#;
    assert_eq!(ex.sample(le).await, 1, "request_time, in seconds");
    let (_, landing) = ex.get("/").await;
    assert!(landing.contains("/ingest/nginx"), "{landing}");
}

/// By default one request in eight is counted among all requests, with
/// weight eight: a heavy hitter's share comes out close to the truth.
#[tokio::test]
async fn the_top_keys_of_all_requests_are_estimated_from_a_sample() {
    let ex = start("").await;
    let lines: Vec<String> = (0..4000)
        .map(|i| {
            let ip = if i % 5 < 2 { "192.0.2.7".to_owned() } else { format!("198.51.100.{}", i % 250) };
            format!(r#"{{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":200,"ClientIP":"{ip}"}}"#)
        })
        .collect();
    ex.push("/ingest/logpush", lines.join("\n").into_bytes(), &[]).await;
    let (_, body) = ex.get("/api/v1/top?customer=acme&by=ip&n=1&of=requests").await;
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["total"], 4000, "500 sampled lines, each weighing eight");
    assert_eq!(doc["top"][0]["value"], "192.0.2.7");
    let share = doc["top"][0]["share"].as_f64().unwrap();
    assert!((share - 0.4).abs() < 0.05, "two requests in five: {share}");
    let (_, body) = ex.get("/api/v1/top?customer=acme&by=ip&n=1").await;
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["total"], 0, "nothing was refused or failed");
}

fn blocked(ip: &str) -> String {
    format!(
        r#"{{"ClientRequestHost":"www.acme.example","EdgeResponseStatus":403,"SecurityAction":"block","ClientIP":"{ip}"}}"#
    )
}
