//! Findings collected while loading, before they have positions.
//!
//! Decoding and validation record an [`Issue`] against a file and a YAML path;
//! [`Report::into_diagnostics`] turns each into a positioned [`Diagnostic`]
//! once, at the end, by asking [`crate::yaml::locate`].
//!
//! Locating reads the file up to the finding, so a warning repeated for
//! thousands of customers of one file would read it thousands of times
//! (minutes for a 10,000-customer file): past [`REPEATS_SHOWN`] of the same
//! warning in a file, the rest are counted in one more diagnostic.

use std::path::PathBuf;

use crate::diag::{self, Diagnostic, Severity};
use crate::path::YamlPath;
use crate::yaml::{self, Anchor};

/// How many of one warning (same file, message and hint) are shown with
/// their positions; the rest are counted.
pub(crate) const REPEATS_SHOWN: usize = 10;

/// Index of a file in [`Sources`].
pub(crate) type FileId = usize;

/// A place in the catalog: a file and a path inside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Origin {
    pub(crate) file: FileId,
    pub(crate) path: YamlPath,
}

/// The text of every file that makes up a catalog.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    pub(crate) files: Vec<SourceFile>,
}

#[derive(Debug)]
pub(crate) struct SourceFile {
    /// The path as shown in diagnostics.
    pub(crate) name: PathBuf,
    pub(crate) text: String,
}

/// A finding that does not have a position yet.
#[derive(Debug)]
pub(crate) struct Issue {
    origin: Origin,
    anchor: Anchor,
    severity: Severity,
    message: String,
    hint: Option<String>,
    /// A known position, for findings that come straight from the YAML parser.
    at: Option<yaml::LineCol>,
}

impl Issue {
    pub(crate) fn hint(&mut self, hint: impl Into<String>) -> &mut Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Every finding of one load.
#[derive(Debug, Default)]
pub(crate) struct Report {
    issues: Vec<Issue>,
}

impl Report {
    fn push(&mut self, origin: Origin, anchor: Anchor, severity: Severity, message: String) -> &mut Issue {
        self.issues.push(Issue { origin, anchor, severity, message, hint: None, at: None });
        let last = self.issues.len() - 1;
        &mut self.issues[last]
    }

    pub(crate) fn error(&mut self, origin: Origin, anchor: Anchor, message: impl Into<String>) -> &mut Issue {
        self.push(origin, anchor, Severity::Error, message.into())
    }

    pub(crate) fn warning(&mut self, origin: Origin, anchor: Anchor, message: impl Into<String>) -> &mut Issue {
        self.push(origin, anchor, Severity::Warning, message.into())
    }

    /// A finding whose position is already known (YAML syntax errors).
    pub(crate) fn error_at(
        &mut self,
        file: FileId,
        at: Option<yaml::LineCol>,
        message: impl Into<String>,
    ) -> &mut Issue {
        let origin = Origin { file, path: YamlPath::root() };
        let issue = self.push(origin, Anchor::Value, Severity::Error, message.into());
        issue.at = at;
        issue
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.issues.iter().any(|i| i.severity == Severity::Error)
    }

    /// Positions every finding in its file and sorts them by file and line.
    pub(crate) fn into_diagnostics(self, sources: &Sources) -> Vec<Diagnostic> {
        let (issues, summaries) = collapse_repeats(self.issues, sources);
        let mut out: Vec<Diagnostic> = issues
            .into_iter()
            .map(|issue| {
                let file = sources.files.get(issue.origin.file);
                let at = issue.at.or_else(|| {
                    let text = &file?.text;
                    // A finding about the whole document points at its start.
                    if issue.origin.path.is_root() {
                        return (!text.trim().is_empty()).then_some(yaml::LineCol { line: 1, column: 1 });
                    }
                    yaml::locate(text, &issue.origin.path, issue.anchor)
                });
                Diagnostic {
                    file: file.map(|f| f.name.clone()).unwrap_or_default(),
                    line: at.map(|a| a.line),
                    column: at.map(|a| a.column),
                    severity: issue.severity,
                    path: issue.origin.path.to_string(),
                    message: issue.message,
                    hint: issue.hint,
                }
            })
            .chain(summaries)
            .collect();
        diag::sort(&mut out);
        out
    }
}

/// Keeps the first [`REPEATS_SHOWN`] of each warning per file; one
/// diagnostic, without a position, counts the rest and names a few.
fn collapse_repeats(issues: Vec<Issue>, sources: &Sources) -> (Vec<Issue>, Vec<Diagnostic>) {
    use std::collections::HashMap;
    let mut seen: HashMap<(FileId, String, Option<String>), Vec<String>> = HashMap::new();
    let mut kept = Vec::with_capacity(issues.len());
    for issue in issues {
        if issue.severity == Severity::Warning && issue.at.is_none() {
            let more = seen.entry((issue.origin.file, issue.message.clone(), issue.hint.clone())).or_default();
            more.push(issue.origin.path.to_string());
            if more.len() > REPEATS_SHOWN {
                continue;
            }
        }
        kept.push(issue);
    }
    let summaries = seen
        .into_iter()
        .filter(|(_, paths)| paths.len() > REPEATS_SHOWN)
        .map(|((file, message, hint), paths)| {
            let rest = &paths[REPEATS_SHOWN..];
            let named = rest.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
            let etc = if rest.len() > 3 { ", …" } else { "" };
            Diagnostic {
                file: sources.files.get(file).map(|f| f.name.clone()).unwrap_or_default(),
                line: None,
                column: None,
                severity: Severity::Warning,
                path: String::new(),
                message: format!("{message}: also at {} more places ({named}{etc})", rest.len()),
                hint,
            }
        })
        .collect();
    (kept, summaries)
}
