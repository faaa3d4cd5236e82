//! `edgewatch check`: validate a catalog, including the receiver templates
//! its `templates:` section replaces (the catalog checks their names; the
//! receiver's template engine, that they parse).
//!
//! Text: warnings and errors on standard error, compiler style; the summary
//! on standard output. JSON: one document on standard output. Exit 0 when the
//! catalog is usable, 1 when it has errors.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use edgewatch_catalog::{Diagnostic, Summary};
use serde_json::json;

use crate::Format;

pub(crate) fn run(path: &Path, format: Format) -> anyhow::Result<ExitCode> {
    let (summary, diagnostics) = match edgewatch_catalog::load(path) {
        Ok(loaded) => match template_error(path, &loaded.catalog) {
            None => (Some(loaded.catalog.summary()), loaded.warnings),
            Some(e) => (None, loaded.warnings.into_iter().chain([e]).collect()),
        },
        Err(rejected) => (None, rejected.diagnostics),
    };
    match format {
        Format::Text => report(summary, &diagnostics),
        Format::Json => json(summary, &diagnostics),
    }
    .context("cannot write the result")?;
    Ok(if summary.is_some() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
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
