//! Prometheus and Alertmanager as child processes: found on `PATH` under
//! their own or Debian's names, started on loopback with the rendered
//! configs (Alertmanager's cluster off), watched, and stopped with SIGTERM
//! (then SIGKILL) when `up` stops.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::{UpError, io};

/// `name`'s path on `PATH`, trying each of `names` in turn.
pub fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| names.iter().map(|n| dir.join(n)).find(|p| p.is_file()))
}

/// What to say when a part is not installed.
pub(crate) fn missing(what: &str, package: &str) -> String {
    format!(
        "{what} is not installed, so the rules are not evaluated and nothing alerts: `sudo apt-get install {package}` (Debian), or name the binary with --{}",
        what.to_lowercase()
    )
}

/// `addr` for a child to bind: port 0 becomes a free port, and a port in
/// use (Debian's `prometheus` package starts its own service on 9090) a
/// free one too, which the second value says.
pub(crate) fn port_for(addr: SocketAddr) -> std::io::Result<(SocketAddr, Option<String>)> {
    if addr.port() != 0 && std::net::TcpListener::bind(addr).is_ok() {
        return Ok((addr, None));
    }
    let free = std::net::TcpListener::bind(SocketAddr::new(addr.ip(), 0))?.local_addr()?;
    let note = (addr.port() != 0).then(|| format!("{addr} is in use (another service?); using {free}"));
    Ok((free, note))
}

/// The children started, by name.
#[derive(Debug, Default)]
pub(crate) struct Children {
    running: Vec<(&'static str, Child)>,
}

impl Children {
    fn spawn(&mut self, name: &'static str, bin: &Path, args: &[String], logs: &Path) -> Result<(), UpError> {
        let log = logs.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).map_err(io(&log))?;
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| UpError::Child(format!("cannot start {name} ({}): {e}", bin.display())))?;
        tracing::info!(pid = child.id(), log = %log.display(), "{name} started");
        self.running.push((name, child));
        Ok(())
    }

    pub(crate) fn start_prometheus(
        &mut self,
        bin: &Path,
        deploy: &Path,
        data: &Path,
        addr: SocketAddr,
        logs: &Path,
    ) -> Result<(), UpError> {
        let args = vec![
            format!("--config.file={}", deploy.join("prometheus/prometheus.example.yml").display()),
            format!("--storage.tsdb.path={}", data.display()),
            format!("--web.listen-address={addr}"),
        ];
        self.spawn("prometheus", bin, &args, logs)
    }

    pub(crate) fn start_alertmanager(
        &mut self,
        bin: &Path,
        deploy: &Path,
        data: &Path,
        addr: SocketAddr,
        logs: &Path,
    ) -> Result<(), UpError> {
        let args = vec![
            format!("--config.file={}", deploy.join("alertmanager/alertmanager.example.yml").display()),
            format!("--storage.path={}", data.display()),
            format!("--web.listen-address={addr}"),
            // One Alertmanager: no cluster, so no port 9094 either.
            "--cluster.listen-address=".to_owned(),
        ];
        self.spawn("alertmanager", bin, &args, logs)
    }

    /// Completes when a child exits, saying which and how; never without
    /// children.
    pub(crate) async fn wait_any(&mut self) -> String {
        if self.running.is_empty() {
            return std::future::pending().await;
        }
        loop {
            for (name, child) in &mut self.running {
                if let Ok(Some(status)) = child.try_wait() {
                    return format!("{name} exited ({status}); its log is in the state folder's logs/{name}.log");
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// SIGTERM to every child, then SIGKILL to those still running after
    /// ten seconds; waits for each.
    pub(crate) async fn stop(&mut self) {
        for (name, child) in &self.running {
            if let Some(pid) = child.id() {
                // `kill` sends SIGTERM without unsafe code; SIGKILL follows.
                let sent = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                if !sent.is_ok_and(|s| s.success()) {
                    tracing::warn!(pid, "cannot send SIGTERM to {name}; killing it");
                }
            }
        }
        for (name, child) in &mut self.running {
            if tokio::time::timeout(Duration::from_secs(10), child.wait()).await.is_err() {
                tracing::warn!("{name} did not stop within 10s; killing it");
                let _ = child.kill().await;
            }
        }
        self.running.clear();
    }
}
