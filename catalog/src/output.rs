//! What the generators (rule-gen, dashboards) hand the command: files to
//! write, here so that neither generator depends on the other for it.

use std::path::PathBuf;

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// Relative to the output folder.
    pub path: PathBuf,
    /// The whole file, as written.
    pub contents: String,
}
