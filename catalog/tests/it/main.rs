//! Integration tests of the catalog crate: loading real files and folders.

// Helpers outside #[test] functions: a failed unwrap is a failed test here.
#![allow(clippy::unwrap_used, clippy::panic)]

mod checks;
mod diagnostics;
mod examples;
mod inheritance;
mod properties;

use std::path::{Path, PathBuf};

/// A path under this crate.
pub(crate) fn crate_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Diagnostics rendered with paths relative to this crate, for snapshots.
pub(crate) fn render_relative(diags: &[edgewatch_catalog::Diagnostic]) -> String {
    let prefix = format!("{}/", env!("CARGO_MANIFEST_DIR"));
    edgewatch_catalog::render(diags).replace(&prefix, "")
}

/// A scratch folder removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("edgewatch-it-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub(crate) fn write(&self, rel: &str, text: &str) -> &Self {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
