//! What every batch of an exporter needs to know ([`Context`]): the
//! catalog's hosts and SLOs, the histogram bounds, the host caps, the hosts
//! the state counts apart, and tallies kept for reuse. Built once with the
//! exporter; batches only read it.

use std::sync::{Arc, Mutex};

use crate::hosts::HostIndex;
use crate::known_hosts::KnownHosts;
use crate::series::Bounds;
use crate::slo::Slos;
use crate::tally::Tally;

/// What a batch needs to know, shared by every batch of an exporter.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) hosts: HostIndex,
    pub(crate) bounds: Bounds,
    pub(crate) lag_bounds: Bounds,
    /// Keys monitored per dimension and customer, in a batch as in the window.
    pub(crate) top_keys: usize,
    /// One line in this many has its keys counted among all requests, with
    /// this weight (`limits.top_requests_sample`).
    pub(crate) request_sample: u64,
    /// Each customer's judged SLOs, by catalog index.
    pub(crate) slos: Vec<Slos>,
    /// Hosts a batch counts apart, in all (`limits.batch_hosts`) ...
    pub(crate) batch_hosts: usize,
    /// ... and per customer (`limits.hosts_per_customer`), unless the state
    /// counts the host apart already.
    pub(crate) hosts_per_customer: usize,
    /// The hosts the state counts apart.
    pub(crate) known: Arc<KnownHosts>,
    /// Emptied tallies of merged batches: their tables and arenas are reused
    /// rather than grown again from nothing for every batch.
    pub(crate) spare_tallies: Mutex<Vec<Tally>>,
}

/// Spare tallies kept for reuse, each at most so large: more than the
/// batches in flight, or than an ordinary batch needs, is waste.
const SPARE_TALLIES: usize = 8;
pub(crate) const SPARE_TALLY_BYTES: usize = 2 << 20;

impl Context {
    /// An empty tally for a new batch: a spare one when there is one.
    pub(crate) fn tally(&self) -> Tally {
        let spare = self.spare_tallies.lock().ok().and_then(|mut s| s.pop());
        spare.unwrap_or_else(|| Tally::new(self.top_keys))
    }

    /// Takes back a merged batch's tally, emptied, for the next batch, or
    /// frees it when it is larger than an ordinary batch needs.
    pub(crate) fn recycle(&self, mut tally: Tally) {
        tally.clear();
        if tally.allocated() <= SPARE_TALLY_BYTES
            && let Ok(mut spare) = self.spare_tallies.lock()
            && spare.len() < SPARE_TALLIES
        {
            spare.push(tally);
        }
    }
}
