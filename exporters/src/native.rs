//! Native histograms: sparse exponential buckets, as Prometheus defines them.
//!
//! At schema `s` the bucket boundaries are `2^(2^-s · i)` for every integer
//! `i`; bucket `i` holds the values in `(base^(i-1), base^i]` with
//! `base = 2^(2^-s)`, so an exact power of two falls in the lower bucket.
//! Values at or below the zero threshold count in the zero bucket. The index
//! comes from the float's exponent and mantissa (for positive schemas, the
//! mantissa is looked up in a per-schema table of boundaries), never from a
//! logarithm, so an observation costs a few comparisons.
//!
//! Counts are dense over a window of consecutive indexes that widens as values
//! arrive: an observation is an increment and a merge an element-wise
//! addition. When more buckets are populated than allowed, the resolution is
//! halved (the schema decreases by one and neighbouring buckets merge
//! pairwise), as Prometheus' Go client does; histograms of different schemas
//! merge at the coarser one, which is exact.

use std::sync::LazyLock;

/// The coarsest schema Prometheus defines (each bucket 2^16 times wider than
/// the previous one).
pub(crate) const MIN_SCHEMA: i8 = -4;
/// The finest schema Prometheus defines (256 buckets per power of two).
pub(crate) const MAX_SCHEMA: i8 = 8;

/// The window of counts may span at most this many times `max_buckets`
/// indexes: an outlier far from every other value reduces the resolution
/// rather than the memory growing with the distance. Real latencies never
/// get near it (160 × 4 indexes at schema 3 cover 80 powers of two).
const WINDOW_FACTOR: usize = 4;

/// How the native buckets of a histogram are kept (from the configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NativeSpec {
    /// The starting, finest, schema.
    pub(crate) schema: i8,
    /// Values at or below it (in seconds) count in the zero bucket.
    pub(crate) zero_threshold: f64,
    /// Populated buckets allowed before the resolution is reduced.
    pub(crate) max_buckets: usize,
}

impl NativeSpec {
    fn window(&self) -> usize {
        self.max_buckets.saturating_mul(WINDOW_FACTOR).max(1)
    }
}

/// The native part of one histogram. Count and sum are the classic
/// histogram's, which sees every observation too.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Native {
    spec: NativeSpec,
    schema: i8,
    zero: u64,
    /// The bucket index of `counts[0]`.
    first: i32,
    counts: Vec<u64>,
    /// Non-zero entries of `counts`.
    populated: usize,
}

impl Native {
    pub(crate) fn new(spec: NativeSpec) -> Self {
        let schema = spec.schema.clamp(MIN_SCHEMA, MAX_SCHEMA);
        Self { spec: NativeSpec { schema, ..spec }, schema, zero: 0, first: 0, counts: Vec::new(), populated: 0 }
    }

    /// The current schema (at most the configured one).
    pub(crate) fn schema(&self) -> i8 {
        self.schema
    }

    pub(crate) fn zero_threshold(&self) -> f64 {
        self.spec.zero_threshold
    }

    /// Observations in the zero bucket.
    pub(crate) fn zero_count(&self) -> u64 {
        self.zero
    }

    /// Buckets with at least one observation (the zero bucket aside).
    #[cfg(test)]
    pub(crate) fn populated(&self) -> usize {
        self.populated
    }

    pub(crate) fn observe(&mut self, v: f64) {
        if v.abs() <= self.spec.zero_threshold {
            self.zero += 1;
            return;
        }
        // NaN, and negative values, which latencies never are: no negative
        // buckets are kept. The observation still counts in count and sum,
        // as client_golang does with NaN.
        if v.is_nan() || v < 0.0 {
            return;
        }
        let mut i = index(v, self.schema);
        while self.schema > MIN_SCHEMA && self.span_with(i, i) > self.spec.window() {
            self.reduce(1);
            i = index(v, self.schema);
        }
        self.add(i, 1);
        self.limit();
    }

    /// Adds `other`'s counts (its count and sum are added by the caller).
    pub(crate) fn merge(&mut self, other: &Self) {
        self.zero += other.zero;
        let Some(last) = other.last() else { return };
        // A finer histogram can be reduced to a coarser one exactly, never
        // the reverse; coarser still if the union would not fit the window.
        let mut target = self.schema.min(other.schema);
        loop {
            let by = other.schema.abs_diff(target);
            let (lo, hi) = (coarser(other.first, by), coarser(last, by));
            let mine = self.schema.abs_diff(target);
            let (lo, hi) = match self.last() {
                Some(l) => (lo.min(coarser(self.first, mine)), hi.max(coarser(l, mine))),
                None => (lo, hi),
            };
            if target == MIN_SCHEMA || span(lo, hi) <= self.spec.window() {
                break;
            }
            target -= 1;
        }
        if self.schema > target {
            self.reduce(self.schema.abs_diff(target));
        }
        let by = other.schema.abs_diff(target);
        // Widen once, to both ends, then add.
        self.slot(coarser(other.first, by));
        self.slot(coarser(last, by));
        for (i, c) in other.buckets() {
            self.add(coarser(i, by), c);
        }
        self.limit();
    }

    /// Populated buckets, ascending: (index, count).
    pub(crate) fn buckets(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        self.counts.iter().zip(self.first..).filter(|(c, _)| **c > 0).map(|(c, i)| (i, *c))
    }

    /// The positive buckets as the protobuf format carries them: spans of
    /// (offset from the end of the previous span, or absolute for the first;
    /// length) and the count of each bucket as a delta to the previous one.
    /// Gaps of one or two empty buckets stay inside a span, which is smaller
    /// than a new span (`client_golang` does the same).
    pub(crate) fn spans(&self, spans: &mut Vec<(i32, u32)>, deltas: &mut Vec<i64>) {
        spans.clear();
        deltas.clear();
        let mut previous = 0_i64;
        let mut next: Option<i32> = None;
        for (i, count) in self.buckets() {
            let count = i64::try_from(count).unwrap_or(i64::MAX);
            match next {
                Some(n) if i - n <= 2 => {
                    for _ in n..i {
                        deltas.push(-previous);
                        previous = 0;
                    }
                    if let Some(s) = spans.last_mut() {
                        s.1 += i.abs_diff(n);
                    }
                }
                _ => spans.push((i - next.unwrap_or(0), 0)),
            }
            deltas.push(count - previous);
            previous = count;
            if let Some(s) = spans.last_mut() {
                s.1 += 1;
            }
            next = Some(i + 1);
        }
    }

    fn last(&self) -> Option<i32> {
        let len = i32::try_from(self.counts.len()).ok()?;
        (len > 0).then(|| self.first + len - 1)
    }

    /// Indexes the window would span once it covers `lo..=hi`.
    fn span_with(&self, lo: i32, hi: i32) -> usize {
        match self.last() {
            Some(last) => span(self.first.min(lo), last.max(hi)),
            None => span(lo, hi),
        }
    }

    fn add(&mut self, i: i32, n: u64) {
        let pos = self.slot(i);
        if let Some(c) = self.counts.get_mut(pos) {
            if *c == 0 {
                self.populated += 1;
            }
            *c += n;
        }
    }

    /// Widens the window to cover index `i`; its position in `counts`.
    fn slot(&mut self, i: i32) -> usize {
        if self.counts.is_empty() {
            self.first = i;
            self.counts.push(0);
            return 0;
        }
        if i < self.first {
            let grow = i.abs_diff(self.first) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.first = i;
            return 0;
        }
        let pos = i.abs_diff(self.first) as usize;
        if pos >= self.counts.len() {
            self.counts.resize(pos + 1, 0);
        }
        pos
    }

    /// Halves the resolution while too many buckets are populated.
    fn limit(&mut self) {
        while self.schema > MIN_SCHEMA
            && (self.populated > self.spec.max_buckets || self.counts.len() > self.spec.window())
        {
            self.reduce(1);
        }
    }

    /// Decreases the schema by `by`, merging each aligned group of 2^by
    /// buckets into one.
    fn reduce(&mut self, by: u8) {
        let by = by.min(self.schema.abs_diff(MIN_SCHEMA));
        if by == 0 {
            return;
        }
        self.schema -= i8::try_from(by).unwrap_or(0);
        let Some(last) = self.last() else { return };
        let first = coarser(self.first, by);
        let mut counts = vec![0; span(first, coarser(last, by))];
        for (i, c) in self.buckets() {
            if let Some(slot) = counts.get_mut(coarser(i, by).abs_diff(first) as usize) {
                *slot += c;
            }
        }
        self.populated = counts.iter().filter(|c| **c > 0).count();
        self.first = first;
        self.counts = counts;
    }
}

/// Indexes in `lo..=hi`.
fn span(lo: i32, hi: i32) -> usize {
    hi.abs_diff(lo) as usize + 1
}

/// The bucket that bucket `i` falls in once the schema is `by` lower: groups
/// of 2^by buckets merge, and bucket 0 (upper bound 1) stays the top of its
/// group, since 1 is a boundary at every schema.
fn coarser(i: i32, by: u8) -> i32 {
    ((i - 1) >> by) + 1
}

/// The bucket index of a positive value `v` at `schema` (-4..=8): the `k`
/// with `base^(k-1) < v <= base^k`.
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)] // table lengths are at most 256
#[allow(clippy::float_cmp)] // an exact power of two has a fraction of exactly 0.5
pub(crate) fn index(v: f64, schema: i8) -> i32 {
    if v == f64::INFINITY {
        // One past the bucket of the largest float, as client_golang does.
        return index(f64::MAX, schema) + 1;
    }
    let (frac, exp) = frexp(v);
    if schema > 0 {
        let bounds = bounds(schema);
        let j = bounds.partition_point(|b| *b < frac);
        j as i32 + (exp - 1) * bounds.len() as i32
    } else {
        // ceil(log2 v): one less for an exact power of two; then the
        // ceiling of its quotient by 2^-schema.
        let log2 = if frac == 0.5 { exp - 1 } else { exp };
        let shift = -i32::from(schema);
        (log2 + (1 << shift) - 1) >> shift
    }
}

/// `v = frac · 2^exp` with `frac` in `[0.5, 1)`, for a positive finite `v`
/// (read from the bits, as C's `frexp`).
fn frexp(v: f64) -> (f64, i32) {
    const MANTISSA: u64 = (1 << 52) - 1;
    const TWO_TO_64: f64 = 18_446_744_073_709_551_616.0;
    let bits = v.to_bits();
    let biased = i32::from(u16::try_from((bits >> 52) & 0x7ff).unwrap_or(0));
    if biased == 0 {
        if v == 0.0 {
            return (0.0, 0);
        }
        // Subnormal: scale into the normal range first.
        let (frac, exp) = frexp(v * TWO_TO_64);
        return (frac, exp - 64);
    }
    (f64::from_bits((bits & MANTISSA) | (1022 << 52)), biased - 1022)
}

/// For schemas 1 to 8, the boundaries within one power of two, scaled to the
/// `[0.5, 1)` range of a mantissa.
static BOUNDS: LazyLock<[Box<[f64]>; 8]> =
    LazyLock::new(|| std::array::from_fn(|k| table(u32::try_from(k).unwrap_or(0) + 1)));

fn bounds(schema: i8) -> &'static [f64] {
    let k = usize::try_from(schema - 1).unwrap_or(0);
    BOUNDS.get(k).map_or(&[0.5], |b| b)
}

/// `table[j]` is the largest float at or below `2^(j / 2^schema) / 2`, so a
/// mantissa compared with it lands on the right side of the true boundary
/// even when the float nearest to the boundary lies above it. (`client_golang`
/// writes out a table whose entries are within two ulps of these; only
/// values that close to a boundary could be counted one bucket apart.)
fn table(schema: u32) -> Box<[f64]> {
    (0..1_u32 << schema).map(|j| boundary(schema, j)).collect()
}

fn boundary(schema: u32, j: u32) -> f64 {
    // exp2 is within an ulp or two; exact arithmetic settles the last bits.
    let mut c = (f64::from(j) / f64::from(1_u32 << schema)).exp2() / 2.0;
    while !at_or_below(c, schema, j) {
        c = c.next_down();
    }
    while at_or_below(c.next_up(), schema, j) {
        c = c.next_up();
    }
    c
}

/// Whether `(2c)^(2^schema) <= 2^j`, that is `c <= 2^(j / 2^schema) / 2`,
/// squaring in double-double arithmetic (about 104 bits: 8 squarings lose
/// 8 of them, far more than a one-ulp step of `c` moves the result).
#[allow(clippy::float_cmp)] // an exact comparison is the point
fn at_or_below(frac: f64, schema: u32, j: u32) -> bool {
    // (hi + lo) squared: hi² exactly as a sum of two floats (the fused
    // multiply-add gives the rounding error of hi·hi), plus 2·hi·lo.
    let (mut hi, mut lo) = (2.0 * frac, 0.0_f64);
    for _ in 0..schema {
        let square = hi * hi;
        let error = hi.mul_add(hi, -square) + 2.0 * hi * lo;
        let sum = square + error;
        lo = error - (sum - square);
        hi = sum;
    }
    let limit = f64::from(j).exp2();
    hi < limit || (hi == limit && lo <= 0.0)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// 2^e exactly, subnormals included (`powi` divides by an overflowing
    /// power below -1022).
    fn pow2(e: i32) -> f64 {
        match e {
            1024.. => f64::INFINITY,
            -1022.. => f64::from_bits(u64::try_from(e + 1023).unwrap() << 52),
            -1074.. => f64::from_bits(1 << (e + 1074)),
            _ => 0.0,
        }
    }

    fn spec(schema: i8, max_buckets: usize) -> NativeSpec {
        NativeSpec { schema, zero_threshold: 2f64.powi(-128), max_buckets }
    }

    /// `base^k` for the test's side of the comparison, exactly decided: is
    /// `v <= 2^(k / 2^schema)`? Integer powers of two are exact floats; other
    /// boundaries are compared in double-double as [`at_or_below`] does.
    fn at_or_below_boundary(v: f64, k: i32, schema: i8) -> bool {
        if schema <= 0 {
            return v <= pow2(k << -schema);
        }
        let per = 1_i32 << schema;
        let (whole, j) = (k.div_euclid(per), k.rem_euclid(per));
        // v = frac · 2^exp and the boundary is (2^(j/per) / 2) · 2^(whole+1),
        // both fractions in [0.5, 1): compare exponents, then fractions.
        let (frac, exp) = frexp(v);
        match exp.cmp(&(whole + 1)) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal => at_or_below(frac, u32::try_from(schema).unwrap(), u32::try_from(j).unwrap()),
        }
    }

    #[test]
    fn the_schema_3_table_is_the_exact_boundaries_rounded_down() {
        // Computed with 80-digit decimals: the largest float <= 2^(j/8)/2.
        let expected = [
            0.5,
            0.545_253_866_332_628_7,
            0.594_603_557_501_360_5,
            0.648_419_777_325_504_8,
            0.707_106_781_186_547_5,
            0.771_105_412_703_970_4,
            0.840_896_415_253_714_5,
            0.917_004_043_204_671_2,
        ];
        assert_eq!(bounds(3), expected);
        assert_eq!(bounds(1), [0.5, 0.707_106_781_186_547_5]);
        let b8 = bounds(8);
        assert_eq!(
            (b8.len(), b8[1], b8[3], b8[255]),
            (256, 0.501_355_637_525_101_1, 0.504_077_949_059_208_7, 0.997_296_056_085_470_1)
        );
        for s in 1..=8 {
            let b = bounds(s);
            assert!(b.windows(2).all(|w| w[0] < w[1]), "schema {s} ascending");
            // Every second boundary is the coarser schema's.
            if s > 1 {
                let coarse = bounds(s - 1);
                assert!(b.iter().step_by(2).zip(coarse).all(|(a, c)| a.to_bits() == c.to_bits()), "schema {s} nests");
            }
        }
        // client_golang's table agrees within two ulps.
        for (mine, go) in bounds(3).iter().zip([
            0.5,
            0.545_253_866_332_628_8,
            0.594_603_557_501_360_5,
            0.648_419_777_325_504_8,
            0.707_106_781_186_547_5,
            0.771_105_412_703_970_4,
            0.840_896_415_253_714_4,
            0.917_004_043_204_671_1,
        ]) {
            assert!((mine.to_bits()).abs_diff(f64::to_bits(go)) <= 2, "{mine} vs {go}");
        }
    }

    #[test]
    fn known_indexes() {
        // Schema 3: boundaries 2^(i/8); 1 is the upper bound of bucket 0.
        assert_eq!(index(1.0, 3), 0);
        assert_eq!(index(1.000_000_1, 3), 1);
        assert_eq!(index(0.99, 3), 0);
        assert_eq!(index(2f64.powf(1.0 / 8.0) * 1.000_001, 3), 2);
        assert_eq!(index(2.0, 3), 8, "a power of two is the top of its bucket");
        assert_eq!(index(2.000_000_1, 3), 9);
        assert_eq!(index(0.5, 3), -8);
        assert_eq!(index(0.25, 3), -16);
        assert_eq!(index(0.1, 3), -26, "2^(-27/8) = 0.0976 < 0.1 <= 2^(-26/8) = 0.1051");
        assert_eq!(index(0.001, 3), -79, "2^(-80/8) = 0.000977 < 0.001 <= 2^(-79/8) = 0.00107");
        // Schema 0: powers of two. Negative schemas: powers of 4, 16, ...
        assert_eq!(index(1.0, 0), 0);
        assert_eq!(index(1.5, 0), 1);
        assert_eq!(index(2.0, 0), 1);
        assert_eq!(index(3.0, 0), 2);
        assert_eq!(index(0.25, -1), -1, "(4^-2, 4^-1]");
        assert_eq!(index(0.3, -1), 0);
        assert_eq!(index(4.0, -1), 1);
        assert_eq!(index(4.1, -1), 2);
        assert_eq!(index(65536.0, -4), 1);
        assert_eq!(index(65537.0, -4), 2);
        assert_eq!(index(2f64.powi(-16), -4), -1);
        // Extremes: subnormals and the largest float.
        assert_eq!(index(f64::MIN_POSITIVE / 4.0, 0), -1024);
        assert_eq!(index(f64::MAX, 0), 1024);
        assert_eq!(index(f64::INFINITY, 0), 1025);
        for s in MIN_SCHEMA..=MAX_SCHEMA {
            for e in [-1074, -1022, -30, -1, 0, 1, 7, 1023] {
                let v = pow2(e);
                assert!(at_or_below_boundary(v, index(v, s), s), "2^{e} at schema {s}");
                assert!(!at_or_below_boundary(v, index(v, s) - 1, s), "2^{e} at schema {s}");
            }
        }
    }

    #[test]
    fn zero_bucket_and_nan() {
        let mut n = Native::new(NativeSpec { schema: 3, zero_threshold: 0.001, max_buckets: 160 });
        for v in [0.0, 0.001, 0.0005, f64::NAN, 0.002] {
            n.observe(v);
        }
        assert_eq!(n.zero_count(), 3, "values at or below the threshold");
        assert_eq!(n.buckets().collect::<Vec<_>>(), [(index(0.002, 3), 1)], "NaN lands in no bucket");
    }

    #[test]
    fn too_many_buckets_halve_the_resolution() {
        let mut n = Native::new(spec(3, 4));
        // Five buckets at schema 3: 1, 2, 3, 4, 5 (values just above 2^((i-1)/8)).
        for i in 1..=5 {
            n.observe(2f64.powf(f64::from(i - 1) / 8.0) * 1.000_001);
        }
        assert_eq!(n.schema(), 2, "one step: five buckets pair up into three");
        assert_eq!(n.buckets().collect::<Vec<_>>(), [(1, 2), (2, 2), (3, 1)]);
        assert_eq!(n.populated(), 3);
        // The same values observed at schema 2 directly give the same buckets.
        let mut direct = Native::new(spec(2, 160));
        for i in 1..=5 {
            direct.observe(2f64.powf(f64::from(i - 1) / 8.0) * 1.000_001);
        }
        assert_eq!(direct.buckets().collect::<Vec<_>>(), n.buckets().collect::<Vec<_>>());
        // Negative indexes pair the same way: -1 and 0 merge into 0, -3 and -2 into -1.
        assert_eq!(
            [coarser(-3, 1), coarser(-2, 1), coarser(-1, 1), coarser(0, 1), coarser(1, 1), coarser(2, 1)],
            [-1, -1, 0, 0, 1, 1]
        );
        assert_eq!(
            [coarser(-8, 3), coarser(-7, 3), coarser(0, 3), coarser(1, 3), coarser(8, 3), coarser(9, 3)],
            [-1, 0, 0, 1, 1, 2]
        );
    }

    #[test]
    fn resolution_stops_at_schema_minus_4() {
        let mut n = Native::new(spec(0, 1));
        for e in [-100, 0, 100] {
            n.observe(2f64.powi(e));
        }
        assert_eq!(n.schema(), MIN_SCHEMA);
        assert_eq!(n.populated(), 3, "still three buckets: -4 is as coarse as it gets");
    }

    #[test]
    fn an_outlier_far_away_reduces_instead_of_growing_the_window() {
        let mut n = Native::new(spec(8, 10));
        n.observe(0.05);
        n.observe(1e30);
        // 104 powers of two apart: 27 indexes at schema -2, 53 at -1.
        assert_eq!((n.schema(), n.counts.len()), (-2, 27));
        assert_eq!(n.buckets().map(|(_, c)| c).sum::<u64>(), 2);
    }

    #[test]
    fn merging_adds_at_the_coarser_schema() {
        let values = [0.003, 0.012, 0.05, 0.05, 0.2, 0.9, 1.0, 7.5];
        let mut all = Native::new(spec(3, 160));
        let mut a = Native::new(spec(3, 160));
        let mut b = Native::new(spec(3, 160));
        for (k, v) in values.iter().enumerate() {
            all.observe(*v);
            if k % 2 == 0 { a.observe(*v) } else { b.observe(*v) }
        }
        let mut merged = a.clone();
        merged.merge(&b);
        assert_eq!(merged, all, "same schema: the sum of the parts");

        // A coarser part pulls the whole to its schema.
        let mut coarse = Native::new(spec(1, 160));
        coarse.observe(0.05);
        let mut m = all.clone();
        m.merge(&coarse);
        assert_eq!(m.schema(), 1);
        let mut expected = Native::new(spec(1, 160));
        for v in values.iter().chain([0.05].iter()) {
            expected.observe(*v);
        }
        assert_eq!(m.buckets().collect::<Vec<_>>(), expected.buckets().collect::<Vec<_>>());
        // ... and merging it the other way round gives the same.
        let mut m2 = coarse.clone();
        m2.merge(&all);
        assert_eq!(m2.buckets().collect::<Vec<_>>(), expected.buckets().collect::<Vec<_>>());

        // A merge that would populate too many buckets reduces.
        let mut small = Native::new(spec(3, 3));
        small.observe(0.003);
        let mut other = Native::new(spec(3, 3));
        other.observe(1.0);
        other.observe(7.5);
        small.merge(&other);
        assert!(small.populated() <= 3 && small.schema() < 3);
        assert_eq!(small.buckets().map(|(_, c)| c).sum::<u64>(), 3);
    }

    #[test]
    fn spans_and_deltas() {
        let mut n = Native::new(spec(0, 160));
        // Buckets -1, 0, 2 (a gap of one stays in the span), 10 (a new span).
        for v in [0.3, 0.3, 0.7, 3.0, 3.5, 3.9, 1000.0] {
            n.observe(v);
        }
        let (mut spans, mut deltas) = (Vec::new(), Vec::new());
        n.spans(&mut spans, &mut deltas);
        assert_eq!(n.buckets().collect::<Vec<_>>(), [(-1, 2), (0, 1), (2, 3), (10, 1)]);
        assert_eq!(spans, [(-1, 4), (7, 1)]);
        assert_eq!(deltas, [2, -1, -1, 3, -2]);
        Native::new(spec(0, 160)).spans(&mut spans, &mut deltas);
        assert!(spans.is_empty() && deltas.is_empty());
    }

    proptest! {
        #[test]
        fn the_index_brackets_the_value(v in (1e-9_f64..1e6), schema in MIN_SCHEMA..=MAX_SCHEMA) {
            let k = index(v, schema);
            prop_assert!(at_or_below_boundary(v, k, schema), "{v} above base^{k} at schema {schema}");
            prop_assert!(!at_or_below_boundary(v, k - 1, schema), "{v} at or below base^{} at schema {schema}", k - 1);
        }

        #[test]
        fn any_positive_float(bits in 1_u64..0x7ff0_0000_0000_0000, schema in MIN_SCHEMA..=MAX_SCHEMA) {
            let v = f64::from_bits(bits);
            let k = index(v, schema);
            prop_assert!(at_or_below_boundary(v, k, schema));
            prop_assert!(!at_or_below_boundary(v, k - 1, schema));
        }

        #[test]
        fn merge_is_observing_everything(xs in prop::collection::vec(1e-4_f64..100.0, 0..200), ys in prop::collection::vec(1e-4_f64..100.0, 0..200), max in 1_usize..40) {
            let mut a = Native::new(spec(4, max));
            let mut b = Native::new(spec(4, max));
            for v in &xs {
                a.observe(*v);
            }
            for v in &ys {
                b.observe(*v);
            }
            a.merge(&b);
            prop_assert!(a.populated() <= max || a.schema() == MIN_SCHEMA);
            prop_assert_eq!(a.buckets().map(|(_, c)| c).sum::<u64>(), (xs.len() + ys.len()) as u64);
            // The merged buckets are what observing everything at the merged schema gives.
            let mut direct = Native::new(spec(a.schema(), 10_000));
            for v in xs.iter().chain(&ys) {
                direct.observe(*v);
            }
            prop_assert_eq!(a.buckets().collect::<Vec<_>>(), direct.buckets().collect::<Vec<_>>());
        }
    }
}
