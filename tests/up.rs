//! `edgewatch up --demo` on the example catalog, with the real Prometheus
//! and Alertmanager on ports it picks: the scripted outage becomes an
//! incident in the log destination, which resolves; SIGTERM then stops `up`
//! and every process it started.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Processes whose command line names `needle` (the state folder), besides
/// this test itself.
fn processes_naming(needle: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(format!("{pid}: {cmdline}"));
            }
        }
    }
    found
}

/// The log destination's actions so far: (action, incident key).
fn actions(path: &std::path::Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            (v["action"].as_str().unwrap_or("").to_owned(), v["incident"]["key"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

/// `up`, stopped as a user stops it (SIGTERM: it stops what it started)
/// if the test ends first, so that a failing test leaves nothing running:
/// killed outright, `up` would leave its Prometheus and Alertmanager.
struct Up(std::process::Child);

impl Up {
    /// Sends it SIGTERM: whether `kill` did.
    fn term(&self) -> bool {
        Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status().is_ok_and(|s| s.success())
    }

    /// Its exit status, once it exits within `limit`.
    fn exited_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if !matches!(self.0.try_wait(), Ok(None)) {
            return;
        }
        if !self.term() || self.exited_within(Duration::from_secs(30)).is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn up_demo_runs_the_loop_to_an_incident_and_sigterm_leaves_nothing_running() {
    // The real parts must be installed (scripts/test installs them).
    let _ = edgewatch_test_kit::tool("prometheus", "prometheus");
    let _ = edgewatch_test_kit::tool("prometheus-alertmanager", "prometheus-alertmanager");
    let state = edgewatch_test_kit::scratch_dir("up-demo");
    let state_s = state.to_str().unwrap().to_owned();
    // Given relative to the working folder, as the README's command does.
    let (cwd, relative) = (state.parent().unwrap(), state.file_name().unwrap().to_str().unwrap());
    let any = "127.0.0.1:0";
    let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalog");
    let mut up = Up(Command::new(env!("CARGO_BIN_EXE_edgewatch"))
        .current_dir(cwd)
        .args(["up", "--catalog", catalog.to_str().unwrap(), "--state-dir", relative, "--demo"])
        // The demo's timings, shortened for the test.
        .args(["--scrape-interval", "1s", "--demo.warmup", "15s", "--demo.outage", "40s"])
        .args(["--exporter.listen-address", any, "--receiver.listen-address", any])
        .args(["--prometheus.listen-address", any, "--alertmanager.listen-address", any])
        .env_remove("EDGEWATCH_PD_ROUTING_KEY")
        .env_remove("EDGEWATCH_JIRA_TOKEN")
        .stdout(std::fs::File::create(state.with_extension("out")).unwrap())
        .stderr(std::fs::File::create(state.with_extension("err")).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap());

    // The outage's incident opens in the log destination, then resolves.
    let log = state.join("logs/audit-log.jsonl");
    // The demo waits for the objectives (up to two minutes after
    // Prometheus starts), then 15 s of warmup and a 40 s outage.
    let deadline = Instant::now() + Duration::from_secs(330);
    let (opened, resolved) = loop {
        let seen = actions(&log);
        let opened = seen.iter().find(|(a, _)| a == "open").map(|(_, k)| k.clone());
        if let Some(key) = &opened
            && seen.iter().any(|(a, k)| a == "resolve" && k == key)
        {
            break (key.clone(), true);
        }
        if let Ok(Some(status)) = up.0.try_wait() {
            panic!(
                "up exited ({status}): {}",
                std::fs::read_to_string(state.with_extension("err")).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "no incident opened and resolved within 330s: {seen:?}\n{}",
            std::fs::read_to_string(state.with_extension("out")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(opened.starts_with("customer=") && resolved, "{opened}");
    let children = processes_naming(&state_s);
    assert!(children.len() >= 2, "Prometheus and Alertmanager run under the state folder: {children:?}");

    // SIGTERM: `up` stops everything it started and exits 0.
    assert!(up.term());
    let status = up.exited_within(Duration::from_secs(30));
    let Some(status) = status else { panic!("up did not stop within 30s of SIGTERM") };
    assert!(status.success(), "up exited {status}");
    let left = processes_naming(&state_s);
    assert!(left.is_empty(), "left running: {left:?}");
    let out = std::fs::read_to_string(state.with_extension("out")).unwrap();
    assert!(out.contains("prometheus    http://127.0.0.1:"), "{out}");
    assert!(out.contains("stopped: everything edgewatch up started has exited"), "{out}");
    // The status lines (every 30 s here) count the alerts that fired, not
    // only those firing when a line is written.
    let fired = |line: &str| {
        let (before, _) = line.split_once(" in the last 15m)")?;
        before.rsplit('(').next()?.parse::<u32>().ok()
    };
    assert!(out.lines().filter_map(fired).any(|n| n >= 1), "no status line counts the outage's alerts: {out}");
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn a_child_that_dies_is_reported_and_up_exits_non_zero() {
    let state = edgewatch_test_kit::scratch_dir("up-child-dies");
    let any = "127.0.0.1:0";
    // `false` stands for a Prometheus that exits at once.
    let out = Command::new(env!("CARGO_BIN_EXE_edgewatch"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["up", "--catalog", "examples/catalog", "--state-dir", state.to_str().unwrap()])
        .args(["--prometheus", "/bin/false", "--alertmanager", "/bin/false"])
        .args(["--exporter.listen-address", any, "--receiver.listen-address", any])
        .args(["--prometheus.listen-address", any, "--alertmanager.listen-address", any])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exited") && err.contains("logs/"), "{err}");
    let left = processes_naming(state.to_str().unwrap());
    assert!(left.is_empty(), "left running: {left:?}");
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn without_prometheus_and_alertmanager_up_says_how_to_install_them() {
    let state = edgewatch_test_kit::scratch_dir("up-missing");
    let any = "127.0.0.1:0";
    let up = Command::new(env!("CARGO_BIN_EXE_edgewatch"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["up", "--catalog", "examples/catalog", "--state-dir", state.to_str().unwrap()])
        .args(["--exporter.listen-address", any, "--receiver.listen-address", any])
        .args(["--prometheus.listen-address", any, "--alertmanager.listen-address", any])
        // A PATH with neither.
        .env("PATH", "/nonexistent")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let _ = Command::new("/bin/kill").args(["-TERM", &up.id().to_string()]).status();
    let out = up.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("sudo apt-get install prometheus"), "{said}");
    assert!(said.contains("sudo apt-get install prometheus-alertmanager"), "{said}");
    assert!(said.contains("exporter      http://127.0.0.1:"), "{said}");
    let _ = std::fs::remove_dir_all(&state);
}
