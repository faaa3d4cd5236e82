//! What is counted per customer and host: dense arrays indexed by the fixed
//! label sets of [`crate::classify`], so counting a request is a few array
//! increments and merging a batch is element-wise addition.

use std::sync::Arc;

use crate::classify::{CACHE_STATUSES, ORIGIN_ERRORS, SECURITY_ACTIONS, STATUS_CLASSES};

/// Histogram upper bounds in seconds, ascending, without `+Inf`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bounds(pub(crate) Arc<[f64]>);

impl Bounds {
    /// Sorted, deduplicated, finite and positive.
    pub(crate) fn new(mut bounds: Vec<f64>) -> Self {
        bounds.retain(|b| b.is_finite() && *b > 0.0);
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        Self(bounds.into())
    }

    /// The bucket a value falls in (`len()` for `+Inf`).
    fn bucket(&self, v: f64) -> usize {
        self.0.partition_point(|b| *b < v)
    }
}

/// An exemplar: the request that last landed in a bucket.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Exemplar {
    pub(crate) ray_id: Box<str>,
    pub(crate) value: f64,
    /// Unix seconds of the request, when the record carried one.
    pub(crate) time: Option<f64>,
}

/// A classic histogram: per-bucket (not cumulative) counts, sum and count.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Histogram {
    pub(crate) counts: Box<[u64]>,
    pub(crate) sum: f64,
    pub(crate) exemplars: Box<[Option<Exemplar>]>,
}

impl Histogram {
    pub(crate) fn new(bounds: &Bounds) -> Self {
        let n = bounds.0.len() + 1;
        Self { counts: vec![0; n].into(), sum: 0.0, exemplars: vec![None; n].into() }
    }

    pub(crate) fn observe(&mut self, bounds: &Bounds, v: f64, exemplar: Option<(&str, Option<f64>)>) {
        let i = bounds.bucket(v);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += v;
        // One exemplar per bucket per batch: the first request seen.
        if let (Some((ray, time)), Some(slot @ None)) = (exemplar, self.exemplars.get_mut(i)) {
            *slot = Some(Exemplar { ray_id: ray.into(), value: v, time });
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn merge(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.sum += other.sum;
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
        self.bytes += other.bytes;
    }

    /// Total requests.
    pub(crate) fn total(&self) -> u64 {
        self.requests.iter().flatten().sum()
    }

    /// How many series this host exposes now (non-zero cells; a histogram
    /// counts its buckets, `+Inf`, sum and count).
    pub(crate) fn series(&self) -> usize {
        let nonzero = |xs: &[u64]| xs.iter().filter(|&&x| x > 0).count();
        let hist = |h: &Histogram| if h.count() > 0 { h.counts.len() + 2 } else { 0 };
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

    #[test]
    fn buckets_are_upper_inclusive() {
        let b = Bounds::new(vec![0.3, 0.1, 0.3, f64::NAN, -1.0, 1.0]);
        assert_eq!(&*b.0, &[0.1, 0.3, 1.0]);
        assert_eq!(b.bucket(0.1), 0, "le=0.1 holds 0.1");
        assert_eq!(b.bucket(0.1001), 1);
        assert_eq!(b.bucket(0.3), 1);
        assert_eq!(b.bucket(5.0), 3, "+Inf");
    }

    #[test]
    fn merge_adds_and_keeps_the_newest_exemplar() {
        let b = Bounds::new(vec![0.1, 1.0]);
        let mut a = HostSeries::new(&b);
        a.ttfb.observe(&b, 0.05, Some(("old", None)));
        let mut n = HostSeries::new(&b);
        n.ttfb.observe(&b, 0.07, Some(("new", None)));
        n.ttfb.observe(&b, 0.08, Some(("ignored", None)));
        n.requests[1][0] = 2;
        a.merge(&n);
        assert_eq!(a.ttfb.count(), 3);
        assert!((a.ttfb.sum - 0.2).abs() < 1e-9);
        assert_eq!(a.ttfb.exemplars[0].as_ref().map(|e| &*e.ray_id), Some("new"));
        assert_eq!(a.total(), 2);
        assert_eq!(a.series(), 1 + 5);
    }
}
