//! Findings collected while loading, before they have positions.
//!
//! Decoding and validation record an [`Issue`] against a file and a YAML path;
//! [`Report::into_diagnostics`] turns each into a positioned [`Diagnostic`]
//! once, at the end, by asking [`crate::yaml::locate`].

use std::path::PathBuf;

use crate::diag::{self, Diagnostic, Severity};
use crate::path::YamlPath;
use crate::yaml::{self, Anchor};

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
        let mut out: Vec<Diagnostic> = self
            .issues
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
            .collect();
        diag::sort(&mut out);
        out
    }
}
