//! Tailed files: three formats, rotation, and a restart that counts no line
//! twice.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::start;

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Waits until a counter reaches `want` (files are polled four times a second).
async fn wait_for(ex: &crate::Running, series: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = ex.sample(series).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{series} is {got}, expected {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn config(dir: &Path) -> String {
    format!(
        "push: []
state_dir: {dir}/state
files:
  - name: cf
    paths: [{dir}/logpush.ndjson]
    start_at: beginning
  - name: nginx
    paths: [{dir}/nginx.json]
    format:
      json:
        fields: {{host: host, edge_status: status, ttfb: {{key: request_time, unit: s}}}}
    start_at: beginning
  - name: vhost
    paths: [{dir}/shop.log]
    format:
      combined:
        trailing: [request_time]
        host: www.acme.example
    start_at: beginning
",
        dir = dir.display()
    )
}

const ACME_2XX: &str =
    r#"edgewatch_requests_total{customer="acme",host="www.acme.example",status_class="2xx",cache_status="none"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_formats_rotation_and_restart() {
    let dir = std::env::temp_dir().join(format!("edgewatch-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    append(&dir.join("logpush.ndjson"), "{\"ClientRequestHost\":\"www.acme.example\",\"EdgeResponseStatus\":200}\n");
    append(&dir.join("nginx.json"), "{\"host\":\"www.acme.example\",\"status\":200,\"request_time\":0.2}\n");
    append(
        &dir.join("shop.log"),
        "192.0.2.1 - - [21/Nov/2026:04:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl\" 0.050\n",
    );

    let ex = start(&config(&dir)).await;
    wait_for(&ex, ACME_2XX, 3).await;
    // Ready once every input has read its file once; the count can show a
    // moment before the input reports in.
    let deadline = Instant::now() + Duration::from_secs(5);
    while ex.get("/-/ready").await.0 != 200 {
        assert!(Instant::now() < deadline, "not ready 5 s after every file was read");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let le = r#"edgewatch_edge_ttfb_seconds_bucket{customer="acme",host="www.acme.example",le="0.25"}"#;
    assert_eq!(ex.sample(le).await, 2, "0.2s and 0.05s, in seconds from both formats");

    // A partial line waits; rotation by rename keeps late writes.
    append(&dir.join("nginx.json"), "{\"host\":\"www.acme.example\",\"status\":200");
    std::fs::rename(dir.join("nginx.json"), dir.join("nginx.json.1")).unwrap();
    append(&dir.join("nginx.json.1"), "}\n");
    append(&dir.join("nginx.json"), "{\"host\":\"www.acme.example\",\"status\":200}\n");
    wait_for(&ex, ACME_2XX, 5).await;
    drop(ex);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A new process resumes after the last counted line: only new lines count.
    append(&dir.join("logpush.ndjson"), "{\"ClientRequestHost\":\"www.acme.example\",\"EdgeResponseStatus\":200}\n");
    let ex = start(&config(&dir)).await;
    wait_for(&ex, ACME_2XX, 1).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(ex.sample(ACME_2XX).await, 1, "nothing counted twice after the restart");
    drop(ex);
    let _ = std::fs::remove_dir_all(&dir);
}
