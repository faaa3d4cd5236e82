//! `edgewatch exporter`: serve per-customer metrics from pushed request logs.

use std::path::PathBuf;
use std::process::ExitCode;

use edgewatch_exporters::Exporter;
use edgewatch_exporters::config::Config;

use super::runtime;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The customer catalog: a file or a folder of YAML files.
    #[arg(long, value_name = "PATH", env = "EDGEWATCH_CATALOG")]
    catalog: PathBuf,
    /// The exporter's configuration (inputs, buckets, limits); built-in
    /// defaults when absent.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long = "web.listen-address", value_name = "ADDR", default_value = "0.0.0.0:9817")]
    listen: String,
    #[command(flatten)]
    web: super::web::WebArgs,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let catalog = runtime::load_catalog(&args.catalog)?;
    let config = match &args.config {
        Some(path) => runtime::load_config(path, Config::validate)?,
        None => Config::default(),
    };
    let exporter = Exporter::build(&config, &catalog, |k| std::env::var(k).ok())?;
    let web = args.web.load(Exporter::default_in_flight())?;
    tracing::info!(customers = catalog.customers.len(), "Exporter ready.");
    runtime::serve(&args.listen, &web, "Exporter", |listener, stop| exporter.serve(listener, &web, stop))?;
    Ok(ExitCode::SUCCESS)
}
