//! The hosts the state counts apart, readable by batches without the
//! state's lock ([`KnownHosts`]): the state adds and removes them, a batch
//! past its host caps asks.

use std::hash::BuildHasher as _;
use std::sync::{PoisonError, RwLock};

use crate::common::{CustomerKey, FastMap};

/// Which hosts the state counts apart, by customer, as hashes of customer
/// and host label. A batch past its host caps asks it for each new host, so
/// a host that already has its series keeps it. Two hosts whose hashes meet
/// (never in practice: 64 bits, seeded per process) would both count as
/// known, which only lets a batch keep one more host apart.
#[derive(Debug, Default)]
pub(crate) struct KnownHosts {
    hasher: foldhash::fast::RandomState,
    /// How many of the state's hosts have each hash.
    counts: RwLock<FastMap<u64, u32>>,
}

impl KnownHosts {
    fn key(&self, customer: CustomerKey, host: &str) -> u64 {
        self.hasher.hash_one((customer, host))
    }

    /// Whether the state counts `host` of `customer` apart.
    pub(crate) fn contains(&self, customer: CustomerKey, host: &str) -> bool {
        let key = self.key(customer, host);
        self.counts.read().unwrap_or_else(PoisonError::into_inner).contains_key(&key)
    }

    pub(crate) fn insert(&self, customer: CustomerKey, host: &str) {
        let key = self.key(customer, host);
        *self.counts.write().unwrap_or_else(PoisonError::into_inner).entry(key).or_default() += 1;
    }

    pub(crate) fn remove(&self, customer: CustomerKey, host: &str) {
        let key = self.key(customer, host);
        let mut counts = self.counts.write().unwrap_or_else(PoisonError::into_inner);
        if let hashbrown::hash_map::Entry::Occupied(mut e) = counts.entry(key) {
            if *e.get() > 1 {
                *e.get_mut() -= 1;
            } else {
                e.remove();
            }
        }
    }
}

#[cfg(test)]
impl KnownHosts {
    /// Whether no host is known.
    pub(crate) fn is_empty(&self) -> bool {
        self.counts.read().unwrap_or_else(PoisonError::into_inner).is_empty()
    }
}
