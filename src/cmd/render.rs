//! `edgewatch render`: write every generated file (rules, Alertmanager and
//! scrape files, dashboards) into a folder, or, with
//! `--check`, say which files are stale (what a GitOps pipeline runs).

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use edgewatch_rule_gen::{Options, OutputFile, Target};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The customer catalog: a file or a folder of YAML files.
    #[arg(long, value_name = "PATH", env = "EDGEWATCH_CATALOG")]
    catalog: PathBuf,
    /// Where the files go.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Write nothing; exit 1 when a file in DIR differs from what would be
    /// written, is missing, or should no longer be there.
    #[arg(long)]
    check: bool,
    /// Grafana's base URL, for the dashboard links in alerts.
    #[arg(long, value_name = "URL", default_value = "http://localhost:3000")]
    grafana_url: String,
    /// How often Prometheus scrapes the exporters: the alert groups run at
    /// this interval and the fast burn-rate tier's windows are 4, 8 and 20
    /// scrapes long.
    #[arg(long, value_name = "DURATION", default_value = "15s")]
    scrape_interval: edgewatch_catalog::Duration,
    /// How long an input that had log batches the same time a day before
    /// may accept none before `EdgewatchIngestStopped` fires (5m to 12h).
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_silence)]
    ingest_silence: edgewatch_catalog::Duration,
    /// Deployment format of the rules.
    #[arg(long, value_enum, default_value_t = TargetArg::Prometheus)]
    target: TargetArg,
    /// `prometheus-operator`: the objects' namespace; `mimir`: the ruler namespace.
    #[arg(long, value_name = "NAME")]
    namespace: Option<String>,
    /// `prometheus-operator`: a label for the objects, as KEY=VALUE (repeatable),
    /// matched by the Prometheus' `ruleSelector`.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    labels: Vec<(String, String)>,
    /// The edgewatch receiver's webhook URL, for the Alertmanager files.
    #[arg(long, value_name = "URL", default_value = "http://localhost:9818/api/v1/alertmanager")]
    receiver_url: String,
    /// The scrape job of the exporters: the scrape fragment names it, and
    /// the exporter-down and no-data alerts read its `up` (set it to your
    /// own job's name when you scrape the exporters your way).
    #[arg(long, value_name = "NAME", default_value = edgewatch_rule_gen::DEFAULT_EXPORTER_JOB)]
    exporter_job: String,
    /// The file Alertmanager reads the receiver's bearer token from
    /// (`http_config.authorization.credentials_file`); empty: no auth.
    #[arg(long, value_name = "PATH", default_value = "/etc/alertmanager/edgewatch-receiver-token")]
    receiver_credentials_file: String,
    /// An exporter's HOST:PORT for the scrape fragment (repeatable).
    #[arg(long = "exporter", value_name = "HOST:PORT", default_values_t = ["localhost:9817".to_owned()])]
    exporters: Vec<String>,
    /// `mimir`: Thanos Ruler's `partial_response_strategy` on every group.
    #[arg(long, value_name = "warn|abort", value_parser = ["warn", "abort"])]
    partial_response_strategy: Option<String>,
    /// Deployment format of the Grafana dashboards.
    #[arg(long, value_enum, default_value_t = DashboardTargetArg::Files)]
    dashboard_target: DashboardTargetArg,
    /// `files`: where Grafana finds the `grafana/dashboards` folder (the
    /// dashboards provider's path).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/grafana/dashboards/edgewatch")]
    grafana_dashboards_dir: String,
    /// `files`: the Prometheus URL in the datasource provisioning example.
    #[arg(long, value_name = "URL", default_value = "http://localhost:9090")]
    prometheus_url: String,
    /// A file holding a PagerDuty Events API v2 routing key: Alertmanager
    /// then pages edgewatch's own pages (the receiver down, its webhooks
    /// failing) through its built-in PagerDuty notifier too, which works
    /// when the receiver does not.
    #[arg(long, value_name = "PATH")]
    fallback_pagerduty_key_file: Option<String>,
    /// The Events API URL for the fallback, when not PagerDuty's own.
    #[arg(long, value_name = "URL", requires = "fallback_pagerduty_key_file")]
    fallback_pagerduty_url: Option<String>,
    /// A dead man's switch's webhook URL for the always-firing heartbeat
    /// (`EdgewatchHeartbeat`); without it the heartbeat goes nowhere.
    #[arg(long, value_name = "URL")]
    heartbeat_url: Option<String>,
    /// Alertmanager's URL: where `prometheus.example.yml` sends alerts, and
    /// (`files`) the Alertmanager datasource in the provisioning example.
    #[arg(long, value_name = "URL", default_value = "http://localhost:9093")]
    alertmanager_url: String,
    /// `grafana-operator`: a label of the Grafana instances to load the
    /// dashboards into, as KEY=VALUE (repeatable).
    #[arg(long = "grafana-instance", value_name = "KEY=VALUE", value_parser = parse_label, default_values = ["dashboards=grafana"])]
    grafana_instance: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DashboardTargetArg {
    /// JSON files in a folder per tier, and Grafana provisioning files.
    Files,
    /// `ConfigMap`s for the Grafana sidecar (`grafana_dashboard: "1"`).
    Sidecar,
    /// `GrafanaDashboard` objects for grafana-operator.
    GrafanaOperator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TargetArg {
    /// Plain rule files.
    Prometheus,
    /// `PrometheusRule` objects.
    PrometheusOperator,
    /// Mimir or Cortex ruler namespace files.
    Mimir,
}

fn parse_silence(s: &str) -> Result<edgewatch_catalog::Duration, String> {
    let d: edgewatch_catalog::Duration = s.parse().map_err(|e| format!("{e}"))?;
    if (5 * 60_000..=12 * 3_600_000).contains(&d.as_millis()) {
        Ok(d)
    } else {
        Err(format!("{d} is outside 5m to 12h"))
    }
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("`{s}` is not KEY=VALUE"))?;
    if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b)) {
        return Err(format!("`{k}` is not a Kubernetes label key"));
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// Folders whose files are all generated: files there (or below) that are
/// no longer generated (a customer or profile removed) are stale. The
/// per-customer folders of earlier versions are listed so that an upgrade
/// removes them: their constants would clash with the profiles'.
const GENERATED_DIRS: [&str; 9] = [
    "rules/profiles",
    "rules/customers",
    "prometheus-operator",
    "mimir/profiles",
    "mimir/customers",
    "tests",
    "grafana/dashboards",
    "grafana/sidecar",
    "grafana/grafana-operator",
];

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    // An invalid catalog is reported as `check` reports it, and exits 1.
    let catalog = match edgewatch_catalog::load(&args.catalog) {
        Ok(loaded) => {
            std::io::stderr()
                .write_all(edgewatch_catalog::render(&loaded.warnings).as_bytes())
                .context("cannot write the warnings")?;
            loaded.catalog
        }
        Err(rejected) => {
            super::check::report(None, &rejected.diagnostics).context("cannot write the diagnostics")?;
            return Ok(ExitCode::FAILURE);
        }
    };
    let target = match args.target {
        TargetArg::Prometheus => Target::Prometheus,
        TargetArg::PrometheusOperator => Target::PrometheusOperator {
            namespace: args.namespace.clone(),
            labels: args.labels.iter().cloned().collect(),
        },
        TargetArg::Mimir => Target::Mimir {
            namespace: args.namespace.clone().unwrap_or_else(|| "edgewatch".to_owned()),
            partial_response_strategy: args.partial_response_strategy.clone(),
        },
    };
    let opts = Options {
        target,
        catalog_name: catalog_name(&args.catalog),
        grafana_url: args.grafana_url.clone(),
        scrape_interval: args.scrape_interval,
        ingest_silence: args.ingest_silence,
        delivery: edgewatch_rule_gen::Delivery {
            receiver_url: args.receiver_url.clone(),
            exporter_targets: args.exporters.clone(),
            exporter_job: args.exporter_job.clone(),
            receiver_credentials_file: Some(args.receiver_credentials_file.clone()).filter(|f| !f.is_empty()),
            alertmanager_url: args.alertmanager_url.clone(),
            fallback_pagerduty: args.fallback_pagerduty_key_file.clone().map(|routing_key_file| {
                edgewatch_rule_gen::FallbackPagerDuty { routing_key_file, url: args.fallback_pagerduty_url.clone() }
            }),
            heartbeat_url: args.heartbeat_url.clone(),
            prometheus_url: Some(args.prometheus_url.clone()),
        },
    };
    // Each file is compared with what is there and written only when it
    // differs, as it is made: the dashboards of 10,000 customers (400 MB)
    // are never all in memory, and an unchanged file keeps its time (Grafana
    // and Prometheus reload what changed).
    let rules = edgewatch_rule_gen::render(&catalog, &opts)?;
    let dashboard_opts = dashboard_options(args);
    let dashboards = edgewatch_dashboards::files(&catalog, &dashboard_opts)?;
    let (generated, mut stale) =
        compare_and_write(&args.out, rules.into_iter().map(Ok).chain(dashboards), !args.check)?;
    stale.extend(no_longer_generated(&args.out, &generated).into_iter().map(|p| (p, NO_LONGER_GENERATED)));
    stale.sort();

    let mut out = std::io::stdout().lock();
    if args.check {
        if stale.is_empty() {
            writeln!(out, "{} is up to date ({} files)", args.out.display(), generated.len())?;
            return Ok(ExitCode::SUCCESS);
        }
        for (path, why) in &stale {
            writeln!(out, "{}: {why}", args.out.join(path).display())?;
        }
        writeln!(
            out,
            "{} stale file(s); run `edgewatch render --catalog {} --out {}`",
            stale.len(),
            args.catalog.display(),
            args.out.display()
        )?;
        return Ok(ExitCode::FAILURE);
    }
    let mut removed = 0;
    for (path, why) in &stale {
        if *why == NO_LONGER_GENERATED {
            std::fs::remove_file(args.out.join(path)).with_context(|| format!("cannot remove {}", path.display()))?;
            removed += 1;
        }
    }
    let written = stale.len() - removed;
    let unchanged = generated.len() - written;
    write!(out, "wrote {written} files to {}", args.out.display())?;
    match (unchanged, removed) {
        (0, 0) => writeln!(out)?,
        (u, 0) => writeln!(out, " ({u} unchanged)")?,
        (u, r) => writeln!(out, " ({u} unchanged, {r} no longer generated removed)")?,
    }
    Ok(ExitCode::SUCCESS)
}

fn dashboard_options(args: &Args) -> edgewatch_dashboards::Options {
    use edgewatch_dashboards::Target;
    edgewatch_dashboards::Options {
        target: match args.dashboard_target {
            DashboardTargetArg::Files => Target::Files {
                dashboards_dir: args.grafana_dashboards_dir.clone(),
                prometheus_url: args.prometheus_url.clone(),
                alertmanager_url: args.alertmanager_url.clone(),
            },
            DashboardTargetArg::Sidecar => Target::Sidecar { namespace: args.namespace.clone() },
            DashboardTargetArg::GrafanaOperator => Target::GrafanaOperator {
                namespace: args.namespace.clone(),
                instance_selector: args.grafana_instance.iter().cloned().collect(),
            },
        },
        catalog_name: catalog_name(&args.catalog),
        grafana_url: args.grafana_url.clone(),
        scrape_interval: args.scrape_interval,
    }
}

/// The catalog's name in file headers: its file or folder name, however
/// the path was spelled (`./examples/catalog`, a trailing slash, absolute),
/// so `render --check` agrees across machines.
fn catalog_name(path: &Path) -> String {
    let full = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    full.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Files under `dir` (relative to `out`), recursively.
fn files_under(out: &Path, dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(out.join(dir)) else { return };
    for entry in entries.flatten() {
        let rel = dir.join(entry.file_name());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            files_under(out, &rel, found);
        } else {
            found.push(rel);
        }
    }
}

/// A file of the output folder that is not what the catalog makes, and why.
type Stale = (PathBuf, &'static str);

/// Compares each file with what `out` holds, writing it when it differs
/// and `write` is set: the paths made, and those that were stale with why.
fn compare_and_write<E>(
    out: &Path,
    files: impl Iterator<Item = Result<OutputFile, E>>,
    write: bool,
) -> anyhow::Result<(BTreeSet<PathBuf>, Vec<Stale>)>
where
    anyhow::Error: From<E>,
{
    let mut generated = BTreeSet::new();
    let mut stale = Vec::new();
    for f in files {
        let f = f?;
        let path = out.join(&f.path);
        let why = match std::fs::read(&path) {
            Ok(old) if old == f.contents.as_bytes() => None,
            Ok(_) => Some("differs"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("missing"),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        if let Some(why) = why {
            if write {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
                }
                std::fs::write(&path, &f.contents).with_context(|| format!("cannot write {}", path.display()))?;
            }
            stale.push((f.path.clone(), why));
        }
        generated.insert(f.path);
    }
    Ok((generated, stale))
}

/// Why a file that edgewatch once wrote is stale when it is not made any more.
const NO_LONGER_GENERATED: &str = "no longer generated";

/// Files in `out`'s generated folders that are edgewatch's kind of file
/// but not among `generated`.
fn no_longer_generated(out: &Path, generated: &BTreeSet<PathBuf>) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in GENERATED_DIRS {
        files_under(out, Path::new(dir), &mut found);
    }
    found
        .into_iter()
        .filter(|rel| rel.extension().is_some_and(|e| e == "yml" || e == "yaml" || e == "json"))
        .filter(|rel| !generated.contains(rel))
        .collect()
}
