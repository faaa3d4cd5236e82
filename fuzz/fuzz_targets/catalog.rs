//! Catalog YAML through the catalog loader: any text, split into files at
//! NUL bytes (a catalog folder's files, in order), either loads or is
//! rejected with diagnostics, never a panic. Every diagnostic names one of
//! the files and a line inside it, and renders; a catalog that loads
//! serializes.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Lines as YAML counts them: `\r\n`, `\n`, a lone `\r`, NEL and the
/// Unicode line and paragraph separators each end one.
fn yaml_lines(text: &str) -> usize {
    let text = text.replace("\r\n", "\n");
    1 + text.chars().filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')).count()
}

fuzz_target!(|data: &[u8]| {
    // A folder's files are UTF-8 or are refused before YAML sees them.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let names: Vec<String> = (0..text.split('\0').count()).map(|i| format!("f{i}.yaml")).collect();
    let files: Vec<(&str, &str)> = names.iter().map(String::as_str).zip(text.split('\0')).collect();
    match edgewatch_catalog::load_texts(&files) {
        Ok(loaded) => {
            serde_json::to_string(&loaded.catalog).expect("a loaded catalog serializes");
            let _ = edgewatch_catalog::render(&loaded.warnings);
        }
        Err(rejected) => {
            assert!(rejected.errors().next().is_some(), "rejected without an error");
            for d in &rejected.diagnostics {
                let Some(&(_, text)) = files.iter().find(|(name, _)| d.file.as_os_str() == *name) else {
                    panic!("a diagnostic names no file: {d}");
                };
                if let Some(line) = d.line {
                    let lines = yaml_lines(text);
                    assert!(line >= 1 && line <= lines + 1, "line {line} outside a {lines}-line file: {d}");
                }
            }
            let _ = edgewatch_catalog::render(&rejected.diagnostics);
        }
    }
});
