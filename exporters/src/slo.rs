//! Availability SLOs judged where the requests are seen: which statuses count
//! as errors and which requests are left out are the catalog's, per
//! customer, and need the path and exact status that metrics do not carry.

use edgewatch_catalog::model::{Exclude, SloSpec};
use edgewatch_catalog::{Catalog, StatusMatcher};

use crate::record::Record;

/// One customer's availability SLO.
#[derive(Debug, Clone)]
pub(crate) struct Availability {
    errors: Vec<StatusMatcher>,
    exclude: Exclude,
}

impl Availability {
    /// The availability SLO of every customer, by catalog index.
    pub(crate) fn of(catalog: &Catalog) -> Vec<Option<Self>> {
        catalog
            .customers
            .iter()
            .map(|c| {
                c.slos.iter().find_map(|s| match &s.spec {
                    SloSpec::Availability { errors, exclude } => {
                        Some(Self { errors: errors.clone(), exclude: exclude.clone() })
                    }
                    _ => None,
                })
            })
            .collect()
    }

    /// Whether the SLO leaves out every request for `host` (a host label:
    /// normalized, or `none`, or `invalid`). Asked once per host and batch.
    pub(crate) fn excludes_host(&self, host: &str) -> bool {
        self.exclude.hosts.iter().any(|h| h.matches(host))
    }

    /// `Some(true)` for a bad request, `Some(false)` for a good one, `None`
    /// when the SLO leaves it out (or it has no status to judge by);
    /// `host_excluded`: what [`Self::excludes_host`] said of its host.
    pub(crate) fn judge(&self, r: &Record<'_>, host_excluded: bool) -> Option<bool> {
        let status = r.edge_status?;
        let e = &self.exclude;
        if host_excluded
            || e.statuses.iter().any(|m| m.matches(status))
            || r.path.as_deref().is_some_and(|p| e.paths.iter().any(|prefix| p.starts_with(prefix.as_bytes())))
        {
            return None;
        }
        Some(self.errors.iter().any(|m| m.matches(status)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_by_the_catalog() {
        let yaml = "customers:
  - id: a
    hosts: [a.example, '*.a.example']
    slos:
      availability:
        objective: 99
        errors: [5xx, 429]
        exclude: {hosts: [status.a.example], paths: [/healthz], statuses: [404]}
";
        let catalog = edgewatch_catalog::load_str("c.yaml", yaml).unwrap().catalog;
        let slo = Availability::of(&catalog).remove(0).unwrap();
        let rec = |status: u16, path: &'static str| Record {
            edge_status: Some(status),
            path: Some(path.as_bytes().into()),
            ..Record::default()
        };
        assert_eq!(slo.judge(&rec(200, "/"), slo.excludes_host("a.example")), Some(false));
        assert_eq!(slo.judge(&rec(503, "/"), slo.excludes_host("a.example")), Some(true));
        assert_eq!(slo.judge(&rec(429, "/"), slo.excludes_host("a.example")), Some(true), "a code, not a class");
        assert_eq!(slo.judge(&rec(503, "/healthz/deep"), slo.excludes_host("a.example")), None, "excluded path prefix");
        assert_eq!(slo.judge(&rec(503, "/"), slo.excludes_host("status.a.example")), None, "excluded host");
        assert_eq!(slo.judge(&rec(404, "/"), slo.excludes_host("a.example")), None, "excluded status");
        assert_eq!(slo.judge(&Record::default(), slo.excludes_host("a.example")), None, "no status");
    }
}
