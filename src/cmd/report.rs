//! `edgewatch report`: historical reports per customer over a period, from
//! Prometheus (see the `edgewatch-reports` crate). Parses the flags,
//! resolves the period and the customers before asking Prometheus
//! anything, and writes each file whole or not at all.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use edgewatch_reports::period::{Bound, time_zone};
use edgewatch_reports::{Format, IncidentSource, NoIncidents, Period, PeriodSpec, Prometheus, Selection};

use super::runtime;
use edgewatch_webhook_receiver::ReportIncidents as StoreIncidents;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The customer catalog: a file or a folder of YAML files.
    #[arg(long, value_name = "PATH", env = "EDGEWATCH_CATALOG")]
    catalog: PathBuf,
    /// Prometheus' URL, or any server of its HTTP query API (Thanos
    /// Query, Mimir: `http://mimir/prometheus`).
    #[arg(long, value_name = "URL", env = "EDGEWATCH_PROMETHEUS_URL")]
    prometheus: String,
    /// A customer to report on (repeatable).
    #[arg(long = "customer", value_name = "ID", required_unless_present_any = ["all", "noc"], conflicts_with_all = ["all", "noc"])]
    customers: Vec<String>,
    /// Report on every customer of the catalog.
    #[arg(long)]
    all: bool,
    /// Write the NOC review instead: every customer in one table sorted by
    /// error budget consumed, their incidents, and who is under the
    /// traffic floor (`noc-review-<period>.<ext>`).
    #[arg(long, conflicts_with = "all")]
    noc: bool,
    /// The period's start: an RFC 3339 time, or a date (its midnight in
    /// `--timezone`).
    #[arg(
        long,
        value_name = "TIME|DATE",
        requires = "to",
        conflicts_with = "period",
        required_unless_present = "period"
    )]
    from: Option<String>,
    /// The period's end: an RFC 3339 time (excluded), or a date (included:
    /// the period ends at the next midnight).
    #[arg(long, value_name = "TIME|DATE", requires = "from")]
    to: Option<String>,
    /// A calendar period before now, aligned in `--timezone`.
    #[arg(long, value_enum)]
    period: Option<PeriodArg>,
    /// The IANA time zone days, dates and calendar periods are read in.
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    timezone: String,
    /// Output format (repeatable).
    #[arg(long = "format", value_enum, default_values = ["html"])]
    formats: Vec<FormatArg>,
    /// Where the reports go: `<customer>-<period>.<ext>`.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The receiver's store, for incidents: its data directory (its
    /// `data_dir`) or the `receiver.db` in it. Read only, also while the
    /// receiver runs. Without it reports say incidents are not connected.
    #[arg(long, value_name = "DIR", conflicts_with = "receiver_config")]
    receiver_store: Option<PathBuf>,
    /// The receiver's configuration, for incidents from the store it names:
    /// SQLite in its `data_dir`, or PostgreSQL (its `store_password` read
    /// from the environment or the file it names). Read only.
    #[arg(long, value_name = "FILE")]
    receiver_config: Option<PathBuf>,
    /// How long one query to Prometheus may take.
    #[arg(long, value_name = "DURATION", default_value = "2m")]
    timeout: edgewatch_catalog::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[allow(clippy::enum_variant_names)] // the flag's values: last-week, last-month, last-quarter
enum PeriodArg {
    /// Monday to Sunday, the week before this one.
    LastWeek,
    /// The calendar month before this one.
    LastMonth,
    /// The calendar quarter before this one.
    LastQuarter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
enum FormatArg {
    /// One self-contained HTML file with charts, printable.
    Html,
    /// Markdown, for a ticket or an e-mail.
    Md,
    /// JSON, after docs/report.schema.json.
    Json,
}

fn spec(args: &Args) -> anyhow::Result<PeriodSpec> {
    Ok(match (args.period, &args.from, &args.to) {
        (Some(PeriodArg::LastWeek), ..) => PeriodSpec::LastWeek,
        (Some(PeriodArg::LastMonth), ..) => PeriodSpec::LastMonth,
        (Some(PeriodArg::LastQuarter), ..) => PeriodSpec::LastQuarter,
        (None, Some(from), Some(to)) => PeriodSpec::Range { from: from.parse::<Bound>()?, to: to.parse::<Bound>()? },
        _ => anyhow::bail!("give --period, or --from and --to"),
    })
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let tz = time_zone(&args.timezone)?;
    let period = Period::resolve(&spec(args)?, &tz, jiff::Timestamp::now())?;
    let catalog = runtime::load_catalog(&args.catalog)?;
    let selection = if args.all || args.noc { Selection::All } else { Selection::Ids(args.customers.clone()) };
    // Unknown customers fail before Prometheus is asked anything.
    edgewatch_reports::select(&catalog, &selection)?;
    // A store that cannot be read (missing, from a newer receiver) fails
    // before Prometheus is asked anything too.
    let store = match (&args.receiver_store, &args.receiver_config) {
        (Some(path), _) => {
            let dir = if path.is_file() { path.parent().unwrap_or(path) } else { path.as_path() };
            Some(
                StoreIncidents::open(dir, &catalog)
                    .with_context(|| format!("cannot read the receiver store {}", path.display()))?,
            )
        }
        (None, Some(file)) => {
            let config = runtime::ReceiverConfigArg::file(file).load()?;
            Some(
                StoreIncidents::connect(&config, &|k| std::env::var(k).ok(), &catalog)
                    .with_context(|| format!("cannot read the receiver store {}", config.store_label()))?,
            )
        }
        (None, None) => None,
    };
    let incidents: &dyn IncidentSource = match &store {
        Some(s) => s,
        None => &NoIncidents,
    };
    let mut formats: Vec<Format> = args
        .formats
        .iter()
        .map(|f| match f {
            FormatArg::Html => Format::Html,
            FormatArg::Md => Format::Markdown,
            FormatArg::Json => Format::Json,
        })
        .collect();
    formats.sort_unstable();
    formats.dedup();
    let prom = Prometheus::new(&args.prometheus, args.timeout.to_std())?;

    let started = std::time::Instant::now();
    let reports = runtime::tokio()?.block_on(edgewatch_reports::build(
        &catalog,
        &prom,
        incidents,
        &selection,
        &period,
        jiff::Timestamp::now(),
    ))?;
    let written = if args.noc {
        let review = edgewatch_reports::review(&reports, jiff::Timestamp::now())
            .context("the catalog has no customer to review")?;
        edgewatch_reports::write_review(&args.out, &review, &formats)?
    } else {
        edgewatch_reports::write_all(&args.out, &reports, &formats)?
    };
    tracing::info!(
        reports = reports.len(),
        files = written.len(),
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        "Reports written."
    );
    let mut stdout = std::io::stdout().lock();
    for path in written {
        writeln!(stdout, "{}", path.display()).context("cannot write to standard output")?;
    }
    Ok(ExitCode::SUCCESS)
}
