//! Bounded-memory heavy hitters (Space-Saving top-K) over a sliding time window.
//!
//! [`SpaceSaving`] is the algorithm of Metwally, Agrawal and El Abbadi (2005): it monitors at most `K` keys.
//! A monitored key's counter is incremented; an unmonitored key takes over the counter with the smallest
//! count `m`, starting at `m + weight` with error `m`. For a stream of total weight `T` this guarantees:
//!
//! * every reported `count` overestimates the key's true weight, and `count - error` underestimates it;
//! * any key not monitored has true weight at most `m <= T / K`, so every key heavier than `T / K` is monitored.
//!
//! Summaries are mergeable (Agarwal et al. 2012; the combine-then-prune merge for Space-Saving as in Cafaro et
//! al. 2016): counters are added, a key missing from one side is charged that side's bound for unmonitored
//! keys, and the `K` largest counters are kept. With `m` the bound for unmonitored keys, every counter is at
//! least `m` and `sum(count - m) <= T - K * m`; offers and merges both preserve this, which keeps `m <= T / K`,
//! so the merged summary gives the same guarantees for the concatenated stream, however they are interleaved.
//!
//! [`WindowedTopK`] keeps a ring of per-slot summaries (for example five one-minute slots) and answers
//! "top keys over the last few minutes" by merging the slots still inside the window, so memory stays
//! bounded by `slots * K` keys of at most [`MAX_KEY_BYTES`] bytes each. Time is always passed in explicitly.

use std::cmp::Ordering;
use std::hash::BuildHasher as _;

/// Keys longer than this many bytes are truncated (at a UTF-8 char boundary) so memory stays bounded.
pub(crate) const MAX_KEY_BYTES: usize = 256;

/// One reported key of a [`SpaceSaving`] summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The (possibly truncated) key.
    pub key: String,
    /// Upper bound on the key's true weight.
    pub count: u64,
    /// Maximum overestimation: `count - error` is a lower bound on the key's true weight.
    pub error: u64,
}

/// A monitored key; the same shape as [`Entry`], kept private so the heap invariant cannot be broken.
/// A monitored key. Slots never move; the heap refers to them by index, so
/// reordering the heap never hashes a key, and an evicted slot's string
/// buffer is reused for the key that takes its place.
#[derive(Debug, Clone)]
struct Counter {
    key: String,
    count: u64,
    error: u64,
    /// Where this slot sits in the heap.
    pos: usize,
    /// The key's hash under the summary's hasher, kept so evicting or
    /// re-indexing a slot never hashes its key again.
    hash: u64,
}

fn rank(a: &Counter, b: &Counter) -> Ordering {
    b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key))
}

pub(crate) fn truncate_key(key: &str) -> &str {
    if key.len() <= MAX_KEY_BYTES {
        return key;
    }
    // Index 0 is always a char boundary, so this always finds one.
    let end = (0..=MAX_KEY_BYTES).rev().find(|&i| key.is_char_boundary(i)).unwrap_or(0);
    key.get(..end).unwrap_or_default()
}

/// Space-Saving summary of at most `capacity` keys.
///
/// Invariants: `heap` holds every slot index once; `slots[heap[p]].pos == p`;
/// `table` holds every slot index once, hashed by that slot's key.
#[derive(Debug, Clone)]
pub(crate) struct SpaceSaving {
    capacity: usize,
    total: u64,
    /// Count a newly monitored key starts from (see `merge`).
    floor: u64,
    slots: Vec<Counter>,
    /// Min-heap of slot indexes: the slot that ranks last is on top.
    heap: Vec<usize>,
    /// Set when counts changed without the heap (see `merge_counts`); the
    /// next offer rebuilds it first.
    heap_stale: bool,
    table: hashbrown::HashTable<usize>,
    /// Seeded per process: keys are chosen by clients, including attackers.
    hasher: foldhash::quality::RandomState,
}

impl SpaceSaving {
    /// An empty summary of at most `capacity` keys (at least one).
    #[must_use]
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            total: 0,
            floor: 0,
            // Grown as keys come, not reserved: a customer keeps a summary
            // per set, dimension and window slot, and most hold few keys
            // (at 10,000 customers the reserved room was most of the
            // exporter's memory, docs/performance.md).
            slots: Vec::new(),
            heap: Vec::new(),
            heap_stale: false,
            table: hashbrown::HashTable::new(),
            hasher: foldhash::quality::RandomState::default(),
        }
    }

    /// The most keys kept.
    #[must_use]
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Sum of all weights offered or merged in.
    #[must_use]
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Keys monitored now.
    #[must_use]
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no key is monitored.
    #[must_use]
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Forgets everything, keeping the allocations.
    pub(crate) fn clear(&mut self) {
        self.total = 0;
        self.floor = 0;
        self.slots.clear();
        self.heap.clear();
        self.heap_stale = false;
        self.table.clear();
    }

    fn find(&self, hash: u64, key: &str) -> Option<usize> {
        let slots = &self.slots;
        self.table.find(hash, |&i| slots.get(i).is_some_and(|s| s.key == key)).copied()
    }

    fn index_slot(&mut self, hash: u64, id: usize) {
        let slots = &self.slots;
        self.table.insert_unique(hash, id, |&i| slots.get(i).map_or(0, |s| s.hash));
    }

    /// Counts `weight` more for `key`.
    pub(crate) fn offer(&mut self, key: &str, weight: u64) {
        if weight == 0 {
            return;
        }
        let key = truncate_key(key);
        if self.heap_stale {
            self.heapify();
        }
        self.total = self.total.saturating_add(weight);
        let hash = self.hasher.hash_one(key);
        if let Some(id) = self.find(hash, key) {
            if let Some(s) = self.slots.get_mut(id) {
                s.count = s.count.saturating_add(weight);
                let pos = s.pos;
                self.sift_down(pos);
            }
        } else if self.slots.len() < self.capacity {
            let id = self.slots.len();
            let pos = self.heap.len();
            let count = self.floor.saturating_add(weight);
            self.slots.push(Counter { key: key.to_owned(), count, error: self.floor, pos, hash });
            self.heap.push(id);
            self.index_slot(hash, id);
            self.sift_up(pos);
        } else if let Some(&id) = self.heap.first() {
            // Full: the new key inherits the smallest counter, whose count bounds any unmonitored key.
            let Some(old_hash) = self.slots.get(id).map(|s| s.hash) else { return };
            if let Ok(entry) = self.table.find_entry(old_hash, |&i| i == id) {
                entry.remove();
            }
            let Some(s) = self.slots.get_mut(id) else { return };
            s.key.clear();
            s.key.push_str(key);
            s.hash = hash;
            self.floor = self.floor.max(s.count);
            s.error = s.count;
            s.count = s.count.saturating_add(weight);
            self.index_slot(hash, id);
            self.sift_down(0);
        }
    }

    /// Folds `other` in (mergeable summaries: add, then keep the largest).
    pub(crate) fn merge(&mut self, other: &SpaceSaving) {
        // A summary that never filled never evicted: its counts are the
        // stream itself, grouped, exact.
        if other.slots.len() < other.capacity && other.floor == 0 {
            self.merge_counts(other.slots.iter().map(|c| (c.key.as_str(), c.count)));
            return;
        }
        self.total = self.total.saturating_add(other.total);
        if other.slots.is_empty() {
            return;
        }
        let own_bound = self.unmonitored_bound();
        let other_bound = other.unmonitored_bound();
        let mut merged: Vec<Counter> = Vec::with_capacity(self.slots.len().saturating_add(other.slots.len()));
        for o in &other.slots {
            if self.find(self.hasher.hash_one(o.key.as_str()), &o.key).is_none() {
                let (count, error) = (o.count.saturating_add(own_bound), o.error.saturating_add(own_bound));
                merged.push(Counter { key: o.key.clone(), count, error, pos: 0, hash: 0 });
            }
        }
        for s in std::mem::take(&mut self.slots) {
            let (count, error) =
                match other.find(other.hasher.hash_one(s.key.as_str()), &s.key).and_then(|i| other.slots.get(i)) {
                    Some(o) => (o.count, o.error),
                    None => (other_bound, other_bound),
                };
            merged.push(Counter {
                count: s.count.saturating_add(count),
                error: s.error.saturating_add(error),
                key: s.key,
                pos: 0,
                hash: s.hash,
            });
        }
        if merged.len() > self.capacity {
            merged.select_nth_unstable_by(self.capacity.saturating_sub(1), rank);
            merged.truncate(self.capacity);
        }
        // Every kept counter is at least `own_bound + other_bound`, which also bounds keys neither side monitored.
        self.floor = own_bound.saturating_add(other_bound);
        self.slots = merged;
        self.rebuild();
    }

    /// Folds in the exact weights of distinct keys (a batch's tally): the
    /// combine-then-prune of [`Self::merge`] with another side that missed
    /// nothing, so no counter of ours is charged for it. Unlike offering the
    /// keys one by one, nothing is evicted and re-indexed per key, and only
    /// the keys that stay are copied.
    pub(crate) fn merge_counts<'k>(&mut self, counts: impl IntoIterator<Item = (&'k str, u64)>) {
        let own_bound = self.unmonitored_bound();
        // New keys with their hash and combined count, in the order given.
        let mut new: Vec<(&'k str, u64, u64)> = Vec::new();
        let mut changed = false;
        for (key, weight) in counts {
            let key = truncate_key(key);
            self.total = self.total.saturating_add(weight);
            let hash = self.hasher.hash_one(key);
            if let Some(s) = self.find(hash, key).and_then(|id| self.slots.get_mut(id)) {
                s.count = s.count.saturating_add(weight);
                changed = true;
            } else if weight > 0 {
                new.push((key, hash, weight.saturating_add(own_bound)));
            }
        }
        if new.is_empty() {
            // Windows take batches by `merge_counts` alone and need no heap
            // in between: it is rebuilt only should an offer come.
            self.heap_stale |= changed;
            return;
        }
        // Keep the `capacity` largest of ours and the new ones; on equal
        // counts ours stay (fewer copies) and new ones go in the order given.
        let ours = self.slots.len();
        let mut order: Vec<(u64, usize)> =
            self.slots.iter().map(|s| s.count).chain(new.iter().map(|n| n.2)).zip(0..).collect();
        if order.len() > self.capacity {
            order.select_nth_unstable_by(self.capacity.saturating_sub(1), |a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            order.truncate(self.capacity);
        }
        let mut kept = vec![false; ours];
        let mut entering = Vec::new();
        for &(_, i) in &order {
            match kept.get_mut(i) {
                Some(k) => *k = true,
                None => entering.extend(new.get(i - ours)),
            }
        }
        // New keys take the slots of ours that lost (each loser was
        // displaced by one of them, as ours never exceed the capacity), then
        // new slots.
        let mut lost = (0..ours).filter(|&id| !kept.get(id).copied().unwrap_or(true));
        for (key, hash, count) in entering {
            let id = if let Some(id) = lost.next() {
                let Some(old) = self.slots.get(id).map(|s| s.hash) else { continue };
                if let Ok(entry) = self.table.find_entry(old, |&i| i == id) {
                    entry.remove();
                }
                id
            } else {
                self.slots.push(Counter { key: String::new(), count: 0, error: 0, pos: 0, hash: 0 });
                self.slots.len() - 1
            };
            let Some(slot) = self.slots.get_mut(id) else { continue };
            slot.key.clear();
            slot.key.push_str(key);
            (slot.count, slot.error, slot.hash) = (count, own_bound, hash);
            self.index_slot(hash, id);
        }
        // Every counter is at least `own_bound`, which also bounds keys
        // neither side monitored.
        self.floor = self.floor.max(own_bound);
        self.heap_stale = true;
    }

    /// Re-indexes every slot and restores the heap after slots were replaced.
    fn rebuild(&mut self) {
        self.table.clear();
        for id in 0..self.slots.len() {
            let hasher = &self.hasher;
            let Some(s) = self.slots.get_mut(id) else { break };
            s.hash = hasher.hash_one(s.key.as_str());
            let hash = s.hash;
            self.index_slot(hash, id);
        }
        self.heapify();
    }

    /// Restores the heap after counts changed in place.
    fn heapify(&mut self) {
        self.heap.clear();
        for id in 0..self.slots.len() {
            if let Some(s) = self.slots.get_mut(id) {
                s.pos = id;
            }
            self.heap.push(id);
        }
        for pos in (0..self.heap.len() / 2).rev() {
            self.sift_down(pos);
        }
        self.heap_stale = false;
    }

    /// The `n` largest counts, by count descending, then key.
    #[must_use]
    #[cfg(test)]
    pub(crate) fn top(&self, n: usize) -> Vec<Entry> {
        self.top_and_unlisted(n).0
    }

    /// The `n` largest counts, and the most any key not among them can have
    /// been offered: the next monitored count, or the bound for keys not
    /// monitored at all. What a reader merging several exporters' answers
    /// charges a key one of them did not list.
    #[must_use]
    pub(crate) fn top_and_unlisted(&self, n: usize) -> (Vec<Entry>, u64) {
        let mut slots: Vec<&Counter> = self.slots.iter().collect();
        slots.sort_unstable_by(|a, b| rank(a, b));
        let next = slots.get(n).map_or(0, |s| s.count);
        let unlisted = next.max(self.unmonitored_bound());
        let top = slots.into_iter().take(n).map(|s| Entry { key: s.key.clone(), count: s.count, error: s.error });
        (top.collect(), unlisted)
    }

    /// The most an unmonitored key can have been offered.
    fn unmonitored_bound(&self) -> u64 {
        if self.heap_stale && self.slots.len() >= self.capacity {
            return self.slots.iter().map(|s| s.count).min().unwrap_or(self.floor);
        }
        match self.heap.first().and_then(|&id| self.slots.get(id)) {
            Some(min) if self.slots.len() >= self.capacity => min.count,
            _ => self.floor,
        }
    }

    fn slot_at(&self, pos: usize) -> Option<&Counter> {
        self.heap.get(pos).and_then(|&id| self.slots.get(id))
    }

    /// Whether the slot at heap position `a` holds a smaller count than the
    /// one at `b`. Ties are left where they are: most keys of a stream share
    /// the smallest counts, and comparing their strings on every increment
    /// cost more than the whole heap walk. Which of several equal counters is
    /// evicted does not change the guarantees.
    fn evicts_before(&self, a: usize, b: usize) -> bool {
        match (self.slot_at(a), self.slot_at(b)) {
            (Some(x), Some(y)) => x.count < y.count,
            _ => false,
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        if a >= self.heap.len() || b >= self.heap.len() {
            return;
        }
        self.heap.swap(a, b);
        for pos in [a, b] {
            if let Some(s) = self.heap.get(pos).copied().and_then(|id| self.slots.get_mut(id)) {
                s.pos = pos;
            }
        }
    }

    fn sift_up(&mut self, mut pos: usize) {
        while pos > 0 {
            let parent = pos.saturating_sub(1) / 2;
            if !self.evicts_before(pos, parent) {
                break;
            }
            self.swap(pos, parent);
            pos = parent;
        }
    }

    fn sift_down(&mut self, mut pos: usize) {
        loop {
            let left = pos.saturating_mul(2).saturating_add(1);
            let right = left.saturating_add(1);
            let mut smallest = pos;
            if self.evicts_before(left, smallest) {
                smallest = left;
            }
            if self.evicts_before(right, smallest) {
                smallest = right;
            }
            if smallest == pos {
                break;
            }
            self.swap(pos, smallest);
            pos = smallest;
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReportEntry {
    /// The (possibly truncated) key.
    pub key: String,
    /// Upper bound on the key's true weight inside the window.
    pub count: u64,
    /// Maximum overestimation: `count - error` is a lower bound.
    pub error: u64,
    /// `count / total`, in `[0, 1]`; 0.0 when the total is 0.
    pub share: f64,
}

/// Heavy hitters of a [`WindowedTopK`] at a given time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    /// Nominal window length (`slot_seconds * slots`); the oldest slot may be only partly covered.
    pub window_seconds: u64,
    /// Exact total weight offered inside the window.
    pub total: u64,
    /// Heaviest keys, by count descending then key ascending.
    pub entries: Vec<ReportEntry>,
    /// The most any key not in `entries` can weigh inside the window.
    pub unlisted: u64,
}

#[derive(Debug, Clone)]
struct Slot {
    /// `unix_seconds / slot_seconds` of the data held; stale slots are recognised and reset by this.
    epoch: u64,
    summary: SpaceSaving,
}

/// Sliding-window heavy hitters: a ring of per-slot [`SpaceSaving`] summaries.
///
/// Time is passed in as unix seconds. A time earlier than the newest seen is counted in the newest slot, so
/// clock skew between log sources neither panics nor resurrects expired slots.
#[derive(Debug, Clone)]
pub(crate) struct WindowedTopK {
    capacity: usize,
    slot_seconds: u64,
    newest_epoch: u64,
    ring: Vec<Slot>,
}

impl WindowedTopK {
    /// A window of `slots` slots of `slot_seconds` each (both clamped to at least 1), each slot monitoring at most
    /// `capacity` keys. For example `new(64, 60, 5)` covers the last five minutes at one-minute granularity.
    #[must_use]
    pub(crate) fn new(capacity: usize, slot_seconds: u64, slots: usize) -> Self {
        let slot = Slot { epoch: 0, summary: SpaceSaving::new(capacity) };
        Self {
            capacity: capacity.max(1),
            slot_seconds: slot_seconds.max(1),
            newest_epoch: 0,
            ring: vec![slot; slots.max(1)],
        }
    }

    /// Counts `weight` for `key` at time `now` (unix seconds).
    #[cfg(test)]
    pub(crate) fn offer(&mut self, now: u64, key: &str, weight: u64) {
        if let Some(summary) = self.current(now) {
            summary.offer(key, weight);
        }
    }

    /// Folds a per-batch summary into the slot for time `now` (unix seconds).
    pub(crate) fn merge(&mut self, now: u64, batch: &SpaceSaving) {
        if let Some(summary) = self.current(now) {
            summary.merge(batch);
        }
    }

    /// Folds a batch's exact counts of distinct keys into the slot for time `now` (unix seconds).
    pub(crate) fn merge_counts<'k>(&mut self, now: u64, counts: impl IntoIterator<Item = (&'k str, u64)>) {
        if let Some(summary) = self.current(now) {
            summary.merge_counts(counts);
        }
    }

    /// The `n` heaviest keys over the window ending at `now` (unix seconds), in `O(slots * K + K log K)`.
    #[must_use]
    pub(crate) fn top(&self, now: u64, n: usize) -> Report {
        let epoch = self.epoch(now);
        let oldest = epoch.saturating_sub(self.slot_count().saturating_sub(1));
        let mut merged = SpaceSaving::new(self.capacity);
        for slot in self.ring.iter().filter(|s| s.epoch >= oldest && s.epoch <= epoch) {
            merged.merge(&slot.summary);
        }
        let total = merged.total();
        let (top, unlisted) = merged.top_and_unlisted(n);
        let entries = top
            .into_iter()
            .map(|e| ReportEntry { share: share(e.count, total), key: e.key, count: e.count, error: e.error })
            .collect();
        Report { window_seconds: self.slot_seconds.saturating_mul(self.slot_count()), total, entries, unlisted }
    }

    fn slot_count(&self) -> u64 {
        u64::try_from(self.ring.len()).unwrap_or(u64::MAX)
    }

    /// The slot index for `now`, never older than the newest seen.
    fn epoch(&self, now: u64) -> u64 {
        // `slot_seconds` is clamped to at least 1, so the fallback is never taken.
        now.checked_div(self.slot_seconds).unwrap_or(now).max(self.newest_epoch)
    }

    /// The summary for `now`, reset first if its slot still holds data from an expired epoch.
    fn current(&mut self, now: u64) -> Option<&mut SpaceSaving> {
        let epoch = self.epoch(now);
        self.newest_epoch = epoch;
        let pos = usize::try_from(epoch.checked_rem(self.slot_count())?).ok()?;
        let slot = self.ring.get_mut(pos)?;
        if slot.epoch != epoch {
            slot.epoch = epoch;
            slot.summary.clear();
        }
        Some(&mut slot.summary)
    }
}

#[allow(clippy::cast_precision_loss)] // A share is a ratio for display; loss beyond 2^53 does not matter.
fn share(count: u64, total: u64) -> f64 {
    if total == 0 { 0.0 } else { (count as f64 / total as f64).min(1.0) }
}

#[cfg(test)]
// Tests may panic on failure, and their inputs are small enough not to overflow.
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use proptest::prelude::*;

    fn entry(key: &str, count: u64, error: u64) -> Entry {
        Entry { key: key.to_owned(), count, error }
    }

    fn true_counts(stream: &[(String, u64)]) -> HashMap<String, u64> {
        let mut counts = HashMap::new();
        for (key, weight) in stream {
            *counts.entry(key.clone()).or_insert(0) += weight;
        }
        counts
    }

    /// Guarantees (a) heavy keys are reported and (b) reported bounds bracket the true weight.
    fn check_guarantees(summary: &SpaceSaving, truth: &HashMap<String, u64>, capacity: usize) {
        check_heavy(summary, truth, capacity);
        check_bounds(summary, truth, capacity);
    }

    /// (a): every key heavier than total / capacity is reported by `top(capacity)`.
    fn check_heavy(summary: &SpaceSaving, truth: &HashMap<String, u64>, capacity: usize) {
        let total: u64 = truth.values().sum();
        let top = summary.top(capacity);
        for (key, &weight) in truth {
            if weight * capacity as u64 > total {
                assert!(top.iter().any(|e| &e.key == key), "heavy key {key} ({weight}/{total}) missing: {top:?}");
            }
        }
    }

    /// (b) and (c): bounds bracket the true weight, the total is exact and at most `capacity` keys are kept.
    fn check_bounds(summary: &SpaceSaving, truth: &HashMap<String, u64>, capacity: usize) {
        assert_eq!(summary.total(), truth.values().sum::<u64>());
        assert!(summary.len() <= capacity);
        for e in &summary.top(capacity) {
            let weight = truth.get(&e.key).copied().unwrap_or(0);
            assert!(e.count >= weight && weight >= e.count - e.error, "bad bounds {e:?} for true weight {weight}");
        }
    }

    #[test]
    fn exact_below_capacity() {
        let mut s = SpaceSaving::new(4);
        for (key, weight) in [("a", 3), ("b", 1), ("a", 2), ("c", 7)] {
            s.offer(key, weight);
        }
        assert_eq!(s.top(10), vec![entry("c", 7, 0), entry("a", 5, 0), entry("b", 1, 0)]);
        assert_eq!(s.top(1), vec![entry("c", 7, 0)]);
        assert_eq!((s.total(), s.len(), s.is_empty()), (13, 3, false));
    }

    #[test]
    fn eviction_takes_over_smallest_counter() {
        let mut s = SpaceSaving::new(2);
        s.offer("a", 5);
        s.offer("b", 2);
        s.offer("c", 1);
        assert_eq!(s.top(2), vec![entry("a", 5, 0), entry("c", 3, 2)]);
        assert_eq!(s.total(), 8);
    }

    #[test]
    fn ties_sort_by_key_and_evict_last_ranked() {
        let mut s = SpaceSaving::new(3);
        for key in ["c", "a", "b"] {
            s.offer(key, 1);
        }
        assert_eq!(s.top(3), vec![entry("a", 1, 0), entry("b", 1, 0), entry("c", 1, 0)]);
        s.offer("d", 1);
        assert_eq!(s.top(3), vec![entry("d", 2, 1), entry("a", 1, 0), entry("b", 1, 0)]);
    }

    #[test]
    fn zero_capacity_and_zero_weight() {
        let mut s = SpaceSaving::new(0);
        assert_eq!(s.capacity(), 1);
        assert!(s.is_empty());
        s.offer("a", 0);
        assert!(s.is_empty());
        s.offer("a", 1);
        s.offer("b", 1);
        assert_eq!(s.top(5), vec![entry("b", 2, 1)]);
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        let mut s = SpaceSaving::new(1);
        s.offer("a", u64::MAX);
        s.offer("b", u64::MAX);
        let mut t = s.clone();
        t.merge(&s);
        assert_eq!(t.total(), u64::MAX);
        assert_eq!(t.top(1), vec![entry("b", u64::MAX, u64::MAX)]);
    }

    #[test]
    fn long_keys_truncated_at_char_boundary() {
        // 1 + 2 * 200 bytes: byte 256 falls inside an 'é', so the cut must back off to 255.
        let long = format!("a{}", "é".repeat(200));
        let mut s = SpaceSaving::new(4);
        s.offer(&long, 1);
        s.offer(&format!("{long}-other-suffix"), 1);
        let top = s.top(4);
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].key.len(), 255);
        assert!(long.starts_with(&top[0].key));
        assert_eq!(top[0].count, 2);
        assert_eq!(truncate_key(&"x".repeat(300)).len(), MAX_KEY_BYTES);
    }

    #[test]
    fn merge_is_exact_when_keys_fit() {
        let (mut a, mut b) = (SpaceSaving::new(4), SpaceSaving::new(4));
        a.offer("x", 3);
        a.offer("y", 1);
        b.offer("x", 2);
        b.offer("z", 4);
        a.merge(&b);
        assert_eq!(a.top(4), vec![entry("x", 5, 0), entry("z", 4, 0), entry("y", 1, 0)]);
        assert_eq!(a.total(), 10);
        a.merge(&SpaceSaving::new(4));
        assert_eq!(a.total(), 10);
    }

    #[test]
    fn merge_charges_missing_keys_the_other_minimum() {
        let (mut a, mut b) = (SpaceSaving::new(2), SpaceSaving::new(2));
        a.offer("x", 10);
        a.offer("y", 2);
        b.offer("z", 6);
        b.offer("w", 1);
        a.merge(&b);
        // x and z are charged the other side's minimum (1 and 2); y (2+1) and w (1+2) are dropped.
        assert_eq!(a.top(2), vec![entry("x", 11, 1), entry("z", 8, 2)]);
        a.offer("v", 1);
        assert_eq!(a.top(2), vec![entry("x", 11, 1), entry("v", 9, 8)]);
    }

    #[test]
    fn merge_with_smaller_capacity_keeps_bounds() {
        let mut big = SpaceSaving::new(10);
        let mut small = SpaceSaving::new(1);
        small.offer("a", 3);
        small.offer("b", 1);
        big.merge(&small);
        // "a" may have been worth only 1 of the 4, and is not full: new keys must still be overestimates.
        big.offer("a", 1);
        assert_eq!(big.top(10), vec![entry("a", 5, 4), entry("b", 4, 3)]);
    }

    #[test]
    fn window_expires_old_slots() {
        let mut w = WindowedTopK::new(8, 60, 3);
        w.offer(1_000, "old", 5);
        w.offer(1_060, "mid", 3);
        w.offer(1_130, "new", 1);
        assert_eq!(w.top(1_130, 10).total, 9);
        // At 1_150 the window covers slots 17..=19, so "old" (slot 16) has left.
        let r = w.top(1_150, 10);
        assert_eq!(r.window_seconds, 180);
        assert_eq!(r.total, 4);
        assert_eq!(r.entries.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["mid", "new"]);
        assert!((r.entries[0].share - 0.75).abs() < 1e-9);
        // Slot 16's ring position is reused by slot 19 without leaking old counts.
        w.offer(1_140, "reuse", 2);
        assert_eq!(w.top(1_140, 10).total, 6);
        assert!(w.top(10_000, 10).entries.is_empty());
    }

    #[test]
    fn window_time_going_backwards_counts_in_newest_slot() {
        let mut w = WindowedTopK::new(4, 60, 2);
        w.offer(6_000, "a", 1);
        w.offer(10, "b", 2);
        w.offer(0, "b", 1);
        let r = w.top(0, 10);
        assert_eq!(r.total, 4);
        assert_eq!(r.entries[0], ReportEntry { key: "b".into(), count: 3, error: 0, share: 0.75 });
        assert_eq!(r, w.top(6_059, 10));
    }

    #[test]
    fn window_merges_batches_and_clamps_arguments() {
        let mut w = WindowedTopK::new(0, 0, 0);
        let mut batch = SpaceSaving::new(1);
        batch.offer("a", 2);
        w.merge(5, &batch);
        w.merge(5, &batch);
        let r = w.top(5, 3);
        assert_eq!(r.window_seconds, 1);
        assert_eq!(r.entries, vec![ReportEntry { key: "a".into(), count: 4, error: 0, share: 1.0 }]);
        assert!(w.top(6, 3).entries.is_empty());
    }

    #[test]
    fn zero_total_gives_zero_share() {
        assert!(share(0, 0).abs() < f64::EPSILON);
        assert!(share(5, 0).abs() < f64::EPSILON);
        let r = WindowedTopK::new(4, 60, 5).top(0, 10);
        assert_eq!(r, Report { window_seconds: 300, total: 0, entries: vec![], unlisted: 0 });
    }

    /// Streams over a skewed 20-key alphabet (key 0 is ~10x as likely as key 19) so heavy hitters exist.
    fn stream() -> impl Strategy<Value = Vec<(String, u64)>> {
        let key = (0u32..1000).prop_map(|x| format!("k{}", x * x / 50_000));
        prop::collection::vec((key, 1u64..=4), 0..2000)
    }

    fn summarize(capacity: usize, stream: &[(String, u64)]) -> SpaceSaving {
        let mut s = SpaceSaving::new(capacity);
        for (key, weight) in stream {
            s.offer(key, *weight);
            assert!(s.len() <= capacity);
        }
        s
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn prop_single_stream_guarantees(capacity in 1usize..12, stream in stream()) {
            let s = summarize(capacity, &stream);
            check_guarantees(&s, &true_counts(&stream), capacity);
        }

        #[test]
        fn prop_merge_guarantees(capacity in 1usize..12, left in stream(), right in stream()) {
            let mut merged = summarize(capacity, &left);
            merged.merge(&summarize(capacity, &right));
            let both: Vec<_> = left.iter().chain(&right).cloned().collect();
            check_guarantees(&merged, &true_counts(&both), capacity);
        }

        #[test]
        fn prop_merge_then_offer_guarantees(capacity in 1usize..8, a in stream(), b in stream(), c in stream()) {
            // Offers after a merge and a second-level merge must keep the guarantees too.
            let mut merged = summarize(capacity, &a);
            merged.merge(&summarize(capacity, &b));
            for (key, weight) in &c {
                merged.offer(key, *weight);
            }
            let mut again = summarize(capacity, &c);
            again.merge(&merged);
            let all: Vec<_> = a.iter().chain(&b).chain(&c).cloned().collect();
            check_guarantees(&merged, &true_counts(&all), capacity);
            let twice: Vec<_> = all.iter().chain(&c).cloned().collect();
            check_guarantees(&again, &true_counts(&twice), capacity);
        }

        #[test]
        fn prop_merge_counts_guarantees(capacity in 1usize..12, a in stream(), b in stream(), c in stream()) {
            // Exact counts folded into a summary, between offers, keep the guarantees.
            let mut s = summarize(capacity, &a);
            s.merge_counts(true_counts(&b).iter().map(|(k, n)| (k.as_str(), *n)));
            for (key, weight) in &c {
                s.offer(key, *weight);
            }
            let all: Vec<_> = a.iter().chain(&b).chain(&c).cloned().collect();
            check_guarantees(&s, &true_counts(&all), capacity);
            // Exact counts again (the heap left stale), then merged into
            // another summary: both still keep the guarantees.
            s.merge_counts(true_counts(&a).iter().map(|(k, n)| (k.as_str(), *n)));
            let twice: Vec<_> = all.iter().chain(&a).cloned().collect();
            check_guarantees(&s, &true_counts(&twice), capacity);
            let mut other = summarize(capacity, &c);
            other.merge(&s);
            let thrice: Vec<_> = twice.iter().chain(&c).cloned().collect();
            check_guarantees(&other, &true_counts(&thrice), capacity);
        }

        #[test]
        fn prop_mixed_capacity_merge_bounds(k1 in 1usize..12, k2 in 1usize..12, a in stream(), b in stream(), c in stream()) {
            let mut merged = summarize(k1, &a);
            merged.merge(&summarize(k2, &b));
            for (key, weight) in &c {
                merged.offer(key, *weight);
            }
            let all: Vec<_> = a.iter().chain(&b).chain(&c).cloned().collect();
            check_bounds(&merged, &true_counts(&all), k1);
            check_heavy(&merged, &true_counts(&all), k1.min(k2));
        }

        #[test]
        fn prop_single_slot_window_equals_summary(capacity in 1usize..12, now in 0u64..1_000_000, stream in stream()) {
            let mut w = WindowedTopK::new(capacity, 60, 1);
            for (key, weight) in &stream {
                w.offer(now, key, *weight);
            }
            let s = summarize(capacity, &stream);
            let r = w.top(now, capacity);
            prop_assert_eq!(r.total, s.total());
            let entries: Vec<Entry> = r.entries.into_iter().map(|e| entry(&e.key, e.count, e.error)).collect();
            prop_assert_eq!(entries, s.top(capacity));
        }

        #[test]
        fn prop_window_guarantees(
            capacity in 1usize..12,
            mut timed in prop::collection::vec((0u64..600, (0u32..1000).prop_map(|x| x * x / 50_000)), 0..2000),
            extra in 0u64..200,
        ) {
            timed.sort_unstable();
            let mut w = WindowedTopK::new(capacity, 60, 3);
            for (t, k) in &timed {
                w.offer(*t, &format!("k{k}"), 1);
            }
            let now = timed.last().map_or(0, |(t, _)| t + extra);
            let oldest = (now / 60).saturating_sub(2) * 60;
            let inside: Vec<_> = timed.iter().filter(|(t, _)| *t >= oldest).map(|(_, k)| (format!("k{k}"), 1)).collect();
            let truth = true_counts(&inside);
            let r = w.top(now, capacity);
            prop_assert!(r.entries.len() <= capacity);
            let total: u64 = truth.values().sum();
            prop_assert_eq!(r.total, total);
            for (key, &weight) in &truth {
                if weight * capacity as u64 > total {
                    prop_assert!(r.entries.iter().any(|e| &e.key == key), "heavy key {} missing", key);
                }
            }
            for e in &r.entries {
                let weight = truth.get(&e.key).copied().unwrap_or(0);
                prop_assert!(e.count >= weight && weight >= e.count - e.error);
                prop_assert!(e.share > 0.0 && e.share <= 1.0);
            }
        }
    }
}
