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

    /// Posts `chunks` with chunked transfer encoding, as a client streaming
    /// a large batch does; with `finish` false the client stops sending
    /// half-way and closes its side. Returns the raw response (none when cut off).
    pub(crate) async fn push_chunked(
        &self,
        path: &str,
        chunks: &[&[u8]],
        headers: &[(&str, &str)],
        finish: bool,
    ) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let addr = self.base.strip_prefix("http://").unwrap();
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut head =
            format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n");
        for (k, v) in headers {
            head = head + k + ": " + v + "\r\n";
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        for chunk in chunks {
            stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await.unwrap();
            stream.write_all(chunk).await.unwrap();
            stream.write_all(b"\r\n").await.unwrap();
        }
        if !finish {
            // The server sees the body end early; no answer is expected.
            stream.shutdown().await.unwrap();
            return String::new();
        }
        stream.write_all(b"0\r\n\r\n").await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    /// `GET /metrics`, asking for a format as a scraper does.
    pub(crate) async fn metrics_as(&self, accept: &str) -> reqwest::Response {
        self.client.get(format!("{}/metrics", self.base)).header("Accept", accept).send().await.unwrap()
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
