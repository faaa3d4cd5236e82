//! Prometheus unreachable or answering errors: the report fails with an
//! error that says which and why, before anything is written.

use std::time::Duration;

use edgewatch_reports::prom::PromError;
use edgewatch_reports::{NoIncidents, Period, PeriodSpec, Prometheus, ReportError, Selection};
use jiff::tz::TimeZone;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A server that answers every request with `status` and `body`.
async fn answering(status: &'static str, body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65_536];
                let _ = socket.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    url
}

async fn report(url: &str) -> ReportError {
    let catalog = edgewatch_catalog::load_str("catalog.yaml", crate::data::CATALOG).unwrap().catalog;
    let now = "2026-02-02T00:00:00Z".parse().unwrap();
    let spec = PeriodSpec::Range { from: "2026-01-01".parse().unwrap(), to: "2026-01-31".parse().unwrap() };
    let period = Period::resolve(&spec, &TimeZone::UTC, now).unwrap();
    let prom = Prometheus::new(url, Duration::from_secs(5)).unwrap();
    edgewatch_reports::build(&catalog, &prom, &NoIncidents, &Selection::Ids(vec!["steady".into()]), &period, now)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn prometheus_errors_are_named() {
    let url = answering("422 Unprocessable Entity", r#"{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory"}"#).await;
    let err = report(&url).await;
    assert!(matches!(err, ReportError::Prometheus(PromError::Answer { status: 422, .. })), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("answered 422: execution: query processing would load too many samples"), "{text}");

    let url = answering("503 Service Unavailable", "Service Unavailable").await;
    let text = report(&url).await.to_string();
    assert!(text.contains("answered 503: not the query API's JSON: Service Unavailable"), "{text}");

    // A proxy that says 200 but is not Prometheus.
    let url = answering("200 OK", "<html>login</html>").await;
    let text = report(&url).await.to_string();
    assert!(text.contains("not the query API's JSON"), "{text}");
}

#[tokio::test]
async fn unreachable_prometheus_is_named() {
    let port = edgewatch_test_kit::free_port();
    let err = report(&format!("http://127.0.0.1:{port}")).await;
    assert!(matches!(err, ReportError::Prometheus(PromError::Unreachable { .. })), "{err:?}");
    assert!(err.to_string().starts_with(&format!("Prometheus at http://127.0.0.1:{port}/ is unreachable")), "{err}");
}

#[tokio::test]
async fn unknown_customers_are_refused_with_a_suggestion() {
    let catalog = edgewatch_catalog::load_str("catalog.yaml", crate::data::CATALOG).unwrap().catalog;
    let err = edgewatch_reports::select(&catalog, &Selection::Ids(vec!["steady".into(), "breech".into()])).unwrap_err();
    assert_eq!(err.to_string(), "unknown customer `breech` (did you mean `breach`?)");
}
