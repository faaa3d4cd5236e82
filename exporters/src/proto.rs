//! The Prometheus protobuf exposition format
//! (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
//! encoding=delimited`): each family one `MetricFamily` message, preceded by
//! its length as a varint. It is the only format that carries native
//! histograms to Prometheus 2.x.
//!
//! Written by hand, field by field, from `prometheus/client_model`'s
//! `io/prometheus/client/metrics.proto`: the exposition needs a handful of
//! messages, and a generated encoder (prost, with `protoc` or its own parser
//! at build time) would build a tree of owned messages to serialize, where
//! this writes the bytes in one pass into one reusable buffer.
//!
//! Nested messages are written in place: a length byte is reserved, and when
//! the message ends it is filled in, the body shifted only in the rare case
//! that the length takes more than one byte.

use crate::native::Native;
use crate::series::{Exemplar, Histogram};

/// Field numbers, from `metrics.proto`.
mod field {
    pub(super) mod family {
        pub(crate) const NAME: u32 = 1;
        pub(crate) const HELP: u32 = 2;
        pub(crate) const TYPE: u32 = 3;
        pub(crate) const METRIC: u32 = 4;
        pub(crate) const UNIT: u32 = 5;
    }
    pub(super) mod metric {
        pub(crate) const LABEL: u32 = 1;
        pub(crate) const GAUGE: u32 = 2;
        pub(crate) const COUNTER: u32 = 3;
        pub(crate) const HISTOGRAM: u32 = 7;
    }
    /// `LabelPair`.
    pub(super) mod label {
        pub(crate) const NAME: u32 = 1;
        pub(crate) const VALUE: u32 = 2;
    }
    /// `Gauge` and `Counter`.
    pub(super) mod value {
        pub(crate) const VALUE: u32 = 1;
    }
    pub(super) mod histogram {
        pub(crate) const SAMPLE_COUNT: u32 = 1;
        pub(crate) const SAMPLE_SUM: u32 = 2;
        pub(crate) const BUCKET: u32 = 3;
        pub(crate) const SCHEMA: u32 = 5;
        pub(crate) const ZERO_THRESHOLD: u32 = 6;
        pub(crate) const ZERO_COUNT: u32 = 7;
        pub(crate) const POSITIVE_SPAN: u32 = 12;
        pub(crate) const POSITIVE_DELTA: u32 = 13;
    }
    pub(super) mod bucket {
        pub(crate) const CUMULATIVE_COUNT: u32 = 1;
        pub(crate) const UPPER_BOUND: u32 = 2;
        pub(crate) const EXEMPLAR: u32 = 3;
    }
    /// `BucketSpan`.
    pub(super) mod span {
        pub(crate) const OFFSET: u32 = 1;
        pub(crate) const LENGTH: u32 = 2;
    }
    pub(super) mod exemplar {
        pub(crate) const LABEL: u32 = 1;
        pub(crate) const VALUE: u32 = 2;
        pub(crate) const TIMESTAMP: u32 = 3;
    }
    /// `google.protobuf.Timestamp`.
    pub(super) mod timestamp {
        pub(crate) const SECONDS: u32 = 1;
        pub(crate) const NANOS: u32 = 2;
    }
}

/// `MetricType` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetricType {
    Counter = 0,
    Gauge = 1,
    Histogram = 4,
}

/// Wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;

pub(crate) fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(low_byte(v) | 0x80);
        v >>= 7;
    }
    out.push(low_byte(v));
}

#[allow(clippy::cast_possible_truncation)] // the low seven bits
fn low_byte(v: u64) -> u8 {
    (v & 0x7f) as u8
}

/// Signed integers of `sint32`/`sint64` fields: small magnitudes, small varints.
#[allow(clippy::cast_sign_loss)] // a reinterpretation of the bits, as protobuf defines it
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, u64::from(field << 3 | u32::from(wire)));
}

fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    key(out, field, VARINT);
    varint(out, v);
}

fn sint(out: &mut Vec<u8>, field: u32, v: i64) {
    uint(out, field, zigzag(v));
}

fn double(out: &mut Vec<u8>, field: u32, v: f64) {
    key(out, field, FIXED64);
    out.extend_from_slice(&v.to_le_bytes());
}

fn bytes(out: &mut Vec<u8>, field: u32, v: &[u8]) {
    key(out, field, LEN);
    varint(out, v.len() as u64);
    out.extend_from_slice(v);
}

/// Counts are integers; the format's counter and gauge values are doubles
/// (exact up to 2^53).
#[allow(clippy::cast_precision_loss)]
pub(crate) fn as_f64(v: u64) -> f64 {
    v as f64
}

/// Writes families one after another into one buffer.
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    out: Vec<u8>,
    /// For each open message, the position of its reserved length byte.
    open: Vec<usize>,
    /// The family being written: where it starts, its unit, and whether it
    /// has a metric yet (an empty family is dropped, as Go's client does).
    family: Option<(usize, Option<&'static str>, bool)>,
    spans: Vec<(i32, u32)>,
    deltas: Vec<i64>,
}

impl Encoder {
    pub(crate) fn new() -> Self {
        Self { out: Vec::with_capacity(64 * 1024), ..Self::default() }
    }

    /// Opens a length-delimited message as field `field`, or without a key
    /// for the top-level, varint-delimited family (`None`).
    fn begin(&mut self, field: Option<u32>) {
        if let Some(f) = field {
            key(&mut self.out, f, LEN);
        }
        self.open.push(self.out.len());
        self.out.push(0);
    }

    /// Closes the innermost open message, writing its length.
    fn end(&mut self) {
        let Some(at) = self.open.pop() else { return };
        let mut len = (self.out.len() - at - 1) as u64;
        if let Some(b) = self.out.get_mut(at) {
            *b = low_byte(len) | if len >= 0x80 { 0x80 } else { 0 };
        }
        // Longer than 127 bytes: the rest of the varint goes after the
        // reserved byte, shifting the body.
        let mut rest = [0_u8; 9];
        let mut n = 0;
        len >>= 7;
        while len > 0 {
            rest[n] = low_byte(len) | if len >= 0x80 { 0x80 } else { 0 };
            len >>= 7;
            n += 1;
        }
        if n > 0 {
            let body = at + 1;
            self.out.splice(body..body, rest.iter().take(n).copied());
        }
    }

    /// Starts a family; `name` is the sample name (counters with `_total`).
    pub(crate) fn family(&mut self, name: &str, help: &str, kind: MetricType, unit: Option<&'static str>) {
        self.close_family();
        let start = self.out.len();
        self.begin(None);
        bytes(&mut self.out, field::family::NAME, name.as_bytes());
        bytes(&mut self.out, field::family::HELP, help.as_bytes());
        uint(&mut self.out, field::family::TYPE, kind as u64);
        self.family = Some((start, unit, false));
    }

    fn close_family(&mut self) {
        match self.family.take() {
            Some((_, unit, true)) => {
                if let Some(u) = unit {
                    bytes(&mut self.out, field::family::UNIT, u.as_bytes());
                }
                self.end();
            }
            Some((start, _, false)) => {
                self.open.clear();
                self.out.truncate(start);
            }
            None => {}
        }
    }

    /// Opens a `Metric` of the current family, with its labels.
    fn metric(&mut self, labels: &[(&str, &str)]) {
        if let Some((_, _, has)) = &mut self.family {
            *has = true;
        }
        self.begin(Some(field::family::METRIC));
        for (name, value) in labels {
            self.begin(Some(field::metric::LABEL));
            bytes(&mut self.out, field::label::NAME, name.as_bytes());
            bytes(&mut self.out, field::label::VALUE, value.as_bytes());
            self.end();
        }
    }

    pub(crate) fn counter(&mut self, labels: &[(&str, &str)], value: u64) {
        self.metric(labels);
        self.begin(Some(field::metric::COUNTER));
        double(&mut self.out, field::value::VALUE, as_f64(value));
        self.end();
        self.end();
    }

    pub(crate) fn gauge(&mut self, labels: &[(&str, &str)], value: f64) {
        self.metric(labels);
        self.begin(Some(field::metric::GAUGE));
        double(&mut self.out, field::value::VALUE, value);
        self.end();
        self.end();
    }

    /// A histogram: its classic buckets (cumulative, `+Inf` left implicit
    /// as the format allows), with exemplars, and its native buckets when it
    /// keeps them.
    pub(crate) fn histogram(&mut self, labels: &[(&str, &str)], h: &Histogram, bounds: &[f64]) {
        self.metric(labels);
        self.begin(Some(field::metric::HISTOGRAM));
        uint(&mut self.out, field::histogram::SAMPLE_COUNT, h.count());
        double(&mut self.out, field::histogram::SAMPLE_SUM, h.sum);
        let mut cumulative = 0;
        for ((count, bound), exemplar) in h.counts.iter().zip(bounds).zip(h.exemplars.iter()) {
            cumulative += count;
            self.begin(Some(field::histogram::BUCKET));
            uint(&mut self.out, field::bucket::CUMULATIVE_COUNT, cumulative);
            double(&mut self.out, field::bucket::UPPER_BOUND, *bound);
            if let Some(e) = exemplar {
                self.exemplar(e);
            }
            self.end();
        }
        if let Some(n) = &h.native {
            self.native(n);
        }
        self.end();
        self.end();
    }

    fn exemplar(&mut self, e: &Exemplar) {
        self.begin(Some(field::bucket::EXEMPLAR));
        self.begin(Some(field::exemplar::LABEL));
        bytes(&mut self.out, field::label::NAME, b"ray_id");
        bytes(&mut self.out, field::label::VALUE, e.ray_id.as_bytes());
        self.end();
        double(&mut self.out, field::exemplar::VALUE, e.value);
        if let Some((seconds, nanos)) = e.time.and_then(split_seconds) {
            self.begin(Some(field::exemplar::TIMESTAMP));
            uint(&mut self.out, field::timestamp::SECONDS, seconds);
            uint(&mut self.out, field::timestamp::NANOS, nanos);
            self.end();
        }
        self.end();
    }

    fn native(&mut self, n: &Native) {
        sint(&mut self.out, field::histogram::SCHEMA, i64::from(n.schema()));
        double(&mut self.out, field::histogram::ZERO_THRESHOLD, n.zero_threshold());
        uint(&mut self.out, field::histogram::ZERO_COUNT, n.zero_count());
        let (mut spans, mut deltas) = (std::mem::take(&mut self.spans), std::mem::take(&mut self.deltas));
        n.spans(&mut spans, &mut deltas);
        if spans.is_empty() {
            // A no-op span marks the histogram as native even without
            // populated buckets (metrics.proto asks for it).
            spans.push((0, 0));
        }
        for (offset, length) in &spans {
            self.begin(Some(field::histogram::POSITIVE_SPAN));
            sint(&mut self.out, field::span::OFFSET, i64::from(*offset));
            uint(&mut self.out, field::span::LENGTH, u64::from(*length));
            self.end();
        }
        if !deltas.is_empty() {
            // Packed, as proto3 writes repeated numbers.
            self.begin(Some(field::histogram::POSITIVE_DELTA));
            for d in &deltas {
                varint(&mut self.out, zigzag(*d));
            }
            self.end();
        }
        (self.spans, self.deltas) = (spans, deltas);
    }

    /// The bytes written.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.close_family();
        self.out
    }
}

/// Unix seconds as a `Timestamp`'s whole seconds and nanoseconds; `None`
/// before 1970 or beyond any real date.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // range checked
fn split_seconds(t: f64) -> Option<(u64, u64)> {
    if !(0.0..1e12).contains(&t) {
        return None;
    }
    let seconds = t.trunc();
    let nanos = ((t - seconds) * 1e9).round().min(999_999_999.0);
    Some((seconds as u64, nanos as u64))
}

#[cfg(test)]
pub(crate) mod tests {
    //! A small decoder, enough to read back what [`Encoder`] writes.

    use super::*;

    /// A decoded field value.
    #[derive(Debug, Clone, PartialEq)]
    pub(crate) enum Value {
        Varint(u64),
        Fixed64(u64),
        Bytes(Vec<u8>),
    }

    /// A decoded message: fields in order.
    #[derive(Debug, Clone, PartialEq, Default)]
    pub(crate) struct Message(pub(crate) Vec<(u32, Value)>);

    fn read_varint(b: &[u8], at: &mut usize) -> u64 {
        let mut v = 0_u64;
        for shift in (0..64).step_by(7) {
            let byte = b[*at];
            *at += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v;
            }
        }
        panic!("varint too long")
    }

    pub(crate) fn decode(b: &[u8]) -> Message {
        let mut at = 0;
        let mut fields = Vec::new();
        while at < b.len() {
            let k = read_varint(b, &mut at);
            let field = u32::try_from(k >> 3).unwrap();
            let value = match k & 7 {
                0 => Value::Varint(read_varint(b, &mut at)),
                1 => {
                    let v = u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
                    at += 8;
                    Value::Fixed64(v)
                }
                2 => {
                    let len = usize::try_from(read_varint(b, &mut at)).unwrap();
                    let v = b[at..at + len].to_vec();
                    at += len;
                    Value::Bytes(v)
                }
                w => panic!("wire type {w}"),
            };
            fields.push((field, value));
        }
        Message(fields)
    }

    /// Splits a varint-delimited stream into its messages.
    pub(crate) fn delimited(b: &[u8]) -> Vec<Message> {
        let mut at = 0;
        let mut out = Vec::new();
        while at < b.len() {
            let len = usize::try_from(read_varint(b, &mut at)).unwrap();
            out.push(decode(&b[at..at + len]));
            at += len;
        }
        out
    }

    pub(crate) fn unzigzag(v: u64) -> i64 {
        i64::try_from(v >> 1).unwrap() ^ -i64::try_from(v & 1).unwrap()
    }

    impl Message {
        pub(crate) fn all(&self, field: u32) -> impl Iterator<Item = &Value> {
            self.0.iter().filter(move |(f, _)| *f == field).map(|(_, v)| v)
        }

        pub(crate) fn uint(&self, field: u32) -> Option<u64> {
            self.all(field).find_map(|v| if let Value::Varint(x) = v { Some(*x) } else { None })
        }

        pub(crate) fn double(&self, field: u32) -> Option<f64> {
            self.all(field).find_map(|v| if let Value::Fixed64(x) = v { Some(f64::from_bits(*x)) } else { None })
        }

        pub(crate) fn string(&self, field: u32) -> Option<String> {
            self.all(field).find_map(|v| if let Value::Bytes(x) = v { String::from_utf8(x.clone()).ok() } else { None })
        }

        pub(crate) fn messages(&self, field: u32) -> Vec<Message> {
            self.all(field).filter_map(|v| if let Value::Bytes(x) = v { Some(decode(x)) } else { None }).collect()
        }

        pub(crate) fn message(&self, field: u32) -> Option<Message> {
            self.messages(field).into_iter().next()
        }

        /// A packed repeated `sint64` field.
        pub(crate) fn packed_sint(&self, field: u32) -> Vec<i64> {
            let mut out = Vec::new();
            for v in self.all(field) {
                if let Value::Bytes(b) = v {
                    let mut at = 0;
                    while at < b.len() {
                        out.push(unzigzag(read_varint(b, &mut at)));
                    }
                }
            }
            out
        }

        /// The labels of a `Metric`, as `name=value` pairs.
        pub(crate) fn labels(&self) -> Vec<(String, String)> {
            self.messages(field::metric::LABEL)
                .iter()
                .map(|l| (l.string(field::label::NAME).unwrap(), l.string(field::label::VALUE).unwrap()))
                .collect()
        }
    }

    #[test]
    fn varints_and_zigzag() {
        let enc = |v| {
            let mut out = Vec::new();
            varint(&mut out, v);
            out
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(1), [1]);
        assert_eq!(enc(127), [0x7f]);
        assert_eq!(enc(128), [0x80, 0x01]);
        assert_eq!(enc(300), [0xac, 0x02]);
        assert_eq!(enc(u64::MAX).len(), 10);
        assert_eq!([zigzag(0), zigzag(-1), zigzag(1), zigzag(-2), zigzag(2)], [0, 1, 2, 3, 4]);
        assert_eq!(zigzag(i64::MIN), u64::MAX);
        for v in [0, 1, -1, 63, -64, 1 << 40, -(1 << 40), i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn long_messages_get_longer_length_prefixes() {
        let mut e = Encoder::new();
        e.family("f", &"h".repeat(200), MetricType::Gauge, None);
        let long = "v".repeat(20_000);
        e.gauge(&[("l", &long)], 1.5);
        let out = e.finish();
        let families = delimited(&out);
        assert_eq!(families.len(), 1);
        let f = &families[0];
        assert_eq!(f.string(field::family::HELP).unwrap().len(), 200);
        let m = f.message(field::family::METRIC).unwrap();
        assert_eq!(m.labels(), [("l".to_owned(), long)]);
        assert_eq!(m.message(field::metric::GAUGE).unwrap().double(field::value::VALUE), Some(1.5));
    }

    #[test]
    fn empty_families_are_dropped() {
        let mut e = Encoder::new();
        e.family("a_total", "A.", MetricType::Counter, None);
        e.family("b_total", "B.", MetricType::Counter, Some("bytes"));
        e.counter(&[], 3);
        e.family("c", "C.", MetricType::Gauge, None);
        let families = delimited(&e.finish());
        assert_eq!(families.len(), 1);
        assert_eq!(families[0].string(field::family::NAME).as_deref(), Some("b_total"));
        assert_eq!(families[0].string(field::family::UNIT).as_deref(), Some("bytes"));
        assert_eq!(families[0].uint(field::family::TYPE), Some(0));
    }

    #[test]
    fn timestamps() {
        assert_eq!(split_seconds(1000.25), Some((1000, 250_000_000)));
        assert_eq!(split_seconds(1_700_000_000.5), Some((1_700_000_000, 500_000_000)));
        assert_eq!(split_seconds(5.999_999_999_9), Some((5, 999_999_999)), "never a whole second of nanos");
        assert_eq!(split_seconds(-1.0), None);
        assert_eq!(split_seconds(f64::NAN), None);
    }
}
