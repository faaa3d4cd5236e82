//! The fast path of [`super::parse_into`]: one pass over a flat JSON
//! object's bytes, borrowing every wanted string and skipping unwanted values
//! with `memchr`.
//!
//! It answers `None` for anything it does not handle itself (an escape in a
//! key or in a wanted string, a malformed line, a value of an unexpected
//! type); the caller then parses the line with `serde_json`, which has the last
//! word on what is valid. On valid input both give the same record (a
//! property test checks it, and the `logpush_line` fuzz target). What it
//! skips it does not check (the values of unwanted keys, nested ones
//! included), nor the bytes inside strings (invalid UTF-8, control
//! characters): a line `serde_json` would reject for those alone is read as
//! its well-formed parts say, and counted rather than called malformed.

use std::borrow::Cow;

use super::{Keys, Target};
use crate::record::{self, Field, Record};
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
        let end = quote_or_backslash(rest)?;
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
            let at = quote_or_backslash(rest)?;
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
            b'-' | b'0'..=b'9' => self.number().map(|_| ()),
            _ => {
                let v = self.bare();
                (v == b"true" || v == b"false" || v == b"null").then_some(())
            }
        }
    }

    /// A JSON number at the cursor. Whole numbers, by far the most common,
    /// are read in the same pass that finds their end.
    fn number(&mut self) -> Option<f64> {
        let start = self.i;
        let mut n: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            self.i += 1;
        }
        let len = self.i - start;
        let ends = matches!(self.peek(), None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'));
        if ends && (1..=15).contains(&len) && (len == 1 || self.b.get(start) != Some(&b'0')) {
            #[allow(clippy::cast_precision_loss)] // at most 15 digits: exact
            return Some(n as f64);
        }
        self.i = start;
        number(self.bare())
    }
}

/// Where the first `"` or `\` of `b` is. Most strings of a log line are
/// short: their end is found in a word or two of plain arithmetic, which is
/// cheaper than setting up a vector search; longer ones get `memchr`.
fn quote_or_backslash(b: &[u8]) -> Option<usize> {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // 0x80 in each byte of `x` that is zero, and nothing elsewhere.
    let zero_bytes = |x: u64| !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7);
    let mut at = 0;
    while at < 16 {
        let Some(word) = b.get(at..).and_then(<[u8]>::first_chunk::<8>) else { break };
        let w = u64::from_le_bytes(*word);
        let hits = zero_bytes(w ^ 0x2222_2222_2222_2222) | zero_bytes(w ^ 0x5c5c_5c5c_5c5c_5c5c);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    memchr::memchr2(b'"', b'\\', b.get(at..)?).map(|i| at + i)
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
    /// Checked for UTF-8 only by the fields that need text.
    Str(&'a [u8]),
    /// And the number as written.
    Num(f64, &'a [u8]),
}

fn value<'a>(c: &mut Cursor<'a>) -> Option<Val<'a>> {
    match c.peek()? {
        b'"' => c.plain_str().map(Val::Str),
        b'n' => (c.bare() == b"null").then_some(Val::Null),
        _ => {
            let start = c.i;
            let n = c.number()?;
            Some(Val::Num(n, c.b.get(start..c.i)?))
        }
    }
}

/// A string kept as bytes (see [`Record`]).
fn raw(v: Val<'_>) -> Scanned<Cow<'_, [u8]>> {
    match v {
        Val::Null => Some(None),
        Val::Str(s) => Some(Some(Cow::Borrowed(s))),
        Val::Num(..) => None,
    }
}

/// The numeric value, as the serde path reads it (numeric strings too).
fn num(v: Val<'_>) -> Scanned<f64> {
    match v {
        Val::Num(n, _) => Some(Some(n)),
        Val::Null | Val::Str(b"" | b"-") => Some(None),
        Val::Str(s) => std::str::from_utf8(s).ok()?.parse().ok().map(Some),
    }
}

fn time(v: Val<'_>, last: &mut timestamp::LastDate) -> Scanned<Timestamp> {
    match v {
        Val::Null => Some(None),
        Val::Num(n, written) => {
            // A whole number longer than a float holds exactly (Logpush's
            // `unixnano` times have 19 digits) is read from its digits, as
            // serde_json reads it.
            let whole = (written.len() > 15).then(|| std::str::from_utf8(written).ok()?.parse::<i64>().ok()).flatten();
            match whole {
                Some(w) => Some(Some(Timestamp::from_unix_int(w))),
                #[allow(clippy::cast_possible_truncation)] // range checked
                None if n.fract() == 0.0 && n.abs() < 9.2e18 => Some(Some(Timestamp::from_unix_int(n as i64))),
                None => None,
            }
        }
        Val::Str(s) => {
            let s = std::str::from_utf8(s).ok()?;
            match s.parse::<i64>() {
                Ok(n) => Some(Some(Timestamp::from_unix_int(n))),
                Err(_) => timestamp::parse_rfc3339_with(s, last).map(Some),
            }
        }
    }
}

/// Keys remembered per line: more than any Logpush dataset has (about 80
/// for `http_requests`), few enough that a hostile line of short keys
/// cannot make a batch hold thousands.
const MAX_SHAPE_KEYS: usize = 256;

/// The keys of the lines seen so far, in order, quotes included, with the
/// field each feeds. A Logpush job writes the same keys in the same order on
/// every line, so the next line's key at the same position is usually one
/// comparison away, instead of a search for its end and a lookup.
#[derive(Debug, Default)]
pub(crate) struct Shape {
    keys: Vec<Key>,
    /// And the date of the last timestamp.
    last_date: timestamp::LastDate,
}

/// A remembered key, quotes included.
#[derive(Debug)]
struct Key {
    quoted: Box<[u8]>,
    /// The first 32 bytes of `quoted`, zero-padded, and a mask of the bytes
    /// that count: most keys compare as two pairs of 16-byte words.
    words: [u128; 2],
    mask: [u128; 2],
    target: Option<Target>,
}

impl Key {
    fn new(quoted: &[u8], target: Option<Target>) -> Self {
        let mut padded = [0u8; 32];
        let mut mask = [0u8; 32];
        for (i, b) in quoted.iter().take(32).enumerate() {
            padded[i] = *b;
            mask[i] = 0xff;
        }
        Self { quoted: quoted.into(), words: words(&padded), mask: words(&mask), target }
    }

    /// Whether `rest` starts with this key.
    fn starts(&self, rest: &[u8]) -> bool {
        match rest.first_chunk::<32>() {
            Some(head) if self.quoted.len() <= 32 => {
                let w = words(head);
                ((w[0] ^ self.words[0]) & self.mask[0]) | ((w[1] ^ self.words[1]) & self.mask[1]) == 0
            }
            _ => rest.starts_with(&self.quoted),
        }
    }
}

fn words(b: &[u8; 32]) -> [u128; 2] {
    let (lo, hi) = b.split_at(16);
    let word = |half: &[u8]| half.try_into().map_or(0, u128::from_le_bytes);
    [word(lo), word(hi)]
}

impl Shape {
    /// The key at the cursor and what it feeds: the remembered one when the
    /// line has it at this position, else read and remembered.
    fn key(&mut self, c: &mut Cursor<'_>, position: usize, keys: &dyn Keys) -> Scanned<Target> {
        if let Some(key) = self.keys.get(position)
            && c.b.get(c.i..).is_some_and(|rest| key.starts(rest))
        {
            c.i += key.quoted.len();
            return Some(key.target);
        }
        let start = c.i;
        let key = c.plain_str()?;
        let target = keys.target(key);
        // A line of thousands of keys is no Logpush job's: not remembered.
        if position < MAX_SHAPE_KEYS {
            self.keys.truncate(position);
            self.keys.push(Key::new(c.b.get(start..c.i)?, target));
        }
        Some(target)
    }
}

/// Parses `line` into `r`, which the caller hands in empty (filling it in
/// place spares moving a large record through every return).
pub(crate) fn parse_into<'a>(line: &'a [u8], keys: &dyn Keys, shape: &mut Shape, r: &mut Record<'a>) -> Option<()> {
    let mut c = Cursor { b: line, i: 0 };
    let mut waf_action = None;
    c.ws();
    c.eat(b'{')?;
    c.ws();
    if c.eat(b'}').is_none() {
        for position in 0.. {
            let target = shape.key(&mut c, position, keys)?;
            c.ws();
            c.eat(b':')?;
            c.ws();
            match target {
                None => c.skip_value()?,
                // One call site, so that `value` is inlined here.
                Some(target) => match (target, value(&mut c)?) {
                    (Target::OldSecurityAction, v) => waf_action = raw(v)?,
                    (Target::Field(field, unit), v) => match field {
                        Field::Host => r.host = raw(v)?,
                        Field::Zone => r.zone = raw(v)?,
                        Field::CacheStatus => r.cache_status = raw(v)?,
                        Field::SecurityAction => r.security_action = raw(v)?,
                        Field::RayId => r.ray_id = raw(v)?,
                        Field::ClientIp => r.client_ip = raw(v)?,
                        Field::ClientCountry => r.client_country = raw(v)?,
                        Field::Path => r.path = raw(v)?,
                        Field::UserAgent => r.user_agent = raw(v)?,
                        Field::EdgeStatus => r.edge_status = record::as_status(num(v)?),
                        Field::OriginStatus => r.origin_status = record::as_status(num(v)?),
                        Field::Ttfb => r.ttfb = unit.to_secs(num(v)?),
                        Field::OriginDuration => r.origin_duration = unit.to_secs(num(v)?),
                        Field::Bytes => r.bytes = record::as_count(num(v)?),
                        Field::ClientAsn => r.client_asn = record::as_count(num(v)?),
                        Field::End => r.end = time(v, &mut shape.last_date)?,
                    },
                },
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
    if r.security_action.as_deref().is_none_or(<[u8]>::is_empty) {
        r.security_action = waf_action.or(r.security_action.take());
    }
    Some(())
}

/// The scanner's record, or `None` where the line would go to serde (for
/// tests and the fuzz targets, which compare it with serde's).
pub(crate) fn parse<'a>(line: &'a [u8], keys: &dyn Keys, shape: &mut Shape) -> Option<Record<'a>> {
    let mut r = Record::default();
    parse_into(line, keys, shape, &mut r)?;
    Some(r)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{MAX_SHAPE_KEYS, Shape, parse_into, quote_or_backslash};
    use crate::format::logpush::Logpush;
    use crate::record::Record;

    #[test]
    fn a_line_of_many_keys_is_read_whole_and_remembered_in_part() {
        use std::fmt::Write as _;
        let mut line = String::from("{");
        for i in 0..1000 {
            write!(line, "\"k{i}\":{i},").unwrap();
        }
        line.push_str("\"ClientRequestHost\":\"www.acme.example\"}");
        let mut shape = Shape::default();
        for _ in 0..2 {
            let mut r = Record::default();
            parse_into(line.as_bytes(), &Logpush, &mut shape, &mut r).unwrap();
            assert_eq!(r.host.as_deref(), Some(&b"www.acme.example"[..]));
        }
        assert_eq!(shape.keys.len(), MAX_SHAPE_KEYS);
    }

    proptest! {
        #[test]
        fn finds_what_memchr_finds(bytes in prop::collection::vec(prop::sample::select(b"ab\"\\\x80\xa2\xdc ".to_vec()), 0..64)) {
            prop_assert_eq!(quote_or_backslash(&bytes), memchr::memchr2(b'"', b'\\', &bytes));
        }
    }
}
