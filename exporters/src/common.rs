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
