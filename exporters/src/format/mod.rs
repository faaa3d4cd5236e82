//! Log formats: how one line of an input becomes a `Record`.
//!
//! Each format is one module with its options (what the config says under
//! its name) and its parser, behind one interface, `LineFormat`. An input
//! names its format in the config (`format: logpush`, `format: {json:
//! {fields: ...}}`); [`Format`] is that choice, deserialized straight into
//! the format's own options, externally tagged so that every mistake keeps
//! its line and column.
//!
//! Adding a format: a new module here with its options type and a
//! `LineFormat` impl, and in this file its `mod` line and one variant of
//! [`Format`] with its arm in `Format::parts` (see docs/development.md).

pub mod combined;
pub mod json;
mod logpush;
mod tagged;

pub(crate) use self::logpush::Logpush;

use std::fmt;

use crate::record::Record;
pub use crate::record::{Field, Unit};

/// How the lines of an input are written: `format:` of a push or file input.
/// Deserialized externally tagged, as `logpush` or `json: {...}` (see
/// `tagged.rs`; the derive gives the variants' names).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum Format {
    /// Cloudflare Logpush `http_requests` NDJSON (the default).
    #[default]
    Logpush,
    /// Any JSON-per-line access log (nginx `escape=json`, Envoy JSON), read
    /// through a field map.
    Json(json::Json),
    /// nginx (or Apache) `combined`, with the fields a `log_format` appends.
    Combined(combined::Combined),
}

impl Format {
    /// The format's name, as the config writes it, and its parser.
    fn parts(&self) -> (&'static str, &dyn LineFormat) {
        match self {
            Self::Logpush => ("logpush", &logpush::Logpush),
            Self::Json(f) => ("json", f),
            Self::Combined(f) => ("combined", f),
        }
    }

    /// The format's name, as the config writes it.
    pub(crate) fn name(&self) -> &'static str {
        self.parts().0
    }

    /// The parser of this format's lines.
    pub(crate) fn parser(&self) -> &dyn LineFormat {
        self.parts().1
    }

    /// Adds the problems of the format's options to `problems`, each as
    /// `path: message`, the paths below `at` (the `format` key).
    pub(crate) fn check(&self, at: &str, problems: &mut Vec<String>) {
        let (name, format) = self.parts();
        format.check(&format!("{at}.{name}"), problems);
    }
}

/// What every log format does.
pub(crate) trait LineFormat: fmt::Debug + Sync {
    /// Parses `line` (without its newline) into `r`, handed in empty
    /// (filling it in place spares moving a large record through every
    /// return). `memo` is what earlier lines of the same batch taught.
    fn parse_into<'a>(&'a self, line: &'a [u8], memo: &mut Memo, r: &mut Record<'a>) -> Result<(), ParseError>;

    /// Adds a problem of the options to `problems` as `path: message`, the
    /// paths below `at` (the options' own node, `files[0].format.json`).
    fn check(&self, at: &str, problems: &mut Vec<String>) {
        let _ = (at, problems);
    }
}

/// What a batch's parser remembers from one line to the next: one per
/// batch, whatever its format.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    /// The keys of the JSON lines read so far.
    json: json::Shape,
}

/// Why a line is not a record.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ParseError(String);
