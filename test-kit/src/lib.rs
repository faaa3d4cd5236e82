//! What edgewatch's tests share. Tests use the real Prometheus, promtool,
//! amtool and Alertmanager; `scripts/test` installs them, and a test that
//! cannot find one fails (it never skips).

// Test support: a failure here is a failed test, with the reason.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::path::{Path, PathBuf};

pub mod postgres;
pub mod rules_language;
pub mod smtp;

/// The path of `name` on `PATH`; panics naming the Debian `package` that
/// brings it when it is missing.
pub fn tool(name: &str, package: &str) -> String {
    std::env::var_os("PATH")
        .and_then(|p| p.to_str().map(str::to_owned))
        .and_then(|p| p.split(':').map(|d| format!("{d}/{name}")).find(|p| Path::new(p).is_file()))
        .unwrap_or_else(|| panic!("`{name}` is not installed; scripts/test installs it (Debian package `{package}`)"))
}

/// An HTTP client for tests. The workspace builds reqwest with rustls but
/// no crypto provider (the receiver picks ring), so this installs ring first.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Runs `promtool check metrics` on an exposition; fails the test, with
/// promtool's words and the text, on any complaint.
pub fn check_metrics(metrics: &str) {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(tool("promtool", "prometheus"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(metrics.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics:\n{said}\n--- metrics:\n{metrics}");
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The repository's `examples/` folder.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// The example catalog, loaded.
pub fn example_catalog() -> edgewatch_catalog::Catalog {
    edgewatch_catalog::load(&examples().join("catalog")).expect("the example catalog loads").catalog
}

/// An empty scratch folder, unique to this process and `name`.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edgewatch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A child process, killed and waited for when dropped (a test that fails
/// leaves nothing running).
#[derive(Debug)]
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real Prometheus on a loopback port, over its own TSDB, killed (and
/// waited for) when dropped.
#[derive(Debug)]
pub struct PrometheusProcess {
    _child: KillOnDrop,
    /// The port it listens on.
    pub port: u16,
}

impl PrometheusProcess {
    /// Starts Prometheus with no scrape target in `dir`, over the TSDB at
    /// `tsdb` (a fresh folder, or blocks backfilled by promtool; retention
    /// ten years, so old blocks stay), and returns once `/-/ready` answers
    /// 200. Its log is `dir/prometheus.log`.
    pub fn start(dir: &Path, tsdb: &Path) -> Self {
        Self::start_with(dir, tsdb, "global: {scrape_interval: 1m}\n")
    }

    /// [`PrometheusProcess::start`] with `config` as `dir/prometheus.yml`
    /// (rule files are named relative to `dir`). A large backfilled TSDB
    /// takes a while to open: it waits up to five minutes.
    pub fn start_with(dir: &Path, tsdb: &Path, config: &str) -> Self {
        use std::time::{Duration, Instant};
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, config).unwrap();
        let port = free_port();
        let child = std::process::Command::new(tool("prometheus", "prometheus"))
            .arg(format!("--config.file={}", file.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg("--storage.tsdb.retention.time=3650d")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .unwrap();
        let prometheus = Self { _child: KillOnDrop(child), port };
        let deadline = Instant::now() + Duration::from_secs(300);
        while !ready(port) {
            assert!(
                Instant::now() < deadline,
                "Prometheus did not start; see {}",
                dir.join("prometheus.log").display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        prometheus
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Whether Prometheus answers 200 on `/-/ready` (a plain blocking GET).
fn ready(port: u16) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    if s.write_all(b"GET /-/ready HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}
