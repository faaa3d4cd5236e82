//! Writing reports so that a file that exists is complete: each is written
//! to a hidden temporary file beside its place, synced, then renamed over
//! it. A failure leaves the temporary file removed and the old file, if
//! any, untouched.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::model::Report;
use crate::noc::NocReview;

/// A report format (`html`, `md`, `json` in configs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One self-contained HTML file.
    Html,
    /// Markdown.
    #[serde(rename = "md")]
    Markdown,
    /// JSON after `docs/report.schema.json`.
    Json,
}

impl Format {
    /// The file extension.
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Html => "html",
            Self::Markdown => "md",
            Self::Json => "json",
        }
    }

    /// The report in this format.
    pub fn render(self, report: &Report) -> String {
        match self {
            Self::Html => crate::render::html(report),
            Self::Markdown => crate::render::markdown(report),
            Self::Json => crate::render::json(report),
        }
    }
}

/// A report that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct OutputError {
    /// The report file (or its temporary sibling) being written.
    pub path: PathBuf,
    /// The file system's error.
    #[source]
    pub source: std::io::Error,
}

impl Format {
    /// The NOC review in this format.
    pub fn render_noc(self, review: &NocReview) -> String {
        match self {
            Self::Html => crate::render_noc::noc_html(review),
            Self::Markdown => crate::render_noc::noc_markdown(review),
            Self::Json => crate::render_noc::noc_json(review),
        }
    }
}

/// Writes the NOC review in every format into `dir` as
/// `noc-review-<period label>.<ext>`; returns the paths written.
pub fn write_review(dir: &Path, review: &NocReview, formats: &[Format]) -> Result<Vec<PathBuf>, OutputError> {
    std::fs::create_dir_all(dir).map_err(|source| OutputError { path: dir.to_owned(), source })?;
    let mut written = Vec::new();
    for format in formats {
        let path = dir.join(review_file_name(&review.period.label, *format));
        write_atomically(&path, &format.render_noc(review))
            .map_err(|source| OutputError { path: path.clone(), source })?;
        written.push(path);
    }
    Ok(written)
}

/// `<customer>-<period label>.<ext>`.
pub fn file_name(report: &Report, format: Format) -> String {
    customer_file_name(&report.customer.id, &report.period.label, format)
}

/// `<customer>-<period label>.<ext>`: where a customer's report of a period
/// goes, known before it is built.
pub fn customer_file_name(customer: &str, label: &str, format: Format) -> String {
    format!("{customer}-{label}.{}", format.extension())
}

/// `noc-review-<period label>.<ext>`.
pub fn review_file_name(label: &str, format: Format) -> String {
    format!("noc-review-{label}.{}", format.extension())
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes every report in every format into `dir` (created if missing);
/// returns the paths written.
pub fn write_all(dir: &Path, reports: &[Report], formats: &[Format]) -> Result<Vec<PathBuf>, OutputError> {
    std::fs::create_dir_all(dir).map_err(|source| OutputError { path: dir.to_owned(), source })?;
    let mut written = Vec::new();
    for report in reports {
        for format in formats {
            let path = dir.join(file_name(report, *format));
            write_atomically(&path, &format.render(report))
                .map_err(|source| OutputError { path: path.clone(), source })?;
            written.push(path);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_no_temporary_file_and_the_old_file_whole() {
        let dir = std::env::temp_dir().join(format!("edgewatch-output-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("taken.html")).unwrap(); // a folder where the file goes
        std::fs::write(dir.join("old.md"), "old and complete").unwrap();
        assert!(write_atomically(&dir.join("taken.html"), "new").is_err());
        write_atomically(&dir.join("old.md"), "new and complete").unwrap();
        let mut names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["old.md", "taken.html"]);
        assert_eq!(std::fs::read_to_string(dir.join("old.md")).unwrap(), "new and complete");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
