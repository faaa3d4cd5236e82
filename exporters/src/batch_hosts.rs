//! A batch's series, one per customer and host label, found from a line's
//! raw `Host` value.
//!
//! A batch sees the same few hosts over and over: the first line with a host
//! checks it for UTF-8, normalizes it, finds its customer and its series; the
//! lines after it find all that with one lookup of the raw bytes.

use crate::batch::{CustomerKey, FastMap};
use crate::hosts::{self, HostIndex};
use crate::series::{Bounds, HostSeries};

/// Longest host kept as a label value (the DNS limit).
const MAX_HOST_LEN: usize = 253;

/// Where a request's counts go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Located {
    pub(crate) customer: CustomerKey,
    /// Index of the series, see [`BatchHosts::series_mut`].
    pub(crate) series: usize,
}

#[derive(Debug, Default)]
pub(crate) struct BatchHosts {
    series: Vec<HostSeries>,
    /// Customer and host label of each series.
    keys: Vec<(CustomerKey, Box<str>)>,
    index: FastMap<(CustomerKey, Box<str>), usize>,
    /// Raw hosts whose customer the host alone decides.
    seen: FastMap<Box<[u8]>, Located>,
}

impl BatchHosts {
    /// The series of a request for raw `host` in raw `zone`.
    pub(crate) fn locate(
        &mut self,
        host: Option<&[u8]>,
        zone: Option<&[u8]>,
        index: &HostIndex,
        bounds: &Bounds,
    ) -> Located {
        if let Some(found) = host.and_then(|h| self.seen.get(h)) {
            return *found;
        }
        // A host header is client input: keep it a plausible label value.
        let text = host.map(std::str::from_utf8);
        let normalized = match text {
            Some(Ok(h)) => Some(hosts::normalize(h)),
            _ => None,
        };
        let by_host = normalized.as_deref().and_then(|h| index.lookup_host(h));
        let customer = by_host.or_else(|| index.lookup_zone(std::str::from_utf8(zone?).ok()?));
        let label: &str = match (&text, &normalized) {
            (None, _) => "none",
            (_, Some(h)) if h.len() <= MAX_HOST_LEN => h,
            _ => "invalid",
        };
        let key = (customer, Box::<str>::from(label));
        let series = if let Some(&i) = self.index.get(&key) {
            i
        } else {
            let i = self.series.len();
            self.series.push(HostSeries::new(bounds));
            self.keys.push(key.clone());
            self.index.insert(key, i);
            i
        };
        let located = Located { customer, series };
        // Remembered only when the zone cannot change the answer.
        if let Some(h) = host
            && (by_host.is_some() || zone.is_none())
        {
            self.seen.insert(h.into(), located);
        }
        located
    }

    pub(crate) fn series_mut(&mut self, i: usize) -> Option<&mut HostSeries> {
        self.series.get_mut(i)
    }

    /// The host label of a series.
    pub(crate) fn label(&self, i: usize) -> &str {
        self.keys.get(i).map_or("", |(_, h)| h)
    }

    /// Every series with its customer and host label.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (CustomerKey, &str, &HostSeries)> {
        self.keys.iter().zip(&self.series).map(|((c, h), s)| (*c, &**h, s))
    }

    /// The series of a customer and host label.
    #[cfg(test)]
    pub(crate) fn get(&self, customer: CustomerKey, host: &str) -> Option<&HostSeries> {
        self.index.get(&(customer, Box::<str>::from(host))).and_then(|&i| self.series.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> HostIndex {
        let yaml =
            "customers:\n  - {id: a, hosts: [www.a.example], zones: [a.example]}\n  - {id: z, zones: [z.example]}\n";
        HostIndex::new(&edgewatch_catalog::load_str("c.yaml", yaml).unwrap().catalog)
    }

    #[test]
    fn spellings_of_a_host_share_its_series() {
        let (ix, b) = (index(), Bounds::new(vec![1.0]));
        let mut h = BatchHosts::default();
        let first = h.locate(Some(b"www.a.example"), None, &ix, &b);
        let again = h.locate(Some(b"WWW.A.EXAMPLE:443"), None, &ix, &b);
        assert_eq!((first.customer, first.series), (Some(0), again.series));
        assert_eq!(h.label(first.series), "www.a.example");
        assert_eq!(h.iter().count(), 1);
    }

    #[test]
    fn the_zone_decides_only_for_hosts_no_customer_names() {
        let (ix, b) = (index(), Bounds::new(vec![1.0]));
        let mut h = BatchHosts::default();
        let in_z = h.locate(Some(b"other.example"), Some(b"z.example"), &ix, &b);
        let nowhere = h.locate(Some(b"other.example"), Some(b"nope.example"), &ix, &b);
        let named = h.locate(Some(b"www.a.example"), Some(b"z.example"), &ix, &b);
        assert_eq!((in_z.customer, nowhere.customer, named.customer), (Some(1), None, Some(0)));
        assert_ne!(in_z.series, nowhere.series, "one series per customer and host");
    }

    #[test]
    fn unusable_hosts_get_fixed_labels() {
        let (ix, b) = (index(), Bounds::new(vec![1.0]));
        let mut h = BatchHosts::default();
        let none = h.locate(None, None, &ix, &b);
        let bad = h.locate(Some(b"\xff.example"), None, &ix, &b);
        let long = h.locate(Some("a".repeat(300).as_bytes()), None, &ix, &b);
        assert_eq!((h.label(none.series), h.label(bad.series), h.label(long.series)), ("none", "invalid", "invalid"));
        assert_eq!(bad.series, long.series);
    }
}
