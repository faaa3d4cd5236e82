//! `edgewatch receiver`: the Alertmanager webhook target; and
//! `edgewatch receiver dead-letters list|replay`, which work on its store
//! beside a running receiver.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use edgewatch_webhook_receiver::{Config, Receiver};

use super::runtime;
use super::scheduled_reports::Scheduler;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    /// The receiver's configuration (store, auth, links, retries); built-in
    /// defaults when absent.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// The customer catalog: a file or a folder of YAML files.
    #[arg(long, value_name = "PATH", env = "EDGEWATCH_CATALOG")]
    catalog: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long = "web.listen-address", value_name = "ADDR", default_value = "0.0.0.0:9818")]
    listen: String,
    #[command(flatten)]
    web: super::web::WebArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Actions that failed for good or ran out of retries.
    #[command(name = "dead-letters", subcommand)]
    DeadLetters(DeadLetters),
}

#[derive(Debug, clap::Subcommand)]
enum DeadLetters {
    /// Print every dead letter, oldest first.
    List {
        /// Output for people (`text`) or machines (`json`).
        #[arg(long, value_enum, default_value_t = crate::Format::Text)]
        format: crate::Format,
    },
    /// Queue dead letters for delivery again, in their order.
    Replay {
        /// The dead letter's id (from `list`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
    },
}

/// The config file, decoded and checked without the catalog (the
/// dead-letter commands need none); `serve` checks it against the catalog.
fn config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    match path {
        Some(path) => runtime::load_config(path, |_: &Config| Vec::new()),
        None => Ok(Config::default()),
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let config = config(args.config.as_ref())?;
    match &args.command {
        Some(Sub::DeadLetters(d)) => dead_letters(&config, d),
        None => serve(args, &config),
    }
}

fn serve(args: &Args, config: &Config) -> anyhow::Result<ExitCode> {
    let path = args.catalog.as_ref().context("--catalog is required (or EDGEWATCH_CATALOG)")?;
    let catalog = runtime::load_catalog(path)?;
    if let Some(file) = &args.config {
        runtime::load_config(file, |c: &Config| c.validate(&catalog))?;
    }
    let customers = catalog.customers.len();
    let scheduler = match &config.reports {
        Some(reports) => Some(Scheduler::new(reports, config, catalog.clone(), &|k| std::env::var(k).ok())?),
        None => None,
    };
    let receiver = Receiver::build(config, catalog, &|k| std::env::var(k).ok())?;
    let web = args.web.load(Receiver::DEFAULT_IN_FLIGHT)?;
    tracing::info!(customers, store = %config.store_label(), "Receiver ready.");
    let web_config = &web;
    runtime::serve(&args.listen, &web, "Receiver", |listener, stop| async move {
        // Scheduled reports stop with the receiver; a report being written
        // is cut, and its file was never renamed into place.
        let (stopping, mut stopped) = tokio::sync::watch::channel(false);
        if let Some(scheduler) = scheduler {
            tokio::spawn(scheduler.run(async move {
                let _ = stopped.wait_for(|s| *s).await;
            }));
        }
        let stop = async move {
            stop.await;
            let _ = stopping.send(true);
        };
        receiver.serve(listener, web_config, stop).await
    })?;
    Ok(ExitCode::SUCCESS)
}

fn dead_letters(config: &Config, cmd: &DeadLetters) -> anyhow::Result<ExitCode> {
    let store = edgewatch_webhook_receiver::DeadLetters::connect(config, &|k| std::env::var(k).ok())?;
    let mut out = std::io::stdout().lock();
    match cmd {
        DeadLetters::List { format } => {
            let letters = store.list()?;
            if matches!(format, crate::Format::Json) {
                writeln!(out, "{}", serde_json::to_string_pretty(&letters)?)?;
                return Ok(ExitCode::SUCCESS);
            }
            for l in &letters {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{} attempt(s)\t{}\t{}",
                    l.id,
                    l.failed_at_rfc3339(),
                    l.destination,
                    l.kind.as_str(),
                    l.attempts,
                    l.key,
                    l.reason
                )?;
            }
            writeln!(out, "{} dead letter(s)", letters.len())?;
        }
        DeadLetters::Replay { id, all } => {
            let n = store.replay(if *all { None } else { *id })?;
            if n == 0 && !all {
                writeln!(out, "no dead letter {}", id.unwrap_or_default())?;
                return Ok(ExitCode::FAILURE);
            }
            writeln!(out, "{n} dead letter(s) queued again; a running receiver delivers them within a second")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
