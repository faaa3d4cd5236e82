//! Types the aggregation's modules share: the map for keys that come from
//! client input, a customer's index and key, and the top-offender
//! dimensions. A leaf: it imports nothing of this crate, so every module
//! can use it without depending on another.

/// Seeded per process, fast: keys come from client input.
pub(crate) type FastMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;

/// Index of a customer in the catalog's customer list.
pub(crate) type CustomerIdx = u32;

/// A customer, or `None` for traffic that matches no customer.
pub(crate) type CustomerKey = Option<CustomerIdx>;

/// Dimensions of the top-offender summaries, in the order a batch offers
/// a request's keys.
pub(crate) const DIMENSIONS: [&str; 5] = ["ip", "asn", "country", "path", "user_agent"];

/// The requests a customer's top keys are counted among: its mitigated or
/// failed ones (who is being blocked, or failing), and all of them (each
/// key's share of the traffic, and who stands out when nothing is blocked,
/// as in a traffic spike). In the order of [`summary`]'s index.
pub(crate) const SETS: [&str; 2] = ["offending", "requests"];

/// Summaries per customer: one per set and dimension.
pub(crate) const SUMMARIES: usize = SETS.len() * DIMENSIONS.len();

/// The index of the summary of `set` (into [`SETS`]) along `dimension`
/// (into [`DIMENSIONS`]).
pub(crate) const fn summary(set: usize, dimension: usize) -> usize {
    set * DIMENSIONS.len() + dimension
}
