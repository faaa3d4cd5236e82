//! A batch's series, one per customer and host label, found from a line's
//! raw `Host` value.
//!
//! A batch sees the same few hosts over and over: the first line with a host
//! checks it for UTF-8, normalizes it, finds its customer and its series; the
//! lines after it find all that with one lookup of the raw bytes.
//!
//! Its memory is bounded whatever hosts the batch names. A host gets a
//! series of its own while the batch has fewer than `batch_hosts` of them,
//! and, for its customer, fewer than `hosts_per_customer` or the state counts
//! the host apart already ([`crate::state::KnownHosts`]). Any other host is
//! counted at once in its customer's folded series, which the merge adds to
//! `host="other"` and to the overflow counter, as the state would have done:
//! the hosts that came first would have taken whatever room the customer
//! had. So a batch holds at most `batch_hosts` series of their own plus one
//! folded series per customer, and remembers at most `batch_hosts` raw
//! spellings, none longer than a host can be.

use crate::common::{CustomerKey, FastMap};
use crate::context::Context;
use crate::hosts;
use crate::series::HostSeries;

/// Longest host kept as a label value (the DNS limit).
const MAX_HOST_LEN: usize = 253;
/// Longest raw host remembered: a label value, a port and a final dot.
const MAX_RAW_HOST_LEN: usize = MAX_HOST_LEN + 7;

/// Where a request's counts go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Located {
    pub(crate) customer: CustomerKey,
    /// Index of the series, see [`BatchHosts::series_mut`].
    pub(crate) series: usize,
    /// Whether the customer's availability SLO leaves the host out.
    pub(crate) slo_excluded: bool,
}

#[derive(Debug, Default)]
pub(crate) struct BatchHosts {
    series: Vec<HostSeries>,
    /// Customer and host label of each series; no label for a customer's
    /// folded series.
    keys: Vec<(CustomerKey, Option<Box<str>>)>,
    /// Series of their own, by customer and host label.
    index: FastMap<(CustomerKey, Box<str>), usize>,
    /// Series of their own, per customer.
    per_customer: FastMap<CustomerKey, usize>,
    /// Each customer's folded series.
    folded: FastMap<CustomerKey, usize>,
    /// Raw hosts whose customer the host alone decides.
    seen: FastMap<Box<[u8]>, Located>,
}

impl BatchHosts {
    /// The series of a request for raw `host` in raw `zone`.
    pub(crate) fn locate(&mut self, host: Option<&[u8]>, zone: Option<&[u8]>, cx: &Context) -> Located {
        if let Some(found) = host.and_then(|h| self.seen.get(h)) {
            return *found;
        }
        // A host header is client input: keep it a plausible label value.
        let text = host.map(std::str::from_utf8);
        let normalized = match text {
            Some(Ok(h)) => Some(hosts::normalize(h)),
            _ => None,
        };
        let by_host = normalized.as_deref().and_then(|h| cx.hosts.lookup_host(h));
        let customer = by_host.or_else(|| cx.hosts.lookup_zone(std::str::from_utf8(zone?).ok()?));
        let label: &str = match (&text, &normalized) {
            (None, _) => "none",
            (_, Some(h)) if h.len() <= MAX_HOST_LEN => h,
            _ => "invalid",
        };
        let slo = customer.and_then(|c| cx.slos.get(c as usize)?.availability());
        let located = Located {
            customer,
            series: self.series_of(customer, label, cx),
            slo_excluded: slo.is_some_and(|s| s.excludes_host(label)),
        };
        // Remembered only when the zone cannot change the answer.
        if let Some(h) = host
            && (by_host.is_some() || zone.is_none())
            && h.len() <= MAX_RAW_HOST_LEN
            && self.seen.len() < cx.batch_hosts
        {
            self.seen.insert(h.into(), located);
        }
        located
    }

    /// The series of `label` of `customer`: its own, or the customer's
    /// folded series past the caps.
    fn series_of(&mut self, customer: CustomerKey, label: &str, cx: &Context) -> usize {
        let key = (customer, Box::<str>::from(label));
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let count = self.per_customer.entry(customer).or_default();
        if self.index.len() < cx.batch_hosts && (*count < cx.hosts_per_customer || cx.known.contains(customer, label)) {
            *count += 1;
            let i = self.series.len();
            self.series.push(HostSeries::new(&cx.bounds));
            self.keys.push((customer, Some(key.1.clone())));
            self.index.insert(key, i);
            return i;
        }
        let (series, keys) = (&mut self.series, &mut self.keys);
        *self.folded.entry(customer).or_insert_with(|| {
            series.push(HostSeries::new(&cx.bounds));
            keys.push((customer, None));
            series.len() - 1
        })
    }

    pub(crate) fn series_mut(&mut self, i: usize) -> Option<&mut HostSeries> {
        self.series.get_mut(i)
    }

    /// Every series with its customer and host label (none for the hosts
    /// folded past the caps).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (CustomerKey, Option<&str>, &HostSeries)> {
        self.keys.iter().zip(&self.series).map(|((c, h), s)| (*c, h.as_deref(), s))
    }

    /// The host label of a series (none for a folded series).
    #[cfg(test)]
    pub(crate) fn label(&self, i: usize) -> Option<&str> {
        self.keys.get(i).and_then(|(_, h)| h.as_deref())
    }

    /// The series of a customer and host label.
    #[cfg(test)]
    pub(crate) fn get(&self, customer: CustomerKey, host: &str) -> Option<&HostSeries> {
        self.index.get(&(customer, Box::<str>::from(host))).and_then(|&i| self.series.get(i))
    }

    /// The folded series of a customer.
    #[cfg(test)]
    pub(crate) fn folded(&self, customer: CustomerKey) -> Option<&HostSeries> {
        self.folded.get(&customer).and_then(|&i| self.series.get(i))
    }

    /// What its tables hold and have room for: series (own and folded),
    /// the index, and the raw spellings remembered.
    #[cfg(test)]
    pub(crate) fn sizes(&self) -> Sizes {
        Sizes {
            series: self.series.len(),
            own: self.index.len(),
            index_capacity: self.index.capacity(),
            seen: self.seen.len(),
            seen_capacity: self.seen.capacity(),
        }
    }
}

/// See [`BatchHosts::sizes`].
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct Sizes {
    pub(crate) series: usize,
    pub(crate) own: usize,
    pub(crate) index_capacity: usize,
    pub(crate) seen: usize,
    pub(crate) seen_capacity: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::tests::context_of;

    fn context() -> Context {
        context_of(
            "customers:
  - {id: a, hosts: [www.a.example, '*.a.example'], zones: [a.example],
     slos: {availability: {objective: 99, exclude: {hosts: [status.a.example]}}}}
  - {id: z, zones: [z.example]}
",
        )
    }

    #[test]
    fn spellings_of_a_host_share_its_series() {
        let cx = context();
        let mut h = BatchHosts::default();
        let first = h.locate(Some(b"www.a.example"), None, &cx);
        let again = h.locate(Some(b"WWW.A.EXAMPLE:443"), None, &cx);
        assert_eq!((first.customer, first.series), (Some(0), again.series));
        assert_eq!(h.label(first.series), Some("www.a.example"));
        assert_eq!(h.iter().count(), 1);
    }

    #[test]
    fn the_zone_decides_only_for_hosts_no_customer_names() {
        let cx = context();
        let mut h = BatchHosts::default();
        let in_z = h.locate(Some(b"other.example"), Some(b"z.example"), &cx);
        let nowhere = h.locate(Some(b"other.example"), Some(b"nope.example"), &cx);
        let named = h.locate(Some(b"www.a.example"), Some(b"z.example"), &cx);
        assert_eq!((in_z.customer, nowhere.customer, named.customer), (Some(1), None, Some(0)));
        assert_ne!(in_z.series, nowhere.series, "one series per customer and host");
    }

    #[test]
    fn unusable_hosts_get_fixed_labels() {
        let cx = context();
        let mut h = BatchHosts::default();
        let none = h.locate(None, None, &cx);
        let bad = h.locate(Some(b"\xff.example"), None, &cx);
        let long = h.locate(Some("a".repeat(300).as_bytes()), None, &cx);
        let labels = (h.label(none.series), h.label(bad.series), h.label(long.series));
        assert_eq!(labels, (Some("none"), Some("invalid"), Some("invalid")));
        assert_eq!(bad.series, long.series);
        assert_eq!(h.sizes().seen, 1, "the 300-byte host is not remembered");
    }

    #[test]
    fn past_its_caps_a_customer_s_hosts_fold_and_others_keep_theirs() {
        let mut cx = context();
        (cx.hosts_per_customer, cx.batch_hosts) = (2, 4);
        let mut h = BatchHosts::default();
        let strangers: Vec<_> = (0..5).map(|i| h.locate(Some(format!("s{i}.example").as_bytes()), None, &cx)).collect();
        assert_eq!(h.label(strangers[1].series), Some("s1.example"));
        assert_eq!(h.label(strangers[2].series), None, "the third stranger is folded");
        assert_eq!(strangers[2].series, strangers[4].series, "into one series");
        let www = h.locate(Some(b"www.a.example"), None, &cx);
        assert_eq!(h.label(www.series), Some("www.a.example"), "another customer has room");
        h.locate(Some(b"x.a.example"), None, &cx);
        let third = h.locate(Some(b"y.a.example"), None, &cx);
        assert_eq!((third.customer, h.label(third.series)), (Some(0), None), "past hosts_per_customer");
        let z = h.locate(Some(b"q.z.example"), None, &cx);
        assert_eq!(h.label(z.series), None, "past batch_hosts");
        let sizes = h.sizes();
        assert_eq!((sizes.own, sizes.series), (4, 4 + 3), "four hosts apart, three customers folded");
        assert!(sizes.seen <= 4);
    }

    #[test]
    fn a_host_the_state_counts_apart_keeps_its_series_past_the_customer_cap() {
        let mut cx = context();
        cx.hosts_per_customer = 1;
        let mut h = BatchHosts::default();
        let mut label = |cx: &Context, host: &str| {
            let at = h.locate(Some(host.as_bytes()), None, cx);
            h.label(at.series).map(str::to_owned)
        };
        label(&cx, "s0.example");
        assert_eq!(label(&cx, "s1.example"), None);
        cx.known = std::sync::Arc::new(crate::state::tests::known(&[(None, "s2.example")]));
        assert_eq!(label(&cx, "s2.example").as_deref(), Some("s2.example"));
        cx.batch_hosts = 2;
        cx.known = std::sync::Arc::new(crate::state::tests::known(&[(None, "s3.example")]));
        assert_eq!(label(&cx, "s3.example"), None, "batch_hosts holds anyway");
    }

    #[test]
    fn a_folded_host_is_still_left_out_of_the_slo() {
        let mut cx = context();
        cx.hosts_per_customer = 1;
        let mut h = BatchHosts::default();
        let first = h.locate(Some(b"shop.a.example"), None, &cx);
        let status = h.locate(Some(b"status.a.example"), None, &cx);
        assert_eq!(h.label(status.series), None);
        assert_eq!((first.slo_excluded, status.slo_excluded), (false, true));
        let again = h.locate(Some(b"STATUS.a.example"), None, &cx);
        assert!(again.slo_excluded);
    }
}
