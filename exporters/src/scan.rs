//! The fast path of [`crate::record::parse`]: one pass over a flat JSON
//! object's bytes, borrowing every wanted string and skipping unwanted values
//! with `memchr`.
//!
//! It answers `None` for anything it does not handle itself (an escape in a
//! key or in a wanted string, a malformed line, a value of an unexpected
//! type); the caller then parses the line with `serde_json`, which has the last
//! word on what is valid. On valid input both give the same record (a
//! property test checks it).

use std::borrow::Cow;

use crate::record::{Field, FieldMap, Record};
use crate::timestamp::{self, Timestamp};

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// A string without escapes, the cursor on its opening quote.
    fn plain_str(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let rest = self.b.get(self.i..)?;
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[end] == b'\\' {
            return None;
        }
        self.i += end + 1;
        Some(&rest[..end])
    }

    /// Skips a string, escapes and all, the cursor on its opening quote.
    fn skip_str(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            let rest = self.b.get(self.i..)?;
            let at = memchr::memchr2(b'"', b'\\', rest)?;
            self.i += at + 1;
            if rest[at] == b'"' {
                return Some(());
            }
            self.i += 1; // the escaped byte
        }
    }

    /// A bare number or literal: the bytes up to the next delimiter.
    fn bare(&mut self) -> &'a [u8] {
        let start = self.i;
        while let Some(c) = self.peek() {
            if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                break;
            }
            self.i += 1;
        }
        &self.b[start..self.i]
    }

    /// Skips any value, nested ones included.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_str(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => self.skip_str()?,
                        b'{' | b'[' => {
                            depth += 1;
                            self.i += 1;
                        }
                        b'}' | b']' => {
                            depth -= 1;
                            self.i += 1;
                            if depth == 0 {
                                return Some(());
                            }
                        }
                        _ => self.i += 1,
                    }
                }
            }
            _ => {
                let v = self.bare();
                (v == b"true" || v == b"false" || v == b"null" || number(v).is_some()).then_some(())
            }
        }
    }
}

/// A JSON number, or `None` when the bytes are not one.
fn number(v: &[u8]) -> Option<f64> {
    // Whole numbers are by far the most common; read them without float parsing.
    if !v.is_empty() && v.len() <= 15 && v.iter().all(u8::is_ascii_digit) && (v.len() == 1 || v[0] != b'0') {
        #[allow(clippy::cast_precision_loss)] // at most 15 digits: exact
        return Some(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')) as f64);
    }
    // JSON's grammar is stricter than Rust's float syntax ("1.", "+1", "inf").
    let s = std::str::from_utf8(v).ok()?;
    let digits = s.strip_prefix('-').unwrap_or(s);
    let first_ok = digits.starts_with(|c: char| c.is_ascii_digit());
    let no_lead_zero = !(digits.len() > 1 && digits.starts_with('0') && digits.as_bytes()[1].is_ascii_digit());
    let no_dangling = !s.ends_with(['.', 'e', 'E', '+', '-']) && !s.contains(".e") && !s.contains(".E");
    if first_ok && no_lead_zero && no_dangling && s.bytes().all(|c| c.is_ascii_digit() || b".eE+-".contains(&c)) {
        s.parse().ok()
    } else {
        None
    }
}

/// What the fast path made of a value: `None` when it cannot read it (the
/// line then goes to serde), `Some(None)` for null or no value.
#[allow(clippy::option_option)] // two different "nothing"s, both needed
type Scanned<T> = Option<Option<T>>;

#[derive(Clone, Copy)]
enum Val<'a> {
    Null,
    Str(&'a str),
    Num(f64),
}

fn value<'a>(c: &mut Cursor<'a>) -> Option<Val<'a>> {
    match c.peek()? {
        b'"' => c.plain_str().and_then(|s| std::str::from_utf8(s).ok()).map(Val::Str),
        b'n' => (c.bare() == b"null").then_some(Val::Null),
        _ => number(c.bare()).map(Val::Num),
    }
}

fn string(v: Val<'_>) -> Scanned<Cow<'_, str>> {
    match v {
        Val::Null => Some(None),
        Val::Str(s) => Some(Some(Cow::Borrowed(s))),
        Val::Num(_) => None,
    }
}

/// The numeric value, as the serde path reads it (numeric strings too).
fn num(v: Val<'_>) -> Scanned<f64> {
    match v {
        Val::Num(n) => Some(Some(n)),
        Val::Null | Val::Str("" | "-") => Some(None),
        Val::Str(s) => s.parse().ok().map(Some),
    }
}

fn time(v: Val<'_>) -> Scanned<Timestamp> {
    match v {
        Val::Null => Some(None),
        #[allow(clippy::cast_possible_truncation)] // range checked
        Val::Num(n) if n.fract() == 0.0 && n.abs() < 9.2e18 => Some(Some(Timestamp::from_unix_int(n as i64))),
        Val::Num(_) => None,
        Val::Str(s) => match s.parse::<i64>() {
            Ok(n) => Some(Some(Timestamp::from_unix_int(n))),
            Err(_) => timestamp::parse_rfc3339(s).map(Some),
        },
    }
}

pub(crate) fn parse<'a>(line: &'a [u8], fields: &FieldMap) -> Option<Record<'a>> {
    let mut c = Cursor { b: line, i: 0 };
    let mut r = Record::default();
    let mut waf_action = None;
    c.ws();
    c.eat(b'{')?;
    c.ws();
    if c.eat(b'}').is_none() {
        loop {
            let key = c.plain_str()?;
            c.ws();
            c.eat(b':')?;
            c.ws();
            match fields.field_bytes(key) {
                None => c.skip_value()?,
                Some(field) => {
                    let v = value(&mut c)?;
                    match field {
                        Field::Host => r.host = string(v)?,
                        Field::Zone => r.zone = string(v)?,
                        Field::CacheStatus => r.cache_status = string(v)?,
                        Field::SecurityAction => r.security_action = string(v)?,
                        Field::WafAction => waf_action = string(v)?,
                        Field::RayId => r.ray_id = string(v)?,
                        Field::ClientIp => r.client_ip = string(v)?,
                        Field::ClientCountry => r.client_country = string(v)?,
                        Field::Path => r.path = string(v)?,
                        Field::UserAgent => r.user_agent = string(v)?,
                        Field::EdgeStatus => r.edge_status = crate::record::as_status(num(v)?),
                        Field::OriginStatus => r.origin_status = crate::record::as_status(num(v)?),
                        Field::Ttfb(unit) => r.ttfb = unit.to_secs(num(v)?),
                        Field::OriginDuration(unit) => r.origin_duration = unit.to_secs(num(v)?),
                        Field::Bytes => r.bytes = crate::record::as_count(num(v)?),
                        Field::ClientAsn => r.client_asn = crate::record::as_count(num(v)?),
                        Field::End => r.end = time(v)?,
                    }
                }
            }
            c.ws();
            match c.peek()? {
                b',' => {
                    c.i += 1;
                    c.ws();
                }
                b'}' => {
                    c.i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    c.ws();
    if c.i != line.len() {
        return None;
    }
    if r.security_action.as_deref().is_none_or(str::is_empty) {
        r.security_action = waf_action.or(r.security_action);
    }
    Some(r)
}
