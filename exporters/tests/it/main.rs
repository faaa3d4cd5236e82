//! The exporter over real HTTP: batches pushed as Logpush pushes them,
//! probes run against servers on loopback, and what `/metrics` then says.

// Helpers outside #[test] functions: a failed unwrap is a failed test here.
#![allow(clippy::unwrap_used, clippy::panic)]

mod examples;
mod files;
mod probe;
mod prometheus;
mod push;

use std::io::Write as _;

use edgewatch_exporters::Exporter;
use edgewatch_exporters::config::Config;
use flate2::Compression;
use flate2::write::GzEncoder;

/// A running exporter on a loopback port chosen by the OS.
pub(crate) struct Running {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub(crate) const CATALOG: &str = "
customers:
  - id: acme
    hosts: [www.acme.example, '*.api.acme.example']
    slos:
      latency:
        ttfb: {threshold: 250ms, objective: 99}
  - id: globex
    zones: [globex.example]
    slos:
      availability: {objective: 99, errors: [5xx]}
";

pub(crate) async fn start(config_yaml: &str) -> Running {
    let env = |k: &str| (k == "TEST_PUSH_SECRET").then(|| "s3cret".to_owned());
    start_with(CATALOG, config_yaml, env).await
}

/// An exporter of this catalog and configuration, reading secrets from `env`.
pub(crate) async fn start_with(catalog_yaml: &str, config_yaml: &str, env: impl Fn(&str) -> Option<String>) -> Running {
    let catalog = edgewatch_catalog::load_str("catalog.yaml", catalog_yaml).unwrap().catalog;
    let config = Config::parse(config_yaml).unwrap();
    serve(Exporter::build(&config, &catalog, env).unwrap()).await
}

/// Serves `exporter` on a loopback port until the [`Running`] is dropped.
pub(crate) async fn serve(exporter: Exporter) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let web = edgewatch_web::WebConfig::default();
        exporter
            .serve(listener, &web, async move {
                let _ = stopped.await;
            })
            .await
    });
    Running { base, client: edgewatch_test_kit::http_client(), stop: Some(stop) }
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

impl Running {
    pub(crate) async fn push(&self, path: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> (u16, String) {
        let mut req = self.client.post(format!("{}{path}", self.base)).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        let resp = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// The value of one counter sample of `/metrics`, 0 when absent.
    pub(crate) async fn sample(&self, series: &str) -> u64 {
        let (_, text) = self.get("/metrics").await;
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .map_or(0, |v| v.parse().unwrap())
    }
}
