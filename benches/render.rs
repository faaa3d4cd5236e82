//! `edgewatch render` at the size of a large edge network:
//! `cargo bench --bench render`.
//!
//! Generates the catalog the issue on 10,000 customers measured (10,000
//! customers, 19,999 hosts, an availability and a latency SLO each, 2,500
//! probes, alerts routed, dashboards on), runs the release binary's
//! `edgewatch render` on it into a fresh folder (three times, the median
//! counts) and again over its own output, then on the example catalog, and
//! prints the time, the peak memory (GNU time's maximum resident set size),
//! and the files and bytes written by folder; then checks the output with `promtool check rules
//! --lint-fatal` and `amtool check-config`, and runs the generated promtool
//! tests (`promtool test rules tests/*.yml`); then the same catalog with
//! `dashboards: {customers: shared}`. `EDGEWATCH_BENCH_CUSTOMERS` changes
//! the size.

// A benchmark: it prints its figures, and a failure is a failed run.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::cast_precision_loss)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use edgewatch_test_kit::{scratch_dir, tool};

/// The catalog: every customer with two hosts (the last with one), every
/// fourth with a probe.
fn catalog(customers: usize) -> String {
    let mut y = String::from(
        "destinations:\n  noc-log: {log: {path: '-'}}\ndefaults:\n  alerting: {routes: [{to: [noc-log]}]}\n  slos:\n    availability: {objective: 99.9, period: 28d, errors: [5xx]}\n    latency:\n      ttfb: {source: edge_ttfb, threshold: 300ms, objective: 99, period: 28d}\ncustomers:\n",
    );
    for i in 0..customers {
        let api = if i + 1 < customers { format!(", api.c{i:05}.example") } else { String::new() };
        let _ = write!(y, "  - {{id: c{i:05}, name: Customer {i}, hosts: [www.c{i:05}.example{api}]");
        if i % 4 == 0 {
            let _ = write!(y, ", probes: [{{name: home, url: 'https://www.c{i:05}.example/'}}]");
        }
        y.push_str("}\n");
    }
    y
}

/// One `edgewatch render`: seconds and peak resident kilobytes.
fn render(catalog: &Path, out: &Path) -> (f64, u64) {
    let measured = out.with_extension("time");
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%e %M", "-o"])
        .arg(&measured)
        .arg(env!("CARGO_BIN_EXE_edgewatch"))
        .arg("render")
        .arg("--catalog")
        .arg(catalog)
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("GNU time runs the render (Debian package `time`)");
    assert!(status.success(), "edgewatch render failed");
    let text = std::fs::read_to_string(&measured).unwrap();
    let mut fields = text.split_whitespace();
    (fields.next().unwrap().parse().unwrap(), fields.next().unwrap().parse().unwrap())
}

/// Files and bytes under `dir`, by its first-level folder.
fn sizes(dir: &Path) -> BTreeMap<String, (u64, u64)> {
    fn walk(p: &Path, top: &str, out: &mut BTreeMap<String, (u64, u64)>) {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, top, out);
            } else {
                let slot = out.entry(top.to_owned()).or_default();
                slot.0 += 1;
                slot.1 += e.metadata().unwrap().len();
            }
        }
    }
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_dir() {
            walk(&e.path(), &name, &mut out);
        } else {
            let slot = out.entry(".".to_owned()).or_default();
            slot.0 += 1;
            slot.1 += e.metadata().unwrap().len();
        }
    }
    out
}

/// `promtool check rules --lint-fatal` on every rule file, `amtool
/// check-config` on the Alertmanager configuration, and `promtool test
/// rules` on the whole generated suite: seconds each.
fn check(out: &Path) -> (f64, f64, f64) {
    let mut rules = vec![out.join("rules")];
    for sub in ["rules/customers", "rules/profiles"] {
        rules.extend(std::fs::read_dir(out.join(sub)).into_iter().flatten().flatten().map(|e| e.path()));
    }
    let mut files: Vec<_> = rules
        .iter()
        .flat_map(|p| {
            if p.is_dir() {
                std::fs::read_dir(p).unwrap().flatten().map(|e| e.path()).collect()
            } else {
                vec![p.clone()]
            }
        })
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    let t = std::time::Instant::now();
    // Thousands of files: in slices, under the argument list's limit.
    for slice in files.chunks(2_000) {
        let out = Command::new(tool("promtool", "prometheus"))
            .args(["check", "rules", "--lint-fatal"])
            .args(slice)
            .output()
            .unwrap();
        assert!(out.status.success(), "promtool: {}", String::from_utf8_lossy(&out.stdout));
    }
    let promtool = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let am = Command::new(tool("amtool", "prometheus-alertmanager"))
        .args(["check-config"])
        .arg(out.join("alertmanager/alertmanager.example.yml"))
        .output()
        .unwrap();
    assert!(am.status.success(), "amtool: {}", String::from_utf8_lossy(&am.stdout));
    let amtool = t.elapsed().as_secs_f64();
    let mut tests: Vec<_> = std::fs::read_dir(out.join("tests")).unwrap().flatten().map(|e| e.path()).collect();
    tests.sort();
    let t = std::time::Instant::now();
    let run = Command::new(tool("promtool", "prometheus")).args(["test", "rules"]).args(&tests).output().unwrap();
    assert!(run.status.success(), "promtool test rules: {}", String::from_utf8_lossy(&run.stdout));
    (promtool, amtool, t.elapsed().as_secs_f64())
}

fn report(name: &str, catalog: &Path, dir: &Path) {
    let out = dir.join(format!("out-{}", name.replace(['/', ' '], "-")));
    // Into an empty folder three times: file creation varies with the
    // disk's other writers, so the median is the figure.
    let mut fresh: Vec<(f64, u64)> = (0..3)
        .map(|_| {
            let _ = std::fs::remove_dir_all(&out);
            render(catalog, &out)
        })
        .collect();
    let runs: Vec<String> = fresh.iter().map(|(t, _)| format!("{t:.2}")).collect();
    fresh.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (fresh, fresh_kb) = fresh[1];
    let (again, again_kb) = render(catalog, &out);
    println!("{name}");
    println!(
        "  into an empty folder      {fresh:.2} s (median of {} s), peak {:.0} MB",
        runs.join(", "),
        fresh_kb as f64 / 1024.0
    );
    println!("  over its own output       {again:.2} s, peak {:.0} MB", again_kb as f64 / 1024.0);
    let by_folder = sizes(&out);
    let (files, bytes) = by_folder.values().fold((0, 0), |(f, b), (f2, b2)| (f + f2, b + b2));
    println!("  written                   {files} files, {:.1} MB", bytes as f64 / 1e6);
    for (folder, (f, b)) in &by_folder {
        println!("    {folder:<22}  {f:>6} files  {:>8.1} MB", *b as f64 / 1e6);
    }
    let (promtool, amtool, tests) = check(&out);
    println!("  promtool check rules --lint-fatal   {promtool:.1} s, passed");
    println!("  amtool check-config                 {amtool:.2} s, passed");
    println!("  promtool test rules tests/*.yml     {tests:.1} s, passed");
}

fn main() {
    let customers: usize =
        std::env::var("EDGEWATCH_BENCH_CUSTOMERS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let dir = scratch_dir("render-bench");
    let generated = dir.join("catalog.yaml");
    std::fs::write(&generated, catalog(customers)).unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalog");
    report("examples/catalog", &examples, &dir);
    report(&format!("{customers} customers"), &generated, &dir);
    // The same with one shared customer dashboard instead of one each.
    let shared = dir.join("shared.yaml");
    std::fs::write(&shared, format!("dashboards: {{customers: shared}}\n{}", catalog(customers))).unwrap();
    report(&format!("{customers} customers, one shared customer dashboard"), &shared, &dir);
    std::fs::remove_dir_all(&dir).unwrap();
}
