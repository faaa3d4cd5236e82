//! Log lines that input cannot forge.
//!
//! Label values, hosts, paths, user agents and the error bodies of Jira or
//! PagerDuty reach log fields and span fields. Every field value (and the
//! message) is written with control characters and Unicode line and
//! direction marks escaped, so a value cannot start a new line, hide text
//! or colour the terminal. Third-party crates log at `warn` and above unless
//! `RUST_LOG` asks for them by target.

use std::fmt::{self, Write as _};

use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;

/// The filter: edgewatch's own crates at `level`, everything else at
/// `warn`; `RUST_LOG`, when set, replaces it (`RUST_LOG=handlebars=debug`).
pub(crate) fn filter(level: tracing::Level) -> tracing_subscriber::EnvFilter {
    match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => tracing_subscriber::EnvFilter::new(spec),
        _ => tracing_subscriber::EnvFilter::new(format!("warn,edgewatch={level}")),
    }
}

/// Writes `text` with every character that could forge or hide a log line
/// escaped: `\n`, `\r`, `\t`, `\x1b` and the like, and `\u{202e}` for
/// Unicode line separators and direction overrides.
pub(crate) fn escape_into(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    for c in text.chars() {
        match c {
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if (c as u32) < 0x80 && c.is_control() => write!(out, "\\x{:02x}", c as u32)?,
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                write!(out, "\\u{{{:x}}}", c as u32)?;
            }
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

/// The field formatter: tracing's usual `name=value` layout, escaped.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct EscapedFields;

impl<'a> MakeVisitor<Writer<'a>> for EscapedFields {
    type Visitor = Visitor<'a>;

    fn make_visitor(&self, writer: Writer<'a>) -> Self::Visitor {
        Visitor { writer, first: true, result: Ok(()), buf: String::new() }
    }
}

pub(crate) struct Visitor<'a> {
    writer: Writer<'a>,
    first: bool,
    result: fmt::Result,
    buf: String,
}

impl Visitor<'_> {
    fn record(&mut self, field: &tracing::field::Field, value: fmt::Arguments<'_>) {
        if self.result.is_err() {
            return;
        }
        self.buf.clear();
        let _ = self.buf.write_fmt(value);
        let sep = if self.first { "" } else { " " };
        self.first = false;
        self.result = (|| {
            if field.name() == "message" {
                self.writer.write_str(sep)?;
            } else {
                write!(self.writer, "{sep}{}=", field.name())?;
            }
            escape_into(&mut self.writer, &self.buf)
        })();
    }
}

impl tracing::field::Visit for Visitor<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        // Plain strings print bare, as `%value` does: escaping keeps them on
        // their line.
        self.record(field, format_args!("{value}"));
    }

    fn record_error(&mut self, field: &tracing::field::Field, value: &(dyn std::error::Error + 'static)) {
        self.record(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.record(field, format_args!("{value:?}"));
    }
}

impl VisitOutput<fmt::Result> for Visitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for Visitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        escape_into(&mut out, s).unwrap_or_default();
        out
    }

    #[test]
    fn control_characters_and_line_marks_are_escaped() {
        assert_eq!(escaped("a\nFORGED ERROR\r\x00\x1b[31m\u{7f}"), "a\\nFORGED ERROR\\r\\x00\\x1b[31m\\x7f");
        assert_eq!(escaped("x\u{2028}y\u{202e}z\u{85}"), "x\\u{2028}y\\u{202e}z\\u{85}");
        assert_eq!(escaped("café ✓ shop.example/ä"), "café ✓ shop.example/ä");
    }

    proptest::proptest! {
        #[test]
        fn nothing_escaped_holds_a_control_character(s in ".*") {
            let out = escaped(&s);
            proptest::prop_assert!(!out.chars().any(char::is_control));
        }
    }
}
