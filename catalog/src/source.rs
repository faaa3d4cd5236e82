//! Finding and reading a catalog's files: one file, or every `.yaml`/`.yml`
//! file below a folder, in a stable order.

use std::path::{Path, PathBuf};

use crate::report::{Report, SourceFile, Sources};

/// Folders nested deeper than this are not read (and a symlink loop ends).
const MAX_DEPTH: usize = 8;

pub(crate) fn read(path: &Path, report: &mut Report, sources: &mut Sources) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return unreadable(path, &e.to_string(), report, sources),
    };
    if meta.is_file() {
        return read_file(path.to_path_buf(), report, sources);
    }
    let mut files = Vec::new();
    if let Err(e) = walk(path, 0, &mut files) {
        return unreadable(path, &e.to_string(), report, sources);
    }
    if files.is_empty() {
        return unreadable(path, "the folder holds no .yaml or .yml files", report, sources);
    }
    files.sort();
    for f in files {
        read_file(f, report, sources);
    }
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, depth + 1, out)?;
        } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml")) {
            out.push(path);
        }
    }
    Ok(())
}

fn read_file(path: PathBuf, report: &mut Report, sources: &mut Sources) {
    match std::fs::read(&path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => sources.files.push(SourceFile { name: path, text }),
            Err(e) => unreadable(&path, &format!("not UTF-8 text ({e})"), report, sources),
        },
        Err(e) => unreadable(&path, &e.to_string(), report, sources),
    }
}

fn unreadable(path: &Path, why: &str, report: &mut Report, sources: &mut Sources) {
    let id = sources.files.len();
    // Registered without text, so the diagnostic names the file.
    sources.files.push(SourceFile { name: path.to_path_buf(), text: String::new() });
    report.error_at(id, None, format!("cannot read catalog: {why}"));
}
