//! `edgewatch`: the command. It parses arguments, sets up logging and hands
//! over to the crates; each subcommand lives in `cmd/`.

use std::io::IsTerminal as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod cmd;
mod logging;

/// Per-customer L7 SLO monitoring for edge networks, driven by one catalog.
#[derive(Debug, Parser)]
#[command(name = "edgewatch", version, about, long_about = None)]
struct Cli {
    /// Only log edgewatch's messages at this level or above (other crates
    /// log warnings and errors; `RUST_LOG` overrides both, by target).
    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Info, global = true)]
    log_level: LogLevel,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a catalog (and the services' config files) and print a
    /// summary, or every problem with its file, line and column.
    Check {
        /// A catalog file, or a folder of YAML files merged into one catalog.
        #[arg(long, value_name = "PATH", env = "EDGEWATCH_CATALOG")]
        catalog: PathBuf,
        /// Output for people (`text`) or for machines (`json`).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        configs: cmd::check::ConfigFiles,
    },
    /// Turn Logpush-style pushes of HTTP request logs into per-customer
    /// Prometheus metrics.
    Exporter(cmd::exporter::Args),
    /// Write every generated config (Prometheus rules, Alertmanager routes,
    /// Grafana dashboards) into a folder; with `--check`, fail when the
    /// folder is stale.
    Render(Box<cmd::render::Args>),
    /// Take Alertmanager's webhooks: store each notification durably, group
    /// alerts into incidents, and open, update and resolve Jira issues and
    /// PagerDuty incidents; `dead-letters` lists and replays failed actions.
    Receiver(Box<cmd::receiver::Args>),
    /// The whole alert loop on one machine: the exporter and the receiver,
    /// the real Prometheus and Alertmanager as children, and with `--demo`
    /// synthetic traffic and an outage.
    Up(Box<cmd::up::Args>),
    /// Write historical reports per customer over a period (SLIs against
    /// objectives, error budgets, traffic, latency, probes, security,
    /// incidents) from Prometheus, as HTML, Markdown or JSON.
    Report(Box<cmd::report::Args>),
    /// The receiver's incidents (`list`, `show`), and notes on them
    /// (`note ID --remediation TEXT`): shown in reports, commented on the
    /// Jira issue.
    Incidents(Box<cmd::incidents::Args>),
    /// The mitigation suggested for an incident (`show`), and adding its
    /// rule to a Cloudflare zone (`apply`, after a confirmation) or
    /// removing it (`revert`): recorded on the incident.
    Mitigate(Box<cmd::mitigate::Args>),
    /// Customer messages held for approval (`list`, `show`), and sending
    /// or dropping an incident's (`send`, `discard`).
    Outreach(Box<cmd::outreach::Args>),
}

/// Output format of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.log_level {
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Error => tracing::Level::ERROR,
    };
    tracing_subscriber::fmt()
        .with_env_filter(logging::filter(level))
        .fmt_fields(logging::EscapedFields)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let result = match cli.command {
        Command::Check { catalog, format, configs } => cmd::check::run(&catalog, format, &configs),
        Command::Exporter(args) => cmd::exporter::run(&args),
        Command::Render(args) => cmd::render::run(&args),
        Command::Receiver(args) => cmd::receiver::run(&args),
        Command::Up(args) => cmd::up::run(&args),
        Command::Report(args) => cmd::report::run(&args),
        Command::Incidents(args) => cmd::incidents::run(&args),
        Command::Mitigate(args) => cmd::mitigate::run(&args),
        Command::Outreach(args) => cmd::outreach::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // Plain text on stderr, each cause once: a library error that
            // already says its source is not followed by it again.
            let mut message = err.to_string();
            for cause in err.chain().skip(1) {
                let cause = cause.to_string();
                if !message.contains(&cause) {
                    message = format!("{message}: {cause}");
                }
            }
            let _ = writeln!(std::io::stderr(), "edgewatch: error: {message}");
            ExitCode::from(2)
        }
    }
}
