//! What is counted per customer and host: dense arrays indexed by the fixed
//! label sets of [`crate::classify`], so counting a request is a few array
//! increments and merging a batch is element-wise addition.

use std::sync::Arc;

use crate::classify::{CACHE_STATUSES, ORIGIN_ERRORS, SECURITY_ACTIONS, STATUS_CLASSES};
use crate::native::{Native, NativeSpec};

/// The buckets of a histogram: classic upper bounds in seconds, ascending,
/// without `+Inf`, and native buckets when configured.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bounds {
    pub(crate) le: Arc<[f64]>,
    pub(crate) native: Option<NativeSpec>,
}

impl Bounds {
    /// Sorted, deduplicated, finite and positive; classic buckets only.
    pub(crate) fn new(mut bounds: Vec<f64>) -> Self {
        bounds.retain(|b| b.is_finite() && *b > 0.0);
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        Self { le: bounds.into(), native: None }
    }

    /// Native buckets as well.
    pub(crate) fn with_native(self, native: Option<NativeSpec>) -> Self {
        Self { native, ..self }
    }

    /// The bucket a value falls in (`len()` for `+Inf`).
    fn bucket(&self, v: f64) -> usize {
        // A count without branches: latencies land in unpredictable buckets,
        // and for a few dozen bounds this beats a binary search's misses.
        self.le.iter().map(|b| usize::from(*b < v)).sum()
    }
}

/// Longest request id an exemplar keeps, in bytes: Logpush's `RayID` has
/// 16, nginx's `$request_id` 32. OpenMetrics allows an exemplar 128
/// characters of label names and values, and a longer id would hold memory
/// per bucket for nothing.
const MAX_EXEMPLAR_ID: usize = 64;

/// An exemplar: the request that last landed in a bucket.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Exemplar {
    pub(crate) ray_id: Box<str>,
    pub(crate) value: f64,
    /// Unix seconds of the request, when the record carried one.
    pub(crate) time: Option<f64>,
}

/// A classic histogram: per-bucket (not cumulative) counts, sum and count;
/// and native buckets when its [`Bounds`] ask for them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Histogram {
    pub(crate) counts: Box<[u64]>,
    pub(crate) sum: f64,
    pub(crate) exemplars: Box<[Option<Exemplar>]>,
    /// Boxed: most exporters run without, and a histogram stays small.
    pub(crate) native: Option<Box<Native>>,
}

impl Histogram {
    pub(crate) fn new(bounds: &Bounds) -> Self {
        let n = bounds.le.len() + 1;
        Self {
            counts: vec![0; n].into(),
            sum: 0.0,
            exemplars: vec![None; n].into(),
            native: bounds.native.map(|spec| Box::new(Native::new(spec))),
        }
    }

    /// `exemplar`: the request id (bytes, as read) and time of the request.
    pub(crate) fn observe(&mut self, bounds: &Bounds, v: f64, exemplar: Option<(&[u8], Option<f64>)>) {
        let i = bounds.bucket(v);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += v;
        if let Some(n) = &mut self.native {
            n.observe(v);
        }
        // One exemplar per bucket per batch: the first request seen.
        if let (Some((ray, time)), Some(slot @ None)) = (exemplar, self.exemplars.get_mut(i)) {
            let ray = ray.get(..MAX_EXEMPLAR_ID).unwrap_or(ray);
            let mut id = String::from_utf8_lossy(ray).into_owned();
            // A character cut at the end becomes U+FFFD; drop it.
            if ray.len() == MAX_EXEMPLAR_ID && id.ends_with(char::REPLACEMENT_CHARACTER) {
                id.pop();
            }
            *slot = Some(Exemplar { ray_id: id.into(), value: v, time });
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The series it is exposed as once it counted something: its buckets,
    /// `+Inf`, sum and count, and one more for its native buckets, which
    /// protobuf scrapes store as one series.
    fn exposed(&self) -> usize {
        self.counts.len() + 2 + usize::from(self.native.is_some())
    }

    fn merge(&mut self, other: &Self) {
        self.merge_from(other);
        // The newer batch's exemplars win: exemplars show recent requests.
        for (a, b) in self.exemplars.iter_mut().zip(other.exemplars.iter()) {
            if b.is_some() {
                a.clone_from(b);
            }
        }
    }
}

/// Everything counted for one host of one customer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HostSeries {
    /// Requests by status class, then cache status.
    pub(crate) requests: [[u64; CACHE_STATUSES.len()]; STATUS_CLASSES.len()],
    pub(crate) ttfb: Histogram,
    pub(crate) origin: Histogram,
    pub(crate) origin_errors: [u64; ORIGIN_ERRORS.len()],
    pub(crate) security: [u64; SECURITY_ACTIONS.len()],
    pub(crate) bytes: u64,
}

impl HostSeries {
    pub(crate) fn new(bounds: &Bounds) -> Self {
        Self {
            requests: [[0; CACHE_STATUSES.len()]; STATUS_CLASSES.len()],
            ttfb: Histogram::new(bounds),
            origin: Histogram::new(bounds),
            origin_errors: [0; ORIGIN_ERRORS.len()],
            security: [0; SECURITY_ACTIONS.len()],
            bytes: 0,
        }
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        for (a, b) in self.requests.iter_mut().flatten().zip(other.requests.iter().flatten()) {
            *a += b;
        }
        self.ttfb.merge(&other.ttfb);
        self.origin.merge(&other.origin);
        for (a, b) in self.origin_errors.iter_mut().zip(other.origin_errors.iter()) {
            *a += b;
        }
        for (a, b) in self.security.iter_mut().zip(other.security.iter()) {
            *a += b;
        }
        self.bytes = self.bytes.saturating_add(other.bytes);
    }

    /// Total requests.
    pub(crate) fn total(&self) -> u64 {
        self.requests.iter().flatten().sum()
    }

    /// How many series merging `other` would add.
    pub(crate) fn added_by(&self, other: &Self) -> usize {
        let new = |a: &[u64], b: &[u64]| a.iter().zip(b).filter(|&(&x, &y)| x == 0 && y > 0).count();
        let hist = |a: &Histogram, b: &Histogram| if a.count() == 0 && b.count() > 0 { a.exposed() } else { 0 };
        self.requests.iter().zip(&other.requests).map(|(a, b)| new(a, b)).sum::<usize>()
            + hist(&self.ttfb, &other.ttfb)
            + hist(&self.origin, &other.origin)
            + new(&self.origin_errors, &other.origin_errors)
            + new(&self.security, &other.security)
            + usize::from(self.bytes == 0 && other.bytes > 0)
    }

    /// How many series this host exposes now: its non-zero cells, and each
    /// histogram that counted something ([`Histogram::exposed`]).
    pub(crate) fn series(&self) -> usize {
        let nonzero = |xs: &[u64]| xs.iter().filter(|&&x| x > 0).count();
        let hist = |h: &Histogram| if h.count() > 0 { h.exposed() } else { 0 };
        self.requests.iter().map(|r| nonzero(r)).sum::<usize>()
            + hist(&self.ttfb)
            + hist(&self.origin)
            + nonzero(&self.origin_errors)
            + nonzero(&self.security)
            + usize::from(self.bytes > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn the_bucket_count_is_the_binary_search(
            bounds in proptest::collection::vec(0.0001f64..100.0, 0..40),
            v in proptest::num::f64::ANY,
        ) {
            let b = Bounds::new(bounds);
            proptest::prop_assert_eq!(b.bucket(v), b.le.partition_point(|x| *x < v));
        }
    }

    #[test]
    fn buckets_are_upper_inclusive() {
        let b = Bounds::new(vec![0.3, 0.1, 0.3, f64::NAN, -1.0, 1.0]);
        assert_eq!(&*b.le, &[0.1, 0.3, 1.0]);
        assert_eq!(b.bucket(0.1), 0, "le=0.1 holds 0.1");
        assert_eq!(b.bucket(0.1001), 1);
        assert_eq!(b.bucket(0.3), 1);
        assert_eq!(b.bucket(5.0), 3, "+Inf");
    }

    #[test]
    fn merge_adds_and_keeps_the_newest_exemplar() {
        let b = Bounds::new(vec![0.1, 1.0]);
        let mut a = HostSeries::new(&b);
        a.ttfb.observe(&b, 0.05, Some((&b"old"[..], None)));
        let mut n = HostSeries::new(&b);
        n.ttfb.observe(&b, 0.07, Some((&b"new"[..], None)));
        n.ttfb.observe(&b, 0.08, Some((&b"ignored"[..], None)));
        n.requests[1][0] = 2;
        a.merge(&n);
        assert_eq!(a.ttfb.count(), 3);
        assert!((a.ttfb.sum - 0.2).abs() < 1e-9);
        assert_eq!(a.ttfb.exemplars[0].as_ref().map(|e| &*e.ray_id), Some("new"));
        assert_eq!(a.total(), 2);
        assert_eq!(a.series(), 1 + 5);
    }

    #[test]
    fn merge_adds_native_buckets_too() {
        let spec = NativeSpec { schema: 3, zero_threshold: 0.0, max_buckets: 160 };
        let b = Bounds::new(vec![0.1, 1.0]).with_native(Some(spec));
        let (mut a, mut n) = (HostSeries::new(&b), HostSeries::new(&b));
        a.ttfb.observe(&b, 0.05, None);
        n.ttfb.observe(&b, 0.05, None);
        n.ttfb.observe(&b, 0.0, None);
        n.origin.observe(&b, 2.0, None);
        a.merge(&n);
        let native = a.ttfb.native.as_deref().unwrap();
        assert_eq!(native.buckets().collect::<Vec<_>>(), [(crate::native::index(0.05, 3), 2)]);
        assert_eq!(native.zero_count(), 1);
        assert_eq!(a.origin.native.as_deref().unwrap().buckets().collect::<Vec<_>>(), [(8, 1)]);
        assert_eq!(a.series(), 2 * (3 + 2 + 1), "each histogram: 3 buckets, sum, count and the native series");
    }

    #[test]
    fn exemplars_keep_the_first_bytes_of_a_long_request_id() {
        let b = Bounds::new(vec![1.0]);
        let mut h = Histogram::new(&b);
        let long = format!("{}é{}", "r".repeat(MAX_EXEMPLAR_ID - 1), "x".repeat(10_000));
        h.observe(&b, 0.5, Some((long.as_bytes(), None)));
        h.observe(&b, 5.0, Some((&b"short"[..], None)));
        let ids: Vec<_> = h.exemplars.iter().flatten().map(|e| e.ray_id.to_string()).collect();
        assert_eq!(ids, ["r".repeat(MAX_EXEMPLAR_ID - 1), "short".to_owned()], "cut before the split character");
    }
}
