//! `edgewatch check`: validate a catalog, including the receiver templates
//! its `templates:` section replaces (the catalog checks their names; the
//! receiver's template engine, that they parse), and the services' config
//! files when named, with the same diagnostics.
//!
//! Text: warnings and errors on standard error, compiler style; the summary
//! on standard output. JSON: one document on standard output. Exit 0 when the
//! catalog is usable, 1 when it has errors.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use edgewatch_catalog::{Diagnostic, Summary};
use serde_json::json;

use crate::Format;

/// Service config files checked beside the catalog.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct ConfigFiles {
    /// The exporter's configuration (`exporter.yml`).
    #[arg(long = "exporter-config", value_name = "FILE")]
    exporter: Option<PathBuf>,
    /// The receiver's configuration (`receiver.yml`), checked against the
    /// catalog's destinations.
    #[arg(long = "receiver-config", value_name = "FILE")]
    receiver: Option<PathBuf>,
    /// A web config (TLS, basic auth, headers); the certificate files it
    /// names are read by the service, not here.
    #[arg(long = "web.config.file", value_name = "FILE")]
    web: Option<PathBuf>,
}

pub(crate) fn run(path: &Path, format: Format, configs: &ConfigFiles) -> anyhow::Result<ExitCode> {
    let (mut summary, mut diagnostics, catalog) = match edgewatch_catalog::load(path) {
        Ok(loaded) => match template_error(path, &loaded.catalog) {
            None => (Some(loaded.catalog.summary()), loaded.warnings, Some(loaded.catalog)),
            Some(e) => (None, loaded.warnings.into_iter().chain([e]).collect(), None),
        },
        Err(rejected) => (None, rejected.diagnostics, None),
    };
    let config_diagnostics = check_configs(configs, catalog.as_ref());
    let configs_ok = !config_diagnostics.iter().any(Diagnostic::is_error);
    if format == Format::Json {
        diagnostics.extend(config_diagnostics);
        if !configs_ok {
            summary = None;
        }
    } else if !configs_ok {
        // The catalog's verdict first, then the configs'.
        report(summary, &diagnostics).context("cannot write the result")?;
        let mut err = std::io::stderr().lock();
        err.write_all(edgewatch_catalog::render(&config_diagnostics).as_bytes())?;
        let n = config_diagnostics.iter().filter(|d| d.is_error()).count();
        writeln!(err, "config rejected: {n} error{}", if n == 1 { "" } else { "s" })?;
        return Ok(ExitCode::FAILURE);
    }
    match format {
        Format::Text => report(summary, &diagnostics),
        Format::Json => json(summary, &diagnostics),
    }
    .context("cannot write the result")?;
    Ok(if summary.is_some() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Every problem with the named config files; the receiver's is checked
/// against the catalog when the catalog is valid.
fn check_configs(files: &ConfigFiles, catalog: Option<&edgewatch_catalog::Catalog>) -> Vec<Diagnostic> {
    use edgewatch_catalog::service;
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| vec![service::diagnostic(path, "", &format!("cannot read it: {e}"))])
    };
    let mut diags = Vec::new();
    if let Some(path) = &files.exporter {
        let checked = read(path)
            .and_then(|text| service::load(path, &text, edgewatch_exporters::config::Config::validate).map(drop));
        diags.extend(checked.err().unwrap_or_default());
    }
    if let Some(path) = &files.receiver {
        let checked = read(path).and_then(|text| {
            service::load(path, &text, |c: &edgewatch_webhook_receiver::Config| {
                catalog.map(|catalog| c.validate(catalog)).unwrap_or_default()
            })
            .map(drop)
        });
        diags.extend(checked.err().unwrap_or_default());
    }
    if let Some(path) = &files.web {
        diags.extend(read(path).map_or_else(|e| e, |text| edgewatch_web::WebConfig::check(&text, path)));
    }
    diags
}

/// The receiver would refuse to start with these templates: say so now.
fn template_error(path: &Path, catalog: &edgewatch_catalog::Catalog) -> Option<Diagnostic> {
    use edgewatch_webhook_receiver::TextError;
    let e = edgewatch_webhook_receiver::check_templates(&catalog.templates).err()?;
    let (name, message) = match e {
        TextError::Template { name, message } => (name, message),
        other => (String::new(), other.to_string()),
    };
    Some(Diagnostic {
        file: path.to_path_buf(),
        line: None,
        column: None,
        severity: edgewatch_catalog::DiagnosticSeverity::Error,
        path: if name.is_empty() { "templates".to_owned() } else { format!("templates.{name}") },
        message,
        hint: Some("see docs/receiver.md, Templates".to_owned()),
    })
}

/// Diagnostics on standard error, compiler style, then the summary (on
/// standard output) or the verdict; `render` reports a catalog the same way.
pub(crate) fn report(summary: Option<Summary>, diagnostics: &[Diagnostic]) -> std::io::Result<()> {
    let mut err = std::io::stderr().lock();
    err.write_all(edgewatch_catalog::render(diagnostics).as_bytes())?;
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match summary {
        Some(s) => {
            let note = if warnings > 0 { format!(" ({})", plural(warnings, "warning")) } else { String::new() };
            writeln!(std::io::stdout().lock(), "catalog ok: {s}{note}")
        }
        None => writeln!(err, "catalog rejected: {}, {}", plural(errors, "error"), plural(warnings, "warning")),
    }
}

fn json(summary: Option<Summary>, diagnostics: &[Diagnostic]) -> std::io::Result<()> {
    let doc = json!({ "ok": summary.is_some(), "summary": summary, "diagnostics": diagnostics });
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &doc)?;
    writeln!(out)
}
