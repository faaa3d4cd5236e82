//! Jira text: summaries, labels, and descriptions and comments as Atlassian
//! Document Format (Cloud, REST v3) or wiki markup (Data Center, REST v2),
//! cut to Jira's limits.
//!
//! Jira counts lengths as Java does, in UTF-16 code units, so the limits
//! here do too: a character outside the Basic Multilingual Plane (most
//! emoji) counts twice. Cuts happen on character boundaries and end with
//! `…` where a reader should see that text is missing.

use std::borrow::Cow;

use serde_json::{Value, json};

use crate::action::Link;

/// Jira's limit on a summary.
pub(crate) const SUMMARY_MAX: usize = 255;
/// Jira's limit on a description or a comment (JRASERVER-64351).
pub(crate) const TEXT_MAX: usize = 32_767;
/// Jira's limit on a label.
pub(crate) const LABEL_MAX: usize = 255;

/// How rich text is written for a Jira API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Markup {
    /// Atlassian Document Format, a JSON document (Cloud, REST v3).
    Adf,
    /// Wiki markup, a string (Data Center, REST v2).
    Wiki,
}

/// Length as Jira counts it: UTF-16 code units.
pub(crate) fn jira_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// `s` cut to at most `max` UTF-16 code units on a character boundary,
/// ending with `…` when something was cut.
pub(crate) fn cut(s: &str, max: usize) -> Cow<'_, str> {
    cut_with(s, max, "…")
}

/// `s` cut to at most `max` UTF-16 code units on a character boundary,
/// with `marker` appended when something was cut (the marker counts; if it
/// does not fit, it is left out).
fn cut_with<'a>(s: &'a str, max: usize, marker: &str) -> Cow<'a, str> {
    if jira_len(s) <= max {
        return Cow::Borrowed(s);
    }
    let marker = if jira_len(marker) <= max { marker } else { "" };
    let budget = max - jira_len(marker);
    let mut used = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > budget {
            break;
        }
        end = i + c.len_utf8();
    }
    Cow::Owned(format!("{}{marker}", &s[..end]))
}

/// A summary: one line (Jira rejects line breaks), never empty (`fallback`
/// when `title` is blank), cut to [`SUMMARY_MAX`].
pub(crate) fn summary(title: &str, fallback: &str) -> String {
    let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut line = one_line(title);
    if line.is_empty() {
        line = one_line(fallback);
    }
    cut(&line, SUMMARY_MAX).into_owned()
}

/// A label as Jira takes it: whitespace becomes `-`, at most
/// [`LABEL_MAX`]; `None` when nothing is left.
pub(crate) fn label(s: &str) -> Option<String> {
    let spaced: String = s.trim().chars().map(|c| if c.is_whitespace() { '-' } else { c }).collect();
    let cut = cut_with(&spaced, LABEL_MAX, "").into_owned();
    (!cut.is_empty()).then_some(cut)
}

/// Labels for a new issue: the destination's, then the incident's dedup
/// label, made valid, without repeats.
pub(crate) fn labels<'a>(configured: impl IntoIterator<Item = &'a str>, dedup: &'a str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in configured.into_iter().chain([dedup]).filter_map(label) {
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

/// Rich text: plain `text` (lines; blank lines separate paragraphs), then
/// `links` as a bulleted list, in `markup`, cut to [`TEXT_MAX`] with the
/// links kept whole when they fit. `None` when there is nothing to say.
pub(crate) fn rich_text(markup: Markup, text: &str, links: &[Link]) -> Option<Value> {
    let links: Vec<&Link> = links.iter().filter(|l| !l.href.trim().is_empty()).collect();
    match markup {
        Markup::Adf => adf(text, &links),
        Markup::Wiki => wiki(text, &links).map(Value::String),
    }
}

/// Paragraphs of non-blank lines, with `\r` and other control characters
/// (but tabs) dropped.
fn paragraphs(text: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for line in text.lines() {
        let line: String = line.chars().filter(|c| *c == '\t' || !c.is_control()).collect();
        let line = line.trim_end();
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line.to_owned());
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// What a link shows: its text, or its address when the text is blank.
fn link_text(l: &Link) -> &str {
    if l.text.trim().is_empty() { l.href.trim() } else { l.text.trim() }
}

/// `text` cut so it fits in what `links` leave of [`TEXT_MAX`]; the links
/// that fit. Sizes are in text characters, separators included.
fn budget<'t, 'l>(text: &'t str, links: &[&'l Link], size: impl Fn(&Link) -> usize) -> (Cow<'t, str>, Vec<&'l Link>) {
    let mut room = TEXT_MAX;
    let mut kept = Vec::new();
    for l in links {
        let n = size(l);
        if n + 1 > room {
            break;
        }
        room -= n + 1;
        kept.push(*l);
    }
    (cut(text, room), kept)
}

/// An ADF document. Paragraph lines are joined by hard breaks; text nodes
/// are never empty (Jira rejects them).
fn adf(text: &str, links: &[&Link]) -> Option<Value> {
    let (text, links) = budget(text, links, |l| jira_len(link_text(l)));
    let mut content: Vec<Value> = paragraphs(&text)
        .into_iter()
        .map(|lines| {
            let mut inline = Vec::new();
            for (i, line) in lines.into_iter().enumerate() {
                if i > 0 {
                    inline.push(json!({"type": "hardBreak"}));
                }
                inline.push(json!({"type": "text", "text": line}));
            }
            json!({"type": "paragraph", "content": inline})
        })
        .collect();
    if !links.is_empty() {
        let items: Vec<Value> = links
            .iter()
            .map(|l| {
                let text = json!({
                    "type": "text",
                    "text": link_text(l),
                    "marks": [{"type": "link", "attrs": {"href": l.href.trim()}}],
                });
                json!({"type": "listItem", "content": [{"type": "paragraph", "content": [text]}]})
            })
            .collect();
        content.push(json!({"type": "bulletList", "content": items}));
    }
    (!content.is_empty()).then(|| json!({"type": "doc", "version": 1, "content": content}))
}

/// Wiki markup. Text is escaped so alert text never turns into macros,
/// links, tables, images or headings; lines end with a newline, which Jira
/// renders as a line break.
fn wiki(text: &str, links: &[&Link]) -> Option<String> {
    let items: Vec<String> =
        links.iter().map(|l| format!("* [{}|{}]", wiki_escape(link_text(l)), wiki_href(l.href.trim()))).collect();
    let list = items.join("\n");
    let body: Vec<String> =
        paragraphs(text).into_iter().map(|p| p.iter().map(|l| wiki_line(l)).collect::<Vec<_>>().join("\n")).collect();
    let body = body.join("\n\n");
    let room = TEXT_MAX.saturating_sub(if list.is_empty() { 0 } else { jira_len(&list) + 2 });
    let (body, list) =
        if jira_len(&list) + 2 > TEXT_MAX { (cut(&body, TEXT_MAX), String::new()) } else { (cut(&body, room), list) };
    let out = match (body.is_empty(), list.is_empty()) {
        (true, true) => return None,
        (false, true) => body.into_owned(),
        (true, false) => list,
        (false, false) => format!("{body}\n\n{list}"),
    };
    Some(out)
}

/// One line of text as wiki markup.
fn wiki_line(line: &str) -> String {
    let mut out = wiki_escape(line);
    // Markers that only mean something at the start of a line: lists,
    // headings, quotes.
    let starts_block = out.starts_with(['*', '#', '-'])
        || ["h1.", "h2.", "h3.", "h4.", "h5.", "h6.", "bq."].iter().any(|m| out.starts_with(m));
    if starts_block && !out.starts_with('\\') {
        out.insert(0, '\\');
    }
    out
}

/// Text with wiki markup's bracketing characters escaped: macros `{}`,
/// links `[]`, tables `|`, images `!`, and the escape itself.
fn wiki_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '{' | '}' | '[' | ']' | '|' | '!') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A URL safe inside `[text|url]`.
fn wiki_href(s: &str) -> String {
    s.replace('[', "%5B").replace(']', "%5D").replace('|', "%7C").replace(' ', "%20")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn link(text: &str, href: &str) -> Link {
        Link { text: text.to_owned(), href: href.to_owned() }
    }

    #[test]
    fn cuts_count_utf16_units_and_mark_the_cut() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("abcdef", 4), "abc…");
        // 😀 is two UTF-16 units: it does not fit in the 1 unit left.
        assert_eq!(cut("ab😀cd", 4), "ab…");
        assert_eq!(cut("ab😀cd", 5), "ab😀…");
        assert_eq!(cut("abc", 0), "");
        assert_eq!(jira_len("é😀"), 3);
    }

    #[test]
    fn summaries_are_one_line_never_empty_and_short_enough() {
        assert_eq!(summary("  Burn rate\nfast:\tacme  ", "x"), "Burn rate fast: acme");
        assert_eq!(summary(" \n ", "acme/BurnRateFast"), "acme/BurnRateFast");
        let long = summary(&"é".repeat(300), "x");
        assert_eq!(jira_len(&long), SUMMARY_MAX);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn labels_lose_spaces_and_repeats() {
        assert_eq!(
            labels(["edge watch", "noc", "", "noc"], "edgewatch-0123456789abcdef01234567"),
            ["edge-watch", "noc", "edgewatch-0123456789abcdef01234567"]
        );
        assert_eq!(label(&"a".repeat(300)).unwrap().len(), LABEL_MAX);
        assert_eq!(label("  "), None);
    }

    #[test]
    fn adf_has_paragraphs_hard_breaks_and_a_link_list() {
        let doc = rich_text(
            Markup::Adf,
            "Burn rate 14.4\r\nacme\n\n\nSecond paragraph\n",
            &[link("Dashboard", "https://grafana.example/d/x"), link(" ", "https://am.example/"), link("x", " ")],
        )
        .unwrap();
        insta::assert_json_snapshot!(doc, @r#"
        {
          "content": [
            {
              "content": [
                {
                  "text": "Burn rate 14.4",
                  "type": "text"
                },
                {
                  "type": "hardBreak"
                },
                {
                  "text": "acme",
                  "type": "text"
                }
              ],
              "type": "paragraph"
            },
            {
              "content": [
                {
                  "text": "Second paragraph",
                  "type": "text"
                }
              ],
              "type": "paragraph"
            },
            {
              "content": [
                {
                  "content": [
                    {
                      "content": [
                        {
                          "marks": [
                            {
                              "attrs": {
                                "href": "https://grafana.example/d/x"
                              },
                              "type": "link"
                            }
                          ],
                          "text": "Dashboard",
                          "type": "text"
                        }
                      ],
                      "type": "paragraph"
                    }
                  ],
                  "type": "listItem"
                },
                {
                  "content": [
                    {
                      "content": [
                        {
                          "marks": [
                            {
                              "attrs": {
                                "href": "https://am.example/"
                              },
                              "type": "link"
                            }
                          ],
                          "text": "https://am.example/",
                          "type": "text"
                        }
                      ],
                      "type": "paragraph"
                    }
                  ],
                  "type": "listItem"
                }
              ],
              "type": "bulletList"
            }
          ],
          "type": "doc",
          "version": 1
        }
        "#);
    }

    #[test]
    fn nothing_to_say_is_no_body() {
        assert_eq!(rich_text(Markup::Adf, " \n\n", &[]), None);
        assert_eq!(rich_text(Markup::Wiki, "", &[link("x", "")]), None);
    }

    #[test]
    fn wiki_escapes_markup_and_lists_links() {
        let text = "Error rate {color:red}high{color} | see [x]\n* not a list\nh1. not a heading\nplain - text!";
        let out = rich_text(Markup::Wiki, text, &[link("Run|book", "https://r.example/a b|c")]).unwrap();
        assert_eq!(
            out.as_str().unwrap(),
            "Error rate \\{color:red\\}high\\{color\\} \\| see \\[x\\]\n\\* not a list\n\\h1. not a heading\n\
             plain - text\\!\n\n* [Run\\|book|https://r.example/a%20b%7Cc]"
        );
    }

    #[test]
    fn long_descriptions_keep_their_links() {
        let text = "x".repeat(40_000);
        let links = [link("Dashboard", "https://grafana.example/d/x")];
        let wiki = rich_text(Markup::Wiki, &text, &links).unwrap();
        let wiki = wiki.as_str().unwrap();
        assert!(jira_len(wiki) <= TEXT_MAX, "{}", jira_len(wiki));
        assert!(wiki.ends_with("…\n\n* [Dashboard|https://grafana.example/d/x]"));
        let doc = rich_text(Markup::Adf, &text, &links).unwrap();
        let para = doc["content"][0]["content"][0]["text"].as_str().unwrap();
        assert_eq!(jira_len(para) + "Dashboard".len() + 1, TEXT_MAX);
        assert_eq!(doc["content"][1]["type"], "bulletList");
    }

    proptest! {
        #[test]
        fn cut_never_splits_a_char_nor_exceeds_the_limit(s in "\\PC{0,80}|[a-zé😀\\n ]{0,80}", max in 0usize..100) {
            let out = cut(&s, max);
            prop_assert!(jira_len(&out) <= max);
            prop_assert!(out.chars().count() <= max);
            if jira_len(&s) <= max {
                prop_assert_eq!(out.as_ref(), s.as_str());
            } else {
                // A prefix of the input (so no char was split), then the marker.
                let kept = out.strip_suffix('…').unwrap_or(&out);
                prop_assert!(s.starts_with(kept));
                prop_assert!(max == 0 || out.ends_with('…'));
            }
        }

        #[test]
        fn labels_are_valid(s in "\\PC{0,300}") {
            if let Some(l) = label(&s) {
                prop_assert!(!l.is_empty() && jira_len(&l) <= LABEL_MAX);
                prop_assert!(!l.chars().any(char::is_whitespace));
            }
        }
    }
}
