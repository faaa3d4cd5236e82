//! A real PostgreSQL server for a test: Debian's `postgresql` binaries
//! (`scripts/test` installs them), a cluster made with `initdb` once per
//! PostgreSQL version (kept for later test processes) and copied for each
//! server, started with `postgres` on a loopback port picked for it, and stopped
//! when dropped; its folder goes with it unless the test failed. As root
//! (CI), the server runs as the `postgres` user, which the package creates:
//! PostgreSQL refuses to run as root.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{KillOnDrop, free_port, scratch_dir};

/// The user the tests connect as (a superuser, trusted on loopback).
pub const USER: &str = "edgewatch";

/// A PostgreSQL server on a loopback port, over its own cluster.
#[derive(Debug)]
pub struct PostgresServer {
    child: Option<KillOnDrop>,
    /// The port it listens on.
    pub port: u16,
    dir: PathBuf,
    data: PathBuf,
    log: PathBuf,
    fsync: bool,
    /// Whether it offers TLS (`ssl=on`, with the data folder's
    /// `server.crt` and `server.key`).
    tls: bool,
    /// Whether it asks for client certificates (signed by `root.crt`).
    client_ca: bool,
}

/// What a server offering TLS is given, as PEM.
#[derive(Debug, Clone, Copy)]
pub struct Tls<'a> {
    /// Its certificate chain.
    pub cert: &'a str,
    /// Its key.
    pub key: &'a str,
    /// The CA of client certificates: given, the server logs in only
    /// clients over TLS with a certificate it signed, whose common name is
    /// the user.
    pub client_ca: Option<&'a str>,
}

/// The folder of PostgreSQL's server binaries: on `PATH`, or Debian's
/// `/usr/lib/postgresql/<version>/bin` (the newest).
fn bin_dir() -> PathBuf {
    let on_path = std::env::var("PATH")
        .ok()
        .and_then(|p| p.split(':').map(|d| Path::new(d).join("postgres")).find(|p| p.is_file()));
    if let Some(found) = on_path {
        let real = std::fs::canonicalize(&found).unwrap_or(found);
        if let Some(dir) = real.parent()
            && dir.join("postgres").is_file()
            && dir.join("initdb").is_file()
        {
            return dir.to_owned();
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("postgres").is_file())
        .collect();
    versions.sort();
    let Some((_, bin)) = versions.pop() else {
        panic!("PostgreSQL is not installed; scripts/test installs it (Debian package `postgresql`)")
    };
    bin
}

/// A command of PostgreSQL's, run as the `postgres` user when this
/// process is root.
fn command(name: &str) -> Command {
    let program = bin_dir().join(name);
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--clear-groups", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    // `id -u`: no libc call (the workspace forbids unsafe code).
    *ROOT.get_or_init(|| Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0"))
}

/// Hands `path` and everything under it to the `postgres` user (as root).
fn give_to_postgres(path: &Path) {
    if is_root() {
        let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(path).status().unwrap();
        assert!(status.success(), "chown -R postgres {}", path.display());
    }
}

/// The cluster every server starts from: made once per PostgreSQL version
/// and kept in the temporary folder for later test processes (a cluster is
/// about 40 MB, and a test run starts dozens of servers in many processes).
/// It is made under a name of this process's own and renamed into place,
/// so processes racing to make it never see half of one.
fn template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let version = bin_dir().parent().and_then(Path::file_name).map(|v| v.to_string_lossy().into_owned());
        let kept = std::env::temp_dir().join(format!("edgewatch-postgres-template-{}", version.unwrap_or_default()));
        let data = kept.join("data");
        if data.join("PG_VERSION").is_file() {
            return data;
        }
        let dir = scratch_dir("postgres-template-new");
        give_to_postgres(&dir);
        let out = command("initdb")
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-U", USER, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if std::fs::rename(&dir, &kept).is_err() {
            // Another process got there first: its cluster is as good.
            let _ = std::fs::remove_dir_all(&dir);
            assert!(data.join("PG_VERSION").is_file(), "no PostgreSQL template cluster at {}", kept.display());
        }
        data
    })
}

impl PostgresServer {
    /// A server over a fresh cluster in a scratch folder named `name`,
    /// ready for connections. No fsync: tests check behaviour.
    pub fn start(name: &str) -> Self {
        Self::start_with(name, false, None)
    }

    /// [`PostgresServer::start`] with fsync on, as in production: for
    /// benchmarks of durable commits. Autovacuum looks at the tables every
    /// second rather than every minute, so that a benchmark of seconds
    /// measures tables with statistics kept fresh as they grow, as in a
    /// database that has run for a while. `EDGEWATCH_PG_SETTINGS`
    /// (`name=value` pairs, space-separated) sets more, or other, for a
    /// measurement: `autovacuum_naptime=60` (PostgreSQL's default),
    /// `shared_preload_libraries=pg_stat_statements`.
    pub fn start_durable(name: &str) -> Self {
        Self::start_with(name, true, None)
    }

    /// [`PostgresServer::start`] offering TLS as `tls` says.
    pub fn start_tls(name: &str, tls: &Tls<'_>) -> Self {
        Self::start_with(name, false, Some(tls))
    }

    fn start_with(name: &str, fsync: bool, tls: Option<&Tls<'_>>) -> Self {
        let dir = scratch_dir(&format!("postgres-{name}"));
        let data = dir.join("data");
        let status = Command::new("cp").arg("-a").arg(template()).arg(&data).status().unwrap();
        assert!(status.success(), "cp -a {}", template().display());
        if let Some(tls) = tls {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::write(data.join("server.crt"), tls.cert).unwrap();
            std::fs::write(data.join("server.key"), tls.key).unwrap();
            // PostgreSQL refuses a key others can read.
            std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
            if let Some(ca) = tls.client_ca {
                std::fs::write(data.join("root.crt"), ca).unwrap();
                // Only TLS with a client certificate (its CN the user) logs in.
                std::fs::write(data.join("pg_hba.conf"), "hostssl all all 127.0.0.1/32 cert\n").unwrap();
            }
        }
        give_to_postgres(&dir);
        let log = dir.join("postgres.log");
        let (tls, client_ca) = (tls.is_some(), tls.is_some_and(|t| t.client_ca.is_some()));
        let mut server = Self { child: None, port: free_port(), dir, data, log, fsync, tls, client_ca };
        server.resume();
        server
    }

    /// The server's process id (its postmaster; the backends are its
    /// children), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.0.id())
    }

    /// `postgres://edgewatch@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (a fast shutdown: connections are cut, as in an
    /// outage), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-INT", &child.0.id().to_string()]).status();
            let _ = child.0.wait();
        }
    }

    /// Starts the server again on the same port and data; returns once it
    /// takes connections.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "the server is running");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let fsync = if self.fsync { "fsync=on" } else { "fsync=off" };
        let child = command("postgres")
            .arg("-D")
            .arg(&self.data)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", fsync, "-c", "max_connections=100"])
            .args(["-c", "shared_buffers=16MB"])
            .args(if self.fsync { &["-c", "autovacuum_naptime=1"][..] } else { &[] })
            .args(["-c", if self.tls { "ssl=on" } else { "ssl=off" }])
            .args(if self.client_ca { &["-c", "ssl_ca_file=root.crt"][..] } else { &[] })
            .arg("-p")
            .arg(self.port.to_string())
            // TCP only: a socket path under a test's folder may pass the
            // 107 bytes a Unix socket's name may have.
            .args(["-c", "unix_socket_directories="])
            .args(self.fsync.then(measurement_settings).into_iter().flatten())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(KillOnDrop(child));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new(bin_dir().join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "PostgreSQL did not start; see {}", self.log.display());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for PostgresServer {
    /// Stops the server and removes its folder; a failed test's folder
    /// stays, with the server's log, for a look.
    fn drop(&mut self) {
        self.stop();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `-c name=value` for each of `EDGEWATCH_PG_SETTINGS` (see
/// [`PostgresServer::start_durable`]); later settings win.
fn measurement_settings() -> Vec<String> {
    let settings = std::env::var("EDGEWATCH_PG_SETTINGS").unwrap_or_default();
    settings.split_whitespace().flat_map(|s| ["-c".to_owned(), s.to_owned()]).collect()
}
