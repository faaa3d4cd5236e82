//! `edgewatch up`: the whole alert loop on one machine (see the
//! `edgewatch-up` crate): parse the flags, load the catalog as `check`
//! does, find Prometheus and Alertmanager, and run until Ctrl-C or SIGTERM.

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use super::runtime;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The customer catalog: a file or a folder of YAML files.
    #[arg(long, value_name = "PATH", env = "EDGEWATCH_CATALOG")]
    catalog: PathBuf,
    /// Where the rendered configs, the stores, the logs and the token go.
    #[arg(long, value_name = "DIR", default_value = "data/up")]
    state_dir: PathBuf,
    /// The exporter's address (port 0: any free port).
    #[arg(long = "exporter.listen-address", value_name = "ADDR", default_value = "127.0.0.1:9817")]
    exporter: SocketAddr,
    /// The receiver's address.
    #[arg(long = "receiver.listen-address", value_name = "ADDR", default_value = "127.0.0.1:9818")]
    receiver: SocketAddr,
    /// Prometheus' address.
    #[arg(long = "prometheus.listen-address", value_name = "ADDR", default_value = "127.0.0.1:9090")]
    prometheus_listen: SocketAddr,
    /// Alertmanager's address.
    #[arg(long = "alertmanager.listen-address", value_name = "ADDR", default_value = "127.0.0.1:9093")]
    alertmanager_listen: SocketAddr,
    /// Prometheus' binary; by default `prometheus` on PATH.
    #[arg(long, value_name = "PATH")]
    prometheus: Option<PathBuf>,
    /// Alertmanager's binary; by default `alertmanager` or Debian's
    /// `prometheus-alertmanager` on PATH.
    #[arg(long, value_name = "PATH")]
    alertmanager: Option<PathBuf>,
    /// How often Prometheus scrapes and evaluates (the shipped 15s; shorter
    /// for a quicker demo).
    #[arg(long, value_name = "DURATION", default_value = "15s")]
    scrape_interval: edgewatch_catalog::Duration,
    /// Feed synthetic Logpush traffic, and after a warm-up a full outage of
    /// one customer.
    #[arg(long)]
    demo: bool,
    /// `--demo`: healthy traffic before the outage.
    #[arg(long = "demo.warmup", value_name = "DURATION", default_value = "3m")]
    demo_warmup: edgewatch_catalog::Duration,
    /// `--demo`: how long the outage lasts.
    #[arg(long = "demo.outage", value_name = "DURATION", default_value = "2m")]
    demo_outage: edgewatch_catalog::Duration,
}

/// Prints lines, and on a terminal keeps the status on one line.
#[derive(Debug)]
struct Console {
    status_shown: bool,
}

impl edgewatch_up::Say for Console {
    fn line(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        if self.status_shown {
            let _ = write!(out, "\r\x1b[2K");
            self.status_shown = false;
        }
        let _ = writeln!(out, "{text}");
    }

    fn status(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\r\x1b[2K{text}");
        let _ = out.flush();
        self.status_shown = true;
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let catalog = match edgewatch_catalog::load(&args.catalog) {
        Ok(loaded) => loaded.catalog,
        Err(rejected) => {
            super::check::report(None, &rejected.diagnostics).context("cannot write the diagnostics")?;
            return Ok(ExitCode::FAILURE);
        }
    };
    let opts = edgewatch_up::Options {
        catalog,
        state_dir: args.state_dir.clone(),
        listen: edgewatch_up::Listen {
            exporter: args.exporter,
            receiver: args.receiver,
            prometheus: args.prometheus_listen,
            alertmanager: args.alertmanager_listen,
        },
        prometheus: args.prometheus.clone().or_else(|| edgewatch_up::find_binary(&["prometheus"])),
        alertmanager: args
            .alertmanager
            .clone()
            .or_else(|| edgewatch_up::find_binary(&["alertmanager", "prometheus-alertmanager"])),
        scrape_interval: args.scrape_interval,
        demo: args.demo.then(|| edgewatch_up::demo::Script {
            warmup: Duration::from_millis(args.demo_warmup.as_millis()),
            outage: Duration::from_millis(args.demo_outage.as_millis()),
        }),
        terminal: std::io::stdout().is_terminal(),
    };
    let mut console = Console { status_shown: false };
    runtime::tokio()?.block_on(edgewatch_up::run(opts, &mut console, runtime::shutdown_signal()))?;
    Ok(ExitCode::SUCCESS)
}
