//! The edgewatch customer catalog.
//!
//! One catalog, kept in Git as YAML, drives everything edgewatch generates
//! and enriches. This crate loads it from one file or a folder of files,
//! applies `defaults` and tiers to each customer, and checks it, reporting
//! every mistake in one run as `path:line:col: error: message`.
//!
//! ```
//! let yaml = "customers:\n  - id: acme\n    hosts: [www.acme.example]\n";
//! let loaded = edgewatch_catalog::load_str("catalog.yaml", yaml).unwrap();
//! assert_eq!(loaded.catalog.customers[0].id.as_str(), "acme");
//! ```
//!
//! It is also the one home of the names the other crates share: metric and
//! label names, alert kinds, severities and SLO kinds ([`names`]).
//!
//! Layout: [`yaml`] is the only module that touches YAML; `decode` reads
//! values tolerantly into the `raw` types; `resolve` merges files and applies
//! inheritance into the [`model`]; `validate` holds the checks across
//! customers; `report` turns findings into positioned [`Diagnostic`]s.

mod decode;
mod diag;
pub mod html;
pub mod model;
pub mod names;
mod output;
mod path;
mod raw;
mod report;
mod resolve;
pub mod service;
mod source;
pub mod time;
mod types;
mod validate;
pub mod yaml;

use std::path::Path;

pub use diag::{Diagnostic, Severity as DiagnosticSeverity, render};
pub use model::{Catalog, Customer, Summary};
pub use output::OutputFile;
pub use raw::file::TEMPLATE_NAMES;
pub use types::decimal::{Decimal, Percent};
pub use types::duration::Duration;
pub use types::host::{HostPattern, Zone};
pub use types::ident::{LabelName, Slug};
pub use types::net::{Asn, CloudflareId, IpNet};
pub use types::secret::{Secret, SecretError, SecretRef};
pub use types::size::ByteSize;
pub use types::status::StatusMatcher;
pub use types::template::{TEMPLATE_VARS, UrlTemplate};
pub use types::text::{Email, HttpUrl, JiraKey, Pattern};

use decode::Cx;
use raw::file::RawFile;
use report::{Report, SourceFile, Sources};

/// A catalog that loaded, with the warnings it raised.
#[derive(Debug)]
pub struct Loaded {
    /// The catalog, valid: errors stop a load.
    pub catalog: Catalog,
    /// Findings that do not stop the catalog from working.
    pub warnings: Vec<Diagnostic>,
}

/// A catalog that did not load: every error and warning, sorted by file and
/// line.
#[derive(Debug, thiserror::Error)]
#[error("the catalog has {} error(s)", self.errors().count())]
pub struct Rejected {
    /// Errors and warnings.
    pub diagnostics: Vec<Diagnostic>,
}

impl Rejected {
    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}

/// Loads a catalog from a YAML file or a folder of YAML files.
pub fn load(path: &Path) -> Result<Loaded, Rejected> {
    let mut report = Report::default();
    let mut sources = Sources::default();
    source::read(path, &mut report, &mut sources);
    finish(&sources, report)
}

/// Loads a catalog from one YAML text; `name` is what diagnostics call it.
pub fn load_str(name: &str, text: &str) -> Result<Loaded, Rejected> {
    load_texts(&[(name, text)])
}

/// Loads a catalog from several YAML texts held in memory, as [`load`]
/// reads the files of a folder: `(name, text)` pairs, read in the order
/// given (a folder's files are read in path order), each `name` being what
/// diagnostics call that file. For tests and fuzzing, which have no folder.
///
/// ```
/// let loaded = edgewatch_catalog::load_texts(&[
///     ("defaults.yaml", "defaults:\n  slos:\n    availability: {objective: 99.9}\n"),
///     ("customers/acme.yaml", "customers:\n  - id: acme\n    hosts: [www.acme.example]\n"),
/// ])
/// .unwrap();
/// assert_eq!(loaded.catalog.customers[0].slos.len(), 1);
/// ```
pub fn load_texts(files: &[(&str, &str)]) -> Result<Loaded, Rejected> {
    let files = files.iter().map(|(name, text)| SourceFile { name: (*name).into(), text: (*text).to_owned() });
    finish(&Sources { files: files.collect() }, Report::default())
}

fn finish(sources: &Sources, mut report: Report) -> Result<Loaded, Rejected> {
    let mut files = Vec::new();
    for (id, file) in sources.files.iter().enumerate() {
        if file.text.is_empty() {
            continue;
        }
        match yaml::parse(&file.text) {
            Ok(value) => files.push(RawFile::decode(&value, &mut Cx { file: id, report: &mut report })),
            Err(err) => {
                report.error_at(id, err.at, err.message);
            }
        }
    }
    let catalog = resolve::resolve(files, sources, &mut report);
    let diagnostics = report.into_diagnostics(sources);
    match catalog {
        Some(catalog) if !diagnostics.iter().any(Diagnostic::is_error) => Ok(Loaded { catalog, warnings: diagnostics }),
        _ => Err(Rejected { diagnostics }),
    }
}
