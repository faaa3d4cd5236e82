//! Markdown text panels.

use crate::model::Panel;
use crate::options::{Options, TextOptions};

/// A panel showing `markdown`.
pub(crate) fn text_panel(title: &str, markdown: &str) -> Panel {
    let mut p = Panel::table(title, "", Vec::new());
    p.kind = "text";
    p.field_config.defaults.custom = None;
    p.options = Options::Text(TextOptions { mode: "markdown", content: markdown.to_owned() });
    p
}

/// Escapes what Markdown would read as markup in catalog text (names, roles).
pub(crate) fn markdown_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}
