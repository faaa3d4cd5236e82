//! The `edgewatch` command as a user runs it.

// Helpers outside #[test] functions: a failed unwrap is a failed test here.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

fn edgewatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgewatch"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("EDGEWATCH_CATALOG")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn check_accepts_the_example_catalog_with_a_summary() {
    let out = edgewatch(&["check", "--catalog", "examples/catalog"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "catalog ok: 4 customers, 8 hosts, 10 SLOs, 4 probes, 4 destinations\n");
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn check_rejects_a_broken_catalog_with_every_diagnostic() {
    let out = edgewatch(&["check", "--catalog", "catalog/tests/fixtures/broken"]);
    assert_eq!(out.status.code(), Some(1));
    // The diagnostics themselves are snapshot-tested in the catalog crate;
    // here, what the command adds around them.
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("catalog/tests/fixtures/broken/customers.yaml:3:11: error: customers[0].tier: unknown tier `enterprize`\n  hint: did you mean `enterprise`?\n"), "{stderr}");
    assert!(stderr.ends_with("\ncatalog rejected: 23 errors, 2 warnings\n"), "{stderr}");
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn check_refuses_receiver_templates_the_receiver_would_refuse() {
    let dir = edgewatch_test_kit::scratch_dir("cli-templates");
    for (templates, expected) in [
        ("{titel: 'x'}", "templates.titel: unknown template `titel`"),
        ("{title: '{{#if customer}}unclosed'}", "templates.title: "),
    ] {
        let catalog = dir.join("catalog.yaml");
        let customers = "customers:\n  - {id: a, hosts: [a.example], alerting: {routes: [{to: [log]}]}}\n";
        std::fs::write(
            &catalog,
            format!("destinations: {{log: {{log: {{path: '-'}}}}}}\ntemplates: {templates}\n{customers}"),
        )
        .unwrap();
        let out = edgewatch(&["check", "--catalog", catalog.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{templates}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(&format!("error: {expected}")), "{stderr}");
        assert!(stderr.ends_with("catalog rejected: 1 error, 0 warnings\n"), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn check_speaks_json_for_machines() {
    let out = edgewatch(&["check", "--catalog", "catalog/tests/fixtures/broken", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert!(doc["summary"].is_null());
    let diags = doc["diagnostics"].as_array().unwrap();
    assert!(diags.len() >= 8);
    let first = &diags[0];
    assert_eq!(first["file"], "catalog/tests/fixtures/broken/customers.yaml");
    assert_eq!((first["line"].as_u64(), first["column"].as_u64()), (Some(3), Some(11)));

    let ok = edgewatch(&["check", "--catalog", "examples/catalog", "--format", "json"]);
    assert_eq!(ok.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(doc["summary"]["customers"], 4);
    assert_eq!(doc["summary"]["slos"], 10);
}

#[test]
fn bad_flags_are_usage_errors() {
    let out = edgewatch(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--catalog <PATH>"));
    let out = edgewatch(&["check", "--catalog", "examples/catalog", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid value 'yaml'"));
}

/// Copies `examples/catalog` into `dir`, without the files named in `skip`.
fn copy_catalog(dir: &std::path::Path, skip: &[&str]) {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalog");
    for sub in ["", "customers"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for entry in std::fs::read_dir(src.join(sub)).unwrap().flatten() {
            let name = entry.file_name();
            if entry.file_type().unwrap().is_file() && !skip.contains(&name.to_str().unwrap()) {
                std::fs::copy(entry.path(), dir.join(sub).join(&name)).unwrap();
            }
        }
    }
}

#[test]
fn render_writes_rules_and_dashboards_and_check_finds_a_removed_customer() {
    let dir = std::env::temp_dir().join(format!("edgewatch-cli-render-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (catalog, out) = (dir.join("catalog"), dir.join("out"));
    copy_catalog(&catalog, &[]);
    let (catalog_s, out_s) = (catalog.to_str().unwrap(), out.to_str().unwrap());
    let run = edgewatch(&["render", "--catalog", catalog_s, "--out", out_s]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert_eq!(text(&run.stdout), format!("wrote 34 files to {out_s}\n"));
    assert!(out.join("README.md").is_file() && out.join("prometheus/prometheus.example.yml").is_file());
    let hooli = out.join("grafana/dashboards/standard/edgewatch-hooli.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&hooli).unwrap()).unwrap();
    assert_eq!(dashboard["uid"], "edgewatch-hooli");
    assert!(out.join("grafana/provisioning/dashboards/edgewatch.yml").is_file());
    // Each customer's profile, as rules/customers/00.yml names it.
    let customers = std::fs::read_to_string(out.join("rules/customers/00.yml")).unwrap();
    let profile_of = |id: &str| {
        let rest = &customers[customers.find(&format!("customer: {id}\n")).unwrap()..];
        let p = &rest[rest.find("profile: ").unwrap() + "profile: ".len()..];
        format!("rules/profiles/{}.yml", &p[..p.find('\n').unwrap()])
    };
    let (hooli_rules, globex_rules) = (profile_of("hooli"), profile_of("globex"));
    assert!(out.join(&hooli_rules).is_file());

    // hooli leaves the catalog: its rules and dashboard are stale.
    std::fs::remove_dir_all(&catalog).unwrap();
    copy_catalog(&catalog, &["hooli.yaml"]);
    let check = edgewatch(&["render", "--catalog", catalog_s, "--out", out_s, "--check"]);
    assert_eq!(check.status.code(), Some(1));
    let stdout = text(&check.stdout);
    assert!(stdout.contains(&format!("{}: no longer generated", hooli.display())), "{stdout}");
    assert!(stdout.contains(&format!("{hooli_rules}: no longer generated")), "{stdout}");
    let untouched = out.join(globex_rules);
    let before = std::fs::metadata(&untouched).unwrap().modified().unwrap();
    let rerun = edgewatch(&["render", "--catalog", catalog_s, "--out", out_s]);
    assert_eq!(rerun.status.code(), Some(0));
    assert!(!hooli.exists());
    // Only what changed is written; the rest keeps its time.
    let said = text(&rerun.stdout);
    assert!(said.ends_with("no longer generated removed)\n") && said.contains(" unchanged, 4 "), "{said}");
    assert_eq!(std::fs::metadata(&untouched).unwrap().modified().unwrap(), before);
    let check = edgewatch(&["render", "--catalog", catalog_s, "--out", out_s, "--check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stdout));

    // The Kubernetes outputs.
    let k8s = dir.join("k8s");
    let sidecar =
        edgewatch(&["render", "--catalog", catalog_s, "--out", k8s.to_str().unwrap(), "--dashboard-target", "sidecar"]);
    assert_eq!(sidecar.status.code(), Some(0), "{}", text(&sidecar.stderr));
    assert!(k8s.join("grafana/sidecar/edgewatch-dashboard-acme-retail.yaml").is_file());
    assert!(!k8s.join("grafana/dashboards").exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn render_check_agrees_however_the_catalog_path_is_spelled() {
    let dir = std::env::temp_dir().join(format!("edgewatch-cli-spelling-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.join("out");
    let out_s = out.to_str().unwrap();
    let run = edgewatch(&["render", "--catalog", "examples/catalog", "--out", out_s]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    // The same catalog, spelled otherwise and copied elsewhere: nothing stale.
    let absolute = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalog");
    let copy = dir.join("elsewhere/catalog");
    copy_catalog(&copy, &[]);
    for spelled in ["./examples/catalog", "examples/catalog/", absolute.to_str().unwrap(), copy.to_str().unwrap()] {
        let check = edgewatch(&["render", "--catalog", spelled, "--out", out_s, "--check"]);
        assert_eq!(check.status.code(), Some(0), "{spelled}: {}", text(&check.stdout));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn render_rejects_a_broken_catalog_as_check_does() {
    let dir = std::env::temp_dir().join(format!("edgewatch-cli-render-broken-{}", std::process::id()));
    let broken = ["--catalog", "catalog/tests/fixtures/broken"];
    let render = edgewatch(&["render", broken[0], broken[1], "--out", dir.to_str().unwrap()]);
    let check = edgewatch(&["check", broken[0], broken[1]]);
    assert_eq!(render.status.code(), Some(1));
    // The same diagnostics, one per line (not one log line with `\n` in it).
    assert_eq!(text(&render.stderr), text(&check.stderr));
    assert!(text(&render.stderr).lines().any(|l| l.ends_with("unknown tier `enterprize`")), "{}", text(&render.stderr));
    assert!(!dir.exists(), "nothing written");
}

#[test]
fn receiver_dead_letters_work_on_a_store_without_a_running_receiver() {
    let dir = std::env::temp_dir().join(format!("edgewatch-cli-dead-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("receiver.yml");
    std::fs::write(&config, format!("data_dir: '{}'\n", dir.join("data").display())).unwrap();
    let config = config.to_str().unwrap();
    let list = edgewatch(&["receiver", "dead-letters", "list", "--config", config]);
    assert_eq!(list.status.code(), Some(0), "{}", text(&list.stderr));
    assert_eq!(text(&list.stdout), "0 dead letter(s)\n");
    let json = edgewatch(&["receiver", "dead-letters", "list", "--format", "json", "--config", config]);
    assert_eq!(text(&json.stdout), "[]\n");
    let replay = edgewatch(&["receiver", "dead-letters", "replay", "99", "--config", config]);
    assert_eq!(replay.status.code(), Some(1));
    assert_eq!(text(&replay.stdout), "no dead letter 99\n");
    let all = edgewatch(&["receiver", "dead-letters", "replay", "--all", "--config", config]);
    assert_eq!(all.status.code(), Some(0));
    // Serving needs a catalog.
    let serve = edgewatch(&["receiver", "--config", config]);
    assert_eq!(serve.status.code(), Some(2));
    assert!(text(&serve.stderr).contains("--catalog is required"), "{}", text(&serve.stderr));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_receiver_that_cannot_start_says_why_once_and_what_to_do() {
    let dir = std::env::temp_dir().join(format!("edgewatch-cli-receiver-start-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("no-such-folder/audit.jsonl");
    let catalog = dir.join("catalog.yaml");
    std::fs::write(
        &catalog,
        format!(
            "destinations:\n  audit-log: {{log: {{path: '{}'}}}}\ncustomers:\n  - {{id: shop, hosts: [shop.example], alerting: {{routes: [{{to: [audit-log]}}]}}}}\n",
            log.display()
        ),
    )
    .unwrap();
    let config = dir.join("receiver.yml");
    std::fs::write(&config, format!("data_dir: '{}'\n", dir.join("data").display())).unwrap();
    let out = edgewatch(&[
        "receiver",
        "--catalog",
        catalog.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--web.listen-address",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    // The path, the cause once, and what to do; plain text, one line.
    assert!(err.contains(&log.display().to_string()), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert!(err.contains("destinations.audit-log.log.path"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn check_takes_the_service_configs_and_places_every_problem() {
    let out = edgewatch(&[
        "check",
        "--catalog",
        "examples/catalog",
        "--exporter-config",
        "examples/exporter.yml",
        "--receiver-config",
        "examples/receiver.yml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let dir = edgewatch_test_kit::scratch_dir("cli-service-configs");
    let write = |name: &str, body: &str| {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        path.display().to_string()
    };
    let exporter = write("exporter.yml", "push:\n  - {name: a, path: /metrics}\n  - {name: a, path: /x}\n");
    let receiver = write("receiver.yml", "incidents:\n  key_labels: []\n  reopn_window: 1h\n");
    let web = write("web.yml", "basic_auth_users:\n  alice: hunter2\n");
    let out = edgewatch(&[
        "check",
        "--catalog",
        "examples/catalog",
        "--exporter-config",
        &exporter,
        "--receiver-config",
        &receiver,
        "--web.config.file",
        &web,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    for expected in [
        format!("{exporter}:2:15: error: push[0].path: `/metrics` is served by the exporter itself\n"),
        format!("{exporter}:3:6: error: push[1].name: `a` is used twice\n"),
        format!("{receiver}:3:3: error: incidents: unknown field `reopn_window`"),
        "  hint: did you mean `reopen_window`?\n".to_owned(),
        format!("{web}:2:3: error: basic_auth_users.alice: expected a bcrypt hash"),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in\n{stderr}");
    }
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(stderr.ends_with("config rejected: 4 errors\n"), "{stderr}");
    // The catalog itself is fine, and says so.
    assert!(text(&out.stdout).starts_with("catalog ok: "));

    // The exporter refuses to start on the same file, with the same words.
    let out = edgewatch(&["exporter", "--catalog", "examples/catalog", "--config", &exporter]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(&format!("{exporter}:3:6: error: push[1].name: `a` is used twice")));
}

/// `edgewatch report` with Prometheus at `url` into `out`, on the example catalog.
fn report(url: &str, out: &std::path::Path, extra: &[&str]) -> Output {
    let mut args = vec!["report", "--catalog", "examples/catalog", "--prometheus", url, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    edgewatch(&args)
}

#[test]
fn report_refuses_bad_input_before_writing_anything() {
    let dir = edgewatch_test_kit::scratch_dir("cli-report-bad");
    let out = dir.join("reports");
    let unreachable = format!("http://127.0.0.1:{}", edgewatch_test_kit::free_port());
    // No receiver store; one from a newer receiver.
    let nowhere = dir.join("nowhere").display().to_string();
    let newer = dir.join("newer").display().to_string();
    drop(edgewatch_webhook_receiver::DeadLetters::open(std::path::Path::new(&newer)).unwrap());
    rusqlite::Connection::open(dir.join("newer/receiver.db")).unwrap().pragma_update(None, "user_version", 99).unwrap();
    for (extra, expected) in [
        (
            &["--customer", "acme", "--period", "last-month"][..],
            "edgewatch: error: unknown customer `acme` (did you mean `acme-retail`?)\n",
        ),
        (
            &["--customer", "globex", "--from", "2026-11-05", "--to", "2026-11-01"][..],
            "edgewatch: error: the period is reversed or empty: it starts at 2026-11-05 00:00:00 UTC and ends at 2026-11-02 00:00:00 UTC\n",
        ),
        (
            &["--all", "--from", "2026-11-01", "--to", "2999-12-31"][..],
            "edgewatch: error: the period ends in the future (3000-01-01 00:00:00 UTC, now is ",
        ),
        (
            &["--all", "--from", "yesterday", "--to", "2026-11-01"][..],
            "edgewatch: error: `yesterday` is neither an RFC 3339 timestamp",
        ),
        (
            &["--all", "--period", "last-week", "--timezone", "Europe/Pariss"][..],
            "edgewatch: error: `Europe/Pariss` is not a time zone",
        ),
        (
            &["--all", "--period", "last-week", "--receiver-store", &nowhere][..],
            &format!("edgewatch: error: cannot read the receiver store {nowhere}: store: "),
        ),
        (
            &["--all", "--period", "last-week", "--receiver-store", &newer][..],
            &format!(
                "edgewatch: error: cannot read the receiver store {newer}: store: written by a newer edgewatch (schema version 99"
            ),
        ),
        (
            &["--all", "--period", "last-week"][..],
            &format!("edgewatch: error: Prometheus at {unreachable}/ is unreachable: "),
        ),
    ] {
        let run = report(&unreachable, &out, extra);
        assert_eq!(run.status.code(), Some(2), "{extra:?}");
        let stderr = text(&run.stderr);
        assert!(stderr.starts_with(expected), "{extra:?}: {stderr}");
        assert!(!out.exists(), "{extra:?}: nothing is written");
        assert_eq!(std::fs::read_dir(dir.join("nowhere")).ok().map(Iterator::count), None, "nothing is created");
    }
    // Without customers or a period: a usage error.
    let run = report(&unreachable, &out, &["--period", "last-week"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(text(&run.stderr).contains("--customer <ID>"), "{}", text(&run.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn report_writes_every_format_for_every_customer() {
    let dir = edgewatch_test_kit::scratch_dir("cli-report");
    let prometheus = edgewatch_test_kit::PrometheusProcess::start(&dir, &dir.join("data"));
    let out = dir.join("reports");
    let url = prometheus.url();
    let run = report(
        &url,
        &out,
        &[
            "--all",
            "--period",
            "last-week",
            "--timezone",
            "Europe/Paris",
            "--format",
            "html",
            "--format",
            "md",
            "--format",
            "json",
        ],
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let listed: Vec<String> = text(&run.stdout).lines().map(str::to_owned).collect();
    assert_eq!(listed.len(), 12, "4 customers, 3 formats: {listed:?}");
    let mut files: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files.len(), 12, "no temporary file is left: {files:?}");
    assert!(files.iter().all(|f| f.contains("-W")), "last week's files are named by ISO week: {files:?}");
    // No traffic in an empty Prometheus: every SLO is insufficient data, said so.
    let md = std::fs::read_to_string(
        out.join(files.iter().find(|f| f.starts_with("globex") && f.rsplit('.').next() == Some("md")).unwrap()),
    )
    .unwrap();
    assert!(md.contains("insufficient data") && md.contains("Incidents are not connected"), "{md}");

    // The NOC review: one file per format, every customer under the floor.
    let noc = dir.join("noc");
    let run = report(
        &url,
        &noc,
        &["--noc", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "md", "--format", "json"],
    );
    drop(prometheus);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let md = std::fs::read_to_string(noc.join("noc-review-2026-11.md")).unwrap();
    assert!(md.starts_with("# NOC review: 2026-11\n"), "{md}");
    assert!(md.contains("`acme-retail`, `globex`, `hooli`, `initech`"), "{md}");
    assert!(noc.join("noc-review-2026-11.json").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Remediation recorded where the work happens reaches the customer's
/// report: a receiver process takes a resolved outage of `shop`;
/// `edgewatch incidents list` shows it, `note --remediation` records what
/// was done (the log destination gets it as a `note` action), `show` has
/// it with who and when, and `edgewatch report --receiver-store` lists it
/// under the incident.
#[test]
fn a_remediation_note_is_listed_shown_and_reported() {
    remediation_note_round_trip(None);
}

/// The same on a PostgreSQL store: `incidents list|show|note` and `report
/// --receiver-config` read the store the receiver's configuration names.
#[test]
fn a_remediation_note_is_listed_shown_and_reported_on_postgresql() {
    let server = edgewatch_test_kit::postgres::PostgresServer::start("cli-incidents");
    remediation_note_round_trip(Some(&server));
}

fn remediation_note_round_trip(postgres: Option<&edgewatch_test_kit::postgres::PostgresServer>) {
    use edgewatch_test_kit::free_port;
    use jiff::{Timestamp, ToSpan as _};

    let dir = edgewatch_test_kit::scratch_dir(if postgres.is_some() { "cli-incidents-pg" } else { "cli-incidents" });
    let catalog = dir.join("catalog.yaml");
    std::fs::write(
        &catalog,
        format!(
            "destinations:\n  audit: {{log: {{path: '{}'}}}}\ncustomers:\n  - id: shop\n    hosts: [shop.example]\n    slos:\n      availability: {{objective: 99.9, errors: [5xx]}}\n    alerting:\n      routes: [{{to: [audit]}}]\n",
            dir.join("actions.jsonl").display()
        ),
    )
    .unwrap();
    let config = dir.join("receiver.yml");
    let store = postgres.map(|p| format!("store: '{}'\n", p.url())).unwrap_or_default();
    std::fs::write(
        &config,
        format!("data_dir: '{}'\nauth: {{bearer_token: 'env:T'}}\n{store}", dir.join("data").display()),
    )
    .unwrap();
    let (catalog, config) = (catalog.to_str().unwrap(), config.to_str().unwrap());
    let port = free_port();
    let receiver = Command::new(env!("CARGO_BIN_EXE_edgewatch"))
        .args(["receiver", "--catalog", catalog, "--config", config])
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .env("T", "s3cret")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let receiver = edgewatch_test_kit::KillOnDrop(receiver);

    // Two days ago, 30 minutes of a fast burn.
    let start = Timestamp::now() - 48.hours();
    let end = start + 30.minutes();
    post_outage(port, start, end);

    let list = edgewatch(&["incidents", "list", "--config", config]);
    assert_eq!(list.status.code(), Some(0), "{}", text(&list.stderr));
    let listed = text(&list.stdout);
    assert!(listed.starts_with("1\t"), "{listed}");
    assert!(listed.contains("resolved after 30m\tpage\tshop\tEdgewatchErrorBudgetBurnFast (availability)"), "{listed}");
    assert!(listed.ends_with("0 note(s)\n1 incident(s), 0 firing\n"), "{listed}");

    let note = edgewatch(&[
        "incidents",
        "note",
        "1",
        "--remediation",
        "Rolled back the origin's deploy 4711.",
        "--author",
        "alice",
        "--config",
        config,
    ]);
    assert_eq!(note.status.code(), Some(0), "{}", text(&note.stderr));
    assert!(
        text(&note.stdout).starts_with("remediation 1 recorded on incident 1 by alice; 1 destination(s)"),
        "{}",
        text(&note.stdout)
    );
    let missing = edgewatch(&["incidents", "note", "7", "--remediation", "x", "--author", "a", "--config", config]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("no incident 7"), "{}", text(&missing.stderr));
    let empty = edgewatch(&["incidents", "note", "1", "--remediation", " ", "--author", "a", "--config", config]);
    assert_eq!(empty.status.code(), Some(2));
    assert!(text(&empty.stderr).contains("the text must hold 1 to"), "{}", text(&empty.stderr));

    let show = text(&edgewatch(&["incidents", "show", "1", "--config", config]).stdout);
    assert!(
        show.contains("[remediation] ") && show.contains(", alice:\n      Rolled back the origin's deploy 4711.\n"),
        "{show}"
    );
    // The running receiver delivers the note to the audit log.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let audit = loop {
        let audit = std::fs::read_to_string(dir.join("actions.jsonl")).unwrap_or_default();
        if audit.contains(r#""action":"note""#) || std::time::Instant::now() > deadline {
            break audit;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    drop(receiver);
    assert!(audit.contains("Remediation recorded by alice at ") && audit.contains("deploy 4711"), "{audit}");

    // The report of the days around it lists the note under the incident.
    let day = |t: Timestamp| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    let data = dir.join("data");
    let store = match postgres {
        Some(_) => ["--receiver-config", config],
        None => ["--receiver-store", data.to_str().unwrap()],
    };
    let (md, json) = shop_report(&dir, catalog, store, &day(start - 24.hours()), &day(Timestamp::now() - 24.hours()));
    // The incident as the store has it: its times to the second, who
    // remediated it and when.
    let items = json["incidents"]["items"].as_array().unwrap();
    assert_eq!((json["incidents"]["available"].as_bool(), items.len()), (Some(true), 1), "{json}");
    let second = |t: Timestamp| t.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let (i_start, i_end) = (items[0]["start"].as_str().unwrap(), items[0]["end"].as_str().unwrap());
    assert_eq!((&i_start[..19], &i_end[..19]), (second(start).as_str(), second(end).as_str()), "{json}");
    assert_eq!(items[0]["duration_seconds"].as_f64(), Some(1800.0), "{json}");
    assert_eq!(items[0]["severity"], "page");
    assert_eq!(items[0]["remediation"][0]["author"], "alice");
    assert!(
        md.contains("remediation:") && md.contains("alice") && md.contains("Rolled back the origin's deploy 4711."),
        "{md}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Posts `shop`'s fast burn from `start` to `end` to the receiver on `port`:
/// firing, then resolved.
fn post_outage(port: u16, start: jiff::Timestamp, end: jiff::Timestamp) {
    use jiff::{Timestamp, ToSpan as _};
    let notification = |status: &str, ends: Timestamp| {
        format!(
            r#"{{"version":"4","groupKey":"g","status":"{status}","receiver":"edgewatch","externalURL":"http://am","alerts":[{{"status":"{status}","labels":{{"alertname":"EdgewatchErrorBudgetBurnFast","customer":"shop","slo":"availability","severity":"page"}},"annotations":{{}},"startsAt":"{start}","endsAt":"{ends}","fingerprint":"aaaa000000000001"}}]}}"#
        )
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = edgewatch_test_kit::http_client();
        let url = format!("http://127.0.0.1:{port}/api/v1/alertmanager");
        for (status, ends) in [("firing", end + 1.hour()), ("resolved", end)] {
            let body = notification(status, ends);
            let mut tries = 0;
            loop {
                match client.post(&url).bearer_auth("s3cret").body(body.clone()).send().await {
                    Ok(answer) => break assert_eq!(answer.status(), 200),
                    Err(e) => {
                        assert!(tries < 100, "the receiver did not answer: {e}");
                        tries += 1;
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    });
}

/// `shop`'s Markdown report from `from` to `to` (dates), with the receiver
/// store `store` names (`--receiver-store DIR` or `--receiver-config FILE`),
/// against an empty Prometheus.
fn shop_report(
    dir: &std::path::Path,
    catalog: &str,
    store: [&str; 2],
    from: &str,
    to: &str,
) -> (String, serde_json::Value) {
    let prometheus = edgewatch_test_kit::PrometheusProcess::start(dir, &dir.join("tsdb"));
    let out = dir.join("reports");
    let prometheus_url = prometheus.url();
    let args = [
        "report",
        "--catalog",
        catalog,
        "--prometheus",
        &prometheus_url,
        store[0],
        store[1],
        "--customer",
        "shop",
        "--from",
        from,
        "--to",
        to,
        "--format",
        "md",
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ];
    let run = edgewatch(&args);
    drop(prometheus);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let file = |ext: &str| {
        let path = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == ext));
        std::fs::read_to_string(path.unwrap()).unwrap()
    };
    (file("md"), serde_json::from_str(&file("json")).unwrap())
}

#[test]
fn render_refuses_an_ingest_silence_outside_its_range() {
    let out = std::env::temp_dir().join(format!("edgewatch-cli-silence-{}", std::process::id()));
    let catalog = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/catalog");
    let run = edgewatch(&["render", "--catalog", catalog, "--out", out.to_str().unwrap(), "--ingest-silence", "1m"]);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run.stderr));
    assert!(
        text(&run.stderr).contains("invalid value '1m' for '--ingest-silence <DURATION>': 1m is outside 5m to 12h")
    );
    assert!(!out.exists(), "nothing written");
}
