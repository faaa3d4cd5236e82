//! A Logpush push, end to end through the exporter's router: whatever the
//! body (gzip or not, JSON or not, any bytes), the answer is 200, 400 or
//! 413 (never a 5xx or a panic), and `/metrics` still renders afterwards.
#![no_main]

use std::sync::LazyLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use edgewatch_exporters::Exporter;
use edgewatch_exporters::config::{ByteSize, Config};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

const CATALOG: &str = "customers:
  - id: acme
    hosts: [www.acme.example, '*.api.acme.example']
    slos:
      availability: {objective: 99, errors: [5xx]}
      latency:
        ttfb: {threshold: 250ms, objective: 99}
";

static EXPORTER: LazyLock<Exporter> = LazyLock::new(|| {
    let catalog = edgewatch_catalog::load_str("fuzz.yaml", CATALOG).expect("catalog").catalog;
    let mut config = Config::default();
    // Small, so a gzip bomb is refused after a few reads, not a GiB.
    config.push[0].max_decompressed_bytes = ByteSize(1 << 20);
    Exporter::build(&config, &catalog, |_| None).expect("exporter")
});

fuzz_target!(|data: &[u8]| {
    // The first byte chooses whether the body claims gzip.
    let (claim_gzip, body) = match data.split_first() {
        Some((b, rest)) => (b & 1 == 1, rest),
        None => (false, data),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(async {
        let mut request = Request::post("/ingest/logpush");
        if claim_gzip {
            request = request.header("content-encoding", "gzip");
        }
        let request = request.body(Body::from(body.to_vec())).expect("request");
        let response = EXPORTER.router().oneshot(request).await.expect("infallible");
        assert!(
            matches!(response.status(), StatusCode::OK | StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE),
            "push answered {}",
            response.status()
        );
        let metrics = Request::get("/metrics").body(Body::empty()).expect("request");
        let response = EXPORTER.router().oneshot(metrics).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
    });
});
