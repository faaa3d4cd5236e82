//! A reader of the part of Cloudflare's Rules language suggestions use
//! (cloudflare-docs `ruleset-engine/rules-language`: fields, `eq`, `ne`,
//! `in` with a set in braces, `contains`, the `starts_with` and
//! `ends_with` functions, `and`, `or`, `not`, parentheses, string literals
//! with `\"` and `\\` escapes, IP addresses and CIDR ranges, integers), so
//! a test can tell that an expression parses and names only current fields.
//! The receiver's tests check every suggested expression with it, and the
//! Cloudflare contract fake refuses what it refuses, as Cloudflare answers a
//! filter parsing error.

/// Fields a suggestion may name, with their type; `ip.geoip.*` is
/// deprecated (use `ip.src.*`) and not here.
const FIELDS: [(&str, Kind); 7] = [
    ("ip.src", Kind::Ip),
    ("ip.src.asnum", Kind::Int),
    ("http.host", Kind::Str),
    ("http.request.uri.path", Kind::Str),
    ("http.user_agent", Kind::Str),
    ("cf.client.bot", Kind::Bool),
    ("cf.colo.id", Kind::Int),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ip,
    Int,
    Str,
    Bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    LBrace,
    RBrace,
    Comma,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut it = s.chars().peekable();
    while let Some(&c) = it.peek() {
        match c {
            ' ' => {
                it.next();
            }
            '(' | ')' | '{' | '}' | ',' => {
                it.next();
                out.push(match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    '{' => Tok::LBrace,
                    '}' => Tok::RBrace,
                    _ => Tok::Comma,
                });
            }
            '"' => {
                it.next();
                let mut v = String::new();
                loop {
                    match it.next().ok_or("unterminated string")? {
                        '"' => break,
                        '\\' => match it.next().ok_or("dangling escape")? {
                            e @ ('"' | '\\') => v.push(e),
                            e => return Err(format!("unknown escape \\{e}")),
                        },
                        ch if ch.is_control() => return Err("control character in a string".to_owned()),
                        ch => v.push(ch),
                    }
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let mut w = String::new();
                while let Some(&ch) = it.peek() {
                    if ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | ':' | '/') {
                        w.push(ch);
                        it.next();
                    } else {
                        break;
                    }
                }
                if w.is_empty() {
                    return Err(format!("unexpected `{c}`"));
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

struct P {
    toks: Vec<Tok>,
    at: usize,
}

impl P {
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }
    fn word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }
    fn expr(&mut self) -> Result<(), String> {
        self.term()?;
        while self.word("and") || self.word("or") {
            self.next();
            self.term()?;
        }
        Ok(())
    }
    fn term(&mut self) -> Result<(), String> {
        match self.next() {
            Some(Tok::Word(w)) if w == "not" => self.term(),
            Some(Tok::Word(w)) if w == "true" => Ok(()),
            Some(Tok::Open) => {
                self.expr()?;
                (self.next() == Some(Tok::Close)).then_some(()).ok_or_else(|| "missing `)`".to_owned())
            }
            Some(Tok::Word(f)) if matches!(f.as_str(), "starts_with" | "ends_with") => {
                if self.next() != Some(Tok::Open) {
                    return Err(format!("`{f}` without `(`"));
                }
                let Some(Tok::Word(field)) = self.next() else { return Err("function without a field".into()) };
                if kind(&field)? != Kind::Str || self.next() != Some(Tok::Comma) {
                    return Err(format!("`{f}` takes a string field and a string"));
                }
                match (self.next(), self.next()) {
                    (Some(Tok::Str(_)), Some(Tok::Close)) => Ok(()),
                    _ => Err(format!("`{f}`: expected a string and `)`")),
                }
            }
            Some(Tok::Word(field)) => {
                let k = kind(&field)?;
                let op = match self.peek() {
                    Some(Tok::Word(op)) if matches!(op.as_str(), "eq" | "ne" | "in" | "contains") => op.clone(),
                    _ if k == Kind::Bool => return Ok(()),
                    other => return Err(format!("`{field}`: expected an operator, found {other:?}")),
                };
                self.next();
                if op == "in" {
                    if self.next() != Some(Tok::LBrace) {
                        return Err("`in` without a set".into());
                    }
                    let mut n = 0;
                    loop {
                        match self.next() {
                            Some(Tok::RBrace) if n > 0 => return Ok(()),
                            Some(t) => {
                                value(k, &t)?;
                                n += 1;
                            }
                            None => return Err("unterminated set".into()),
                        }
                    }
                }
                let t = self.next().ok_or("missing value")?;
                value(k, &t)
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

fn kind(field: &str) -> Result<Kind, String> {
    FIELDS.iter().find(|(f, _)| *f == field).map(|(_, k)| *k).ok_or_else(|| format!("unknown field `{field}`"))
}

fn value(k: Kind, t: &Tok) -> Result<(), String> {
    let ok = match (k, t) {
        (Kind::Str, Tok::Str(_)) => true,
        (Kind::Int, Tok::Word(w)) => w.parse::<u32>().is_ok(),
        (Kind::Ip, Tok::Word(w)) => edgewatch_catalog::IpNet::parse(w).is_ok(),
        _ => false,
    };
    ok.then_some(()).ok_or_else(|| format!("{t:?} is not a value of a {k:?} field"))
}

/// Parses `s` whole, or says what is wrong.
pub fn check(s: &str) -> Result<(), String> {
    let mut p = P { toks: lex(s)?, at: 0 };
    p.expr()?;
    match p.peek() {
        None => Ok(()),
        Some(t) => Err(format!("trailing {t:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn the_reader_refuses_what_cloudflare_refuses() {
        check(r#"http.host in {"a"} and (ip.src in {192.0.2.1 10.0.0.0/8} or ip.src.asnum in {64496}) and not cf.client.bot"#)
            .unwrap();
        check(r#"starts_with(http.user_agent, "x \"y\"") or true"#).unwrap();
        for bad in [
            "ip.geoip.asnum in {64496}",
            "ip.src in {}",
            "ip.src in {example.com}",
            r#"http.host eq "a"#,
            "(ip.src eq 192.0.2.1",
            "ip.src.asnum eq AS64496",
            r#"http.host eq "a" and"#,
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
