//! A batch's top-offender keys, counted exactly.
//!
//! Every key goes into one arena and one table, so counting it is a hash
//! and a comparison; the shared sliding windows then take each distinct key
//! of the batch once, with its count. Attack traffic repeats itself (the same
//! addresses, paths and agents), so a batch usually holds far fewer distinct
//! keys than lines. Past [`SPILL_BYTES`] of keys, or [`SPILL_ENTRIES`]
//! distinct keys however short, the tally spills into per-customer
//! Space-Saving summaries and starts again, so a batch's memory stays
//! bounded however large and varied it is: at most the arena (8 MiB), the
//! entries (32 bytes a key: 7 MiB, in a vector of 8 MiB), the table (2^18
//! buckets of 5 bytes: 1.25 MiB) and the groups (4 bytes a key, up to twice
//! that while a group's vector grows), plus what the spills summarised: per
//! customer and dimension, one summary of `capacity` keys.

use std::hash::BuildHasher as _;

use crate::common::{CustomerKey, FastMap, SUMMARIES};
use crate::topk::{SpaceSaving, truncate_key};

/// Arena size at which the tally spills into summaries.
const SPILL_BYTES: usize = 8 << 20;
/// Distinct keys at which the tally spills: what a table of 2^18 buckets
/// holds, so it never doubles past that (short keys, such as two-letter
/// countries, would otherwise fill millions of entries before the arena).
const SPILL_ENTRIES: usize = (1 << 18) / 8 * 7;

#[derive(Debug, Clone, Copy)]
struct Entry {
    customer: CustomerKey,
    dimension: u8,
    start: u32,
    len: u32,
    count: u64,
}

/// Exact counts of `(customer, dimension, key)` within one batch.
#[derive(Debug)]
pub(crate) struct Tally {
    arena: String,
    /// In first-seen order, so draining is deterministic.
    entries: Vec<Entry>,
    /// Indexes into `entries`, hashed by customer, dimension and key.
    table: hashbrown::HashTable<u32>,
    /// Indexes into `entries`, by customer and dimension.
    groups: FastMap<(CustomerKey, u8), Vec<u32>>,
    /// Per summary, the entry the last key went to: the next key is often
    /// the same (one client, one agent), found by a comparison, not a hash.
    last: [Option<u32>; SUMMARIES],
    /// Seeded per process: keys are chosen by clients, including attackers.
    hasher: foldhash::fast::RandomState,
    /// What earlier spills summarised, per customer and dimension.
    spilled: FastMap<CustomerKey, Vec<SpaceSaving>>,
    /// Keys each spilled summary monitors.
    capacity: usize,
}

impl Tally {
    /// `capacity`: keys each summary monitors should the tally spill.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            arena: String::new(),
            entries: Vec::new(),
            table: hashbrown::HashTable::new(),
            groups: FastMap::default(),
            last: [None; SUMMARIES],
            hasher: foldhash::fast::RandomState::default(),
            spilled: FastMap::default(),
            capacity,
        }
    }

    /// Counts one occurrence of `key` in summary `dimension` (a set and a
    /// dimension: [`crate::common::summary`]) for `customer`.
    #[cfg(test)]
    pub(crate) fn add(&mut self, customer: CustomerKey, dimension: usize, key: &str) {
        self.add_weighted(customer, dimension, key, 1);
    }

    /// Counts `weight` occurrences of `key` in summary `dimension` for
    /// `customer`.
    pub(crate) fn add_weighted(&mut self, customer: CustomerKey, dimension: usize, key: &str, weight: u64) {
        let key = truncate_key(key);
        let last = self.last.get(dimension).copied().flatten();
        let index = dimension;
        let dimension = u8::try_from(dimension).unwrap_or(u8::MAX);
        if let Some(e) = last.and_then(|id| self.entries.get_mut(id as usize))
            && e.customer == customer
            && text(&self.arena, e) == key
        {
            e.count += weight;
            return;
        }
        let hash = self.hasher.hash_one((customer, dimension, key));
        let (arena, entries) = (&self.arena, &mut self.entries);
        let found = self.table.find(hash, |&i| {
            entries
                .get(i as usize)
                .is_some_and(|e| e.customer == customer && e.dimension == dimension && text(arena, e) == key)
        });
        if let Some(&id) = found
            && let Some(e) = entries.get_mut(id as usize)
        {
            e.count += weight;
            self.remember(index, id);
            return;
        }
        if self.arena.len() + key.len() > SPILL_BYTES || self.entries.len() >= SPILL_ENTRIES {
            self.spill();
        }
        // Both fit in u32: the arena is kept below SPILL_BYTES plus one key.
        let (Ok(start), Ok(len), Ok(id)) =
            (u32::try_from(self.arena.len()), u32::try_from(key.len()), u32::try_from(self.entries.len()))
        else {
            return;
        };
        self.arena.push_str(key);
        self.entries.push(Entry { customer, dimension, start, len, count: weight });
        self.groups.entry((customer, dimension)).or_default().push(id);
        let (hasher, arena, entries) = (&self.hasher, &self.arena, &self.entries);
        self.table.insert_unique(hash, id, |&i| {
            entries.get(i as usize).map_or(0, |e| hasher.hash_one((e.customer, e.dimension, text(arena, e))))
        });
        self.remember(index, id);
    }

    fn remember(&mut self, dimension: usize, id: u32) {
        if let Some(last) = self.last.get_mut(dimension) {
            *last = Some(id);
        }
    }

    /// Forgets every count, keeping the allocations.
    pub(crate) fn clear(&mut self) {
        self.arena.clear();
        self.entries.clear();
        self.table.clear();
        self.groups.clear();
        self.last = [None; SUMMARIES];
        self.spilled.clear();
    }

    /// Roughly the bytes its allocations hold.
    pub(crate) fn allocated(&self) -> usize {
        use std::mem::size_of;
        self.arena.capacity()
            + self.entries.capacity() * size_of::<Entry>()
            + self.table.capacity() * (size_of::<u32>() + 1)
            + self.groups.capacity() * (size_of::<((CustomerKey, u8), Vec<u32>)>() + 1)
            + self.groups.values().map(|ids| ids.capacity() * size_of::<u32>()).sum::<usize>()
            + self.spilled.capacity() * (size_of::<(CustomerKey, Vec<SpaceSaving>)>() + 1)
    }

    /// How many distinct keys it holds, and has room for, before it grows.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> (usize, usize) {
        (self.entries.len(), self.table.capacity())
    }

    /// Folds the counts so far into the summaries and empties the arena.
    fn spill(&mut self) {
        for e in &self.entries {
            let summaries =
                self.spilled.entry(e.customer).or_insert_with(|| vec![SpaceSaving::new(self.capacity); SUMMARIES]);
            if let Some(s) = summaries.get_mut(usize::from(e.dimension)) {
                s.offer(text(&self.arena, e), e.count);
            }
        }
        self.arena.clear();
        self.entries.clear();
        self.table.clear();
        self.groups.clear();
        self.last = [None; SUMMARIES];
    }

    /// The distinct keys still in the arena and their counts, by customer
    /// and dimension, each group in first-seen order.
    pub(crate) fn groups(&self) -> impl Iterator<Item = (CustomerKey, usize, impl Iterator<Item = (&str, u64)>)> {
        self.groups.iter().map(|(&(customer, dimension), ids)| {
            let keys =
                ids.iter().filter_map(|&i| self.entries.get(i as usize)).map(|e| (text(&self.arena, e), e.count));
            (customer, usize::from(dimension), keys)
        })
    }

    /// Every distinct key still in the arena, in first-seen order:
    /// `(customer, dimension, key, count)`.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> impl Iterator<Item = (CustomerKey, usize, &str, u64)> {
        self.entries.iter().map(|e| (e.customer, usize::from(e.dimension), text(&self.arena, e), e.count))
    }

    /// The summaries of earlier spills, per customer, one per dimension.
    pub(crate) fn spilled(&self) -> impl Iterator<Item = (CustomerKey, &[SpaceSaving])> {
        self.spilled.iter().map(|(c, s)| (*c, s.as_slice()))
    }
}

fn text<'a>(arena: &'a str, e: &Entry) -> &'a str {
    arena.get(e.start as usize..(e.start + e.len) as usize).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(t: &Tally) -> Vec<(CustomerKey, usize, String, u64)> {
        t.counts().map(|(c, d, k, n)| (c, d, k.to_owned(), n)).collect()
    }

    #[test]
    fn counts_each_key_per_customer_and_dimension() {
        let mut t = Tally::new(4);
        for (c, d, k) in [(Some(0), 0, "192.0.2.1"), (Some(1), 0, "192.0.2.1"), (Some(0), 3, "192.0.2.1")] {
            t.add(c, d, k);
        }
        t.add(Some(0), 0, "192.0.2.1");
        t.add(None, 0, "192.0.2.1");
        assert_eq!(
            exact(&t),
            [
                (Some(0), 0, "192.0.2.1".to_owned(), 2),
                (Some(1), 0, "192.0.2.1".to_owned(), 1),
                (Some(0), 3, "192.0.2.1".to_owned(), 1),
                (None, 0, "192.0.2.1".to_owned(), 1),
            ]
        );
        assert_eq!(t.spilled().count(), 0);
    }

    #[test]
    fn long_keys_are_counted_by_their_first_bytes() {
        let mut t = Tally::new(4);
        let long = "p".repeat(1000);
        t.add(Some(0), 3, &long);
        t.add(Some(0), 3, &format!("{long}x"));
        let counts = exact(&t);
        assert_eq!(counts.len(), 1);
        assert_eq!(counts[0].2.len(), crate::topk::MAX_KEY_BYTES);
        assert_eq!(counts[0].3, 2);
    }

    #[test]
    fn spills_into_summaries_past_the_limit_and_loses_no_weight() {
        let mut t = Tally::new(8);
        // Distinct 200-byte paths until the arena spills, with one heavy path.
        let n = SPILL_BYTES / 200 + 500;
        for i in 0..n {
            t.add(Some(0), 3, &format!("{i:0>200}"));
            t.add(Some(0), 3, "/login");
        }
        let spilled: Vec<_> = t.spilled().collect();
        assert_eq!(spilled.len(), 1, "one customer spilled");
        let summary = &spilled[0].1[3];
        let in_arena: u64 = t.counts().map(|(_, _, _, n)| n).sum();
        assert_eq!(summary.total() + in_arena, 2 * n as u64, "every offer is in the summary or the arena");
        assert_eq!(summary.top(1)[0].key, "/login", "the heavy key survives the spill");
        assert!(t.arena.len() <= SPILL_BYTES);
    }

    #[test]
    fn spills_past_the_limit_of_distinct_keys_however_short() {
        let mut t = Tally::new(8);
        let n = SPILL_ENTRIES + 1000;
        for i in 0..n {
            t.add(Some(0), 2, &format!("{i:x}"));
        }
        let (entries, room) = t.entries();
        assert_eq!(entries, 1000, "spilled once, at SPILL_ENTRIES");
        assert!(room <= SPILL_ENTRIES, "the table never doubled past 2^18 buckets: {room}");
        let spilled: Vec<_> = t.spilled().collect();
        assert_eq!(spilled[0].1[2].total() + entries as u64, n as u64, "no weight lost");
        assert!(t.allocated() < 20 << 20, "{}", t.allocated());
    }
}
