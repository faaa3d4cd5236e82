//! Diagnostics: what is wrong with a catalog, where, and what to do about it.
//!
//! Rendered compiler-style, `path:line:col: error: message`, with an optional
//! `hint:` line, so that editors and CI annotations can jump to the place.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The catalog is unusable until this is fixed.
    Error,
    /// The catalog works, but probably not as intended.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

/// One finding about a catalog, tied to a place in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file, as given on the command line or found in the catalog folder.
    pub file: PathBuf,
    /// 1-based line; absent when the problem is with the file as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column; absent with `line`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// Error or warning.
    pub severity: Severity,
    /// Where in the document, as `customers[2].slos.availability.objective`;
    /// empty for the document as a whole.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it, when there is something useful to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// Whether this diagnostic makes the catalog unusable.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn sort_key(&self) -> (&PathBuf, usize, usize, Severity, &str) {
        (&self.file, self.line.unwrap_or(0), self.column.unwrap_or(0), self.severity, &self.message)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}: ", self.severity)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Sorts diagnostics by file, line and column, and drops exact repeats.
pub(crate) fn sort(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diags.dedup();
}

/// Renders diagnostics one after another, each ending in a newline.
pub fn render(diags: &[Diagnostic]) -> String {
    use fmt::Write as _;
    let mut out = String::new();
    for d in diags {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{d}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(file: &str, line: usize, message: &str) -> Diagnostic {
        Diagnostic {
            file: file.into(),
            line: Some(line),
            column: Some(3),
            severity: Severity::Error,
            path: "customers[0].id".into(),
            message: message.into(),
            hint: None,
        }
    }

    #[test]
    fn renders_compiler_style() {
        let mut d = diag("catalog/acme.yaml", 12, "duplicate customer id `acme`");
        d.hint = Some("ids must be unique across the catalog".into());
        assert_eq!(
            d.to_string(),
            "catalog/acme.yaml:12:3: error: customers[0].id: duplicate customer id `acme`\n  hint: ids must be unique across the catalog"
        );
    }

    #[test]
    fn sorts_by_file_then_line() {
        let mut v =
            vec![diag("b.yaml", 1, "x"), diag("a.yaml", 9, "y"), diag("a.yaml", 2, "z"), diag("a.yaml", 2, "z")];
        sort(&mut v);
        let order: Vec<_> = v.iter().map(|d| (d.file.display().to_string(), d.line)).collect();
        assert_eq!(order, [("a.yaml".into(), Some(2)), ("a.yaml".into(), Some(9)), ("b.yaml".into(), Some(1))]);
    }
}
