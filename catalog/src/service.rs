//! Service configuration files (`exporter.yml`, `receiver.yml`, the web
//! config) checked like the catalog: every problem a [`Diagnostic`] with
//! file, line and column, and a did-you-mean hint for a misspelt key or
//! value.
//!
//! A service config is decoded with serde into its own types; a structural
//! mistake (an unknown key, a wrong type) stops the decoding and is the one
//! diagnostic. Once decoded, the service's own checks name every further
//! problem as `path: message` (`push[1].path: ... is used twice`), and the
//! path is located in the text here.

use std::path::Path;

use crate::decode::unknown_word_hint;
use crate::diag::{Diagnostic, Severity};
use crate::path::{Seg, YamlPath};
use crate::yaml::{Anchor, LineCol, locate};

/// Decodes `text` (the contents of `file`) and checks it with `problems`,
/// which names each problem as `path: message`, or a bare message for the
/// file as a whole. All problems at once, sorted by position.
pub fn load<T, F>(file: &Path, text: &str, problems: F) -> Result<T, Vec<Diagnostic>>
where
    T: serde::de::DeserializeOwned,
    F: FnOnce(&T) -> Vec<String>,
{
    let config: T = crate::yaml::from_str(text).map_err(|e| vec![decode_error(file, &e.message, e.at)])?;
    let mut diags: Vec<Diagnostic> = problems(&config).iter().map(|p| diagnostic(file, text, p)).collect();
    if diags.is_empty() {
        return Ok(config);
    }
    crate::diag::sort(&mut diags);
    Err(diags)
}

/// A problem named as `path: message`, located in `text`.
pub fn diagnostic(file: &Path, text: &str, problem: &str) -> Diagnostic {
    let (path, message) = split_path(problem);
    let at = path.as_ref().and_then(|p| locate(text, p, Anchor::Key));
    error(file, path.as_ref(), message, at, None)
}

fn error(file: &Path, path: Option<&YamlPath>, message: &str, at: Option<LineCol>, hint: Option<String>) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        line: at.map(|a| a.line),
        column: at.map(|a| a.column),
        severity: Severity::Error,
        path: path.map(ToString::to_string).unwrap_or_default(),
        message: message.to_owned(),
        hint,
    }
}

/// serde's first mistake, with a hint when it is an unknown key or value.
fn decode_error(file: &Path, message: &str, at: Option<LineCol>) -> Diagnostic {
    let (path, message) = split_path(message);
    let hint = unknown_word(message).and_then(|(word, candidates)| {
        unknown_word_hint(word, candidates.iter().map(String::as_str).collect::<Vec<_>>())
    });
    error(file, path.as_ref(), message, at, hint)
}

/// `push[0].auth: message` → (the path, `message`); a message without a
/// leading path is returned whole.
fn split_path(problem: &str) -> (Option<YamlPath>, &str) {
    match problem.split_once(": ") {
        Some((head, rest)) => match parse_path(head) {
            Some(p) => (Some(p), rest),
            None => (None, problem),
        },
        None => (None, problem),
    }
}

/// `files[1].fields.status` as a [`YamlPath`]; `None` unless it looks like
/// one (names of letters, digits, `_` and `-`, joined by `.`, with `[n]`).
fn parse_path(text: &str) -> Option<YamlPath> {
    let mut segs = Vec::new();
    for part in text.split('.') {
        let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return None;
        }
        segs.push(Seg::Key(name.to_owned()));
        while !rest.is_empty() {
            let close = rest.find(']')?;
            let index = rest.get(1..close)?.parse().ok()?;
            segs.push(Seg::Index(index));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return None;
            }
        }
    }
    Some(YamlPath(segs))
}

/// serde's "unknown field `x`, expected one of `a`, `b`" (or variant):
/// the word and the candidates.
fn unknown_word(message: &str) -> Option<(&str, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("unknown variant `"))?;
    let (word, rest) = rest.split_once('`')?;
    let candidates = rest.split('`').skip(1).step_by(2).map(str::to_owned).collect();
    Some((word, candidates))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // read by serde only
    struct Conf {
        push: Vec<Push>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Push {
        name: String,
        #[allow(dead_code)] // read by serde only
        path: Option<String>,
    }

    fn file() -> &'static Path {
        Path::new("exporter.yml")
    }

    #[test]
    fn a_misspelt_key_is_placed_and_corrected() {
        let err = load::<Conf, _>(file(), "push:\n  - name: cf\n    pth: /x\n", |_| vec![]).unwrap_err();
        assert_eq!(err.len(), 1);
        let d = &err[0];
        assert_eq!((d.line, d.path.as_str()), (Some(3), "push[0]"), "{d}");
        assert_eq!(d.hint.as_deref(), Some("did you mean `path`?"), "{d}");
        assert!(d.to_string().starts_with("exporter.yml:3:5: error: push[0]: unknown field `pth`"), "{d}");
    }

    #[test]
    fn every_problem_of_the_checks_is_placed() {
        let text = "push:\n  - name: a\n  - name: a\n";
        let err = load::<Conf, _>(file(), text, |c| {
            vec![
                format!("push[1].name: `{}` is used twice", c.push[1].name),
                "push[0]: no path".to_owned(),
                "something about the whole file".to_owned(),
            ]
        })
        .unwrap_err();
        let shown: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "exporter.yml: error: something about the whole file",
                "exporter.yml:2:5: error: push[0]: no path",
                "exporter.yml:3:5: error: push[1].name: `a` is used twice",
            ]
        );
    }

    #[test]
    fn paths_parse_only_when_they_look_like_paths() {
        assert_eq!(
            parse_path("files[1].fields.status").map(|p| p.to_string()).as_deref(),
            Some("files[1].fields.status")
        );
        assert_eq!(parse_path("a[0][2]").map(|p| p.to_string()).as_deref(), Some("a[0][2]"));
        assert!(parse_path("size limits").is_none());
        assert!(parse_path("a[x]").is_none());
        assert!(parse_path("").is_none());
    }
}
